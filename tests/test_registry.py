from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from kiwoom_async import REGISTRY, UnknownTRError
from kiwoom_async.registry import lookup

ROOT = Path(__file__).resolve().parents[1]


def spec_trs(spec: dict[str, Any]) -> dict[str, str]:
    """api_id -> URL path, for every domestic REST TR the fact base lists."""
    trs = {spec["auth"][key]["api_id"]: spec["auth"][key]["path"] for key in ("issue", "revoke")}
    for section in spec["sections"].values():
        for api_id in section["trs"]:
            trs[api_id] = section["url"]
    for path, catalogue in spec["other_domestic_catalogue"].items():
        for api_id in catalogue:
            trs[api_id] = path
    return trs


def test_registry_matches_every_id_and_url_of_the_fact_base(spec: dict[str, Any]) -> None:
    expected = spec_trs(spec)
    assert len(expected) == 185  # 183 domestic TRs + au10001/au10002
    assert {api_id: tr.path for api_id, tr in REGISTRY.items()} == expected


def test_every_tr_has_a_category_and_orders_are_exactly_the_order_paths() -> None:
    assert {tr.category for tr in REGISTRY.values()} == {"auth", "query", "order"}
    orders = {api_id for api_id, tr in REGISTRY.items() if tr.is_order}
    assert orders == {
        *(f"kt1000{n}" for n in (0, 1, 2, 3, 6, 7, 8, 9)),
        *(f"kt5000{n}" for n in range(4)),
    }
    assert {tr.category for tr in REGISTRY.values() if tr.api_id.startswith("au")} == {"auth"}


def test_paginates_follows_the_fact_base(spec: dict[str, Any]) -> None:
    for section in spec["sections"].values():
        for api_id, tr in section["trs"].items():
            assert REGISTRY[api_id].paginates == (tr["paginates"] and not REGISTRY[api_id].is_order)
    assert REGISTRY["ka10086"].paginates
    assert not REGISTRY["kt10000"].paginates


def test_committed_table_is_what_the_generator_writes(spec: dict[str, Any]) -> None:
    loader = importlib.util.spec_from_file_location("gen_registry", ROOT / "tools/gen_registry.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    rendered = module.render(module.collect(spec))
    assert (ROOT / "kiwoom_async/_tr_table.py").read_text(encoding="utf-8") == rendered


@pytest.mark.parametrize("bad", ["ka99999", "", "KA10004", None, 10004])
def test_unknown_ids_raise_a_typed_error(bad: Any) -> None:
    with pytest.raises(UnknownTRError):
        lookup(bad)
