"""The decision after one REST attempt, rule by rule, with no server: answer or fault in,
done / retry after d / replay with a new token / raise E out."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kiwoom_async._decide import (
    Answer,
    Call,
    Decision,
    Done,
    Fail,
    Fault,
    Replay,
    Retry,
    Spent,
    decide,
)
from kiwoom_async.errors import (
    APIError,
    AuthError,
    KiwoomTimeoutError,
    MalformedResponseError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
    TransportError,
)
from kiwoom_async.retry import RetryPolicy

QUERY = Call("ka10004", False, {"stk_cd": "005930"})
ORDER = Call("kt10000", True, {"stk_cd": "005930"})
FRESH = Spent()
LIMITED = "허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다]"


def policy(**kwargs: Any) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(0), **kwargs)


def answer(status: int = 200, code: object = 0, message: str = "") -> Answer:
    return Answer(status, {"return_code": code, "return_msg": message}, {})


LOST = Fault("connection failed (ServerDisconnectedError)", may_have_been_sent=True)
REFUSED = Fault("cannot connect (ConnectionRefusedError)", may_have_been_sent=False)
TIMED_OUT = Fault("timed out", may_have_been_sent=True, timed_out=True)
HTTP_500 = Fault("HTTP 500", may_have_been_sent=True, status=500)
NOT_JSON = Fault("HTTP 200: body is not a JSON object", may_have_been_sent=True, status=200)


@pytest.mark.parametrize(
    ("call", "result", "spent", "kind", "error"),
    [
        # Orders: never resent once they may have left.
        (ORDER, LOST, FRESH, Fail, OrderStatusUnknownError),
        (ORDER, TIMED_OUT, FRESH, Fail, OrderStatusUnknownError),
        (ORDER, HTTP_500, FRESH, Fail, OrderStatusUnknownError),
        (ORDER, REFUSED, FRESH, Fail, TransportError),
        (ORDER, answer(code=5, message=LIMITED), FRESH, Fail, RateLimitError),
        (ORDER, answer(code=20, message="[2000](RC4058:장종료)"), FRESH, Fail, OrderRejectedError),
        # Queries: transient faults retried a bounded number of times, then typed.
        (QUERY, LOST, FRESH, Retry, None),
        (QUERY, HTTP_500, Spent(transient=2), Retry, None),
        (QUERY, TIMED_OUT, Spent(transient=3), Fail, KiwoomTimeoutError),
        (QUERY, NOT_JSON, Spent(transient=3), Fail, MalformedResponseError),
        (QUERY, HTTP_500, Spent(transient=3), Fail, TransportError),
        # Answers.
        (QUERY, answer(), FRESH, Done, None),
        (QUERY, answer(code="0000"), FRESH, Done, None),
        (QUERY, answer(code=5, message=LIMITED), FRESH, Retry, None),
        (QUERY, Answer(429, {}, {}), FRESH, Retry, None),
        (QUERY, answer(code=5, message="종목코드 오류"), FRESH, Fail, APIError),
        (QUERY, answer(code=5, message="[1634]"), FRESH, Fail, APIError),
        (QUERY, answer(code=1511, message="필수 입력 값 [1511]"), FRESH, Fail, APIError),
        (QUERY, answer(code=3, message="[8001:앱키 검증 실패]"), FRESH, Fail, AuthError),
        # A refused token: replayed once with a new one, then an AuthError.
        (
            QUERY,
            answer(code=3, message="인증에 실패했습니다[8005:Token이 유효하지 않습니다]"),
            FRESH,
            Replay,
            None,
        ),
        (ORDER, Answer(401, {}, {}), FRESH, Replay, None),
        (QUERY, Answer(401, {}, {}), Spent(token_replayed=True), Fail, AuthError),
    ],
)
def test_the_decision_table(
    call: Call,
    result: Fault | Answer,
    spent: Spent,
    kind: type[Decision],
    error: type[Exception] | None,
) -> None:
    decision = decide(call, result, spent, policy())
    assert type(decision) is kind
    if error is not None:
        assert isinstance(decision, Fail)
        assert type(decision.error) is error
        assert decision.error.api_id == call.api_id  # type: ignore[attr-defined]


def test_a_retry_counts_what_it_spends_and_waits_inside_the_backoff() -> None:
    first = decide(QUERY, LOST, FRESH, policy(backoff_base=0.2, backoff_max=2.0))
    assert isinstance(first, Retry) and first.spent == Spent(transient=1)
    assert 0.1 <= first.delay <= 0.2
    limited = decide(QUERY, answer(code=5, message=LIMITED), first.spent, policy())
    assert isinstance(limited, Retry)
    assert limited.spent.rate_limited == 1 and limited.spent.transient == 1
    assert limited.spent.rate_limit_waited == pytest.approx(limited.delay)
    assert limited.spent.retries == 2


def test_rate_limit_retries_stop_at_the_time_budget_and_the_count_cap() -> None:
    limited = answer(code=5, message=LIMITED)
    spent_budget = Spent(rate_limited=4, rate_limit_waited=119.9)
    over = decide(QUERY, limited, spent_budget, policy(rate_limit_budget=120.0))
    assert isinstance(over, Fail) and isinstance(over.error, RateLimitError)
    assert over.error.retries_taken == 4
    capped = decide(QUERY, limited, Spent(rate_limited=2), policy(rate_limit_retries=2))
    assert isinstance(capped, Fail) and isinstance(capped.error, RateLimitError)


def test_a_token_refused_after_the_replay_is_marked_for_invalidation() -> None:
    token_error = answer(code=3, message="[8005:Token이 유효하지 않습니다]")
    again = decide(QUERY, token_error, Spent(token_replayed=True), policy())
    assert isinstance(again, Fail) and again.token_refused
    other = decide(QUERY, answer(code=3, message="[8001:x]"), FRESH, policy())
    assert isinstance(other, Fail) and not other.token_refused
    replay = decide(QUERY, token_error, FRESH, policy())
    assert isinstance(replay, Replay) and replay.spent == Spent(token_replayed=True)


def test_done_carries_the_normalised_code_and_message() -> None:
    done = decide(QUERY, answer(code="0", message="정상적으로 처리되었습니다"), FRESH, policy())
    assert done == Done(0, "정상적으로 처리되었습니다")


def test_the_camel_case_envelope_some_examples_show_is_read_too() -> None:
    refused = Answer(200, {"returnCode": 1511, "returnMsg": "필수 입력 값 [1511]"}, {})
    decision = decide(QUERY, refused, FRESH, policy())
    assert isinstance(decision, Fail) and isinstance(decision.error, APIError)
    assert decision.error.return_code == 1511
    assert decide(
        QUERY, Answer(200, {"returnCode": 0, "returnMsg": "ok"}, {}), FRESH, policy()
    ) == Done(0, "ok")
