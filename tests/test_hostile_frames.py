"""Nothing in a frame's content ends a realtime session: a server that sends frames no decoder
can read still delivers the fill after them, on the same connection, and every bad frame is
counted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from kiwoom_async import (
    ConnectionClosedError,
    KiwoomError,
    LoginRefusedError,
    MalformedValueError,
    RealtimeSession,
)
from kiwoom_async.models.frames import decode_events
from kiwoom_async.models.lifecycle import AccountFrameLost
from kiwoom_async.models.realtime import OrderFill, StockTrade
from tests.conftest import seconds
from tests.test_realtime import (
    FAST,
    RotatingTokens,
    StaticTokens,
    login_ok,
    next_of,
    only_token,
    scripted,
)

DEEP = 20_000  # 40 KB of brackets: past any recursion limit a process sets (mypy: 16384)

HOSTILE = [
    # nesting in each place a decoder looks
    b'{"trnm":"REAL","data":' + b"[" * DEEP + b"]" * DEEP + b"}",
    b'{"trnm":"REAL","data":[{"type":"00","name":"x","item":"","values":{"9001":'
    + b"[" * DEEP
    + b"]" * DEEP
    + b"}}]}",
    b'{"trnm":"PING","x":' + b'{"a":' * DEEP + b"1" + b"}" * (DEEP + 1),
    b'{"trnm":"SYSTEM","code":' + b"[" * DEEP + b"]" * DEEP + b"}",
    # a REAL frame that carries nothing
    b'{"trnm":"REAL","data":null}',
    b'{"trnm":"REAL"}',
    # not JSON at all
    b"\xff\xfe{",
]


def fill_frame(order_no: str) -> str:
    values = {
        "9201": "1234567890",
        "9203": order_no,
        "9001": "005930",
        "913": "체결",
        "910": "60000",
        "911": "3",
    }
    return json.dumps(
        {"trnm": "REAL", "data": [{"type": "00", "name": "주문체결", "item": "", "values": values}]}
    )


async def test_a_fill_after_hostile_frames_arrives_on_the_same_connection() -> None:
    async def hostile_then_fill(connection: ServerConnection) -> None:
        await login_ok(connection)
        for frame in HOSTILE:
            await connection.send(frame)
        await connection.send(fill_frame("0000042"))
        await connection.wait_closed()

    server, url = await scripted(hostile_then_fill)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        fill = await next_of(rt, OrderFill)
        assert fill.order_no == 42
        assert fill.fill_qty == 3
        assert rt.stats.connections == 1
        assert rt.stats.reconnects == 0
        assert rt.stats.malformed == len(HOSTILE)


async def test_hostile_frames_before_the_login_answer_are_counted_and_skipped() -> None:
    async def hostile_login(connection: ServerConnection) -> None:
        await connection.recv()  # LOGIN
        for frame in HOSTILE:
            await connection.send(frame)
        await connection.send(json.dumps({"trnm": "LOGIN", "return_code": 0, "return_msg": ""}))
        await connection.send(fill_frame("0000043"))
        await connection.wait_closed()

    server, url = await scripted(hostile_login)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        fill = await next_of(rt, OrderFill)
        assert fill.order_no == 43
        assert rt.stats.connections == 1
        assert rt.stats.malformed == len(HOSTILE)


@pytest.mark.parametrize("digits", [65, 4299, 5000, 100_000])
def test_an_absurdly_long_number_raises_a_kiwoom_error_naming_the_value(digits: int) -> None:
    frame = json.dumps(
        {
            "trnm": "REAL",
            "data": [
                {
                    "type": "0B",
                    "name": "주식체결",
                    "item": "005930",
                    "values": {"10": "9" * digits, "15": "+1"},
                }
            ],
        }
    )
    events = decode_events(frame.encode())
    assert isinstance(events, list) and len(events) == 1
    event = events[0]
    assert isinstance(event, StockTrade)
    with pytest.raises(MalformedValueError) as info:
        _ = event.price
    assert isinstance(info.value, KiwoomError)
    assert "characters" in str(info.value) and len(str(info.value)) < 200
    assert event.volume == 1  # the frame's other fields still read


async def test_the_session_survives_an_oversized_number_and_keeps_reading() -> None:
    big = json.dumps(
        {
            "trnm": "REAL",
            "data": [
                {"type": "0B", "name": "주식체결", "item": "005930", "values": {"10": "9" * 5000}}
            ],
        }
    )

    async def big_then_fill(connection: ServerConnection) -> None:
        await login_ok(connection)
        await connection.send(big)
        await connection.send(fill_frame("0000044"))
        await connection.wait_closed()

    server, url = await scripted(big_then_fill)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        seen: dict[type, object] = {}
        async with asyncio.timeout(seconds(5)):
            async for event in rt:  # the fill's lossless lane may overtake the trade
                seen[type(event)] = event
                if StockTrade in seen and OrderFill in seen:
                    break
        trade, fill = seen[StockTrade], seen[OrderFill]
        assert isinstance(trade, StockTrade) and isinstance(fill, OrderFill)
        with pytest.raises(MalformedValueError):
            _ = trade.price
        assert fill.order_no == 44
        assert rt.stats.connections == 1


# --- a server that refuses without blaming the token -------------------------------------


async def run_until_given_up(handler: Any, attempts: int) -> tuple[RotatingTokens, int]:
    server, url = await scripted(handler)
    tokens = RotatingTokens()
    async with server, RealtimeSession(tokens, url=url, backoff=FAST, max_attempts=attempts) as rt:
        with pytest.raises(ConnectionClosedError, match="gave up"):
            async with asyncio.timeout(seconds(10)):
                async for _ in rt:
                    pass
    return tokens, rt.stats.reconnects


async def test_system_then_close_after_every_login_takes_no_new_token() -> None:
    logins = 0

    async def system_then_close(connection: ServerConnection) -> None:
        nonlocal logins
        await connection.recv()  # LOGIN
        logins += 1
        notice = {"trnm": "SYSTEM", "code": "R10004", "message": "접속이 종료됩니다"}
        await connection.send(json.dumps(notice))
        await connection.close()

    tokens, reconnects = await run_until_given_up(system_then_close, attempts=8)
    assert logins == 9  # the first connection and 8 reconnects
    assert reconnects == 9
    assert tokens.number == 1  # the server spoke: never evidence against the token


async def test_silent_drops_still_take_a_new_token_every_second_time() -> None:
    async def silent_drop(connection: ServerConnection) -> None:
        await connection.recv()
        await connection.close()

    tokens, _ = await run_until_given_up(silent_drop, attempts=7)
    assert tokens.number == 1 + 8 // 2  # 8 connections: one new token per two silent drops


async def test_a_login_refused_with_a_stated_non_token_code_is_final_without_a_new_token() -> None:
    refusal = {
        "trnm": "LOGIN",
        "return_code": 805004,
        "return_msg": "[CODE=805004, MESSAGE=접속 제한 상태입니다]",
    }
    server, url = await scripted(only_token("never", refusal=refusal))
    tokens = RotatingTokens()
    async with server, RealtimeSession(tokens, url=url, backoff=FAST) as rt:
        with pytest.raises(LoginRefusedError) as info:
            async with asyncio.timeout(seconds(10)):
                async for _ in rt:
                    pass
    assert info.value.detail_code == 805004
    assert tokens.number == 1


async def test_an_unreadable_account_frame_is_announced_in_the_stream() -> None:
    truncated_fill = fill_frame("0000045")[:-30].encode()
    truncated_trade = b'{"trnm":"REAL","data":[{"type":"0B","item":"005930","values":{"10":"+1'

    async def truncated_then_fill(connection: ServerConnection) -> None:
        await login_ok(connection)
        await connection.send(truncated_trade)
        await connection.send(truncated_fill)
        await connection.send(fill_frame("0000046"))
        await connection.wait_closed()

    server, url = await scripted(truncated_then_fill)
    async with server, RealtimeSession(StaticTokens(), url=url, backoff=FAST) as rt:
        seen: list[object] = []
        async with asyncio.timeout(seconds(5)):
            async for event in rt:
                seen.append(event)
                if isinstance(event, OrderFill):
                    break
        lost = [e for e in seen if isinstance(e, AccountFrameLost)]
        assert len(lost) == 1  # the fill's frame, not the trade's
        assert seen.index(lost[0]) < len(seen) - 1  # announced before the next fill
        assert (rt.stats.malformed, rt.stats.account_frames_lost) == (2, 1)
