"""The repository stands alone: it reads its own fact base, declares what it imports, and the
package imports and keeps its order ledger where POSIX-only modules do not exist (Windows)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from .conftest import ROOT, SPEC_PATH

# Every folder a user's clone carries code or data in.
_SOURCE_DIRS = ("kiwoom_async", "tests", "tools", "benchmarks", "examples", ".ci")


def _text_files() -> list[Path]:
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    for folder in _SOURCE_DIRS:
        files += [
            path
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and path.suffix in {".py", ".toml", ".md", ".txt", ".cfg", ""}
        ]
    return files


def test_nothing_reads_a_fact_base_outside_the_repository() -> None:
    outside = re.compile(
        r"""\.\./shared|shared/kiwoom-api|["']shared["']\s*/|/\s*["']shared["']"""
        r"""|parents\[2\]|ROOT\.parent\s*/"""
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _text_files()
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert not offenders, f"reads outside the repository: {offenders}"


def test_the_vendored_fact_base_is_the_full_one() -> None:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    counts = {name: len(section["trs"]) for name, section in spec["sections"].items()}
    assert sum(counts.values()) == 304
    assert sum(n for name, n in counts.items() if name.startswith("us_")) == 121
    assert (SPEC_PATH.parent / "README.md").read_text(encoding="utf-8").startswith("# Kiwoom")


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# Distribution name of each third-party top-level module the package imports.
_DISTRIBUTIONS = {
    "aiohttp": "aiohttp",
    "websockets": "websockets",
    "msgspec": "msgspec",
    "anyio": "anyio",
    "filelock": "filelock",
    "yarl": "aiohttp",
    "multidict": "aiohttp",
}
# Modules only optional features import, each brought in by an extra of pyproject.toml.
_OPTIONAL = {
    "redis": "redis",
    "pandas": "pandas",
    "polars": "polars",
    "pytest": "pytest",
    "pytest_asyncio": "pytest-asyncio",
    "exchange_calendars": "exchange-calendars",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_runtime_dependency_is_imported_and_every_import_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {re.split(r"[<>=!~ \[]", req, maxsplit=1)[0] for req in project["dependencies"]}
    imported: set[str] = set()
    for path in (ROOT / "kiwoom_async").rglob("*.py"):
        imported |= _top_level_imports(path)
    third_party = {name for name in imported if name not in sys.stdlib_module_names}
    third_party -= {"kiwoom_async"}
    unknown = third_party - set(_DISTRIBUTIONS) - set(_OPTIONAL)
    assert not unknown, f"imports with no declared distribution: {unknown}"
    needed = {_DISTRIBUTIONS[name] for name in third_party if name in _DISTRIBUTIONS}
    assert needed == declared, f"declared {sorted(declared)}, imported {sorted(needed)}"
    extras = {
        _name(req)
        for extra, reqs in project["optional-dependencies"].items()
        if extra != "dev"
        for req in reqs
    }
    optional = {_OPTIONAL[name] for name in third_party if name in _OPTIONAL}
    assert optional <= extras, f"optional imports without an extra: {sorted(optional - extras)}"


_WITHOUT_POSIX = """
import sys
for name in ("fcntl", "termios", "pwd", "grp", "resource", "tty", "pty"):
    sys.modules[name] = None  # as on Windows: importing it raises ImportError
import asyncio, pathlib
import kiwoom_async
from kiwoom_async.ledger import FileLedger, OrderAck

path = pathlib.Path(sys.argv[1])
ledger = FileLedger(path)
assert ledger.begin("k1", "kt10000", {"stk_cd": "005930"}) is None
ledger.finish("k1", OrderAck(api_id="kt10000", ord_no="0000123"))
again = FileLedger(path).begin("k1", "kt10000", {"stk_cd": "005930"})
assert again is not None and again.ord_no == "0000123" and again.replayed
print("ok", kiwoom_async.__name__)
"""


def test_package_and_file_ledger_work_without_posix_only_modules(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_POSIX, str(tmp_path / "orders.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok kiwoom_async"
