"""What to do after one REST attempt: a pure decision, apart from the sending.

An attempt ends in a :class:`Fault` (no usable answer) or an :class:`Answer`. Given that, what
the call has spent so far (:class:`Spent`) and the retry policy, :func:`decide` says: done,
retry after a delay, replay once with a new token, or raise this error. Nothing here does I/O,
so every rule is tested from a table (tests/test_decide.py).

The rules: an order is never resent once its request may have left the machine; a query is
retried on transient faults (a bounded count) and on rate-limit answers (a time budget); a
refused token is replaced and the call replayed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import _codes
from .errors import (
    APIError,
    AuthError,
    KiwoomError,
    KiwoomTimeoutError,
    MalformedResponseError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
    TransportError,
)
from .retry import RetryPolicy

__all__ = ["Answer", "Done", "Fail", "Fault", "Replay", "Retry", "Spent", "decide"]


@dataclass(frozen=True, slots=True)
class Fault:
    """A request that got no usable answer."""

    reason: str
    may_have_been_sent: bool
    timed_out: bool = False
    status: int = 0
    """The HTTP status when one came (a 5xx, or a body that was not JSON)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Spent:
    """What a call has used of its retries so far."""

    transient: int = 0
    rate_limited: int = 0
    rate_limit_waited: float = 0.0
    token_replayed: bool = False

    @property
    def retries(self) -> int:
        return self.transient + self.rate_limited + self.token_replayed


@dataclass(frozen=True, slots=True)
class Done:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    spent: Spent
    reason: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The token was refused: invalidate it and send again at once with a new one."""

    spent: Spent


@dataclass(frozen=True, slots=True)
class Fail:
    error: KiwoomError
    token_refused: bool = False
    """The token was refused again after the replay: it must not be used for another call."""


Decision = Done | Retry | Replay | Fail


@dataclass(frozen=True, slots=True)
class Call:
    """The call being decided about."""

    api_id: str
    is_order: bool
    body: Mapping[str, Any]


def decide(call: Call, result: Fault | Answer, spent: Spent, policy: RetryPolicy) -> Decision:
    if isinstance(result, Fault):
        return _after_fault(call, result, spent, policy)
    return _after_answer(call, result, spent, policy)


def _after_fault(call: Call, fault: Fault, spent: Spent, policy: RetryPolicy) -> Decision:
    if call.is_order:
        if fault.may_have_been_sent:
            return Fail(OrderStatusUnknownError(call.api_id, call.body, fault.reason))
        return Fail(TransportError(call.api_id, f"{fault.reason}; the order was not sent"))
    if spent.transient < policy.max_retries:
        spent = replace(spent, transient=spent.transient + 1)
        return Retry(policy.delay(spent.transient), spent, fault.reason)
    error = (
        KiwoomTimeoutError
        if fault.timed_out
        else MalformedResponseError
        if fault.status and fault.status < 500
        else TransportError
    )
    return Fail(error(call.api_id, fault.reason, retries_taken=spent.retries))


def _after_answer(call: Call, answer: Answer, spent: Spent, policy: RetryPolicy) -> Decision:
    status, body = answer.status, answer.body
    # Some TRs' official examples spell the envelope returnCode/returnMsg.
    default = 0 if status == 200 else -1
    code = _codes.return_code(body.get("return_code", body.get("returnCode", default)))
    message = body.get("return_msg", body.get("returnMsg", ""))
    if not isinstance(message, str):
        message = str(message)
    detail = None if code == 0 else _codes.detail_code(message)
    outcome = _codes.classify(status, code, detail, message)
    if outcome is _codes.Outcome.OK and status == 200:
        return Done(code, message)
    error_args = (call.api_id, code, message)
    error_kwargs: dict[str, Any] = {
        "detail_code": detail,
        "http_status": status,
        "retries_taken": spent.retries,
    }
    if outcome is _codes.Outcome.TOKEN:
        if not spent.token_replayed:
            return Replay(replace(spent, token_replayed=True))
        return Fail(AuthError(*error_args, **error_kwargs), token_refused=True)
    if outcome is _codes.Outcome.RATE_LIMIT:
        delay = policy.delay(spent.rate_limited + 1)
        if (
            not call.is_order
            and spent.rate_limit_waited + delay <= policy.rate_limit_budget
            and (
                policy.rate_limit_retries is None or spent.rate_limited < policy.rate_limit_retries
            )
        ):
            spent = replace(
                spent,
                rate_limited=spent.rate_limited + 1,
                rate_limit_waited=spent.rate_limit_waited + delay,
            )
            return Retry(delay, spent, "rate limited")
        return Fail(RateLimitError(*error_args, **error_kwargs))
    error_type: type[APIError] = {
        _codes.Outcome.AUTH: AuthError,
        _codes.Outcome.ORDER_REJECTED: OrderRejectedError,
    }.get(outcome, APIError)
    return Fail(error_type(*error_args, **error_kwargs))
