"""Start fleet worker processes (tests/fleet/_worker.py) and collect their summaries."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("_worker.py")


async def run_fleet(options: list[dict[str, Any]], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run one worker per options dict; all start their calls at the same moment."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            json.dumps(option),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for option in options
    ]
    try:
        async with asyncio.timeout(timeout):
            for process in processes:
                assert process.stdout is not None
                line = await process.stdout.readline()
                assert line.strip() == b"ready", line
            for process in processes:
                assert process.stdin is not None
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            outputs = [await process.communicate() for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, f"worker exited with {process.returncode}: {stderr!r}"
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
