"""Take a new version of the API fact base and regenerate everything made from it.

Usage: python tools/refresh_spec.py [FOLDER]

FOLDER holds the upstream ``spec.json`` and its ``README.md``; they are copied to
``spec/kiwoom-api.json`` and ``spec/README.md``. Without FOLDER the copy already in the
repository is kept and only the generators run. Each generator runs in its own interpreter,
in dependency order, so that a later one imports what an earlier one just wrote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "spec"

# The registry first: the others import it; the models before the API wrappers built on them.
GENERATORS = (
    "gen_registry.py",
    "gen_models.py",
    "gen_api.py",
    "gen_realtime.py",
    "gen_sim_examples.py",
    "gen_docs.py",
)


def copy_upstream(folder: Path) -> None:
    shutil.copyfile(folder / "spec.json", SPEC_DIR / "kiwoom-api.json")
    shutil.copyfile(folder / "README.md", SPEC_DIR / "README.md")
    print(f"copied the fact base from {folder}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        copy_upstream(Path(args[0]))
    for generator in GENERATORS:
        subprocess.run([sys.executable, str(ROOT / "tools" / generator)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
