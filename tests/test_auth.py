from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from kiwoom_async import AuthError, KiwoomError, TokenManager, TransportError
from kiwoom_async.auth import KST, parse_expires_dt

BASE = "https://mockapi.kiwoom.com"
TOKEN_URL = BASE + "/oauth2/token"
REVOKE_URL = BASE + "/oauth2/revoke"
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
    """Answers au10001 with numbered tokens valid for ``lifetime`` seconds of ``clock``."""

    def __init__(self, clock: FakeClock, lifetime: float = 86_400, delay: float = 0.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.delay = delay
        self.issued = 0
        self.bodies: list[Any] = []

    async def handle(self, url: Any, **kwargs: Any) -> CallbackResult:
        self.bodies.append(kwargs.get("data"))
        if self.delay:
            await asyncio.sleep(self.delay)
        self.issued += 1
        return CallbackResult(
            payload={
                "expires_dt": kst(self.clock.now + self.lifetime),
                "token_type": "Bearer",
                "token": f"token-{self.issued}",
                "return_code": 0,
                "return_msg": "정상적으로 처리되었습니다",
            }
        )


def test_expires_dt_is_korea_time_whatever_the_machine_zone() -> None:
    assert (
        parse_expires_dt("20251109235445")
        == datetime(2025, 11, 9, 14, 54, 45, tzinfo=UTC).timestamp()
    )


async def test_concurrent_callers_share_one_token_request() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock, delay=0.02)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
        tokens = await asyncio.gather(*(tm.token() for _ in range(200)))
    assert set(tokens) == {"token-1"}
    assert server.issued == 1 == tm.issued


async def test_token_is_refreshed_ahead_of_expiry_and_not_before() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock, lifetime=3600)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
        assert await tm.token() == "token-1"
        clock.now += 2999
        assert await tm.token() == "token-1"
        clock.now += 2  # inside the 600 s margin
        assert await tm.token() == "token-2"
    assert server.issued == 2


async def test_a_short_lived_token_is_refreshed_at_half_its_life() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock, lifetime=60)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
        await tm.token()
        clock.now += 29
        assert await tm.token() == "token-1"
        clock.now += 2
        assert await tm.token() == "token-2"


async def test_invalidate_clears_only_the_token_that_failed() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
        first = await tm.token()
        tm.invalidate(first)
        second = await tm.token()
        tm.invalidate(first)  # a late failure of the old token
        assert await tm.token() == second == "token-2"
    assert server.issued == 2


async def test_a_failed_refresh_keeps_serving_a_token_that_has_not_expired() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock, lifetime=3600)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle)
        mocked.post(TOKEN_URL, status=500, body="oops")
        assert await tm.token() == "token-1"
        clock.now += 3300  # due, not expired
        assert await tm.token() == "token-1"


async def test_no_token_and_a_dead_server_raise_transport_error() -> None:
    tm = TokenManager(APPKEY, SECRETKEY, issue_retries=0)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, exception=ConnectionResetError("reset"))
        with pytest.raises(TransportError) as info:
            await tm.token()
    assert info.value.api_id == "au10001"


async def test_token_issue_retries_transient_faults_but_not_refusals() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, issue_retries=2)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, status=502, body="bad gateway")
        mocked.post(TOKEN_URL, exception=ConnectionResetError("reset"))
        mocked.post(TOKEN_URL, callback=server.handle)
        assert await tm.token() == "token-1"
        tm.invalidate("token-1")
        mocked.post(TOKEN_URL, payload={"return_code": 3, "return_msg": "[8002:secret]"})
        mocked.post(TOKEN_URL, callback=server.handle)
        with pytest.raises(AuthError):
            await tm.token()


async def test_refused_credentials_raise_auth_error_without_the_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tm = TokenManager(APPKEY, SECRETKEY)
    with aioresponses() as mocked:
        mocked.post(
            TOKEN_URL,
            payload={"return_code": 3, "return_msg": f"[8001:앱키 {APPKEY} 검증 실패]"},
        )
        with pytest.raises(AuthError) as info:
            await tm.token()
    error = info.value
    assert error.detail_code == 8001
    for text in (str(error), repr(error), repr(tm), str(tm), caplog.text, str(error.args)):
        assert APPKEY not in text
        assert SECRETKEY not in text


async def test_close_revokes_the_token_with_the_raw_token() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock)
    revoked: list[Any] = []

    def revoke(url: Any, **kwargs: Any) -> CallbackResult:
        revoked.append(kwargs["data"])
        return CallbackResult(payload={"return_code": 0, "return_msg": "ok"})

    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle)
        mocked.post(REVOKE_URL, callback=revoke)
        async with TokenManager(APPKEY, SECRETKEY, clock=clock) as tm:
            token = await tm.token()
            assert token not in repr(tm)
    assert len(revoked) == 1
    assert '"token":"token-1"' in str(revoked[0])
    assert tm.expires_at is None


def test_one_manager_serves_several_event_loops_and_threads() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock)
    results: list[str] = []

    async def use() -> None:
        results.append(await tm.token())
        tm.invalidate(results[-1])

    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
        asyncio.run(use())
        asyncio.run(use())
        worker = threading.Thread(target=lambda: asyncio.run(use()))
        worker.start()
        worker.join()
    assert results == ["token-1", "token-2", "token-3"]


async def test_after_a_failed_refresh_calls_are_not_slowed_by_new_attempts() -> None:
    clock = FakeClock(1_800_000_000.0)
    server = TokenServer(clock, lifetime=3600)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, refresh_margin=600, issue_retries=0)
    with aioresponses() as mocked:
        mocked.post(TOKEN_URL, callback=server.handle)
        mocked.post(TOKEN_URL, status=500, body="down")
        mocked.post(TOKEN_URL, callback=server.handle)
        await tm.token()
        clock.now += 3300  # due for refresh; the refresh fails
        assert [await tm.token() for _ in range(5)] == ["token-1"] * 5
        assert server.issued == 1
        assert len(next(iter(mocked.requests.values()))) == 2  # one failed try, not five
        clock.now += 31
        assert await tm.token() == "token-2"


async def test_a_closed_manager_issues_no_token() -> None:
    tm = TokenManager(APPKEY, SECRETKEY)
    await tm.aclose()
    with pytest.raises(KiwoomError):
        await tm.token()
