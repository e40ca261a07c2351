"""RealtimeSession against the built-in simulator and a few scripted WebSocket servers."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from kiwoom_async import (
    ConnectionClosedError,
    EventQueueOverflowError,
    Kiwoom,
    KiwoomValidationError,
    LoginRefusedError,
    RealtimeSession,
    SessionTakenOverError,
    SubscriptionError,
    TokenManager,
    TransportError,
)
from kiwoom_async.models.lifecycle import Connected, Disconnected, Reconnecting, Resubscribed
from kiwoom_async.models.realtime import ConditionHit, OrderFill, StockTrade
from kiwoom_async.retry import Backoff
from kiwoom_async.testing import Simulator
from kiwoom_async.testing._ws import WsStats
from tests.conftest import seconds

APPKEY = "rt-appkey-0123456789"
SECRETKEY = "rt-secretkey-0123456789"
FAST = Backoff(initial=0.01, maximum=0.05, rng=random.Random(1))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=2, tick_interval=seconds(0.01), ping_interval=0) as simulator:
        yield simulator


@pytest.fixture
async def kw(sim: Simulator) -> AsyncIterator[Kiwoom]:
    async with Kiwoom(
        APPKEY, SECRETKEY, base_url=sim.base_url, ws_url=sim.ws_url, requests_per_second=None
    ) as client:
        yield client


def ws(sim: Simulator) -> WsStats:
    return sim.ws_stats


def trnms(sim: Simulator) -> dict[int, list[str]]:
    """The frames each connection sent, in order."""
    by_connection: dict[int, list[str]] = {}
    for connection, trnm, _frame in ws(sim).received:
        by_connection.setdefault(connection, []).append(trnm)
    return by_connection


async def next_of(rt: RealtimeSession, kind: type[Any], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(seconds(timeout)):
        async for event in rt:
            if isinstance(event, kind):
                return event
    raise AssertionError("stream ended")


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll counters owned by the server or the session; they have no event to wait on."""
    async with asyncio.timeout(seconds(timeout)):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_login_precedes_reg_and_ticks_arrive_as_typed_events(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B", "0D"])
        trade = await next_of(rt, StockTrade)
    assert trade.type == "0B" and trade.item == "005930"
    assert isinstance(trade.price, int) and trade.price > 0
    assert trade.values["10"].lstrip("+-") == str(trade.price)
    assert trnms(sim)[1][:2] == ["LOGIN", "REG"]


async def test_every_group_is_registered_again_after_each_forced_drop(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime(backoff=FAST) as rt:
        await rt.subscribe(["005930"], ["0B"], grp_no="1")
        await rt.subscribe(["000660"], ["0D"], grp_no="2")
        # Without ticks a connection sends only the LOGIN and two REG answers, so a drop after
        # the third frame comes after both groups were registered, however loaded the machine.
        ticks = sim.config.tick_interval
        sim.config.tick_interval = 0
        sim.config.drop_after_frames = 3
        await wait_for(lambda: rt.stats.connections >= 4)
        sim.config.drop_after_frames = None
        sim.config.tick_interval = ticks
        await next_of(rt, Resubscribed)
        trade = await next_of(rt, StockTrade)
    assert trade.item == "005930"
    connections = trnms(sim)
    assert len(connections) >= 4
    for sent in connections.values():
        assert sent[0] == "LOGIN"
        assert sent.count("REG") >= 2, sent  # both groups, every time
    regs = [f for _, t, f in ws(sim).received if t == "REG"]
    assert {f["grp_no"] for f in regs} == {"1", "2"}


async def test_pings_are_echoed_so_the_server_never_drops_the_session(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.ping_interval = seconds(0.03)
    sim.config.ping_misses_allowed = 3
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B"])
        # the consumer reads nothing all along: that must not stop the echo
        await wait_for(lambda: ws(sim).pings_sent >= 10)
        await asyncio.sleep(seconds(0.1))
        assert rt.stats.pings >= 10
    assert ws(sim).ping_echoes >= 10
    assert ws(sim).disconnects_by_reason["ping_timeout"] == 0
    assert rt.stats.connections == 1


async def test_a_token_killed_server_side_is_replaced_at_re_login(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime(backoff=FAST) as rt:
        await rt.subscribe(["005930"], ["0B"])
        sim.invalidate_tokens()
        sim.config.drop_after_frames = 1
        await wait_for(lambda: ws(sim).login_failures >= 1)
        sim.config.drop_after_frames = None
        await wait_for(lambda: rt.ready and rt.stats.connections >= 2)
        trade = await next_of(rt, StockTrade)
    assert trade.item == "005930"
    assert sim.stats.token_issues == 2


async def test_malformed_frames_are_counted_and_skipped(sim: Simulator, kw: Kiwoom) -> None:
    sim.config.ws_malformed_rate = 0.3
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B"])
        for _ in range(20):
            await next_of(rt, StockTrade)
        assert rt.stats.malformed > 0
        assert rt.stats.connections == 1


async def test_an_order_placed_over_rest_arrives_as_a_typed_fill(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime() as rt:
        await rt.subscribe([], ["00", "04"])
        answer = await kw.rest.call(
            "kt10000",
            {
                "dmst_stex_tp": "KRX",
                "stk_cd": "005930",
                "ord_qty": "3",
                "ord_uv": "",
                "trde_tp": "3",
            },
        )
        fills: list[OrderFill] = []
        while not fills or fills[-1].fill_qty is None:
            fills.append(await next_of(rt, OrderFill))
    fill = fills[-1]
    assert fill.order_no is not None and int(fill.order_no) == int(answer.body["ord_no"])
    assert isinstance(fill.fill_price, int) and fill.fill_price > 0
    assert fill.fill_qty == 3


async def test_fills_are_never_dropped_while_market_data_is(sim: Simulator, kw: Kiwoom) -> None:
    order = {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": "1",
        "ord_uv": "",
        "trde_tp": "3",
    }
    async with kw.realtime(queue_size=5, overflow="drop_oldest") as rt:
        await rt.subscribe([], ["00"], grp_no="9")
        await rt.subscribe(["005930", "000660"], ["0B", "0D"])
        numbers = [int((await kw.rest.call("kt10000", order)).body["ord_no"]) for _ in range(10)]
        await wait_for(lambda: rt.stats.queue.dropped_oldest > 20)
        seen: set[int] = set()
        async with asyncio.timeout(seconds(5)):
            async for event in rt:
                if isinstance(event, OrderFill) and event.order_no is not None:
                    seen.add(int(event.order_no))
                    if seen >= set(numbers):
                        break
    assert set(numbers) <= seen


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "latest"])
async def test_a_slow_consumer_loses_only_counted_market_data(
    sim: Simulator, kw: Kiwoom, policy: Any
) -> None:
    sim.config.blast_frames = 500
    async with kw.realtime(queue_size=10, overflow=policy) as rt:
        await rt.subscribe(["005930", "000660"], ["0B", "0D"])
        await wait_for(lambda: rt.stats.events >= 500)
        queued = len(rt._queue)
        assert queued <= 10 + 1  # plus the Connected event
        # every event is either waiting or counted as dropped: nothing vanishes silently
        assert queued + rt.stats.queue.dropped == rt.stats.events + 1
        assert rt.stats.queue.dropped > 0


async def test_the_raise_policy_ends_the_stream_with_an_error(sim: Simulator, kw: Kiwoom) -> None:
    sim.config.blast_frames = 200
    async with kw.realtime(queue_size=10, overflow="raise") as rt:
        await rt.subscribe(["005930"], ["0B"])
        with pytest.raises(EventQueueOverflowError):
            async with asyncio.timeout(seconds(5)):
                async for _ in rt:
                    await asyncio.sleep(0.01)


async def test_a_non_token_login_refusal_is_fatal_without_a_reconnect_loop(
    sim: Simulator, kw: Kiwoom
) -> None:
    sim.config.login_refuse_code = 8030
    async with kw.realtime(backoff=FAST) as rt:
        with pytest.raises(LoginRefusedError) as info:
            await rt.subscribe(["005930"], ["0B"])
        with pytest.raises(LoginRefusedError):
            await next_of(rt, Connected)
    assert info.value.detail_code == 8030
    assert ws(sim).connections == 1


async def test_a_token_refusal_at_login_retries_once_then_fails(sim: Simulator, kw: Kiwoom) -> None:
    sim.config.login_refuse_code = 8005
    async with kw.realtime(backoff=FAST) as rt:
        with pytest.raises(LoginRefusedError):
            await rt.subscribe(["005930"], ["0B"])
    assert ws(sim).connections == 2
    assert sim.stats.token_issues == 2


async def test_another_session_taking_over_the_key_is_surfaced(sim: Simulator, kw: Kiwoom) -> None:
    async with kw.realtime(backoff=FAST) as first:
        await first.subscribe(["005930"], ["0B"])
        async with kw.realtime(backoff=FAST) as second:
            await second.wait_ready()
            with pytest.raises(SessionTakenOverError):
                async with asyncio.timeout(seconds(5)):
                    async for _ in first:
                        pass
            assert second.ready
    assert ws(sim).disconnects_by_reason["replaced"] == 1
    assert ws(sim).connections == 2


async def test_system_frames_around_login_are_skipped(sim: Simulator, kw: Kiwoom) -> None:
    sim.config.system_frames_around_login = True
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B"])
        assert (await next_of(rt, StockTrade)).item == "005930"


async def test_unsubscribe_stops_the_ticks_and_leaves_the_desired_state(
    sim: Simulator, kw: Kiwoom
) -> None:
    async with kw.realtime() as rt:
        await rt.subscribe(["005930", "000660"], ["0B"])
        await rt.unsubscribe(["000660"], ["0B"])
        assert rt.subscriptions == {"1": [(("005930",), ("0B",))]}
        await rt.unsubscribe(["005930"], ["0B"])
        assert rt.subscriptions == {}
    assert [t for _, t, _ in ws(sim).received].count("REMOVE") == 2


async def test_bad_subscriptions_raise_before_anything_is_sent(sim: Simulator, kw: Kiwoom) -> None:
    async with kw.realtime() as rt:
        await rt.wait_ready()
        for items, types in ((["005930"], ["ZZ"]), (["005930"], []), ("005930", ["0B"])):
            with pytest.raises(KiwoomValidationError):
                await rt.subscribe(items, types)
    assert "REG" not in [t for _, t, _ in ws(sim).received]


async def test_condition_search_list_query_and_realtime_hits(sim: Simulator, kw: Kiwoom) -> None:
    async with kw.realtime() as rt:
        conditions = await rt.condition_list()
        assert conditions and all(isinstance(seq, str) for seq, _ in conditions)
        seq = conditions[0][0]
        page = await rt.condition_search(seq)
        assert page.codes
        await rt.condition_subscribe(seq)
        hit: ConditionHit = await next_of(rt, ConditionHit)
        assert hit.type == "02" and hit.item
        await rt.condition_unsubscribe(seq)


async def test_closing_leaves_nothing_running(sim: Simulator, kw: Kiwoom) -> None:
    before = asyncio.all_tasks()
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B"])
        await next_of(rt, StockTrade)
    assert asyncio.all_tasks() == before
    async with asyncio.timeout(seconds(1)):
        [_ async for _ in rt]  # the stream ends after close instead of waiting forever
    with pytest.raises(ConnectionClosedError):
        await rt.subscribe(["005930"], ["0B"])


# --- scripted servers: exact failures per attempt -----------------------------------------


async def scripted(
    handler: Callable[[ServerConnection], Awaitable[None]],
) -> tuple[Any, str]:
    server = await serve(handler, "127.0.0.1", 0)
    port = next(iter(server.sockets)).getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/api/dostk/websocket"


class StaticTokens(TokenManager):
    """A token manager that needs no REST server."""

    def __init__(self) -> None:
        super().__init__("k", "s")
        self.handed_out = 0

    async def token(self) -> str:
        self.handed_out += 1
        return f"token-{self.handed_out}"


async def login_ok(connection: ServerConnection) -> dict[str, Any]:
    login: dict[str, Any] = json.loads(await connection.recv())
    assert login["trnm"] == "LOGIN"
    await connection.send(json.dumps({"trnm": "LOGIN", "return_code": 0, "return_msg": ""}))
    return login


async def test_a_pending_subscribe_fails_at_once_when_the_connection_drops() -> None:
    async def drop_before_ack(connection: ServerConnection) -> None:
        await login_ok(connection)
        await connection.recv()  # the REG
        await connection.close()

    server, url = await scripted(drop_before_ack)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST, ack_timeout=30) as rt:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ConnectionClosedError):
            await rt.subscribe(["005930"], ["0B"])
        assert loop.time() - start < 10  # failed with the drop, not the 30 s ack timeout


async def test_a_server_that_accepts_and_drops_is_not_hammered() -> None:
    attempts = 0

    async def accept_then_drop(connection: ServerConnection) -> None:
        nonlocal attempts
        attempts += 1
        await login_ok(connection)
        await connection.close()

    server, url = await scripted(accept_then_drop)
    backoff = Backoff(initial=0.01, factor=2.0, maximum=1.0, rng=random.Random(4))
    delays: list[float] = []
    async with (
        server,
        RealtimeSession(
            StaticTokens(), url=url, backoff=backoff, max_attempts=4, stability_window=60
        ) as rt,
    ):
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(seconds(10)):
                async for event in rt:
                    if isinstance(event, Reconnecting):
                        delays.append(event.delay)
    assert attempts == 5  # the first connection and 4 reconnects, then it gives up
    assert len(delays) == 4
    ceilings = [0.01 * 2**n for n in range(4)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling  # growing: the backoff never reset


async def test_disconnects_are_visible_in_the_stream() -> None:
    async def one_tick_then_drop(connection: ServerConnection) -> None:
        await login_ok(connection)
        frame = {
            "trnm": "REAL",
            "data": [
                {
                    "type": "0B",
                    "name": "주식체결",
                    "item": "005930",
                    "values": {"10": "+100", "20": "090000"},
                }
            ],
        }
        await connection.send(json.dumps(frame))
        await connection.close()

    server, url = await scripted(one_tick_then_drop)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        kinds = []
        async with asyncio.timeout(seconds(5)):
            async for event in rt:
                kinds.append(type(event))
                if len(kinds) == 5:
                    break
    assert kinds == [Connected, StockTrade, Disconnected, Reconnecting, Connected]


async def test_a_late_answer_is_matched_to_the_request_that_gave_up() -> None:
    async def slow_then_refuse(connection: ServerConnection) -> None:
        await login_ok(connection)
        await connection.recv()  # REG 1: answered late, and OK
        await asyncio.sleep(seconds(0.3))
        await connection.send(json.dumps({"trnm": "REG", "return_code": 0, "return_msg": ""}))
        await connection.recv()  # REG 2: refused
        await connection.send(json.dumps({"trnm": "REG", "return_code": 1, "return_msg": "no"}))
        await connection.wait_closed()

    server, url = await scripted(slow_then_refuse)
    async with server, RealtimeSession(StaticTokens(), url=url, ack_timeout=seconds(0.1)) as rt:
        with pytest.raises(ConnectionClosedError):
            await rt.subscribe(["005930"], ["0B"])
        await asyncio.sleep(seconds(0.3))
        rt.ack_timeout = seconds(5)
        with pytest.raises(SubscriptionError):
            await rt.subscribe(["000660"], ["0B"])
        assert rt.subscriptions == {}


async def test_closing_wakes_a_request_waiting_for_the_connection() -> None:
    async def never_answer_login(connection: ServerConnection) -> None:
        await connection.wait_closed()

    server, url = await scripted(never_answer_login)
    async with server:
        rt = RealtimeSession(StaticTokens(), url=url, login_timeout=30, ack_timeout=30)
        await rt.start()
        waiting = asyncio.ensure_future(rt.subscribe(["005930"], ["0B"]))
        await asyncio.sleep(seconds(0.05))
        await rt.aclose()
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(seconds(2)):
                await waiting


async def test_a_group_refused_after_a_reconnect_is_reported_and_the_session_goes_on() -> None:
    connections = 0

    async def refuse_on_second_connection(connection: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await login_ok(connection)
        await connection.recv()  # REG
        code = 0 if connections == 1 else 1
        await connection.send(json.dumps({"trnm": "REG", "return_code": code, "return_msg": ""}))
        if connections == 1:
            await connection.close()
        else:
            await connection.wait_closed()

    server, url = await scripted(refuse_on_second_connection)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        await rt.subscribe(["005930"], ["0B"], grp_no="7")
        resubscribed = await next_of(rt, Resubscribed)
        await rt.wait_ready()
    assert (resubscribed.groups, resubscribed.failed) == ((), ("7",))
    assert rt.stats.resubscribe_failures == 1


async def test_a_token_server_outage_is_retried_like_a_network_fault() -> None:
    class FlakyTokens(StaticTokens):
        async def token(self) -> str:
            if self.handed_out == 0:
                self.handed_out += 1
                raise TransportError("au10001", "token request failed: ClientOSError")
            return await super().token()

    async def accept(connection: ServerConnection) -> None:
        await login_ok(connection)
        await connection.wait_closed()

    server, url = await scripted(accept)
    tokens = FlakyTokens()
    async with server, RealtimeSession(tokens, url=url, backoff=FAST) as rt:
        reconnecting = await next_of(rt, Reconnecting)
        await rt.wait_ready()
    assert "no token" in reconnecting.cause
    assert rt.stats.connections == 1


async def test_a_client_pointed_at_another_host_never_uses_kiwoom_websocket_host() -> None:
    kw = Kiwoom("k", "s", base_url="http://127.0.0.1:8123")
    assert kw.ws_url == "ws://127.0.0.1:8123/api/dostk/websocket"
    assert Kiwoom("k", "s", base_url="https://proxy.example").ws_url.startswith("wss://proxy.")
    assert Kiwoom("k", "s").ws_url == "wss://mockapi.kiwoom.com:10000/api/dostk/websocket"


async def test_closing_the_client_closes_its_realtime_sessions(sim: Simulator) -> None:
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=sim.base_url, requests_per_second=None)
    rt = kw.realtime()
    await rt.start()
    await rt.wait_ready()
    await kw.aclose()
    assert not rt.ready
    with pytest.raises(ConnectionClosedError):
        await rt.subscribe(["005930"], ["0B"])
    assert sim.stats.token_revokes == 1


class RotatingTokens(TokenManager):
    """Hands out token-1 until it is invalidated, then token-2, and so on."""

    def __init__(self) -> None:
        super().__init__("k", "s")
        self.number = 1

    async def token(self) -> str:
        return f"token-{self.number}"

    def invalidate(self, token: str) -> None:
        if token == f"token-{self.number}":
            self.number += 1


def only_token(
    valid: str, refusal: dict[str, Any] | None
) -> Callable[[ServerConnection], Awaitable[None]]:
    """A server that accepts LOGIN with ``valid`` only; otherwise it sends ``refusal`` (or
    nothing) and closes."""

    async def handler(connection: ServerConnection) -> None:
        login = json.loads(await connection.recv())
        if login["token"] != valid:
            if refusal is not None:
                await connection.send(json.dumps(refusal))
            await connection.close()
            return
        await connection.send(json.dumps({"trnm": "LOGIN", "return_code": 0, "return_msg": ""}))
        await connection.wait_closed()

    return handler


async def test_a_server_that_drops_a_dead_token_silently_gets_a_new_one() -> None:
    server, url = await scripted(only_token("token-2", refusal=None))
    tokens = RotatingTokens()
    async with server, RealtimeSession(tokens, url=url, backoff=FAST) as rt:
        await rt.wait_ready(timeout=seconds(5))
    assert tokens.number == 2
    assert rt.stats.reconnects == 2  # two unanswered LOGINs, then the new token


async def test_a_login_refused_without_a_reason_is_retried_once_with_a_new_token() -> None:
    refusal = {"trnm": "LOGIN", "return_code": 1, "return_msg": "invalid token"}
    server, url = await scripted(only_token("token-2", refusal=refusal))
    tokens = RotatingTokens()
    async with server, RealtimeSession(tokens, url=url, backoff=FAST) as rt:
        await rt.wait_ready(timeout=seconds(5))
    assert tokens.number == 2 and rt.stats.reconnects == 0


async def test_no_token_or_key_in_debug_logs_of_a_realtime_session(
    sim: Simulator, kw: Kiwoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with kw.realtime() as rt:
        await rt.subscribe(["005930"], ["0B"])
        await next_of(rt, StockTrade)
        token = await kw.tokens.token()
    assert "LOGIN" in caplog.text  # the frame log is there, with the token masked
    for secret in (token, token[:20], token[-20:], APPKEY, SECRETKEY):
        assert secret not in caplog.text
