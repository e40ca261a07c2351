"""One exception tree for the whole library. Messages carry TR ids, codes and server
messages, never an app key, secret key or token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class KiwoomError(Exception):
    """Root of every error this library raises."""


# --- bad input, raised before anything is sent ------------------------------------------


class KiwoomValidationError(KiwoomError, ValueError):
    """The caller's input is invalid; nothing was sent."""


class UnknownTRError(KiwoomValidationError):
    def __init__(self, api_id: object) -> None:
        self.api_id = api_id
        super().__init__(f"unknown TR id {api_id!r}: not in the TR registry")


class RealOrderNotAllowedError(KiwoomValidationError):
    """An order on env="real" without ``allow_real_orders=True``; nothing was sent."""


class InvalidStockCodeError(KiwoomValidationError):
    """A stock code that is not a six-character KRX code (with an exchange suffix only where
    the TR takes one); nothing was sent."""

    def __init__(self, api_id: str, code: object, reason: str) -> None:
        self.api_id = api_id
        self.code = code
        super().__init__(f"{api_id}: stock code {code!r} {reason}")


class InvalidOrderError(KiwoomValidationError):
    """An order field breaks the rules the server applies (quantity, price for the trade
    type, exchange, trade type); nothing was sent. ``field`` names the wire field."""

    def __init__(self, api_id: str, field: str, message: str) -> None:
        self.api_id = api_id
        self.field = field
        super().__init__(f"{api_id} {field}: {message}")


# --- answers from the server --------------------------------------------------------------


class APIError(KiwoomError):
    """The server answered with a non-zero ``return_code`` (or an HTTP error with a body)."""

    def __init__(
        self,
        api_id: str,
        return_code: int,
        return_msg: str,
        *,
        detail_code: int | None = None,
        http_status: int = 200,
        retries_taken: int = 0,
    ) -> None:
        self.api_id = api_id
        self.return_code = return_code
        self.return_msg = return_msg
        self.detail_code = detail_code
        self.http_status = http_status
        self.retries_taken = retries_taken
        detail = f", detail {detail_code}" if detail_code is not None else ""
        super().__init__(
            f"{api_id}: return_code {return_code}{detail} (HTTP {http_status}): {return_msg}"
        )


class AuthError(APIError):
    """Credentials or token refused (8001-8050 family, HTTP 401, return_code 3)."""


class TokenBudgetError(KiwoomError):
    """The token manager asked for more tokens than its budget allows (``issue_budget``): a
    server, clock or bug making it ask again and again. Nothing was sent; ``retry_at``
    (``time.time()``) is when the budget allows the next request."""

    def __init__(self, message: str, *, retry_at: float) -> None:
        self.retry_at = retry_at
        super().__init__(message)


class RateLimitError(APIError):
    """The server's request budget was exceeded (return_code 5, [1700]/[1701]/[1702], HTTP 429)
    and the retry budget ran out (or the TR is an order, which is never resent)."""


class OrderRejectedError(APIError):
    """The server refused an order (return_code 20, ``[2000](RCxxxx:...)``); nothing was placed."""


# --- transport ----------------------------------------------------------------------------


class TransportError(KiwoomError):
    """The request did not get a usable answer: connection error, timeout, 5xx, bad body."""

    def __init__(self, api_id: str, message: str, *, retries_taken: int = 0) -> None:
        self.api_id = api_id
        self.retries_taken = retries_taken
        super().__init__(f"{api_id}: {message}")


class SessionClosedError(TransportError):
    """The session was closed: before this call, or while it waited (its own close, not the
    caller's cancellation, interrupted it). An order that raises it was not sent; one that
    may have left when the session closed raises :class:`OrderStatusUnknownError` instead."""


class KiwoomTimeoutError(TransportError):
    """No answer within the timeout."""


class MalformedResponseError(TransportError):
    """The server's body was not the JSON object the API sends."""


class OrderStatusUnknownError(KiwoomError):
    """An order request may have reached the server but its answer was lost.

    The library never resends it. Look the order up (``reconcile`` on the typed order API, or
    the open/filled-orders TRs ka10075 / ka10076 / kt00007) before placing it again.

    When the order went through the typed order API, ``sent_at`` holds the wall-clock time
    (``time.time()``) just before the request left and ``idempotency_key`` the caller's key,
    so that reconciliation can narrow its search and settle the ledger entry.
    """

    sent_at: float | None = None
    idempotency_key: str | None = None

    def __init__(self, api_id: str, body: Mapping[str, Any], cause: str) -> None:
        self.api_id = api_id
        self.body: dict[str, Any] = dict(body)
        self.cause = cause
        super().__init__(
            f"{api_id}: order state unknown ({cause}); it was sent at most once and was not "
            f"resent: reconcile before retrying. body={self.body}"
        )


# --- order safety -------------------------------------------------------------------------


class IdempotencyError(KiwoomError):
    """An idempotency key was reused with a different order, or while its first use is
    still unresolved."""


class LedgerCorruptError(IdempotencyError):
    """A ledger record other than a torn last one cannot be read. Every key is refused until
    the file is repaired: the unreadable record may be the one that blocks a key whose order
    may already be placed."""


# --- realtime -----------------------------------------------------------------------------


class MalformedValueError(KiwoomError, ValueError):
    """A value the server sent cannot be read as its field's type: text that is not a number,
    or a number far longer than any field holds (more than 64 characters). ``field`` names the
    field where the reader knows it; ``raw`` is the value, cut to 80 characters."""

    def __init__(self, field: str, raw: str, reason: str = "not a number") -> None:
        self.field = field
        self.raw = raw if len(raw) <= 80 else f"{raw[:77]}..."
        self.reason = reason
        where = f"field {field!r}: " if field else ""
        super().__init__(f"{where}{reason}: {self.raw!r} ({len(raw)} characters)")


class RealtimeError(KiwoomError):
    """Root of the realtime (WebSocket) family."""


class LoginRefusedError(RealtimeError):
    def __init__(self, return_code: int, return_msg: str, detail_code: int | None) -> None:
        self.return_code = return_code
        self.return_msg = return_msg
        self.detail_code = detail_code
        super().__init__(f"LOGIN refused: return_code {return_code}: {return_msg}")


class SubscriptionError(RealtimeError):
    def __init__(self, trnm: str, return_code: int, return_msg: str) -> None:
        self.trnm = trnm
        self.return_code = return_code
        self.return_msg = return_msg
        super().__init__(f"{trnm} refused: return_code {return_code}: {return_msg}")


class ConnectionClosedError(RealtimeError):
    """The connection dropped while a request was waiting for its answer, or the session is
    closed."""


class SessionTakenOverError(RealtimeError):
    """SYSTEM R10001: another connection with the same app key took over this session."""


class EventQueueOverflowError(RealtimeError):
    """The consumer fell behind: the queue was full under the ``raise`` policy, or an account
    event (fill, balance) could not be queued. Account events are never dropped."""
