from __future__ import annotations

import os

# One timing constant: every test delay and timeout is a multiple of it. Raise it on a slow
# machine (KIWOOM_TEST_TIMING=3) instead of editing sleeps.
TIMING = float(os.environ.get("KIWOOM_TEST_TIMING", "1.0"))


def seconds(value: float) -> float:
    """A test delay scaled for this machine."""
    return value * TIMING
