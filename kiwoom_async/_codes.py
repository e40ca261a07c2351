"""What a Kiwoom answer means: one table from (HTTP status, return_code, return_msg) to an
outcome, shared by REST and realtime.

The fact base lists several forms for the same condition: a bad token is HTTP 401, or HTTP 200
with return_code 3 and ``[8005:...]`` in the message, or return_code 8005 itself; the WebSocket
LOGIN puts ``CODE=8005`` in its message; return_code may arrive as ``"0000"``.
"""

from __future__ import annotations

import enum
import re

TOKEN_CODES = frozenset({8005, 8031, 8103})
"""Detail codes after which a fresh token may succeed (invalid, expired, re-login needed)."""
RATE_LIMIT_CODES = frozenset({1700, 1701, 1702})
AUTH_CODE_RANGE = range(8000, 8200)

RC_AUTH = 3
RC_RATE_LIMIT = 5
RC_ORDER_REJECTED = 20

_DETAIL = re.compile(r"\[(\d{3,6})\s*[:\]]|CODE\s*=\s*(\d{3,6})")


class Outcome(enum.Enum):
    OK = "ok"
    TOKEN = "token"
    """The token was refused: invalidate it, fetch a new one, replay once."""
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    """Credentials refused for a reason a new token does not fix."""
    ORDER_REJECTED = "order_rejected"
    API = "api"


def return_code(value: object) -> int:
    """Normalise ``return_code``: ints pass, numeric strings (``"0000"``) convert, anything
    else (missing, garbage) is -1 so it can never read as success."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return -1
    return -1


def detail_code(message: str) -> int | None:
    """The first ``[NNNN:``, ``[NNNN]`` or ``CODE=NNNN`` in a server message."""
    match = _DETAIL.search(message)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


# return_code 5 means "request count exceeded" (fact base, peer-observed). Without a detail
# code, the message decides: the limit's own wording (or none at all) is rate limiting; any
# other text (``종목코드 오류``, a bad stock code) is an error that waiting does not fix, and
# retrying it would only spend budget and hide the message behind a RateLimitError.
_RATE_LIMIT_WORDS = ("허용된 요청", "요청 개수", "초과", "유량", "limit")


def _is_rate_limit_message(message: str) -> bool:
    text = message.strip()
    return not text or any(word in text for word in _RATE_LIMIT_WORDS)


def classify(http_status: int, code: int, detail: int | None, message: str = "") -> Outcome:
    if http_status == 401:
        return Outcome.TOKEN
    if http_status == 429:
        return Outcome.RATE_LIMIT
    if code == 0:
        return Outcome.OK
    if code in TOKEN_CODES or detail in TOKEN_CODES:
        return Outcome.TOKEN
    if code in RATE_LIMIT_CODES or detail in RATE_LIMIT_CODES:
        return Outcome.RATE_LIMIT
    if code == RC_RATE_LIMIT:
        # [1634] (ka10095 batch size) also comes as return_code 5; waiting does not fix it.
        if detail is None and _is_rate_limit_message(message):
            return Outcome.RATE_LIMIT
        return Outcome.API
    if code == RC_AUTH:
        # return_code 3 without a detail code is still a refused token.
        return Outcome.TOKEN if detail is None else Outcome.AUTH
    if code in AUTH_CODE_RANGE or (detail is not None and detail in AUTH_CODE_RANGE):
        return Outcome.AUTH
    if code == RC_ORDER_REJECTED:
        return Outcome.ORDER_REJECTED
    return Outcome.API
