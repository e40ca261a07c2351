"""No clock, server answer or bug makes the TokenManager hammer au10001, and a refusal that
echoes the keys leaves them nowhere a traceback reaches."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from email.utils import formatdate

import pytest

from kiwoom_async import AuthError, TokenManager
from kiwoom_async.auth import MIN_TOKEN_LIFETIME
from kiwoom_async.errors import TokenBudgetError

from ._scripted_server import Received, Reply, ScriptedServer
from .test_auth import APPKEY, SECRETKEY, TOKEN_PATH, FakeClock, kst


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


class SkewedIssuer:
    """A token server whose clock runs ``behind`` seconds behind the client's: its tokens,
    valid for a day by its own clock, look expired to the client when ``behind`` is larger."""

    def __init__(self, clock: FakeClock, behind: float, send_date: bool = True) -> None:
        self.clock = clock
        self.behind = behind
        self.send_date = send_date
        self.issued = 0

    async def handle(self, received: Received) -> Reply:
        self.issued += 1
        server_now = self.clock.now - self.behind
        headers = {"Date": formatdate(server_now, usegmt=True)} if self.send_date else {}
        return Reply(
            json={
                "expires_dt": kst(server_now + 86_400),
                "token": f"token-{self.issued}",
                "return_code": 0,
                "return_msg": "ok",
            },
            headers=headers,
        )


async def test_a_clock_a_day_ahead_times_the_token_by_the_server_date(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = SkewedIssuer(clock, behind=2 * 86_400)  # expires_dt a day in the past, locally
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url)
    for _ in range(70):
        assert await tm.token() == "token-1"
        clock.now += 60  # 70 calls over 70 minutes
    assert issuer.issued == 1
    # The server's day, on this machine's clock: refreshed ahead of it, not before.
    clock.now = 1_800_000_000.0 + 86_400 - 601
    assert await tm.token() == "token-1"
    clock.now += 2
    assert await tm.token() == "token-2"


async def test_without_a_date_header_a_past_expiry_gets_the_minimum_lifetime(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = SkewedIssuer(clock, behind=2 * 86_400, send_date=False)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url)
    for _ in range(70):
        assert await tm.token() == "token-1"
        clock.now += MIN_TOKEN_LIFETIME / 2 / 70  # 70 calls inside the first half-life
    assert issuer.issued == 1


async def test_the_issue_budget_bounds_token_requests_and_then_recovers(
    server: ScriptedServer,
) -> None:
    clock = FakeClock(1_800_000_000.0)
    issuer = SkewedIssuer(clock, behind=0)
    server.always(TOKEN_PATH, issuer.handle)
    tm = TokenManager(APPKEY, SECRETKEY, clock=clock, base_url=server.url, issue_budget=(3, 60))
    # A server that refuses every token at once (or a bug) makes the caller invalidate each.
    for _ in range(3):
        tm.invalidate(await tm.token())
    with pytest.raises(TokenBudgetError) as info:
        await tm.token()
    assert info.value.retry_at == pytest.approx(clock.now + 60)
    assert len(server.sent(TOKEN_PATH)) == 3  # the refused request never left
    clock.now += 61
    assert await tm.token() == "token-4"


def echoing_refusal() -> Reply:
    # Built here so the keys are no local of the test's own frame, which the traceback holds.
    echo = f"[8001:앱키 {APPKEY} / 시크릿 {SECRETKEY} 검증 실패]"
    return Reply(status=403, json={"return_code": 3, "return_msg": echo, "appkey": APPKEY})


async def test_a_refusal_that_echoes_the_keys_leaves_them_out_of_traceback_locals(
    server: ScriptedServer,
) -> None:
    server.script(TOKEN_PATH, echoing_refusal())
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url, issue_retries=0)
    with pytest.raises(AuthError) as info:
        await tm.token()
    # What an error tracker that captures locals (Sentry does) would see.
    captured = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    text = "".join(captured.format())
    assert "return_code" in text or "answer" in text  # the locals were captured at all
    assert APPKEY not in text
    assert SECRETKEY not in text
