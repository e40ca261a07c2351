"""Every generated file is what its generator writes from the fact base, and nothing in the
generated package is left over from an older run."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT, SPEC_PATH

sys.path.insert(0, str(ROOT))
from tools.refresh_spec import GENERATORS

GENERATED = ROOT / "kiwoom_async" / "_generated"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "tools" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@functools.cache
def rendered(name: str) -> dict[Path, str]:
    files: dict[Path, str] = load(name).render_all(
        json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    )
    return files


@pytest.mark.parametrize("generator", GENERATORS)
def test_committed_output_is_what_the_generator_writes(generator: str) -> None:
    files = rendered(generator)
    assert files, f"{generator} writes nothing"
    stale = [
        str(path.relative_to(ROOT))
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run python tools/refresh_spec.py: {stale} differ from the fact base"


def test_every_file_of_the_generated_package_has_a_generator() -> None:
    written = {path for generator in GENERATORS for path in rendered(generator)}
    present = {path for path in GENERATED.rglob("*.py") if "__pycache__" not in path.parts}
    assert present - written == set(), "left over from an older run: delete them"


def test_generated_modules_say_so_and_hand_written_ones_do_not_live_among_them() -> None:
    for path in GENERATED.rglob("*.py"):
        head = path.read_text(encoding="utf-8")[:600]
        assert "Generated" in head or "generated" in head, f"{path} lacks its header"
