"""Print the declared lower bound of every runtime dependency as a pip constraint.

Usage: python tools/floors.py > floors.txt; pip install -c floors.txt -e '.[dev]'

CI installs these exact versions in a venv of their own and runs the demo and the tests there,
so a floor in pyproject.toml is one that has been seen to work.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"runtime dependency without a >= floor: {requirement!r}")
        pins.append(f"{match[1]}=={match[2]}")
    return pins


def main() -> None:
    sys.stdout.write("".join(f"{pin}\n" for pin in floors()))


if __name__ == "__main__":
    main()
