"""The REST side of the built-in simulator, exercised over HTTP with a bare aiohttp client."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from kiwoom_async.models import numbers
from kiwoom_async.registry import REGISTRY
from kiwoom_async.testing import Market, OrderRecord, SimConfig, Simulator
from kiwoom_async.testing._examples import EXAMPLES
from kiwoom_async.testing._market import tick_size
from kiwoom_async.testing._state import SimState
from kiwoom_async.testing.cli import build_parser, config_from_args
from tests.conftest import seconds

APPKEY = "test-appkey"
SECRET = "test-secret"
MARKET_BUY = {
    "dmst_stex_tp": "KRX",
    "stk_cd": "005930",
    "ord_qty": "3",
    "ord_uv": "",
    "trde_tp": "3",
    "cond_uv": "",
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def body(self) -> dict[str, Any]:
        data = json.loads(self.text)
        assert isinstance(data, dict)
        return data


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds(10))) as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7) as simulator:
        yield simulator


async def post(
    http: aiohttp.ClientSession,
    sim: Simulator,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Reply:
    async with http.post(sim.base_url + path, json=body, headers=headers or {}) as resp:
        return Reply(resp.status, dict(resp.headers), await resp.text())


async def issue(
    http: aiohttp.ClientSession, sim: Simulator, appkey: str = APPKEY, secret: str = SECRET
) -> str:
    reply = await post(
        http,
        sim,
        "/oauth2/token",
        {"grant_type": "client_credentials", "appkey": appkey, "secretkey": secret},
    )
    assert reply.body["return_code"] == 0, reply.text
    token = reply.body["token"]
    assert isinstance(token, str)
    return token


async def call(
    http: aiohttp.ClientSession,
    sim: Simulator,
    api_id: str,
    body: dict[str, Any],
    token: str,
    **extra: str,
) -> Reply:
    headers = {"api-id": api_id, "authorization": f"Bearer {token}"}
    headers.update({key.replace("_", "-"): value for key, value in extra.items()})
    return await post(http, sim, REGISTRY[api_id].path, body, headers)


def limit(side_price: int, *, qty: int = 2, trde_tp: str = "0") -> dict[str, str]:
    return {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": str(qty),
        "ord_uv": str(side_price),
        "trde_tp": trde_tp,
        "cond_uv": "",
    }


# --- tokens ---


async def test_token_issue_shape_and_kst_expiry(http: aiohttp.ClientSession) -> None:
    async with Simulator(token_lifetime=3600.0) as sim:
        before = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=9, seconds=3600)
        reply = await post(
            http,
            sim,
            "/oauth2/token",
            {"grant_type": "client_credentials", "appkey": "k", "secretkey": "s"},
        )
        after = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=9, seconds=3600)
        body = reply.body
        assert reply.status == 200
        assert set(body) == {"expires_dt", "token_type", "token", "return_code", "return_msg"}
        assert body["return_code"] == 0 and isinstance(body["return_code"], int)
        assert body["token_type"] == "Bearer"
        assert re.fullmatch(r"[A-Za-z0-9_-]{80,}", body["token"])
        assert re.fullmatch(r"\d{14}", body["expires_dt"])
        expires = datetime.strptime(body["expires_dt"], "%Y%m%d%H%M%S")
        assert before.replace(microsecond=0) - timedelta(seconds=1) <= expires <= after
        assert sim.stats.token_issues == 1
        assert sim.state.appkey_for_token(body["token"]) == "k"


async def test_each_token_is_different(http: aiohttp.ClientSession, sim: Simulator) -> None:
    first = await issue(http, sim)
    second = await issue(http, sim)
    assert first != second
    assert sim.state.appkey_for_token(first) == APPKEY
    assert sim.state.appkey_for_token(second) == APPKEY


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"appkey": "k", "secretkey": "s"}, "[8011:"),
        ({"grant_type": "password", "appkey": "k", "secretkey": "s"}, "[8012:"),
        ({"grant_type": "client_credentials", "appkey": "k"}, "[8020:"),
        ({"grant_type": "client_credentials", "secretkey": "s"}, "[8020:"),
    ],
)
async def test_token_issue_rejects_bad_requests(
    http: aiohttp.ClientSession, sim: Simulator, body: dict[str, str], detail: str
) -> None:
    reply = await post(http, sim, "/oauth2/token", body)
    assert reply.status == 200
    assert reply.body["return_code"] == 3
    assert detail in reply.body["return_msg"]
    assert "token" not in reply.body
    assert sim.stats.token_issues == 0


async def test_credentials_auto_register_then_must_match(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    await issue(http, sim, "key-a", "secret-a")
    reply = await post(
        http,
        sim,
        "/oauth2/token",
        {"grant_type": "client_credentials", "appkey": "key-a", "secretkey": "other"},
    )
    assert reply.body["return_code"] == 3
    assert "[8001:" in reply.body["return_msg"]


async def test_strict_credentials_accept_only_added_accounts(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(strict_credentials=True) as sim:
        sim.add_account("known", "pw")
        stranger = await post(
            http,
            sim,
            "/oauth2/token",
            {"grant_type": "client_credentials", "appkey": "stranger", "secretkey": "pw"},
        )
        assert "[8001:" in stranger.body["return_msg"]
        assert sim.state.appkey_for_token(await issue(http, sim, "known", "pw")) == "known"


async def test_revoke_kills_the_token(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    body = {"appkey": APPKEY, "secretkey": SECRET, "token": token}
    reply = await post(http, sim, "/oauth2/revoke", body)
    assert reply.body == {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}
    assert sim.stats.token_revokes == 1
    assert sim.state.appkey_for_token(token) is None
    again = await post(http, sim, "/oauth2/revoke", body)
    assert "[8015:" in again.body["return_msg"]
    missing = await post(http, sim, "/oauth2/revoke", {"appkey": APPKEY, "secretkey": SECRET})
    assert "[8016:" in missing.body["return_msg"]
    assert sim.stats.token_revokes == 1


@pytest.mark.parametrize(
    ("style", "status", "code"),
    [("rc3", 200, 3), ("top", 200, 8005), ("http401", 401, 3)],
)
async def test_invalid_token_styles(
    http: aiohttp.ClientSession, style: str, status: int, code: int
) -> None:
    async with Simulator(token_error_style=style) as sim:
        reply = await call(http, sim, "ka10001", {"stk_cd": "005930"}, "not-a-token")
        assert reply.status == status
        assert reply.body["return_code"] == code
        if code == 3:
            assert reply.body["return_msg"] == "인증에 실패했습니다[8005:Token이 유효하지 않습니다]"
        else:
            assert reply.body["return_msg"] == "Token이 유효하지 않습니다"
        assert sim.stats.requests_by_api_id["ka10001"] == 1


async def test_expired_invalidated_and_superseded_tokens(http: aiohttp.ClientSession) -> None:
    async with Simulator(token_lifetime=-1.0) as sim:
        expired = await issue(http, sim)
        reply = await call(http, sim, "ka10001", {"stk_cd": "005930"}, expired)
        assert reply.body["return_code"] == 3

        sim.config.token_lifetime = 3600.0
        good = await issue(http, sim)
        assert (await call(http, sim, "ka10001", {"stk_cd": "005930"}, good)).body[
            "return_code"
        ] == 0
        sim.invalidate_tokens()
        after = await call(http, sim, "ka10001", {"stk_cd": "005930"}, good)
        assert after.body["return_code"] == 3

        sim.config.reissue_invalidates_old = True
        old = await issue(http, sim)
        new = await issue(http, sim)
        assert sim.state.appkey_for_token(old) is None
        assert sim.state.appkey_for_token(new) == APPKEY


async def test_authorization_header_problems(http: aiohttp.ClientSession, sim: Simulator) -> None:
    path = REGISTRY["ka10001"].path
    cases = [
        ({}, 1513),
        ({"authorization": "Basic abc"}, 1515),
        ({"authorization": "Bearer "}, 1516),
    ]
    for extra, code in cases:
        reply = await post(http, sim, path, {"stk_cd": "005930"}, {"api-id": "ka10001", **extra})
        assert reply.body["return_code"] == code, extra


# --- routing ---


async def test_routing_errors(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    auth = {"authorization": f"Bearer {token}"}
    missing = await post(http, sim, "/api/dostk/mrkcond", {}, auth)
    assert missing.body["return_code"] == 1501
    unknown = await post(http, sim, "/api/dostk/mrkcond", {}, {**auth, "api-id": "ka99999"})
    assert unknown.body["return_code"] == 1505
    assert "ka99999" in unknown.body["return_msg"]
    wrong = await post(http, sim, "/api/dostk/mrkcond", {}, {**auth, "api-id": "kt10000"})
    assert wrong.body["return_code"] == 1504
    assert "URI=/api/dostk/mrkcond" in wrong.body["return_msg"]
    assert sim.orders == []


# --- rate limiting ---


def test_rate_window_rejections_do_not_consume_budget() -> None:
    state = SimState(SimConfig(rate_limit=2))
    assert state.admit("k", "ka10001", now=0.0)
    assert state.admit("k", "ka10001", now=0.1)
    assert not any(state.admit("k", "ka10001", now=0.5 + i / 100) for i in range(5))
    # At 1.0 the request from 0.0 has left the window. Had the five refusals been counted, the
    # window would still be full.
    assert state.admit("k", "ka10001", now=1.0)
    assert not state.admit("k", "ka10001", now=1.05)
    assert state.admit("other-key", "ka10001", now=1.05)


def test_rate_window_per_api_id_and_slow_rates() -> None:
    state = SimState(SimConfig(rate_limit_per_api_id=1))
    assert state.admit("k", "ka10001", now=0.0)
    assert not state.admit("k", "ka10001", now=0.5)
    assert state.admit("k", "ka10004", now=0.5)
    slow = SimState(SimConfig(rate_limit=0.5))
    assert slow.admit("k", "x", now=0.0)
    assert not slow.admit("k", "x", now=1.5)
    assert slow.admit("k", "x", now=2.0)


@pytest.mark.parametrize(("style", "status"), [("rc5", 200), ("http429", 429)])
async def test_rate_limit_rejection_over_http(
    http: aiohttp.ClientSession, style: str, status: int
) -> None:
    async with Simulator(rate_limit=3, rate_limit_style=style) as sim:
        token = await issue(http, sim)
        await issue(http, sim)  # token requests are never limited
        codes = []
        last = None
        for _ in range(5):
            last = await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)
            codes.append(last.body["return_code"])
        assert codes == [0, 0, 0, 5, 5]
        assert last is not None and last.status == status
        assert last.body["return_msg"] == (
            "허용된 요청 개수를 초과하였습니다"
            "[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10001]"
        )
        assert sim.stats.rate_limit_rejections == 2
        # Rejected orders are not orders.
        order = await call(http, sim, "kt10000", MARKET_BUY, token)
        assert order.body["return_code"] == 5
        assert sim.orders == []


# --- pagination ---


async def test_pagination_walks_k_pages(http: aiohttp.ClientSession) -> None:
    async with Simulator(pages=4) as sim:
        token = await issue(http, sim)
        body = EXAMPLES["ka10081"].request
        reply = await call(http, sim, "ka10081", body, token)
        conts, keys, dates = [], [], []
        for _ in range(10):
            assert reply.body["return_code"] == 0
            assert reply.headers["api-id"] == "ka10081"
            conts.append(reply.headers["cont-yn"])
            keys.append(reply.headers["next-key"])
            dates += [row["dt"] for row in reply.body["stk_dt_pole_chart_qry"]]
            if reply.headers["cont-yn"] != "Y":
                break
            reply = await call(http, sim, "ka10081", body, token, cont_yn="Y", next_key=keys[-1])
        assert conts == ["Y", "Y", "Y", "N"]
        assert keys[-1] == ""
        assert all(keys[:-1]) and len(set(keys[:-1])) == 3
        assert len(dates) == 8
        assert dates == sorted(dates, reverse=True) and len(set(dates)) == 8
        assert sim.stats.bad_next_keys == 0


async def test_wrong_next_keys_are_rejected(http: aiohttp.ClientSession) -> None:
    async with Simulator(pages=3) as sim:
        token = await issue(http, sim)
        other = await issue(http, sim, "other-key", "other-secret")
        body = EXAMPLES["ka10081"].request
        first = await call(http, sim, "ka10081", body, token)
        key1 = first.headers["next-key"]

        async def bad(api_id: str, key: str, tok: str = token) -> None:
            reply = await call(
                http, sim, api_id, EXAMPLES[api_id].request, tok, cont_yn="Y", next_key=key
            )
            assert reply.body["return_code"] == 1517
            assert "next-key" in reply.body["return_msg"]

        await bad("ka10081", "made-up")
        await bad("ka10081", key1, other)  # another app key
        await bad("ka10080", key1)  # another TR
        await bad("ka10081", "")
        second = await call(http, sim, "ka10081", body, token, cont_yn="Y", next_key=key1)
        assert second.headers["cont-yn"] == "Y"
        await bad("ka10081", key1)  # superseded by the key of page 2
        third = await call(
            http, sim, "ka10081", body, token, cont_yn="Y", next_key=second.headers["next-key"]
        )
        assert third.headers["cont-yn"] == "N"
        assert sim.stats.bad_next_keys == 5


async def test_non_paginating_tr_answers_cont_n(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    token = await issue(http, sim)
    reply = await call(http, sim, "ka10004", {"stk_cd": "005930"}, token)
    assert reply.headers["cont-yn"] == "N"
    assert reply.headers["next-key"] == ""


# --- orders ---


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        ({"stk_cd": ""}, 1511, "파라미터=stk_cd"),
        ({"ord_qty": None}, 1511, "파라미터=ord_qty"),
        ({"trde_tp": "99"}, 1517, "파라미터=trde_tp"),
        ({"ord_uv": "70000"}, 1517, "파라미터=ord_uv"),
        ({"trde_tp": "0"}, 1517, "파라미터=ord_uv"),
        ({"trde_tp": "0", "ord_uv": "-5"}, 1517, "파라미터=ord_uv"),
        ({"ord_qty": "0"}, 1517, "파라미터=ord_qty"),
        ({"ord_qty": "1.5"}, 1517, "파라미터=ord_qty"),
        ({"dmst_stex_tp": "XYZ"}, 1517, "파라미터=dmst_stex_tp"),
        ({"dmst_stex_tp": "NXT"}, 20, "RC9000"),
        ({"dmst_stex_tp": "SOR"}, 20, "RC9000"),
        ({"trde_tp": "28", "ord_uv": "70000"}, 1517, "파라미터=cond_uv"),
    ],
)
async def test_order_validation_rejects(
    http: aiohttp.ClientSession,
    sim: Simulator,
    change: dict[str, Any],
    code: int,
    needle: str,
) -> None:
    token = await issue(http, sim)
    body = {**MARKET_BUY, **change}
    body = {key: value for key, value in body.items() if value is not None}
    reply = await call(http, sim, "kt10000", body, token)
    assert reply.status == 200
    assert reply.body["return_code"] == code
    assert needle in reply.body["return_msg"]
    assert "ord_no" not in reply.body
    assert sim.orders == []


async def test_real_mode_accepts_nxt_and_price_rules_per_type(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(mock=False, fill_orders=False, holdings={"005930": 1_000}) as sim:
        token = await issue(http, sim)
        nxt = await call(http, sim, "kt10000", {**MARKET_BUY, "dmst_stex_tp": "NXT"}, token)
        assert nxt.body["return_code"] == 0
        assert nxt.body["dmst_stex_tp"] == "NXT"
        assert nxt.body["return_msg"] == "매수주문이 완료되었습니다."
        for priceless in ("13", "23", "6", "16", "26", "7", "61", "81"):
            ok = await call(http, sim, "kt10001", {**MARKET_BUY, "trde_tp": priceless}, token)
            assert ok.body["return_code"] == 0, priceless
        for priced in ("5", "10", "20", "29", "30", "31", "62"):
            ok = await call(http, sim, "kt10001", limit(70000, trde_tp=priced), token)
            assert ok.body["return_code"] == 0, priced
        stop = await call(
            http, sim, "kt10000", {**limit(70000, trde_tp="28"), "cond_uv": "69000"}, token
        )
        assert stop.body["return_code"] == 0
        assert sim.orders[-1].cond_price == 69000


async def test_accepted_orders_get_increasing_numbers(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    token = await issue(http, sim)
    numbers_seen = []
    for api_id in ("kt10000", "kt10001", "kt10000"):
        reply = await call(http, sim, api_id, MARKET_BUY, token)
        body = reply.body
        assert body["return_code"] == 0
        assert body["dmst_stex_tp"] == "KRX"
        numbers_seen.append(body["ord_no"])
    assert numbers_seen == ["0000001", "0000002", "0000003"]
    assert [o.ord_no for o in sim.orders] == numbers_seen
    assert [o.side for o in sim.orders] == ["buy", "sell", "buy"]
    first = sim.orders[0]
    assert first.appkey == APPKEY and first.api_id == "kt10000"
    assert (first.stk_cd, first.stk_nm, first.qty, first.price) == ("005930", "삼성전자", 3, 0)
    assert re.fullmatch(r"\d{6}", first.ord_time)
    msg = (await call(http, sim, "kt10001", MARKET_BUY, token)).body["return_msg"]
    assert msg == "모의투자 매도주문완료"


async def test_modify_and_cancel(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    below = sim.state.market.price("005930") - 5_000
    placed = await call(http, sim, "kt10000", limit(below, qty=5), token)
    orig = placed.body["ord_no"]
    assert sim.orders[0].status == "open"

    modify = {
        "dmst_stex_tp": "KRX",
        "orig_ord_no": orig,
        "stk_cd": "005930",
        "mdfy_qty": "2",
        "mdfy_uv": str(below - 100),
        "mdfy_cond_uv": "",
    }
    modified = (await call(http, sim, "kt10002", modify, token)).body
    assert modified["return_code"] == 0
    assert modified["base_orig_ord_no"] == orig
    assert modified["mdfy_qty"] == "000000000002"
    assert modified["ord_no"] == "0000002"
    assert sim.orders[0].remaining_qty == 3
    assert (sim.orders[1].qty, sim.orders[1].price) == (2, below - 100)

    cancel = {"dmst_stex_tp": "KRX", "orig_ord_no": "0000002", "stk_cd": "005930", "cncl_qty": "0"}
    cancelled = (await call(http, sim, "kt10003", cancel, token)).body
    assert cancelled["return_code"] == 0
    assert cancelled["cncl_qty"] == "000000000002"
    assert cancelled["base_orig_ord_no"] == orig  # the root, not the modified order
    assert "dmst_stex_tp" not in cancelled
    assert sim.orders[1].status == "cancelled"

    again = (await call(http, sim, "kt10003", cancel, token)).body
    assert again["return_code"] == 20 and again["return_msg"].startswith("[2000](RC")
    unknown = (await call(http, sim, "kt10003", {**cancel, "orig_ord_no": "0999999"}, token)).body
    assert unknown["return_code"] == 20
    too_many = (
        await call(http, sim, "kt10003", {**cancel, "orig_ord_no": orig, "cncl_qty": "4"}, token)
    ).body
    assert too_many["return_code"] == 20
    stranger = await issue(http, sim, "stranger", "pw")
    foreign = (await call(http, sim, "kt10003", {**cancel, "orig_ord_no": orig}, stranger)).body
    assert foreign["return_code"] == 20
    assert len(sim.orders) == 3


async def test_drop_after_order_disconnects_but_records(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(drop_after_order=True) as sim:
        events: list[tuple[str, str]] = []
        sim.state.add_order_listener(lambda order, event: events.append((order.ord_no, event)))
        token = await issue(http, sim)
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(http, sim, "kt10000", MARKET_BUY, token)
        assert [o.ord_no for o in sim.orders] == ["0000001"]
        assert events[0] == ("0000001", "accepted")
        assert sim.stats.dropped_connections == 1
        # Queries still answer, and so does the next order once the knob is off.
        assert (await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)).status == 200
        sim.config.drop_after_order = False
        assert (await call(http, sim, "kt10000", MARKET_BUY, token)).body["ord_no"] == "0000002"


# --- faults ---


async def test_http500_and_malformed_knobs(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    sim.config.http500_rate = 1.0
    failed = await call(http, sim, "kt10000", MARKET_BUY, token)
    assert failed.status == 500
    with pytest.raises(json.JSONDecodeError):
        json.loads(failed.text)
    assert sim.stats.http500s == 1
    assert sim.orders == []  # the fault struck before the order was looked at

    sim.config.http500_rate = 0.0
    sim.config.malformed_rate = 1.0
    broken = await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)
    assert broken.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    assert sim.stats.malformed_bodies == 1

    sim.config.malformed_rate = 0.0
    assert (await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)).body["return_code"] == 0
    assert sim.stats.requests_by_api_id["ka10001"] == 2


async def test_fault_rates_are_seeded(http: aiohttp.ClientSession) -> None:
    async def pattern() -> list[int]:
        async with Simulator(seed=3, http500_rate=0.5) as sim:
            token = ""
            while not token:
                reply = await post(
                    http,
                    sim,
                    "/oauth2/token",
                    {"grant_type": "client_credentials", "appkey": "k", "secretkey": "s"},
                )
                token = reply.body["token"] if reply.status == 200 else ""
            return [
                (await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)).status
                for _ in range(12)
            ]

    first = await pattern()
    assert first == await pattern()
    assert 200 in first and 500 in first


async def test_latency_knob_delays(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    sim.config.latency = seconds(0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)
    assert loop.time() - start >= seconds(0.05)


# --- listeners, fills and positions ---


async def test_listeners_see_accepted_then_filled(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    events: list[tuple[str, str, int, int]] = []

    def listener(order: OrderRecord, event: str) -> None:
        events.append((order.ord_no, event, order.last_fill_qty, order.remaining_qty))

    remove = sim.state.add_order_listener(listener)
    token = await issue(http, sim)
    price = sim.state.market.price("005930")
    await call(http, sim, "kt10000", MARKET_BUY, token)
    assert events == [("0000001", "accepted", 0, 3), ("0000001", "filled", 3, 0)]
    assert sim.orders[0].status == "filled" and sim.orders[0].fill_price == price
    position = sim.state.positions(APPKEY)["005930"]
    assert (position.qty, position.avg_price, position.pur_amt) == (3, price, 3 * price)

    # A buy below the market rests: accepted only.
    events.clear()
    await call(http, sim, "kt10000", limit(price - 10 * tick_size(price)), token)
    assert events == [("0000002", "accepted", 0, 2)]
    # A sell at or below the market fills at the market price.
    events.clear()
    await call(http, sim, "kt10001", {**limit(price - 1_000), "ord_qty": "1"}, token)
    assert [e[1] for e in events] == ["accepted", "filled"]
    assert sim.orders[-1].fill_price == price
    assert sim.state.positions(APPKEY)["005930"].qty == 2

    remove()
    events.clear()
    await call(http, sim, "kt10000", MARKET_BUY, token)
    assert events == []


async def test_partial_fills_and_ioc_cancel(http: aiohttp.ClientSession) -> None:
    async with Simulator(partial_fills=True) as sim:
        events: list[tuple[str, int, int]] = []
        sim.state.add_order_listener(
            lambda o, e: events.append((e, o.last_fill_qty, o.remaining_qty))
        )
        token = await issue(http, sim)
        await call(http, sim, "kt10000", {**MARKET_BUY, "ord_qty": "5"}, token)
        assert events == [("accepted", 0, 5), ("filled", 2, 3), ("filled", 3, 0)]
        events.clear()
        low = sim.state.market.price("005930") - 5_000
        await call(http, sim, "kt10000", limit(low, trde_tp="10"), token)
        assert events == [("accepted", 0, 2), ("cancelled", 0, 0)]
        assert sim.orders[-1].status == "cancelled"


async def test_resting_order_fills_when_a_tick_crosses(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    token = await issue(http, sim)
    market = sim.state.market
    price = market.price("005930")
    await call(http, sim, "kt10000", limit(price - tick_size(price)), token)
    order = sim.orders[0]
    statuses = [order.status]
    for _ in range(2_000):
        tick = market.tick("005930")
        if tick.price <= order.price:
            break
    statuses.append(order.status)
    assert statuses == ["open", "filled"]
    assert order.fill_price <= order.price


# --- reconciliation ---


async def test_reconciliation_trs_reflect_orders(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    token = await issue(http, sim)
    price = sim.state.market.price("005930")
    await call(http, sim, "kt10000", MARKET_BUY, token)  # 0000001 filled
    await call(http, sim, "kt10000", limit(price - 5_000, qty=4), token)  # 0000002 open
    await call(http, sim, "kt10001", limit(price + 5_000, qty=1), token)  # 0000003 open
    cancel = {"dmst_stex_tp": "KRX", "orig_ord_no": "0000003", "stk_cd": "005930", "cncl_qty": "0"}
    await call(http, sim, "kt10003", cancel, token)  # 0000004 cancels 0000003
    other = await issue(http, sim, "someone-else", "pw")
    await call(http, sim, "kt10000", MARKET_BUY, other)  # 0000005, not ours

    open_rows = (
        await call(http, sim, "ka10075", EXAMPLES["ka10075"].request | {"all_stk_tp": "0"}, token)
    ).body["oso"]
    assert [row["ord_no"] for row in open_rows] == ["0000002"]
    row = open_rows[0]
    assert (row["ord_qty"], row["oso_qty"], row["ord_pric"]) == ("4", "4", str(price - 5_000))
    assert row["io_tp_nm"] == "+매수" and row["stk_cd"] == "005930"
    assert row["acnt_no"] == sim.state.account_no(APPKEY)

    fills = (await call(http, sim, "ka10076", EXAMPLES["ka10076"].request, token)).body["cntr"]
    assert [r["ord_no"] for r in fills] == ["0000001"]
    assert (fills[0]["cntr_qty"], fills[0]["cntr_pric"]) == ("3", str(price))

    detail = (await call(http, sim, "kt00007", EXAMPLES["kt00007"].request, token)).body
    rows = detail["acnt_ord_cntr_prps_dtl"]
    assert [r["ord_no"] for r in rows] == ["0000001", "0000002", "0000003", "0000004"]
    assert rows[0]["cntr_qty"] == "0000000003" and rows[0]["ord_remnq"] == "0000000000"
    assert rows[1]["ord_remnq"] == "0000000004" and rows[1]["cntr_qty"] == "0000000000"
    assert rows[2]["ord_remnq"] == "0000000000" and rows[2]["io_tp_nm"] == "현금매도"
    assert rows[3]["mdfy_cncl"] == "취소" and rows[3]["ori_ord"] == "0000003"
    assert rows[0]["stk_cd"] == "A005930"
    unfilled = (
        await call(http, sim, "kt00007", {**EXAMPLES["kt00007"].request, "qry_tp": "3"}, token)
    ).body
    assert [r["ord_no"] for r in unfilled["acnt_ord_cntr_prps_dtl"]] == ["0000002"]

    balance = (await call(http, sim, "kt00018", EXAMPLES["kt00018"].request, token)).body
    holdings = balance["acnt_evlt_remn_indv_tot"]
    assert [(h["stk_cd"], numbers.unsigned_int(h["rmnd_qty"])) for h in holdings] == [
        ("A005930", 3)
    ]


async def test_reconciliation_paginates_by_rows(http: aiohttp.ClientSession) -> None:
    async with Simulator(recon_page_size=2, fill_orders=False) as sim:
        token = await issue(http, sim)
        for _ in range(3):
            await call(http, sim, "kt10000", limit(50_000), token)
        request = EXAMPLES["ka10075"].request | {"all_stk_tp": "0"}
        first = await call(http, sim, "ka10075", request, token)
        assert first.headers["cont-yn"] == "Y"
        second = await call(
            http, sim, "ka10075", request, token, cont_yn="Y", next_key=first.headers["next-key"]
        )
        assert second.headers["cont-yn"] == "N"
        seen = [r["ord_no"] for r in first.body["oso"] + second.body["oso"]]
        assert seen == ["0000003", "0000002", "0000001"]


def gold_limit(price: int, *, qty: int) -> dict[str, str]:
    return {"stk_cd": "M04020000", "ord_qty": str(qty), "ord_uv": str(price), "trde_tp": "00"}


def _spec_fields(api_id: str, key: str) -> set[str]:
    example = EXAMPLES[api_id].response
    assert example is not None
    return set(example[key][0])


async def test_gold_order_views_reflect_gold_orders_only(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    token = await issue(http, sim)
    price = sim.state.market.price("M04020000")
    stock_price = sim.state.market.price("005930")
    await call(http, sim, "kt10000", MARKET_BUY, token)  # 0000001 stock
    await call(http, sim, "kt50000", gold_limit(price + 1_000, qty=2), token)  # 0000002 filled
    await call(http, sim, "kt50001", gold_limit(price + 5_000, qty=3), token)  # 0000003 open
    await call(http, sim, "kt10000", limit(stock_price - 5_000), token)  # 0000004 stock, open
    modify = {"stk_cd": "M04020000", "orig_ord_no": "0000003", "mdfy_qty": "1"}
    await call(http, sim, "kt50002", modify | {"mdfy_uv": str(price + 6_000)}, token)  # 0000005
    other = await issue(http, sim, "someone-else", "pw")
    await call(http, sim, "kt50000", gold_limit(price - 5_000, qty=1), other)  # 0000006

    history = EXAMPLES["kt50031"].request | {"stk_cd": "", "ord_dt": ""}  # any day
    rows = (await call(http, sim, "kt50031", history, token)).body["acnt_ord_cntr_prps_dtl"]
    assert [r["ord_no"] for r in rows] == ["0000002", "0000003", "0000005"]
    assert all(set(r) == _spec_fields("kt50031", "acnt_ord_cntr_prps_dtl") for r in rows)
    bought, sold, modified = rows
    assert (bought["stk_cd"], bought["trde_tp"], bought["io_tp_nm"]) == (
        "M04020000",
        "지정가",
        "매수",
    )
    assert (bought["ord_qty"], bought["ord_uv"]) == ("0000000002", f"{price + 1_000:010d}")
    assert (bought["cntr_qty"], bought["cntr_uv"]) == ("0000000002", f"{price:010d}")
    assert bought["ord_remnq"] == "0000000000" and bought["mdfy_cncl"] == ""
    assert (sold["io_tp_nm"], sold["ord_remnq"], sold["cntr_qty"]) == (
        "매도",
        "0000000002",
        "0" * 10,
    )
    assert (modified["mdfy_cncl"], modified["ori_ord"]) == ("정정", "0000003")
    assert modified["io_tp_nm"] == "매도정정" and modified["ord_uv"] == f"{price + 6_000:010d}"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", bought["ord_tm"])

    async def listed(api_id: str, body: dict[str, Any], key: str) -> list[str]:
        reply = await call(http, sim, api_id, body, token)
        return [r["ord_no"] for r in reply.body[key]]

    dtl = "acnt_ord_cntr_prps_dtl"
    assert await listed("kt50031", history | {"qry_tp": "2"}, dtl) == [
        "0000005",
        "0000003",
        "0000002",
    ]
    assert await listed("kt50031", history | {"qry_tp": "3"}, dtl) == ["0000003", "0000005"]
    assert await listed("kt50031", history | {"qry_tp": "4"}, dtl) == ["0000002"]
    assert await listed("kt50031", history | {"sell_tp": "2"}, dtl) == ["0000002"]
    assert await listed("kt50031", history | {"fr_ord_no": "0000004"}, dtl) == ["0000005"]
    assert await listed("kt50031", history | {"stk_cd": "M04020100"}, dtl) == []

    unfilled = EXAMPLES["kt50075"].request
    open_rows = (await call(http, sim, "kt50075", unfilled, token)).body["acnt_ord_oso_prst"]
    assert [r["ord_no"] for r in open_rows] == ["0000003", "0000005"]
    assert all(set(r) == _spec_fields("kt50075", "acnt_ord_oso_prst") for r in open_rows)
    resting, moved = open_rows
    assert (resting["ord_remnq"], resting["orig_ord_no"], resting["mrkt_deal_tp"]) == (
        "0000000002",
        "0000000",
        "5",
    )
    assert (moved["ord_remnq"], moved["orig_ord_no"], moved["mdfy_cncl_tp"]) == (
        "0000000001",
        "0000003",
        "정정",
    )
    oso = "acnt_ord_oso_prst"
    assert await listed("kt50075", unfilled | {"qry_tp": "2"}, oso) == ["0000005", "0000003"]
    assert await listed("kt50075", unfilled | {"sell_tp": "2"}, oso) == []

    stock = await listed("kt00007", EXAMPLES["kt00007"].request, dtl)
    assert stock == ["0000001", "0000004"]


# --- quotes ---


async def test_quotes_reflect_the_market(http: aiohttp.ClientSession, sim: Simulator) -> None:
    token = await issue(http, sim)
    market = sim.state.market
    for _ in range(5):
        market.tick("000660")
    snap = market.snapshot("000660")
    book = (await call(http, sim, "ka10004", {"stk_cd": "000660"}, token)).body
    assert numbers.price(book["buy_fpr_bid"]) == snap.best_bid
    assert numbers.price(book["sel_fpr_bid"]) == snap.best_ask
    asks = [numbers.price(book[f"sel_{n}th_pre_bid"]) or 0 for n in range(2, 11)]
    assert asks == sorted(asks) and asks[0] == snap.best_ask + tick_size(snap.best_ask)
    assert int(book["sel_fpr_req"]) > 0

    info = (await call(http, sim, "ka10001", {"stk_cd": "000660"}, token)).body
    assert numbers.price(info["cur_prc"]) == snap.price
    assert numbers.direction(info["cur_prc"]) == (snap.price > snap.prev_close) - (
        snap.price < snap.prev_close
    )
    assert info["stk_nm"] == "SK하이닉스" and info["stk_cd"] == "000660"

    board = (await call(http, sim, "ka10007", {"stk_cd": "000660"}, token)).body
    assert numbers.price(board["cur_prc"]) == snap.price
    assert board["pred_close_pric"] == str(snap.prev_close)
    assert numbers.signed_float(board["flu_rt"]) == snap.rate


# --- every TR ---


ACCOUNT_VIEWS = frozenset(
    {"ka10075", "ka10076", "kt00007", "kt50031", "kt50075", "kt00004", "kt00018"}
)


def _order_body(api_id: str, last: dict[str, str]) -> dict[str, str]:
    if api_id.startswith("ust"):  # US orders and the currency exchange: the official example
        return dict(EXAMPLES[api_id].request)
    gold = api_id.startswith("kt5")
    family = "gold" if gold else "stock"
    if api_id == "kt10007":  # a credit sell names its loan
        return {**limit(60_000), "crd_deal_tp": "99"}
    if api_id in ("kt10000", "kt10001", "kt10006"):
        return limit(60_000)
    if api_id in ("kt50000", "kt50001"):
        return {"stk_cd": "M04020000", "ord_qty": "2", "ord_uv": "100000", "trde_tp": "00"}
    code = "M04020000" if gold else "005930"
    base = {"orig_ord_no": last[family], "stk_cd": code}
    if not gold:
        base["dmst_stex_tp"] = "KRX"
    if api_id in ("kt10002", "kt10008", "kt50002"):
        return {**base, "mdfy_qty": "1", "mdfy_uv": "61000"}
    return {**base, "cncl_qty": "1"}


async def test_every_registry_tr_answers(http: aiohttp.ClientSession) -> None:
    async with Simulator(fill_orders=False, pages=2, holdings={"005930": 100}) as sim:
        token = await issue(http, sim)
        last: dict[str, str] = {}
        served = []
        for api_id, spec in sorted(REGISTRY.items()):
            if spec.category == "auth":
                continue
            body = _order_body(api_id, last) if spec.is_order else EXAMPLES[api_id].request
            reply = await call(http, sim, api_id, body, token)
            assert reply.status == 200, api_id
            payload = reply.body
            assert payload["return_code"] == 0, (api_id, payload)
            assert isinstance(payload["return_msg"], str)
            assert reply.headers["api-id"] == api_id
            # Account views built from the simulator's own orders/positions fit on one page.
            expect_more = spec.paginates and api_id not in ACCOUNT_VIEWS
            assert reply.headers["cont-yn"] == ("Y" if expect_more else "N"), api_id
            for key in EXAMPLES[api_id].list_keys:
                assert isinstance(payload.get(key), list), (api_id, key)
            if spec.is_order and api_id in (
                "kt10000",
                "kt10001",
                "kt10006",
                "kt10007",
                "kt50000",
                "kt50001",
            ):
                last["gold" if api_id.startswith("kt5") else "stock"] = payload["ord_no"]
            served.append(api_id)
        assert len(served) == len(REGISTRY) - 2
        assert sum(sim.stats.requests_by_api_id.values()) == len(served) + 1


# --- market model ---


def test_market_is_deterministic_and_on_ticks() -> None:
    one, two = Market(seed=5), Market(seed=5)
    path_one = [one.tick("123450").price for _ in range(200)]
    path_two = [two.tick("123450").price for _ in range(200)]
    assert path_one == path_two
    assert len(set(path_one)) > 1
    assert all(p % tick_size(p) == 0 for p in path_one)
    # Another code's ticks do not disturb this code's path.
    three = Market(seed=5)
    mixed = []
    for _ in range(200):
        three.tick("000660")
        mixed.append(three.tick("123450").price)
    assert mixed == path_one
    assert (
        Market(seed=6).price("123450") != Market(seed=5).price("123450")
        or [Market(seed=6).tick("123450").price for _ in range(5)] != path_one[:5]
    )


def test_market_tick_and_book_shape() -> None:
    market = Market(seed=1)
    tick = market.tick("005930")
    assert tick.change == tick.price - tick.prev_close
    assert tick.rate == round(tick.change / tick.prev_close * 100, 2)
    assert tick.cum_volume >= tick.volume > 0
    assert tick.low <= tick.price <= tick.high
    assert tick.lower_limit <= tick.price <= tick.upper_limit
    assert tick.best_ask > tick.best_bid == tick.price
    assert re.fullmatch(r"\d{6}", tick.time)
    book = market.book("A005930")
    assert len(book.asks) == len(book.bids) == 10
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert book.asks[0][0] == tick.best_ask and book.bids[0][0] == tick.best_bid
    assert market.price("005930_NX") == tick.price


# --- lifecycle and CLI ---


async def test_kwargs_config_and_clean_close(http: aiohttp.ClientSession) -> None:
    config = SimConfig(pages=9, seed=4)
    sim = Simulator(config, rate_limit=5, pages=4)
    assert (sim.config.rate_limit, sim.config.pages, sim.config.seed) == (5, 4, 4)
    with pytest.raises(TypeError):
        Simulator(no_such_knob=1)
    await sim.start()
    assert sim.base_url == f"http://127.0.0.1:{sim.port}"
    assert sim.ws_url == f"ws://127.0.0.1:{sim.port}/api/dostk/websocket"
    token = await issue(http, sim)
    assert (await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)).status == 200
    before = asyncio.all_tasks()
    await sim.close()
    await sim.close()
    leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert leftover == set()
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, sim, "ka10001", {"stk_cd": "005930"}, token)


def test_cli_maps_flags_to_config() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--rate-limit",
            "2",
            "--pages",
            "5",
            "--latency",
            "0.1",
            "--real",
            "--token-lifetime",
            "60",
            "--blast-frames",
            "100",
            "--account",
            "a:b",
        ]
    )
    config = config_from_args(args)
    assert (config.rate_limit, config.pages, config.latency) == (2.0, 5, 0.1)
    assert (config.mock, config.token_lifetime, config.blast_frames) == (False, 60.0, 100)
    assert config.strict_credentials is True
    assert args.port == 0 and args.account == ["a:b"]
