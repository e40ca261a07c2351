"""The simulator's realtime WebSocket, driven by a plain ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from kiwoom_async.testing import Simulator
from kiwoom_async.testing import _ws as _ws_module
from kiwoom_async.testing._ws import WsStats
from kiwoom_async.testing._ws import ws_stats as _ws_stats
from tests.conftest import seconds

Frame = dict[str, Any]
Connect = Callable[[], Awaitable["Client"]]

APPKEY = "ws-test-appkey"
SECRET = "ws-test-secret"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # PINGs would interleave with the frames a test expects; the heartbeat tests turn them on.
    simulator = Simulator(port=0, ping_interval=0)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


def ws_stats(sim: Simulator) -> WsStats:
    return _ws_stats(sim.state)


async def issue_token(sim: Simulator, appkey: str = APPKEY) -> str:
    body = {"grant_type": "client_credentials", "appkey": appkey, "secretkey": SECRET}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url}/oauth2/token", json=body) as resp,
    ):
        data = await resp.json()
    token = data["token"]
    assert isinstance(token, str)
    return token


class Client:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, frame: Frame) -> None:
        await self.conn.send(json.dumps(frame))

    async def recv(self, timeout: float = 2.0) -> Frame:
        raw = await asyncio.wait_for(self.conn.recv(), seconds(timeout))
        frame = json.loads(raw)
        assert isinstance(frame, dict)
        return frame

    async def recv_until(self, pred: Callable[[Frame], bool], timeout: float = 2.0) -> Frame:
        """Skip frames (echoing PINGs) until one matches."""

        async def loop() -> Frame:
            while True:
                frame = await self.recv(timeout)
                if frame.get("trnm") == "PING":
                    await self.send(frame)
                if pred(frame):
                    return frame

        return await asyncio.wait_for(loop(), seconds(timeout))

    async def request(self, frame: Frame) -> Frame:
        await self.send(frame)
        return await self.recv_until(lambda f: f.get("trnm") == frame["trnm"])

    async def login(self, token: str) -> Frame:
        return await self.request({"trnm": "LOGIN", "token": token})

    async def reg(
        self, items: list[str], types: list[str], grp: str = "1", refresh: str = "1"
    ) -> Frame:
        frame = {
            "trnm": "REG",
            "grp_no": grp,
            "refresh": refresh,
            "data": [{"item": items, "type": types}],
        }
        return await self.request(frame)

    async def reals(self, count: int, timeout: float = 2.0) -> list[Frame]:
        out: list[Frame] = []
        while len(out) < count:
            out.append(await self.recv_until(lambda f: f.get("trnm") == "REAL", timeout))
        return out

    async def closed(self, timeout: float = 2.0) -> list[Frame]:
        """Every frame until the server closes the connection."""
        frames: list[Frame] = []

        async def drain() -> None:
            try:
                while True:
                    frames.append(json.loads(await self.conn.recv()))
            except websockets.ConnectionClosed:
                return

        await asyncio.wait_for(drain(), seconds(timeout))
        return frames


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


async def logged_in(sim: Simulator, connect: Connect, appkey: str = APPKEY) -> Client:
    client: Client = await connect()
    reply = await client.login(await issue_token(sim, appkey))
    assert reply == {"trnm": "LOGIN", "return_code": 0, "return_msg": ""}
    return client


def entries(frame: Frame) -> list[Frame]:
    data = frame["data"]
    assert isinstance(data, list)
    return data


# --- login ---


async def test_frame_before_login_is_refused_with_system(sim: Simulator, connect: Connect) -> None:
    client: Client = await connect()
    await client.send({"trnm": "REG", "grp_no": "1", "refresh": "1", "data": []})
    frames = await client.closed()
    assert frames == [
        {"trnm": "SYSTEM", "code": "R10004", "message": "접속허용요청이 들어오지 않았습니다"}
    ]
    assert ws_stats(sim).disconnects_by_reason["no_login"] == 1


async def test_bad_token_is_refused_with_code_8005(sim: Simulator, connect: Connect) -> None:
    client: Client = await connect()
    await client.send({"trnm": "LOGIN", "token": "not-a-token"})
    frames = await client.closed()
    assert len(frames) == 1
    assert frames[0]["trnm"] == "LOGIN"
    assert frames[0]["return_code"] != 0
    assert "CODE=8005" in frames[0]["return_msg"]
    assert "Token이 유효하지 않습니다" in frames[0]["return_msg"]
    stats = ws_stats(sim)
    assert stats.login_failures == 1
    assert stats.logins == 0
    assert stats.received[0][1:] == ("LOGIN", {"trnm": "LOGIN", "token": "not-a-token"})


async def test_login_refuse_code_refuses_valid_tokens(sim: Simulator, connect: Connect) -> None:
    sim.config.login_refuse_code = 8103
    token = await issue_token(sim)
    client: Client = await connect()
    await client.send({"trnm": "LOGIN", "token": token})
    frames = await client.closed()
    assert frames[0]["return_code"] != 0
    assert "CODE=8103" in frames[0]["return_msg"]


async def test_system_frames_around_login(sim: Simulator, connect: Connect) -> None:
    sim.config.system_frames_around_login = True
    token = await issue_token(sim)
    client: Client = await connect()
    await client.send({"trnm": "LOGIN", "token": token})
    frames = [await client.recv() for _ in range(4)]
    assert [f["trnm"] for f in frames] == ["SYSTEM", "LOGIN", "SYSTEM", "PING"]
    assert frames[1]["return_code"] == 0
    assert all(isinstance(f["code"], str) and f["message"] for f in (frames[0], frames[2]))


async def test_second_login_with_same_key_closes_first_with_r10001(
    sim: Simulator, connect: Connect
) -> None:
    first = await logged_in(sim, connect)
    second = await logged_in(sim, connect)
    frames = await first.closed()
    assert frames[-1] == {
        "trnm": "SYSTEM",
        "code": "R10001",
        "message": "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다",
    }
    assert (await second.reg(["005930"], ["0B"]))["return_code"] == 0
    assert ws_stats(sim).disconnects_by_reason["replaced"] == 1
    # Another app key is a separate session.
    await logged_in(sim, connect, appkey="other-appkey")
    assert ws_stats(sim).disconnects_by_reason["replaced"] == 1


# --- registrations and ticks ---


async def test_reg_ack_and_ticks_only_for_registered_items(
    sim: Simulator, connect: Connect
) -> None:
    client = await logged_in(sim, connect)
    ack = await client.reg(["005930", "000660"], ["0B"])
    assert ack == {"trnm": "REG", "return_code": 0, "return_msg": ""}
    frames = await client.reals(6)
    seen = set()
    for frame in frames:
        assert set(frame) == {"trnm", "data"}
        for entry in entries(frame):
            assert entry["type"] == "0B"
            assert entry["name"] == "주식체결"
            seen.add(entry["item"])
            values = entry["values"]
            assert all(isinstance(v, str) for v in values.values())
            for fid in ("20", "10", "11", "12", "27", "28", "15", "13", "14", "16", "17", "18"):
                assert fid in values
            assert len(values["20"]) == 6
            assert values["15"][0] in "+-"
            assert values["25"] in {"2", "3", "5"}
            if values["25"] == "5":
                assert values["10"].startswith("-")
    assert seen == {"005930", "000660"}


async def test_order_book_frame_shape(sim: Simulator, connect: Connect) -> None:
    client = await logged_in(sim, connect)
    await client.reg(["005930"], ["0D"])
    (frame,) = await client.reals(1)
    (entry,) = entries(frame)
    assert (entry["type"], entry["name"], entry["item"]) == ("0D", "주식호가잔량", "005930")
    values = entry["values"]
    for level in range(1, 11):
        for base in (40, 50, 60, 70):
            assert str(base + level) in values
    asks = [int(values[str(40 + n)].lstrip("+-")) for n in range(1, 11)]
    bids = [int(values[str(50 + n)].lstrip("+-")) for n in range(1, 11)]
    assert asks == sorted(asks)
    assert bids == sorted(bids, reverse=True)
    assert asks[0] > bids[0]
    assert int(values["121"]) == sum(int(values[str(60 + n)]) for n in range(1, 11))


async def test_item_and_type_may_be_strings(sim: Simulator, connect: Connect) -> None:
    client = await logged_in(sim, connect)
    ack = await client.request(
        {"trnm": "REG", "grp_no": "1", "refresh": "1", "data": [{"item": "005930", "type": "0B"}]}
    )
    assert ack["return_code"] == 0
    (frame,) = await client.reals(1)
    assert entries(frame)[0]["item"] == "005930"


async def test_unknown_type_is_refused(sim: Simulator, connect: Connect) -> None:
    client = await logged_in(sim, connect)
    ack = await client.reg(["005930"], ["ZZ"])
    assert ack["trnm"] == "REG"
    assert ack["return_code"] != 0
    assert ws_stats(sim).registrations[ws_stats(sim).received[-1][0]] == {}


async def test_remove_stops_ticks(sim: Simulator, connect: Connect) -> None:
    sim.config.tick_interval = 0.02
    client = await logged_in(sim, connect)
    await client.reg(["005930", "000660"], ["0B"])
    await client.reals(2)
    ack = await client.request(
        {"trnm": "REMOVE", "grp_no": "1", "data": [{"item": ["005930"], "type": ["0B"]}]}
    )
    assert ack == {"trnm": "REMOVE", "return_code": 0, "return_msg": ""}
    # Frames queued before the REMOVE arrived ahead of its ack and were skipped.
    frames = await client.reals(3)
    assert {entries(f)[0]["item"] for f in frames} == {"000660"}
    await client.request(
        {"trnm": "REMOVE", "grp_no": "1", "data": [{"item": ["000660"], "type": ["0B"]}]}
    )
    assert ws_stats(sim).removes == 2
    assert ws_stats(sim).registrations[ws_stats(sim).received[-1][0]] == {}
    sent = ws_stats(sim).real_frames_sent
    await asyncio.sleep(seconds(0.1))
    assert ws_stats(sim).real_frames_sent == sent


async def test_refresh_zero_replaces_the_group_and_one_adds(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.tick_interval = 0
    client = await logged_in(sim, connect)
    stats = ws_stats(sim)
    conn_id = stats.received[-1][0]
    await client.reg(["005930"], ["0B"], grp="1")
    await client.reg(["000660"], ["0B"], grp="1", refresh="1")
    await client.reg(["035420"], ["0D"], grp="2")
    assert stats.registrations[conn_id] == {
        "1": {("0B", "005930"), ("0B", "000660")},
        "2": {("0D", "035420")},
    }
    await client.reg(["051910"], ["0B"], grp="1", refresh="0")
    assert stats.registrations[conn_id] == {"1": {("0B", "051910")}, "2": {("0D", "035420")}}
    sim.config.tick_interval = 0.02
    frames = await client.reals(6)
    items = {(entries(f)[0]["type"], entries(f)[0]["item"]) for f in frames}
    assert items == {("0B", "051910"), ("0D", "035420")}


# --- heartbeat and faults ---


async def test_ping_is_sent_and_echoes_count(sim: Simulator, connect: Connect) -> None:
    sim.config.ping_interval = seconds(0.05)
    sim.config.ping_misses_allowed = 2
    client = await logged_in(sim, connect)
    for _ in range(4):
        frame = await client.recv()
        assert frame == {"trnm": "PING"}
        await client.send(frame)
    await asyncio.sleep(seconds(0.02))
    stats = ws_stats(sim)
    assert stats.ping_echoes == 4
    assert stats.pings_sent >= 4
    assert stats.disconnects_by_reason["ping_timeout"] == 0


async def test_missing_ping_echo_closes_with_r10002(sim: Simulator, connect: Connect) -> None:
    sim.config.ping_interval = seconds(0.05)
    sim.config.ping_misses_allowed = 2
    client = await logged_in(sim, connect)
    frames = await client.closed()
    assert frames[:2] == [{"trnm": "PING"}, {"trnm": "PING"}]
    assert frames[-1]["trnm"] == "SYSTEM"
    assert frames[-1]["code"] == "R10002"
    assert ws_stats(sim).disconnects_by_reason["ping_timeout"] == 1


async def test_drop_after_frames(sim: Simulator, connect: Connect) -> None:
    sim.config.drop_after_frames = 5
    client = await logged_in(sim, connect)
    await client.send(
        {
            "trnm": "REG",
            "grp_no": "1",
            "refresh": "1",
            "data": [{"item": ["005930"], "type": ["0B"]}],
        }
    )
    frames = await client.closed()
    # LOGIN reply + REG ack + REAL frames, five in all.
    assert len(frames) == 4
    assert [f["trnm"] for f in frames] == ["REG", "REAL", "REAL", "REAL"]
    assert ws_stats(sim).disconnects_by_reason["drop_after_frames"] == 1


async def test_drop_every(sim: Simulator, connect: Connect) -> None:
    sim.config.drop_every = seconds(0.1)
    client = await logged_in(sim, connect)
    await client.closed()
    assert ws_stats(sim).disconnects_by_reason["drop_every"] == 1


async def test_malformed_frames(sim: Simulator, connect: Connect) -> None:
    sim.config.ws_malformed_rate = 0.5
    sim.config.tick_interval = 0.01
    client = await logged_in(sim, connect)
    await client.reg(["005930"], ["0B"])
    bad = good = 0
    while bad == 0 or good == 0:
        raw = await asyncio.wait_for(client.conn.recv(), seconds(2))
        try:
            json.loads(raw)
        except ValueError:
            bad += 1
        else:
            good += 1
    assert ws_stats(sim).malformed_sent >= bad


async def test_blast_frames_delivers_exactly_n(sim: Simulator, connect: Connect) -> None:
    sim.config.tick_interval = 0
    sim.config.blast_frames = 2_000
    client = await logged_in(sim, connect)
    ack = await client.reg(["005930", "000660"], ["0B", "0D"])
    assert ack["return_code"] == 0
    frames = await client.reals(2_000, timeout=10)
    types = [entries(f)[0]["type"] for f in frames]
    assert types[:4] == ["0B", "0D", "0B", "0D"]
    assert all(len(entries(f)) == 1 for f in frames)
    assert {entries(f)[0]["item"] for f in frames} == {"005930", "000660"}
    with pytest.raises(TimeoutError):
        await client.recv(timeout=0.2)
    assert ws_stats(sim).blast_frames_sent == 2_000


# --- account events ---


async def place_order(sim: Simulator, token: str, trde_tp: str = "3", qty: int = 3) -> Frame:
    body = {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": str(qty),
        "ord_uv": "",
        "trde_tp": trde_tp,
        "cond_uv": "",
    }
    headers = {"api-id": "kt10000", "authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url}/api/dostk/ordr", json=body, headers=headers) as resp,
    ):
        data = await resp.json()
    assert isinstance(data, dict)
    return data


async def test_order_over_rest_pushes_00_and_04(sim: Simulator, connect: Connect) -> None:
    sim.config.tick_interval = 0
    token = await issue_token(sim)
    client: Client = await connect()
    assert (await client.login(token))["return_code"] == 0
    assert (await client.reg([""], ["00", "04"]))["return_code"] == 0
    reply = await place_order(sim, token)
    assert reply["return_code"] == 0, reply
    ord_no = reply["ord_no"]
    frames = await client.reals(3)
    kinds = [(entries(f)[0]["type"], entries(f)[0]["values"].get("913")) for f in frames]
    assert kinds == [("00", "접수"), ("00", "체결"), ("04", None)]
    accepted, filled, balance = (entries(f)[0] for f in frames)
    assert accepted["name"] == "주문체결"
    assert accepted["item"] == "005930"
    values = accepted["values"]
    assert values["9203"] == ord_no
    assert values["9001"] == "005930"
    assert values["900"] == "3"
    assert values["902"] == "3"
    assert values["905"] == "+매수"
    assert values["906"] == "시장가"
    assert values["907"] == "2"
    assert values["909"] == ""
    fill = filled["values"]
    assert fill["9203"] == ord_no
    assert fill["911"] == "3"
    assert fill["902"] == "0"
    assert int(fill["910"]) > 0
    assert fill["909"] != ""
    assert balance["values"]["9001"] == "005930"
    assert int(balance["values"]["930"]) >= 3
    assert ws_stats(sim).order_frames_sent == 2
    assert ws_stats(sim).balance_frames_sent == 1


async def test_order_events_need_a_registration(sim: Simulator, connect: Connect) -> None:
    sim.config.tick_interval = 0
    token = await issue_token(sim)
    client: Client = await connect()
    await client.login(token)
    await client.reg(["005930"], ["0B"])
    assert (await place_order(sim, token))["return_code"] == 0
    with pytest.raises(TimeoutError):
        await client.recv(timeout=0.2)
    assert ws_stats(sim).order_frames_sent == 0


# --- condition search ---


async def test_condition_list_and_normal_search_with_paging(
    sim: Simulator, connect: Connect
) -> None:
    client = await logged_in(sim, connect)
    early = await client.request(
        {"trnm": "CNSRREQ", "seq": "0", "search_type": "0", "stex_tp": "K"}
    )
    assert early["return_code"] != 0
    listing = await client.request({"trnm": "CNSRLST"})
    assert listing["return_code"] == 0
    assert listing["data"][:2] == [["0", "조건1"], ["1", "조건2"]]
    seq = listing["data"][2][0]
    rows: list[Frame] = []
    request: Frame = {
        "trnm": "CNSRREQ",
        "seq": seq,
        "search_type": "0",
        "stex_tp": "K",
        "cont_yn": "N",
        "next_key": "",
    }
    pages = 0
    while True:
        page = await client.request(request)
        pages += 1
        assert page["return_code"] == 0
        assert page["seq"] == seq
        rows.extend(page["data"])
        if page["cont_yn"] != "Y":
            break
        request = {**request, "cont_yn": "Y", "next_key": page["next_key"]}
    assert pages > 1
    assert len(rows) == len({r["9001"] for r in rows}) == 5
    for row in rows:
        assert row["9001"].startswith("A") and len(row["9001"]) == 7
        assert row["302"]
        for fid in ("10", "11", "12", "13", "16", "17", "18"):
            assert len(row[fid]) == 9
            int(row[fid])
    unknown = await client.request({"trnm": "CNSRREQ", "seq": "99", "search_type": "0"})
    assert unknown["return_code"] != 0


async def test_realtime_condition_search_pushes_until_cleared(
    sim: Simulator, connect: Connect
) -> None:
    sim.config.condition_push_interval = 0.02
    client = await logged_in(sim, connect)
    await client.request({"trnm": "CNSRLST"})
    initial = await client.request(
        {"trnm": "CNSRREQ", "seq": "1", "search_type": "1", "stex_tp": "K"}
    )
    assert initial["return_code"] == 0
    assert initial["data"] == [{"jmcode": "A000660"}, {"jmcode": "A051910"}]
    pushes = await client.reals(3)
    for frame in pushes:
        (entry,) = entries(frame)
        assert entry["type"] == "02"
        assert entry["name"] == "조건검색"
        values = entry["values"]
        assert values["841"] == "1"
        assert values["9001"] == entry["item"]
        assert values["843"] in {"I", "D"}
        assert len(values["20"]) == 6
    ack = await client.request({"trnm": "CNSRCLR", "seq": "1"})
    assert ack == {"trnm": "CNSRCLR", "seq": "1", "return_code": 0, "return_msg": ""}
    await asyncio.sleep(seconds(0.05))
    count = ws_stats(sim).condition_pushes
    await asyncio.sleep(seconds(0.1))
    assert ws_stats(sim).condition_pushes == count


# --- shutdown ---


def _ws_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running the simulator's WebSocket code."""
    tasks = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and code.co_filename == _ws_module.__file__:
            tasks.append(task)
    return tasks


async def test_close_leaves_nothing_running() -> None:
    simulator = Simulator(port=0, tick_interval=0.01, ping_interval=0.05)
    simulator.config.condition_push_interval = 0.01
    await simulator.start()
    conn = await websockets.connect(simulator.ws_url, open_timeout=seconds(2))
    client = Client(conn)
    try:
        assert (await client.login(await issue_token(simulator)))["return_code"] == 0
        await client.reg(["005930"], ["0B", "0D"])
        await client.request({"trnm": "CNSRLST"})
        await client.request({"trnm": "CNSRREQ", "seq": "0", "search_type": "1", "stex_tp": "K"})
        await client.reals(3)
        assert len(_ws_tasks()) == 5  # writer, dropper, pinger, ticker, condition pusher
        await asyncio.wait_for(simulator.close(), seconds(5))
        await client.closed()
        assert _ws_tasks() == []
        stats = ws_stats(simulator)
        assert stats.disconnects_by_reason["shutdown"] == 1
        assert stats.open_connections == 0
        assert stats.registrations == {}
    finally:
        await conn.close()
        await simulator.close()
