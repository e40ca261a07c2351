"""Korea Standard Time, the clock of every date and time the broker sends (UTC+9, no DST)."""

from __future__ import annotations

from datetime import timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")
