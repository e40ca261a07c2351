from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# One timing constant: every test delay and timeout is a multiple of it. Raise it on a slow
# machine (KIWOOM_TEST_TIMING=3) instead of editing sleeps.
TIMING = float(os.environ.get("KIWOOM_TEST_TIMING", "1.0"))


def seconds(value: float) -> float:
    """A test delay scaled for this machine."""
    return value * TIMING


ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "spec" / "kiwoom-api.json"


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """The API fact base, the repository's own copy (spec/README.md says where it came from)."""
    assert SPEC_PATH.exists(), f"fact base not found at {SPEC_PATH}"
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition on counters that have no event to wait on (the simulator's)."""
    async with asyncio.timeout(seconds(timeout)):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
