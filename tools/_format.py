"""Generated Python is written as ruff formats it, so the formatter and the drift tests agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def format_source(text: str) -> str:
    """``text`` with its imports sorted and formatted as ruff does for committed code."""
    return _ruff("format", _ruff("check", text, "--fix", "--select", "I", "--quiet"))


def _ruff(command: str, text: str, *options: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", command, *options, "--stdin-filename", "generated.py", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode:
        # A generator bug: show the line ruff could not parse, not only its exit status.
        where = re.search(r"generated\.py:(\d+):", result.stderr)
        lines = text.splitlines()
        line = lines[int(where.group(1)) - 1] if where and int(where.group(1)) <= len(lines) else ""
        raise RuntimeError(f"generated code does not parse: {result.stderr.strip()}\n{line}")
    return result.stdout
