"""Refusals real Kiwoom servers make, as simulator knobs: a LOGIN refused with a six-digit code
worded ``[CODE=805004, MESSAGE=...]``, a REG refused with return_code 1, and a SYSTEM frame
then a close instead of the LOGIN answer. Each is checked frame by frame with a plain
``websockets`` client, then against :class:`RealtimeSession` to pin how the client reacts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from kiwoom_async import (
    ConnectionClosedError,
    Kiwoom,
    LoginRefusedError,
    RealtimeSession,
    SubscriptionError,
)
from kiwoom_async.models.lifecycle import (
    Disconnected,
    LifecycleEvent,
    Reconnecting,
    Resubscribed,
    SystemMessage,
)
from kiwoom_async.models.realtime import RealtimeEvent, StockTrade
from kiwoom_async.retry import Backoff
from kiwoom_async.testing import SimConfig, Simulator
from kiwoom_async.testing.cli import build_parser, config_from_args
from tests.conftest import seconds
from tests.test_simulator_ws import Client, issue_token

Frame = dict[str, Any]
Connect = Callable[[], Awaitable[Client]]

APPKEY = "refusal-appkey-0123456789"
SECRETKEY = "refusal-secretkey-0123456789"
FAST = Backoff(initial=0.01, maximum=0.05, rng=random.Random(1))

R10004 = {"trnm": "SYSTEM", "code": "R10004", "message": "접속허용요청이 들어오지 않았습니다"}
R00000 = {"trnm": "SYSTEM", "code": "R00000", "message": "실시간 시세 서버 접속을 요청합니다"}
MOCK_REFUSAL = "모의투자에서 지원하지 않는 API 입니다."


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # No PINGs: they would interleave with the exact frames these tests expect.
    async with Simulator(seed=3, tick_interval=seconds(0.01), ping_interval=0) as simulator:
        yield simulator


@pytest.fixture
async def connect(sim: Simulator) -> AsyncIterator[Connect]:
    opened: list[ClientConnection] = []

    async def open_client() -> Client:
        conn = await websockets.connect(sim.ws_url, open_timeout=seconds(2))
        opened.append(conn)
        return Client(conn)

    yield open_client
    for conn in opened:
        await conn.close()


@pytest.fixture
async def kw(sim: Simulator) -> AsyncIterator[Kiwoom]:
    async with Kiwoom(
        APPKEY, SECRETKEY, base_url=sim.base_url, ws_url=sim.ws_url, requests_per_second=None
    ) as client:
        yield client


async def login_frames(sim: Simulator, connect: Connect, token: str | None = None) -> list[Frame]:
    """Every frame the server sends in answer to one LOGIN, up to its close."""
    client = await connect()
    await client.send({"trnm": "LOGIN", "token": token or await issue_token(sim)})
    frames = await client.closed()
    assert client.conn.close_code == 1000  # a closing handshake, not a dropped transport
    return frames


async def logged_in(sim: Simulator, connect: Connect) -> Client:
    client = await connect()
    reply = await client.login(await issue_token(sim))
    assert reply == {"trnm": "LOGIN", "return_code": 0, "return_msg": ""}
    return client


async def events_until_failure(
    rt: RealtimeSession, error: type[Exception]
) -> list[RealtimeEvent | LifecycleEvent]:
    """Every event of the stream until it ends with ``error``."""
    seen: list[RealtimeEvent | LifecycleEvent] = []
    with pytest.raises(error):
        async with asyncio.timeout(seconds(10)):
            async for event in rt:
                seen.append(event)
    return seen


async def next_of(rt: RealtimeSession, kind: type[Any]) -> Any:
    async with asyncio.timeout(seconds(5)):
        async for event in rt:
            if isinstance(event, kind):
                return event
    raise AssertionError("stream ended")


async def next_trade(rt: RealtimeSession) -> StockTrade:
    trade: StockTrade = await next_of(rt, StockTrade)
    return trade


# --- 1. LOGIN refused with a six-digit code, worded [CODE=..., MESSAGE=...] ---


async def test_top_style_refuses_login_with_the_six_digit_code_as_return_code(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.login_refuse_code = 805004
    sim.config.login_refuse_style = "top"
    frames = await login_frames(sim, connect)
    assert frames == [
        {
            "trnm": "LOGIN",
            "return_code": 805004,
            "return_msg": "[CODE=805004, MESSAGE=지정단말기 인증에 실패했습니다]",
        }
    ]
    stats = sim.ws_stats
    assert (stats.login_failures, stats.logins) == (1, 0)
    assert stats.disconnects_by_reason["login_refused"] == 1


async def test_top_style_words_an_unknown_token_as_code_8005(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.login_refuse_style = "top"
    frames = await login_frames(sim, connect, token="not-a-token")
    assert frames == [
        {
            "trnm": "LOGIN",
            "return_code": 8005,
            "return_msg": "[CODE=8005, MESSAGE=Token이 유효하지 않습니다]",
        }
    ]


async def test_the_default_style_still_refuses_with_return_code_1(
    sim: Simulator, connect: Connect
) -> None:
    assert sim.config.login_refuse_style == "rc1"
    frames = await login_frames(sim, connect, token="not-a-token")
    assert frames == [
        {
            "trnm": "LOGIN",
            "return_code": 1,
            "return_msg": "[ERROR] 인증에 실패했습니다. CODE=8005, MSG=Token이 유효하지 않습니다",
        }
    ]


async def test_the_client_ends_the_session_on_805004_with_its_code_parsed(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.login_refuse_code = 805004
    sim.config.login_refuse_style = "top"
    async with kw.realtime(backoff=FAST) as rt:
        with pytest.raises(LoginRefusedError) as info:
            await rt.subscribe(["005930"], ["0B"])
        await events_until_failure(rt, LoginRefusedError)
    assert info.value.return_code == 805004
    assert info.value.detail_code == 805004
    assert info.value.return_msg == "[CODE=805004, MESSAGE=지정단말기 인증에 실패했습니다]"
    # A stated code that is not a token code is final: no reconnect, no second token.
    assert sim.ws_stats.connections == 1
    assert sim.stats.token_issues == 1
    assert rt.stats.reconnects == 0


async def test_the_client_retries_a_top_style_8005_once_with_a_new_token(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.login_refuse_code = 8005
    sim.config.login_refuse_style = "top"
    async with kw.realtime(backoff=FAST) as rt:
        with pytest.raises(LoginRefusedError) as info:
            await rt.wait_ready(timeout=seconds(5))
    assert (info.value.return_code, info.value.detail_code) == (8005, 8005)
    assert sim.ws_stats.connections == 2
    assert sim.stats.token_issues == 2


# --- 2. REG refused with return_code 1 ---


async def test_a_refused_type_refuses_the_whole_reg_and_the_connection_stays(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.reg_refuse_types = frozenset({"0w"})
    client = await logged_in(sim, connect)
    assert await client.reg(["005930"], ["0B", "0w"]) == {
        "trnm": "REG",
        "return_code": 1,
        "return_msg": f"{MOCK_REFUSAL} type=0w",
    }
    assert sim.ws_stats.registrations == {1: {}}  # 0B of the same frame did not register
    assert await client.reg(["005930"], ["0B"]) == {
        "trnm": "REG",
        "return_code": 0,
        "return_msg": "",
    }
    (real,) = await client.reals(1)
    assert real["data"][0]["type"] == "0B"
    assert (sim.ws_stats.regs, sim.ws_stats.reg_refusals) == (1, 1)
    assert sim.ws_stats.disconnects_by_reason == {}


async def test_a_star_refuses_every_reg_but_no_remove(sim: Simulator, connect: Connect) -> None:
    sim.config.reg_refuse_types = frozenset({"*"})
    client = await logged_in(sim, connect)
    assert await client.reg(["005930"], ["0B", "0D"]) == {
        "trnm": "REG",
        "return_code": 1,
        "return_msg": f"{MOCK_REFUSAL} type=0B,0D",
    }
    assert (await client.reg([""], ["00"]))["return_msg"] == f"{MOCK_REFUSAL} type=00"
    remove = {"trnm": "REMOVE", "grp_no": "1", "data": [{"item": ["005930"], "type": ["0B"]}]}
    assert await client.request(remove) == {"trnm": "REMOVE", "return_code": 0, "return_msg": ""}
    assert sim.ws_stats.reg_refusals == 2


async def test_the_refusal_off_mock_does_not_mention_the_mock_server(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.mock = False
    sim.config.reg_refuse_types = frozenset({"0D"})
    client = await logged_in(sim, connect)
    reply = await client.reg(["005930"], ["0D"])
    assert reply == {
        "trnm": "REG",
        "return_code": 1,
        "return_msg": "실시간 등록에 실패했습니다. type=0D",
    }


async def test_the_client_raises_subscription_error_and_the_session_lives(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.reg_refuse_types = frozenset({"0D"})
    async with kw.realtime(backoff=FAST) as rt:
        with pytest.raises(SubscriptionError) as info:
            await rt.subscribe(["005930"], ["0B", "0D"])
        assert rt.ready
        assert rt.subscriptions == {}  # refused: not part of the state replayed on reconnect
        await rt.subscribe(["005930"], ["0B"])
        assert (await next_trade(rt)).item == "005930"
    assert (info.value.trnm, info.value.return_code) == ("REG", 1)
    assert info.value.return_msg == f"{MOCK_REFUSAL} type=0D"
    assert sim.ws_stats.connections == 1
    assert rt.stats.reconnects == 0


async def test_a_group_refused_on_resubscribe_is_reported_and_kept(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime(backoff=FAST) as rt:
        await rt.subscribe(["005930"], ["0B"], grp_no="1")
        await rt.subscribe(["000660"], ["0D"], grp_no="2")
        sim.config.reg_refuse_types = frozenset({"0D"})
        sim.config.drop_every = seconds(0.05)
        await next_of(rt, Disconnected)
        sim.config.drop_every = None
        resubscribed = await next_of(rt, Resubscribed)
        assert rt.ready
    assert (resubscribed.groups, resubscribed.failed) == (("1",), ("2",))
    assert rt.stats.resubscribe_failures == 1
    # The refused group stays in the desired state: the next reconnect asks for it again.
    assert set(rt.subscriptions) == {"1", "2"}


# --- 3. SYSTEM frame, then a close, instead of the LOGIN answer ---


async def test_system_close_answers_login_with_r10004_and_a_close(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.system_close_after_login = True
    assert await login_frames(sim, connect) == [R10004]
    stats = sim.ws_stats
    assert (stats.logins, stats.login_failures) == (0, 0)
    assert stats.disconnects_by_reason == {"system_close": 1}
    assert [trnm for _, trnm, _ in stats.received] == ["LOGIN"]


async def test_system_close_follows_the_notice_sent_ahead_of_the_login_answer(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.system_close_after_login = True
    sim.config.system_frames_around_login = True
    assert await login_frames(sim, connect) == [R00000, R10004]


async def test_system_close_comes_whatever_the_token_and_refuse_code(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.system_close_after_login = True
    assert await login_frames(sim, connect, token="not-a-token") == [R10004]
    sim.config.login_refuse_code = 805004
    assert await login_frames(sim, connect) == [R10004]
    assert sim.ws_stats.login_failures == 0


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("R10001", "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다"),
        (
            "R10002",
            "사용자 프로그램으로부터 Heartbeat(연결유지) 메시지가 오지않아서 접속을 종료합니다",
        ),
        ("R19999", "접속을 종료합니다"),
    ],
)
async def test_system_close_code_picks_the_notice(
    sim: Simulator, connect: Connect, code: str, message: str
) -> None:
    sim.config.system_close_after_login = True
    sim.config.system_close_code = code
    assert await login_frames(sim, connect) == [
        {"trnm": "SYSTEM", "code": code, "message": message}
    ]


async def test_the_client_backs_off_on_one_token_and_gives_up_at_max_attempts(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.system_close_after_login = True
    backoff = Backoff(initial=0.01, factor=2.0, maximum=1.0, rng=random.Random(7))
    async with kw.realtime(backoff=backoff, max_attempts=5) as rt:
        seen = await events_until_failure(rt, ConnectionClosedError)
    reconnecting = [e for e in seen if isinstance(e, Reconnecting)]
    assert [e.attempt for e in reconnecting] == [1, 2, 3, 4, 5]
    for event in reconnecting:
        ceiling = min(1.0, 0.01 * 2.0 ** (event.attempt - 1))
        assert ceiling / 2 <= event.delay <= ceiling  # never reset: the LOGIN never succeeded
    notices = [e for e in seen if isinstance(e, SystemMessage)]
    assert [(n.code, n.message) for n in notices] == [("R10004", R10004["message"])] * 6
    assert sim.ws_stats.connections == 6  # the first connection and five reconnects
    # The server spoke before closing: that is no evidence against the token.
    assert sim.stats.token_issues == 1
    assert rt.stats.connections == 0


async def test_without_max_attempts_the_client_keeps_reconnecting_on_one_token(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.system_close_after_login = True
    async with kw.realtime(backoff=FAST) as rt:
        async with asyncio.timeout(seconds(10)):
            async for event in rt:
                if isinstance(event, Reconnecting) and event.attempt == 20:
                    break
        assert not rt.ready
    assert sim.ws_stats.connections >= 20
    assert sim.stats.token_issues == 1


# --- the sim CLI ---


def test_the_cli_sets_the_refusal_knobs() -> None:
    args = build_parser().parse_args(
        [
            "--login-refuse-code",
            "805004",
            "--login-refuse-style",
            "top",
            "--reg-refuse-types",
            "0D, 0w,",
            "--system-close-after-login",
            "--system-close-code",
            "R10001",
        ]
    )
    config = config_from_args(args)
    assert config.login_refuse_code == 805004
    assert config.login_refuse_style == "top"
    assert config.reg_refuse_types == frozenset({"0D", "0w"})
    assert config.system_close_after_login is True
    assert config.system_close_code == "R10001"


def test_the_cli_defaults_leave_the_refusals_off() -> None:
    config, defaults = config_from_args(build_parser().parse_args([])), SimConfig()
    for name in (
        "login_refuse_code",
        "login_refuse_style",
        "reg_refuse_types",
        "system_close_after_login",
        "system_close_code",
    ):
        assert getattr(config, name) == getattr(defaults, name), name
    assert config.login_refuse_code is None
    assert not config.reg_refuse_types
    assert not config.system_close_after_login
