"""A key the typed model does not know is kept in .raw, counted per TR and key on the session,
and logged once: a change on the server's side is seen the day it happens."""

from __future__ import annotations

import copy
import logging

import pytest

from kiwoom_async.api import QuoteAPI
from kiwoom_async.testing._examples import example_response

from ._scripted_server import Reply, ScriptedServer
from .test_rest_faults import QUOTE_PATH, TOKEN_PATH, Tokens, open_rest


def with_unknown_keys(api_id: str, list_key: str) -> dict[str, object]:
    body = example_response(api_id)
    assert body is not None
    body = copy.deepcopy(body)
    body["brand_new_total"] = "+123"
    for row in body[list_key]:
        row["brand_new_column"] = "7"
    return body


async def test_unknown_keys_are_kept_counted_per_tr_and_key_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kiwoom_async.models")
    async with ScriptedServer() as server:
        server.always(TOKEN_PATH, Tokens().handle)
        body = with_unknown_keys("ka10086", "daly_stkpc")
        rows = len(body["daly_stkpc"])  # type: ignore[arg-type]
        server.always(QUOTE_PATH, Reply(json=body, headers={"cont-yn": "Y", "next-key": "more"}))
        async with open_rest(server) as rest:
            quote = QuoteAPI(rest)
            pages = await quote.daily_prices("005930", qry_dt="20241125", indc_tp="0", max_pages=3)
            assert rows > 1 and len(pages) == 3
            page = pages[0]
            assert page.raw["brand_new_total"] == "+123"
            assert page.raw["daly_stkpc"][0]["brand_new_column"] == "7"
            assert len(page.daly_stkpc) == rows  # the known fields still decoded
            counts = rest.stats.unknown_fields
            assert counts == {
                ("ka10086", "brand_new_total"): 3,
                ("ka10086", "daly_stkpc[].brand_new_column"): 3,  # once per answer, not row
            }
    warnings = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(warnings) == 2
    assert any("brand_new_total" in w and "ka10086" in w for w in warnings)


async def test_an_answer_shaped_like_the_official_example_counts_nothing() -> None:
    async with ScriptedServer() as server:
        server.always(TOKEN_PATH, Tokens().handle)
        server.always(QUOTE_PATH, Reply(json=example_response("ka10004")))
        async with open_rest(server) as rest:
            await QuoteAPI(rest).orderbook("005930")
            assert rest.stats.unknown_fields == {}
