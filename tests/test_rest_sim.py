"""The REST client end to end against the built-in simulator (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator

import pytest

from kiwoom_async import (
    Kiwoom,
    KiwoomValidationError,
    OrderStatusUnknownError,
    RateLimits,
    RetryPolicy,
)
from kiwoom_async.testing import Simulator

APPKEY = "sim-appkey-0123456789"
SECRETKEY = "sim-secretkey-9876543210"
MARKET_ORDER = {
    "dmst_stex_tp": "KRX",
    "stk_cd": "005930",
    "ord_qty": "1",
    "ord_uv": "",
    "trde_tp": "3",
    "cond_uv": "",
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=1) as simulator:
        yield simulator


def client(sim: Simulator, **options: object) -> Kiwoom:
    options.setdefault("requests_per_second", None)
    options.setdefault("retry", RetryPolicy(rng=random.Random(3), backoff_base=0.01))
    return Kiwoom(APPKEY, SECRETKEY, base_url=sim.base_url, ws_url=sim.ws_url, **options)  # type: ignore[arg-type]


async def test_200_concurrent_calls_use_exactly_one_token(sim: Simulator) -> None:
    async with client(sim) as kw:
        calls = [("ka10004", {"stk_cd": "005930"})] * 200
        responses = await kw.rest.call_many(calls, concurrency=200)
    assert len(responses) == 200 and all(r.return_code == 0 for r in responses)
    assert sim.stats.token_issues == 1
    assert sim.stats.requests_by_api_id["ka10004"] == 200
    assert sim.stats.token_revokes == 1  # revoked on close


async def test_a_token_killed_mid_run_is_replaced_once_and_no_call_fails(sim: Simulator) -> None:
    async with client(sim) as kw:
        await kw.rest.call("ka10004", {"stk_cd": "005930"})
        sim.invalidate_tokens()
        responses = await kw.rest.call_many(
            [("ka10004", {"stk_cd": "005930"})] * 100, concurrency=50
        )
    assert all(r.return_code == 0 for r in responses)
    assert sim.stats.token_issues == 2
    assert sum(r.retries_taken for r in responses) >= 1


async def test_paginate_follows_every_page_in_order_and_echoes_the_key(sim: Simulator) -> None:
    sim.config.pages = 4
    body = {"stk_cd": "005930", "qry_dt": "20241125", "indc_tp": "0"}
    async with client(sim) as kw:
        pages = [page async for page in kw.rest.paginate("ka10086", body)]
    assert [p.cont_yn for p in pages] == [True, True, True, False]
    assert len({p.next_key for p in pages[:3]}) == 3
    assert sim.stats.bad_next_keys == 0
    first_dates = [p.body["daly_stkpc"][0]["date"] for p in pages]
    assert first_dates == sorted(first_dates, reverse=True) and len(set(first_dates)) == 4


async def test_paginate_is_awaitable_bounded_and_resumable(sim: Simulator) -> None:
    sim.config.pages = 5
    body = {"stk_cd": "005930", "qry_dt": "20241125", "indc_tp": "0"}
    async with client(sim) as kw:
        all_pages = await kw.rest.paginate("ka10086", body)
        pager = kw.rest.paginate("ka10086", body, max_pages=2)
        head = await pager
        assert pager.has_more and pager.next_key
        tail = await kw.rest.paginate("ka10086", body, next_key=pager.next_key)
    assert len(all_pages) == 5
    assert [p.body for p in head + tail] == [p.body for p in all_pages]
    assert sim.stats.bad_next_keys == 0
    with pytest.raises(KiwoomValidationError):
        kw.rest.paginate("ka10086", body, max_pages=0)


async def test_at_the_servers_rate_nothing_is_rejected(sim: Simulator) -> None:
    sim.config.rate_limit = 10
    loop = asyncio.get_running_loop()
    async with client(sim, requests_per_second=10) as kw:
        await kw.tokens.token()
        start = loop.time()
        responses = await kw.rest.call_many(
            [("ka10004", {"stk_cd": "005930"})] * 20, concurrency=20
        )
        elapsed = loop.time() - start
    assert sim.stats.rate_limit_rejections == 0
    assert all(r.retries_taken == 0 for r in responses)
    assert elapsed >= 19 / 10  # the budget was respected, not exceeded


async def test_without_client_limiting_rate_limit_answers_are_retried_until_all_succeed(
    sim: Simulator,
) -> None:
    sim.config.rate_limit = 40
    async with client(sim) as kw:
        responses = await kw.rest.call_many(
            [("ka10004", {"stk_cd": "005930"})] * 60, concurrency=60
        )
    assert all(r.return_code == 0 for r in responses)
    assert sim.stats.rate_limit_rejections > 0
    assert sum(r.retries_taken for r in responses) >= sim.stats.rate_limit_rejections


async def test_transient_500s_are_retried_for_queries(sim: Simulator) -> None:
    sim.config.http500_rate = 0.3
    patient = RetryPolicy(max_retries=8, rng=random.Random(3), backoff_base=0.01)
    async with client(sim, retry=patient) as kw:
        responses = await kw.rest.call_many([("ka10004", {"stk_cd": "005930"})] * 40)
    assert all(r.return_code == 0 for r in responses)
    assert sim.stats.http500s > 0


async def test_an_order_whose_answer_is_lost_is_sent_exactly_once(sim: Simulator) -> None:
    sim.config.drop_after_order = True
    async with client(sim) as kw:
        with pytest.raises(OrderStatusUnknownError) as info:
            await kw.rest.call("kt10000", MARKET_ORDER)
    assert len(sim.orders) == 1
    assert sim.stats.requests_by_api_id["kt10000"] == 1
    assert info.value.body["stk_cd"] == "005930"


async def test_a_placed_order_gets_an_order_number(sim: Simulator) -> None:
    async with client(sim) as kw:
        first = await kw.rest.call("kt10000", MARKET_ORDER)
        second = await kw.rest.call("kt10000", MARKET_ORDER)
    assert int(second.body["ord_no"]) > int(first.body["ord_no"])
    assert [o.ord_no for o in sim.orders] == [first.body["ord_no"], second.body["ord_no"]]


async def test_no_secret_appears_in_debug_logs(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kiwoom_async")
    sim.config.http500_rate = 0.2
    async with client(sim, rate_limits=RateLimits()) as kw:
        await kw.rest.call_many([("ka10004", {"stk_cd": "005930"})] * 10)
        sim.invalidate_tokens()
        await kw.rest.call("ka10004", {"stk_cd": "005930"})
        token = await kw.tokens.token()
        text = caplog.text + repr(kw) + repr(kw.tokens) + repr(kw.rest)
    assert caplog.records
    for secret in (APPKEY, SECRETKEY, token):
        assert secret not in text
