"""Pyright checks every hand-written module strictly and the generated code in basic mode.

Pyright has no per-path "basic" list, so pyproject lists the strict paths; a new subpackage
left off that list would quietly drop to basic."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from .conftest import ROOT

_PACKAGE = ROOT / "kiwoom_async"
_GENERATED = _PACKAGE / "_generated"


def _pyright() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    pyright: dict[str, Any] = pyproject["tool"]["pyright"]
    return pyright


def _is_strict(path: Path, strict: list[str]) -> bool:
    # As pyright reads a path spec: it covers what it names and everything below; "*" stays
    # within one folder.
    parts = path.relative_to(ROOT).parts
    for spec in strict:
        depth = spec.rstrip("/").count("/") + 1
        if len(parts) >= depth and fnmatch.fnmatchcase("/".join(parts[:depth]), spec):
            return True
    return False


def test_every_hand_written_module_is_strict() -> None:
    config = _pyright()
    assert config["typeCheckingMode"] == "basic"
    assert config["include"] == ["kiwoom_async"]
    modules = [path for path in _PACKAGE.rglob("*.py") if _GENERATED not in path.parents]
    assert len(modules) > 50
    loose = [
        str(path.relative_to(ROOT)) for path in modules if not _is_strict(path, config["strict"])
    ]
    assert loose == [], f"add these to [tool.pyright].strict in pyproject.toml: {loose}"


def test_generated_code_stays_basic() -> None:
    strict = _pyright()["strict"]
    generated = list(_GENERATED.rglob("*.py"))
    assert generated
    assert [path for path in generated if _is_strict(path, strict)] == []
