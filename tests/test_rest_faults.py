"""Precise transport faults, served on the wire by a scripted local server."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kiwoom_async import (
    APIError,
    AuthError,
    KiwoomTimeoutError,
    KiwoomValidationError,
    MalformedResponseError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
    RateLimits,
    RealOrderNotAllowedError,
    RestSession,
    RetryPolicy,
    TokenManager,
    TransportError,
    UnknownTRError,
)
from tests.conftest import seconds

from ._scripted_server import (
    Drop,
    Fault,
    Hang,
    Received,
    Reply,
    ScriptedServer,
    Truncate,
    unused_url,
)

TOKEN_PATH = "/oauth2/token"
QUOTE_PATH = "/api/dostk/mrkcond"
ORDER_PATH = "/api/dostk/ordr"
APPKEY = "APPKEY-never-show-me"
SECRETKEY = "SECRETKEY-never-show-me"
ORDER = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "1", "ord_uv": "", "trde_tp": "3"}
OK = {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}
SHORT = seconds(0.1)
"""The request timeout of sessions that meet a server that never answers."""


async def no_sleep(_: float) -> None:
    return None


class Tokens:
    def __init__(self) -> None:
        self.issued = 0

    async def handle(self, received: Received) -> Reply:
        self.issued += 1
        return Reply(json={"expires_dt": "29991231235959", "token": f"tok-{self.issued}", **OK})


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


@pytest.fixture
def tokens(server: ScriptedServer) -> Tokens:
    issuer = Tokens()
    server.always(TOKEN_PATH, issuer.handle)
    return issuer


@asynccontextmanager
async def open_rest(
    server: ScriptedServer, *, timeout: float = 10.0, retry: RetryPolicy | None = None
) -> AsyncIterator[RestSession]:
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url)
    policy = retry or RetryPolicy(rng=random.Random(7), sleep=no_sleep)
    async with RestSession(tm, rate_limits=RateLimits(), retry=policy, timeout=timeout) as session:
        yield session


@pytest.fixture
async def rest(server: ScriptedServer, tokens: Tokens) -> AsyncIterator[RestSession]:
    async with open_rest(server) as session:
        yield session


@pytest.fixture
async def impatient(server: ScriptedServer, tokens: Tokens) -> AsyncIterator[RestSession]:
    """A session whose requests time out after ``SHORT`` seconds."""
    async with open_rest(server, timeout=SHORT) as session:
        yield session


async def test_transient_500_is_retried_for_a_query(
    server: ScriptedServer, rest: RestSession
) -> None:
    server.script(QUOTE_PATH, Reply(500, body="busy"), Reply(json={"sel_fpr_bid": "+100", **OK}))
    response = await rest.call("ka10004", {"stk_cd": "005930"})
    assert response.body["sel_fpr_bid"] == "+100"
    assert response.retries_taken == 1
    assert len(server.sent(QUOTE_PATH)) == 2


async def test_query_retries_are_bounded(server: ScriptedServer, rest: RestSession) -> None:
    server.always(QUOTE_PATH, Drop())
    with pytest.raises(TransportError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert info.value.retries_taken == rest.retry.max_retries == 3
    assert len(server.sent(QUOTE_PATH)) == 4


async def test_query_timeout_raises_timeout_error(
    server: ScriptedServer, impatient: RestSession
) -> None:
    server.always(QUOTE_PATH, Hang())
    with pytest.raises(KiwoomTimeoutError):
        await impatient.call("ka10004", {"stk_cd": "005930"})
    assert len(server.sent(QUOTE_PATH)) == 4


async def test_malformed_body_is_retried_then_reported(
    server: ScriptedServer, rest: RestSession
) -> None:
    server.always(QUOTE_PATH, Reply(200, body="{not json"))
    with pytest.raises(MalformedResponseError):
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert len(server.sent(QUOTE_PATH)) == 4


@pytest.mark.parametrize(
    "fault",
    [Hang(), Drop(), Truncate(), Reply(500, body="internal"), Reply(200, body="<html>")],
    ids=["timeout", "disconnect", "payload", "http500", "malformed"],
)
async def test_an_order_whose_answer_is_lost_is_sent_once_and_raises_unknown(
    server: ScriptedServer, impatient: RestSession, fault: Fault
) -> None:
    server.always(ORDER_PATH, fault)
    with pytest.raises(OrderStatusUnknownError) as info:
        await impatient.call("kt10000", ORDER)
    assert len(server.sent(ORDER_PATH)) == 1
    assert info.value.api_id == "kt10000"
    assert info.value.body == ORDER
    assert "tok-" not in str(info.value) and APPKEY not in str(info.value)


async def test_an_order_that_could_not_connect_was_not_sent(
    server: ScriptedServer, tokens: Tokens
) -> None:
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url)
    async with RestSession(tm, base_url=unused_url(), rate_limits=RateLimits()) as rest:
        with pytest.raises(TransportError) as info:
            await rest.call("kt10000", ORDER)
    assert not isinstance(info.value, OrderStatusUnknownError)
    assert "not sent" in str(info.value)
    assert tokens.issued == 1  # the token came first: only the order's host was down


async def test_a_rate_limited_order_is_not_resent(
    server: ScriptedServer, rest: RestSession
) -> None:
    limited = {
        "return_code": 5,
        "return_msg": "허용된 요청 개수를 초과하였습니다[1700:... API ID=kt10000]",
    }
    server.always(ORDER_PATH, Reply(json=limited))
    with pytest.raises(RateLimitError) as info:
        await rest.call("kt10000", ORDER)
    assert info.value.detail_code == 1700
    assert len(server.sent(ORDER_PATH)) == 1


@pytest.mark.parametrize(
    "limited",
    [
        Reply(
            json={"return_code": 5, "return_msg": "초과[1700:허용된 요청 개수를 초과하였습니다]"}
        ),
        Reply(json={"return_code": "5", "return_msg": "초과[1701:전체]"}),
        Reply(429, json={"return_code": 5, "return_msg": "초과[1702:그룹]"}),
    ],
    ids=["rc5-1700", "rc5-str-1701", "http429-1702"],
)
async def test_rate_limited_queries_are_retried(
    server: ScriptedServer, rest: RestSession, limited: Reply
) -> None:
    server.script(QUOTE_PATH, limited, limited, Reply(json=OK))
    response = await rest.call("ka10004", {"stk_cd": "005930"})
    assert response.retries_taken == 2
    assert len(server.sent(QUOTE_PATH)) == 3


@pytest.mark.parametrize(
    "refused",
    [
        Reply(
            json={
                "return_code": 3,
                "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
            }
        ),
        Reply(json={"return_code": "3", "return_msg": "[8031:토큰 만료]"}),
        Reply(json={"return_code": 8005, "return_msg": "Token이 유효하지 않습니다"}),
        Reply(json={"return_code": 3, "return_msg": "[8103:재발급]"}),
        Reply(401, json={"return_code": 3, "return_msg": "unauthorized"}),
        Reply(401, body="unauthorized"),
    ],
    ids=["rc3-8005", "rc3str-8031", "top-8005", "rc3-8103", "http401-json", "http401-text"],
)
@pytest.mark.parametrize(
    "path,api_id,body",
    [(QUOTE_PATH, "ka10004", {"stk_cd": "005930"}), (ORDER_PATH, "kt10000", ORDER)],
    ids=["query", "order"],
)
async def test_a_stale_token_is_replaced_and_the_call_replayed_once(
    server: ScriptedServer,
    rest: RestSession,
    tokens: Tokens,
    refused: Reply,
    path: str,
    api_id: str,
    body: dict[str, Any],
) -> None:
    server.script(path, refused, Reply(json={"ord_no": "0000001", **OK}))
    response = await rest.call(api_id, body)
    assert response.return_code == 0
    calls = server.sent(path)
    assert [c.headers["authorization"] for c in calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert tokens.issued == 2


async def test_a_token_refused_twice_raises_auth_error(
    server: ScriptedServer, rest: RestSession, tokens: Tokens
) -> None:
    refused = {"return_code": 3, "return_msg": "[8005:Token이 유효하지 않습니다]"}
    server.always(QUOTE_PATH, Reply(json=refused))
    with pytest.raises(AuthError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert info.value.detail_code == 8005
    assert len(server.sent(QUOTE_PATH)) == 2


async def test_api_errors_carry_their_codes(server: ScriptedServer, rest: RestSession) -> None:
    rejected_answer = {"return_code": 20, "return_msg": "[2000](RC4058:모의투자 장종료)"}
    server.script(ORDER_PATH, Reply(json=rejected_answer))
    with pytest.raises(OrderRejectedError) as rejected:
        await rest.call("kt10000", ORDER)
    assert (rejected.value.return_code, rejected.value.detail_code) == (20, 2000)
    server.script(
        QUOTE_PATH, Reply(json={"return_code": 1511, "return_msg": "필수 입력 값 [1511]"})
    )
    with pytest.raises(APIError) as failed:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert failed.value.return_code == 1511 and failed.value.api_id == "ka10004"


async def test_return_code_5_with_another_message_is_an_error_not_a_rate_limit(
    server: ScriptedServer, rest: RestSession
) -> None:
    server.script(QUOTE_PATH, Reply(json={"return_code": 5, "return_msg": "종목코드 오류"}))
    with pytest.raises(APIError) as failed:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert not isinstance(failed.value, RateLimitError)
    assert failed.value.return_msg == "종목코드 오류"
    assert len(server.sent(QUOTE_PATH)) == 1  # not retried: waiting does not fix it


async def test_string_return_codes_and_continuation_headers(
    server: ScriptedServer, rest: RestSession
) -> None:
    server.script(
        QUOTE_PATH,
        Reply(
            json={"return_code": "0000", "return_msg": "", "rows": []},
            headers={"cont-yn": "Y", "next-key": "abc"},
        ),
    )
    response = await rest.call("ka10086", {"stk_cd": "005930"})
    assert (response.return_code, response.cont_yn, response.next_key) == (0, True, "abc")


@pytest.mark.parametrize(
    ("api_id", "body", "error"),
    [
        ("ka99999", {}, UnknownTRError),
        ("ka10004", ["005930"], KiwoomValidationError),
        ("ka10004", {"stk_cd": object()}, KiwoomValidationError),
        ("au10001", {}, KiwoomValidationError),
    ],
)
async def test_bad_input_raises_before_anything_is_sent(
    server: ScriptedServer, rest: RestSession, api_id: str, body: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await rest.call(api_id, body)
    assert server.requests == []


async def test_call_many_returns_results_in_input_order(
    server: ScriptedServer, rest: RestSession
) -> None:
    delays = random.Random(5)

    async def echo(received: Received) -> Reply:
        await asyncio.sleep(delays.uniform(0, 0.01))  # finish out of order
        return Reply(json={"echo": received.text, **OK})

    server.always(QUOTE_PATH, echo)
    codes = [f"{n:06d}" for n in range(30)]
    responses = await rest.call_many([("ka10004", {"stk_cd": c}) for c in codes], concurrency=10)
    assert [r.body["echo"] for r in responses] == [f'{{"stk_cd":"{c}"}}' for c in codes]


async def test_call_many_can_return_exceptions_in_place(
    server: ScriptedServer, rest: RestSession
) -> None:
    failed = {"return_code": 1511, "return_msg": "[1511] 필수 입력"}
    server.script(QUOTE_PATH, Reply(json=OK), Reply(json=failed))
    results = await rest.call_many(
        [("ka10004", {"stk_cd": "1"}), ("ka10004", {"stk_cd": "2"})],
        concurrency=1,
        return_exceptions=True,
    )
    assert results[0].return_code == 0  # type: ignore[union-attr]
    assert isinstance(results[1], APIError) and results[1].return_code == 1511


async def test_call_many_checks_every_input_before_sending(
    server: ScriptedServer, rest: RestSession
) -> None:
    with pytest.raises(UnknownTRError):
        await rest.call_many([("ka10004", {"stk_cd": "005930"}), ("nope", {})])
    assert server.requests == []


async def test_no_secret_reaches_debug_logs(
    server: ScriptedServer, impatient: RestSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        QUOTE_PATH,
        Reply(json={"return_code": 3, "return_msg": "[8005:bad]"}),
        Reply(500, body="x"),
        Reply(json=OK),
    )
    server.script(ORDER_PATH, Hang())
    await impatient.call("ka10004", {"stk_cd": "005930"})
    with pytest.raises(OrderStatusUnknownError):
        await impatient.call("kt10000", ORDER)
    assert caplog.records, "the session logs its retries"
    for secret in (APPKEY, SECRETKEY, "tok-1", "tok-2", "Bearer"):
        assert secret not in caplog.text


async def test_orders_are_never_paginated_or_continued(
    server: ScriptedServer, rest: RestSession
) -> None:
    with pytest.raises(KiwoomValidationError):
        rest.paginate("kt10000", ORDER)
    with pytest.raises(KiwoomValidationError):
        await rest.call("kt10000", ORDER, cont_yn="Y", next_key="k")
    assert server.requests == []


async def test_a_real_money_order_is_refused_by_the_session_itself(
    server: ScriptedServer, tokens: Tokens
) -> None:
    tm = TokenManager(APPKEY, SECRETKEY, env="real", base_url=server.url)
    async with RestSession(tm, rate_limits=RateLimits()) as rest:
        with pytest.raises(RealOrderNotAllowedError):
            await rest.call("kt10000", ORDER)
        with pytest.raises(RealOrderNotAllowedError):
            await rest.call_many([("kt10001", ORDER)])
    assert server.requests == []


async def test_a_failing_order_in_a_batch_does_not_cancel_the_others(
    server: ScriptedServer, rest: RestSession
) -> None:
    finished: list[str] = []

    async def slow_accept(received: Received) -> Reply:
        # A client that abandons this request cancels the handler before it finishes.
        await asyncio.sleep(0.05)
        finished.append("accepted")
        return Reply(json={"ord_no": "0000002", **OK})

    rejected = {"return_code": 20, "return_msg": "[2000](RC4058:장종료)"}
    server.script(ORDER_PATH, Reply(json=rejected), slow_accept)
    with pytest.raises(OrderRejectedError):
        await rest.call_many([("kt10000", ORDER), ("kt10000", ORDER)], concurrency=2)
    assert finished == ["accepted"]  # ran to its end: its state is known, not lost


async def test_budget_is_taken_after_the_token_so_a_slow_token_causes_no_burst(
    server: ScriptedServer,
) -> None:
    async def slow_token(received: Received) -> Reply:
        await asyncio.sleep(0.3)
        return Reply(json={"expires_dt": "29991231235959", "token": "t", **OK})

    server.script(TOKEN_PATH, slow_token)
    server.always(QUOTE_PATH, Reply(json=OK))
    tm = TokenManager(APPKEY, SECRETKEY, base_url=server.url)
    async with RestSession(tm, rate_limits=RateLimits(per_key=10)) as rest:
        await rest.call_many([("ka10004", {"stk_cd": "005930"})] * 4, concurrency=4)
    arrivals = [received.arrived_at for received in server.sent(QUOTE_PATH)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 4 and min(gaps) >= 0.1 * 0.95


async def test_no_secret_in_the_locals_of_an_error_traceback(
    server: ScriptedServer, rest: RestSession
) -> None:
    server.script(QUOTE_PATH, Reply(json={"return_code": 1511, "return_msg": "[1511] 필수"}))
    with pytest.raises(APIError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    text = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "tok-1" not in text
    async with ScriptedServer() as other:
        other.script(TOKEN_PATH, Reply(json={"return_code": 3, "return_msg": "[8001:x]"}))
        tm = TokenManager(APPKEY, SECRETKEY, base_url=other.url, issue_retries=0)
        with pytest.raises(AuthError) as refused:
            await tm.token()
    text = "".join(
        traceback.TracebackException.from_exception(refused.value, capture_locals=True).format()
    )
    assert APPKEY not in text and SECRETKEY not in text


async def test_rate_limited_queries_wait_within_a_time_budget(
    server: ScriptedServer, tokens: Tokens
) -> None:
    slept: list[float] = []

    async def record(seconds_: float) -> None:
        slept.append(seconds_)

    limited = {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다]"}
    server.always(QUOTE_PATH, Reply(json=limited))
    policy = RetryPolicy(rng=random.Random(1), sleep=record, rate_limit_budget=10.0)
    async with open_rest(server, retry=policy) as rest:
        with pytest.raises(RateLimitError) as info:
            await rest.call("ka10004", {"stk_cd": "005930"})
    assert sum(slept) <= 10.0 and sum(slept) + policy.backoff_max > 10.0
    assert info.value.retries_taken == len(slept) > 5
    assert len(server.sent(QUOTE_PATH)) == len(slept) + 1
