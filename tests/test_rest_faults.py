"""Precise transport faults injected under the REST engine."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

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

BASE = "https://mockapi.kiwoom.com"
TOKEN_URL = BASE + "/oauth2/token"
QUOTE_URL = BASE + "/api/dostk/mrkcond"
ORDER_URL = BASE + "/api/dostk/ordr"
APPKEY = "APPKEY-never-show-me"
SECRETKEY = "SECRETKEY-never-show-me"
ORDER = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "1", "ord_uv": "", "trde_tp": "3"}
OK = {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}


async def no_sleep(_: float) -> None:
    return None


class Tokens:
    def __init__(self) -> None:
        self.issued = 0

    def handle(self, url: Any, **kwargs: Any) -> CallbackResult:
        self.issued += 1
        return CallbackResult(
            payload={"expires_dt": "29991231235959", "token": f"tok-{self.issued}", **OK}
        )


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def tokens(mocked: aioresponses) -> Tokens:
    server = Tokens()
    mocked.post(TOKEN_URL, callback=server.handle, repeat=True)
    return server


@pytest.fixture
async def rest(tokens: Tokens) -> AsyncIterator[RestSession]:
    tm = TokenManager(APPKEY, SECRETKEY)
    policy = RetryPolicy(rng=random.Random(7), sleep=no_sleep)
    async with RestSession(tm, rate_limits=RateLimits(), retry=policy) as session:
        yield session


def sent(mocked: aioresponses, url: str) -> list[Any]:
    return list(mocked.requests.get(("POST", URL(url)), []))


async def test_transient_500_is_retried_for_a_query(
    mocked: aioresponses, rest: RestSession
) -> None:
    mocked.post(QUOTE_URL, status=500, body="busy")
    mocked.post(QUOTE_URL, payload={"sel_fpr_bid": "+100", **OK})
    response = await rest.call("ka10004", {"stk_cd": "005930"})
    assert response.body["sel_fpr_bid"] == "+100"
    assert response.retries_taken == 1
    assert len(sent(mocked, QUOTE_URL)) == 2


async def test_query_retries_are_bounded(mocked: aioresponses, rest: RestSession) -> None:
    mocked.post(QUOTE_URL, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(TransportError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert info.value.retries_taken == rest.retry.max_retries == 3
    assert len(sent(mocked, QUOTE_URL)) == 4


async def test_query_timeout_raises_timeout_error(mocked: aioresponses, rest: RestSession) -> None:
    mocked.post(QUOTE_URL, exception=TimeoutError(), repeat=True)
    with pytest.raises(KiwoomTimeoutError):
        await rest.call("ka10004", {"stk_cd": "005930"})


async def test_malformed_body_is_retried_then_reported(
    mocked: aioresponses, rest: RestSession
) -> None:
    mocked.post(QUOTE_URL, status=200, body="{not json", repeat=True)
    with pytest.raises(MalformedResponseError):
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert len(sent(mocked, QUOTE_URL)) == 4


@pytest.mark.parametrize(
    "fault",
    [
        {"exception": TimeoutError()},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": aiohttp.ClientPayloadError("cut")},
        {"status": 500, "body": "internal"},
        {"status": 200, "body": "<html>"},
    ],
    ids=["timeout", "disconnect", "payload", "http500", "malformed"],
)
async def test_an_order_whose_answer_is_lost_is_sent_once_and_raises_unknown(
    mocked: aioresponses, rest: RestSession, fault: dict[str, Any]
) -> None:
    mocked.post(ORDER_URL, repeat=True, **fault)
    with pytest.raises(OrderStatusUnknownError) as info:
        await rest.call("kt10000", ORDER)
    assert len(sent(mocked, ORDER_URL)) == 1
    assert info.value.api_id == "kt10000"
    assert info.value.body == ORDER
    assert "tok-" not in str(info.value) and APPKEY not in str(info.value)


async def test_an_order_that_could_not_connect_was_not_sent(
    mocked: aioresponses, rest: RestSession
) -> None:
    error = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("x", 1, False, False, None, None, None),
        OSError(111, "refused"),
    )
    mocked.post(ORDER_URL, exception=error)
    with pytest.raises(TransportError) as info:
        await rest.call("kt10000", ORDER)
    assert not isinstance(info.value, OrderStatusUnknownError)
    assert "not sent" in str(info.value)


async def test_a_rate_limited_order_is_not_resent(mocked: aioresponses, rest: RestSession) -> None:
    mocked.post(
        ORDER_URL,
        payload={
            "return_code": 5,
            "return_msg": "허용된 요청 개수를 초과하였습니다[1700:... API ID=kt10000]",
        },
        repeat=True,
    )
    with pytest.raises(RateLimitError) as info:
        await rest.call("kt10000", ORDER)
    assert info.value.detail_code == 1700
    assert len(sent(mocked, ORDER_URL)) == 1


@pytest.mark.parametrize(
    "limited",
    [
        {
            "payload": {
                "return_code": 5,
                "return_msg": "초과[1700:허용된 요청 개수를 초과하였습니다]",
            }
        },
        {"payload": {"return_code": "5", "return_msg": "초과[1701:전체]"}},
        {"status": 429, "payload": {"return_code": 5, "return_msg": "초과[1702:그룹]"}},
    ],
    ids=["rc5-1700", "rc5-str-1701", "http429-1702"],
)
async def test_rate_limited_queries_are_retried(
    mocked: aioresponses, rest: RestSession, limited: dict[str, Any]
) -> None:
    mocked.post(QUOTE_URL, **limited)
    mocked.post(QUOTE_URL, **limited)
    mocked.post(QUOTE_URL, payload=OK)
    response = await rest.call("ka10004", {"stk_cd": "005930"})
    assert response.retries_taken == 2


@pytest.mark.parametrize(
    "refused",
    [
        {
            "payload": {
                "return_code": 3,
                "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
            }
        },
        {"payload": {"return_code": "3", "return_msg": "[8031:토큰 만료]"}},
        {"payload": {"return_code": 8005, "return_msg": "Token이 유효하지 않습니다"}},
        {"payload": {"return_code": 3, "return_msg": "[8103:재발급]"}},
        {"status": 401, "payload": {"return_code": 3, "return_msg": "unauthorized"}},
        {"status": 401, "body": "unauthorized"},
    ],
    ids=["rc3-8005", "rc3str-8031", "top-8005", "rc3-8103", "http401-json", "http401-text"],
)
@pytest.mark.parametrize(
    "url,api_id,body",
    [(QUOTE_URL, "ka10004", {"stk_cd": "005930"}), (ORDER_URL, "kt10000", ORDER)],
    ids=["query", "order"],
)
async def test_a_stale_token_is_replaced_and_the_call_replayed_once(
    mocked: aioresponses,
    rest: RestSession,
    tokens: Tokens,
    refused: dict[str, Any],
    url: str,
    api_id: str,
    body: dict[str, Any],
) -> None:
    mocked.post(url, **refused)
    mocked.post(url, payload={"ord_no": "0000001", **OK})
    response = await rest.call(api_id, body)
    assert response.return_code == 0
    calls = sent(mocked, url)
    assert [c.kwargs["headers"]["authorization"] for c in calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert tokens.issued == 2


async def test_a_token_refused_twice_raises_auth_error(
    mocked: aioresponses, rest: RestSession, tokens: Tokens
) -> None:
    mocked.post(
        QUOTE_URL,
        payload={"return_code": 3, "return_msg": "[8005:Token이 유효하지 않습니다]"},
        repeat=True,
    )
    with pytest.raises(AuthError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert info.value.detail_code == 8005
    assert len(sent(mocked, QUOTE_URL)) == 2


async def test_api_errors_carry_their_codes(mocked: aioresponses, rest: RestSession) -> None:
    mocked.post(
        ORDER_URL, payload={"return_code": 20, "return_msg": "[2000](RC4058:모의투자 장종료)"}
    )
    with pytest.raises(OrderRejectedError) as rejected:
        await rest.call("kt10000", ORDER)
    assert (rejected.value.return_code, rejected.value.detail_code) == (20, 2000)
    mocked.post(QUOTE_URL, payload={"return_code": 1511, "return_msg": "필수 입력 값 [1511]"})
    with pytest.raises(APIError) as failed:
        await rest.call("ka10004", {"stk_cd": "005930"})
    assert failed.value.return_code == 1511 and failed.value.api_id == "ka10004"


async def test_string_return_codes_and_continuation_headers(
    mocked: aioresponses, rest: RestSession
) -> None:
    mocked.post(
        QUOTE_URL,
        payload={"return_code": "0000", "return_msg": "", "rows": []},
        headers={"cont-yn": "Y", "next-key": "abc"},
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
    mocked: aioresponses, rest: RestSession, api_id: str, body: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await rest.call(api_id, body)
    assert mocked.requests == {}


async def test_call_many_returns_results_in_input_order(
    mocked: aioresponses, rest: RestSession
) -> None:
    delays = random.Random(5)

    async def echo(url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(delays.uniform(0, 0.01))  # finish out of order
        return CallbackResult(payload={"echo": kwargs["data"].decode(), **OK})

    mocked.post(QUOTE_URL, callback=echo, repeat=True)
    codes = [f"{n:06d}" for n in range(30)]
    responses = await rest.call_many([("ka10004", {"stk_cd": c}) for c in codes], concurrency=10)
    assert [r.body["echo"] for r in responses] == [f'{{"stk_cd":"{c}"}}' for c in codes]


async def test_call_many_can_return_exceptions_in_place(
    mocked: aioresponses, rest: RestSession
) -> None:
    mocked.post(QUOTE_URL, payload=OK)
    mocked.post(QUOTE_URL, payload={"return_code": 1511, "return_msg": "[1511] 필수 입력"})
    results = await rest.call_many(
        [("ka10004", {"stk_cd": "1"}), ("ka10004", {"stk_cd": "2"})],
        concurrency=1,
        return_exceptions=True,
    )
    assert results[0].return_code == 0  # type: ignore[union-attr]
    assert isinstance(results[1], APIError) and results[1].return_code == 1511


async def test_call_many_checks_every_input_before_sending(
    mocked: aioresponses, rest: RestSession
) -> None:
    with pytest.raises(UnknownTRError):
        await rest.call_many([("ka10004", {"stk_cd": "005930"}), ("nope", {})])
    assert mocked.requests == {}


async def test_no_secret_reaches_debug_logs(
    mocked: aioresponses, rest: RestSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(QUOTE_URL, payload={"return_code": 3, "return_msg": "[8005:bad]"})
    mocked.post(QUOTE_URL, status=500, body="x")
    mocked.post(QUOTE_URL, payload=OK)
    mocked.post(ORDER_URL, exception=TimeoutError())
    await rest.call("ka10004", {"stk_cd": "005930"})
    with pytest.raises(OrderStatusUnknownError):
        await rest.call("kt10000", ORDER)
    assert caplog.records, "the session logs its retries"
    for secret in (APPKEY, SECRETKEY, "tok-1", "tok-2", "Bearer"):
        assert secret not in caplog.text


async def test_orders_are_never_paginated_or_continued(
    mocked: aioresponses, rest: RestSession
) -> None:
    with pytest.raises(KiwoomValidationError):
        rest.paginate("kt10000", ORDER)
    with pytest.raises(KiwoomValidationError):
        await rest.call("kt10000", ORDER, cont_yn="Y", next_key="k")
    assert mocked.requests == {}


async def test_a_real_money_order_is_refused_by_the_session_itself(
    mocked: aioresponses, tokens: Tokens
) -> None:
    mocked.post("https://api.kiwoom.com/oauth2/token", callback=tokens.handle, repeat=True)
    tm = TokenManager(APPKEY, SECRETKEY, env="real")
    async with RestSession(tm, rate_limits=RateLimits()) as rest:
        with pytest.raises(RealOrderNotAllowedError):
            await rest.call("kt10000", ORDER)
        with pytest.raises(RealOrderNotAllowedError):
            await rest.call_many([("kt10001", ORDER)])
    assert mocked.requests == {}


async def test_a_failing_order_in_a_batch_does_not_cancel_the_others(
    mocked: aioresponses, rest: RestSession
) -> None:
    finished: list[str] = []

    async def slow_accept(url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.05)
        finished.append("accepted")
        return CallbackResult(payload={"ord_no": "0000002", **OK})

    mocked.post(ORDER_URL, payload={"return_code": 20, "return_msg": "[2000](RC4058:장종료)"})
    mocked.post(ORDER_URL, callback=slow_accept)
    with pytest.raises(OrderRejectedError):
        await rest.call_many([("kt10000", ORDER), ("kt10000", ORDER)], concurrency=2)
    assert finished == ["accepted"]  # ran to its end: its state is known, not lost


async def test_budget_is_taken_after_the_token_so_a_slow_token_causes_no_burst(
    mocked: aioresponses,
) -> None:
    async def slow_token(url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.3)
        return CallbackResult(payload={"expires_dt": "29991231235959", "token": "t", **OK})

    arrivals: list[float] = []

    def quote(url: Any, **kwargs: Any) -> CallbackResult:
        arrivals.append(asyncio.get_running_loop().time())
        return CallbackResult(payload=OK)

    mocked.post(TOKEN_URL, callback=slow_token)
    mocked.post(QUOTE_URL, callback=quote, repeat=True)
    tm = TokenManager(APPKEY, SECRETKEY)
    async with RestSession(tm, rate_limits=RateLimits(per_key=10)) as rest:
        await rest.call_many([("ka10004", {"stk_cd": "005930"})] * 4, concurrency=4)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 4 and min(gaps) >= 0.1 * 0.95


async def test_no_secret_in_the_locals_of_an_error_traceback(
    mocked: aioresponses, rest: RestSession
) -> None:
    mocked.post(QUOTE_URL, payload={"return_code": 1511, "return_msg": "[1511] 필수"})
    with pytest.raises(APIError) as info:
        await rest.call("ka10004", {"stk_cd": "005930"})
    text = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "tok-1" not in text
    tm = TokenManager(APPKEY, SECRETKEY, base_url="https://other.example", issue_retries=0)
    mocked.post(
        "https://other.example/oauth2/token", payload={"return_code": 3, "return_msg": "[8001:x]"}
    )
    with pytest.raises(AuthError) as refused:
        await tm.token()
    text = "".join(
        traceback.TracebackException.from_exception(refused.value, capture_locals=True).format()
    )
    assert APPKEY not in text and SECRETKEY not in text


async def test_rate_limited_queries_wait_within_a_time_budget(
    mocked: aioresponses, tokens: Tokens
) -> None:
    slept: list[float] = []

    async def record(seconds_: float) -> None:
        slept.append(seconds_)

    limited = {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다]"}
    mocked.post(QUOTE_URL, payload=limited, repeat=True)
    policy = RetryPolicy(rng=random.Random(1), sleep=record, rate_limit_budget=10.0)
    async with RestSession(
        TokenManager(APPKEY, SECRETKEY), rate_limits=RateLimits(), retry=policy
    ) as rest:
        with pytest.raises(RateLimitError) as info:
            await rest.call("ka10004", {"stk_cd": "005930"})
    assert sum(slept) <= 10.0 and sum(slept) + policy.backoff_max > 10.0
    assert info.value.retries_taken == len(slept) > 5
