"""The examples run end to end against the simulator and say what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seconds

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "promise"),
    [
        ("poll_quotes.py", "0 rejected by the server"),
        ("order_fills.py", "6 of 6 orders seen filled; none lost"),
        ("watchlist_bot.py", "5 buys and 4 cancels asked: none sent twice"),
    ],
)
def test_example_runs(script: str, promise: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert promise in done.stdout
