"""Reconnect delays stay within their bounds however long a session keeps reconnecting."""

from __future__ import annotations

import random

from kiwoom_async.retry import Backoff


def test_delays_grow_then_stay_at_the_cap_for_thousands_of_attempts() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=30.0, rng=random.Random(7))
    delays = [backoff.delay(attempt) for attempt in range(1, 5001)]
    assert 0.25 <= delays[0] <= 0.5
    assert 0.5 <= delays[1] <= 1.0
    assert all(15.0 <= d <= 30.0 for d in delays[10:])  # a day of reconnects: still capped


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [Backoff(rng=random.Random(3)).delay(n) for n in range(1, 20)]
    second = [Backoff(rng=random.Random(3)).delay(n) for n in range(1, 20)]
    assert first == second
