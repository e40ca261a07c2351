"""What every generator does when run: read the fact base, render, write the files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "spec" / "kiwoom-api.json"


def write_all(render_all: Callable[[dict[str, Any]], dict[Path, str]]) -> None:
    """Render from the fact base named on the command line (default: the repository's own
    copy) and write every file, creating its folder."""
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    for path, text in render_all(spec).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
