from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiwoom_async import REGISTRY, UnknownTRError
from kiwoom_async.registry import lookup

ROOT = Path(__file__).resolve().parents[1]


def spec_trs(spec: dict[str, Any]) -> dict[str, str]:
    """api_id -> URL path, for every REST TR the fact base lists."""
    trs = {spec["auth"][key]["api_id"]: spec["auth"][key]["path"] for key in ("issue", "revoke")}
    for section in spec["sections"].values():
        for api_id in section["trs"]:
            assert api_id not in trs, f"{api_id} listed twice"
            trs[api_id] = section["url"]
    for path, catalogue in spec["other_domestic_catalogue"].items():
        for api_id in catalogue:
            assert trs[api_id] == path, f"{api_id}: catalogue and sections disagree on the URL"
    return trs


def test_registry_matches_every_id_and_url_of_the_fact_base(spec: dict[str, Any]) -> None:
    expected = spec_trs(spec)
    assert len(expected) == 306  # 183 domestic TRs + 121 US TRs + au10001/au10002
    assert {api_id: tr.path for api_id, tr in REGISTRY.items()} == expected


def test_us_trs_are_marked_us_and_live_under_the_us_paths() -> None:
    us = {api_id for api_id, tr in REGISTRY.items() if tr.market == "us"}
    assert len(us) == 121
    assert all(REGISTRY[api_id].path.startswith("/api/us/") for api_id in us)
    assert all(
        tr.path.startswith(("/api/dostk/", "/oauth2/"))
        for tr in REGISTRY.values()
        if tr.market == "domestic"
    )


def test_every_tr_has_a_category_and_orders_are_exactly_the_order_trs() -> None:
    assert {tr.category for tr in REGISTRY.values()} == {"auth", "query", "order"}
    orders = {api_id for api_id, tr in REGISTRY.items() if tr.is_order}
    assert orders == {
        *(f"kt1000{n}" for n in (0, 1, 2, 3, 6, 7, 8, 9)),
        *(f"kt5000{n}" for n in range(4)),
        *(f"ust2000{n}" for n in range(4)),
        "ust31302",  # 환전 신청: a currency exchange moves money and must never be resent
    }
    # 주문가능수량 sits on the US order path but only reads.
    assert not REGISTRY["ust31490"].is_order
    assert {tr.category for tr in REGISTRY.values() if tr.api_id.startswith("au")} == {"auth"}


def test_paginates_follows_the_fact_base(spec: dict[str, Any]) -> None:
    for section in spec["sections"].values():
        for api_id, tr in section["trs"].items():
            assert REGISTRY[api_id].paginates == (tr["paginates"] and not REGISTRY[api_id].is_order)
    assert REGISTRY["ka10086"].paginates
    assert not REGISTRY["kt10000"].paginates


@pytest.mark.parametrize("bad", ["ka99999", "", "KA10004", None, 10004])
def test_unknown_ids_raise_a_typed_error(bad: Any) -> None:
    with pytest.raises(UnknownTRError):
        lookup(bad)
