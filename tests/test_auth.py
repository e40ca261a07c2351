from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from kiwoom_async import AuthError, KiwoomError, TokenManager, TransportError
from kiwoom_async.auth import KST, parse_expires_dt

from ._scripted_server import Drop, Received, Reply, ScriptedServer, serve_in_thread

TOKEN_PATH = "/oauth2/token"
REVOKE_PATH = "/oauth2/revoke"
APPKEY = "APPKEY-very-secret-123"
SECRETKEY = "SECRETKEY-very-secret-456"


def kst(ts: float) -> str:
    return datetime.fromtimestamp(ts, KST).strftime("%Y%m%d%H%M%S")


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """Answers au10001 with numbered tokens valid for ``lifetime`` seconds of ``clock``; with a
    ``gate``, each answer waits until the gate is open."""

    def __init__(
        self, clock: FakeClock, lifetime: float = 86_400, gate: asyncio.Event | None = None
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.gate = gate
        self.issued = 0

    async def handle(self, received: Received) -> Reply:
        if self.gate is not None:
            await self.gate.wait()
        self.issued += 1
        return Reply(
            json={
                "expires_dt": kst(self.clock.now + self.lifetime),
                "token_type": "Bearer",
                "token": f"token-{self.issued}",
                "return_code": 0,
                "return_msg": "정상적으로 처리되었습니다",
            }
        )


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


def test_expires_dt_is_korea_time_whatever_the_machine_zone() -> None:
    assert (
        parse_expires_dt("20251109235445")
        == datetime(2025, 11, 9, 14, 54, 45, tzinfo=UTC).timestamp()
    )


async def test_concurrent_callers_share_one_token_request(server: ScriptedServer) -> None:
    clock = FakeClock(1_800_000_000.0)
    gate = asyncio.Event()
    issuer = TokenServer(clock, gate=gate)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url)
    callers = asyncio.gather(*(tm.token() for _ in range(200)))
    # Every caller has asked before the first request can reach the server; holding its
    # answer until then keeps that request in flight while they all wait.
    await server.wait_for(1, TOKEN_PATH)
    gate.set()
    tokens = await callers
    assert set(tokens) == {"token-1"}
    assert issuer.issued == 1 == tm.issued
    assert len(server.sent(TOKEN_PATH)) == 1


async def test_token_is_refreshed_ahead_of_expiry_and_not_before(server: ScriptedServer) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock, lifetime=3600)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600, base_url=server.url)
    assert await tm.token() == "token-1"
    clock.now += 2999
    assert await tm.token() == "token-1"
    clock.now += 2  # inside the 600 s margin
    assert await tm.token() == "token-2"
    assert issuer.issued == 2


async def test_a_short_lived_token_is_refreshed_at_half_its_life(server: ScriptedServer) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock, lifetime=60)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600, base_url=server.url)
    await tm.token()
    clock.now += 29
    assert await tm.token() == "token-1"
    clock.now += 2
    assert await tm.token() == "token-2"


async def test_invalidate_clears_only_the_token_that_failed(server: ScriptedServer) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url)
    first = await tm.token()
    tm.invalidate(first)
    second = await tm.token()
    tm.invalidate(first)  # a late failure of the old token
    assert await tm.token() == second == "token-2"
    assert issuer.issued == 2


async def test_a_failed_refresh_keeps_serving_a_token_that_has_not_expired(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock, lifetime=3600)
    server.script(TOKEN_PATH, issuer.handle)
    server.always(TOKEN_PATH, Reply(500, body="oops"))
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600, base_url=server.url)
    assert await tm.token() == "token-1"
    clock.now += 3300  # due, not expired
    assert await tm.token() == "token-1"
    assert issuer.issued == 1


async def test_no_token_and_a_dead_server_raise_transport_error(server: ScriptedServer) -> None:
    server.script(TOKEN_PATH, Drop(reset=True))
    tm = TokenManager(APPKEY, SECRETKEY, issue_retries=0, base_url=server.url)
    with pytest.raises(TransportError) as info:
        await tm.token()
    assert info.value.api_id == "au10001"
    assert len(server.sent(TOKEN_PATH)) == 1


async def test_token_issue_retries_transient_faults_but_not_refusals(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, issue_retries=2, base_url=server.url)
    server.script(TOKEN_PATH, Reply(502, body="bad gateway"), Drop(reset=True), issuer.handle)
    assert await tm.token() == "token-1"
    tm.invalidate("token-1")
    refusal = Reply(json={"return_code": 3, "return_msg": "[8002:secret]"})
    server.script(TOKEN_PATH, refusal, issuer.handle)
    with pytest.raises(AuthError):
        await tm.token()
    assert len(server.sent(TOKEN_PATH)) == 4


async def test_refused_credentials_raise_auth_error_without_the_secrets(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refusal = {"return_code": 3, "return_msg": f"[8001:앱키 {APPKEY} 검증 실패]"}
    server.script(TOKEN_PATH, Reply(json=refusal))
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url)
    with pytest.raises(AuthError) as info:
        await tm.token()
    error = info.value
    assert error.detail_code == 8001
    for text in (str(error), repr(error), repr(tm), str(tm), caplog.text, str(error.args)):
        assert APPKEY not in text
        assert SECRETKEY not in text
    assert len(server.sent(TOKEN_PATH)) == 1


async def test_close_revokes_the_token_with_the_raw_token(server: ScriptedServer) -> None:
    clock = FakeClock(1_800_000_000.0)
    server.script(TOKEN_PATH, TokenServer(clock).handle)
    server.script(REVOKE_PATH, Reply(json={"return_code": 0, "return_msg": "ok"}))
    async with TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url) as tm:
        token = await tm.token()
        assert token not in repr(tm)
    revoked = server.sent(REVOKE_PATH)
    assert len(revoked) == 1
    assert '"token":"token-1"' in revoked[0].text
    assert tm.expires_at is None


def test_one_manager_serves_several_event_loops_and_threads() -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock)
    results: list[str] = []

    with serve_in_thread(ScriptedServer()) as server:
        server.always(TOKEN_PATH, issuer.handle)
        tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url)

        async def use() -> None:
            results.append(await tm.token())
            tm.invalidate(results[-1])

        asyncio.run(use())
        asyncio.run(use())
        worker = threading.Thread(target=lambda: asyncio.run(use()))
        worker.start()
        worker.join()
    assert results == ["token-1", "token-2", "token-3"]


async def test_after_a_failed_refresh_calls_are_not_slowed_by_new_attempts(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = TokenServer(clock, lifetime=3600)
    server.script(TOKEN_PATH, issuer.handle, Reply(500, body="down"), issuer.handle)
    tm = TokenManager(
        APPKEY, SECRETKEY, clock=clock, refresh_margin=600, issue_retries=0, base_url=server.url
    )
    await tm.token()
    clock.now += 3300  # due for refresh; the refresh fails
    assert [await tm.token() for _ in range(5)] == ["token-1"] * 5
    assert issuer.issued == 1
    assert len(server.sent(TOKEN_PATH)) == 2  # one failed try, not five
    clock.now += 31
    assert await tm.token() == "token-2"


async def test_a_closed_manager_issues_no_token(server: ScriptedServer) -> None:
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url)
    await tm.aclose()
    with pytest.raises(KiwoomError):
        await tm.token()
    assert server.requests == []
