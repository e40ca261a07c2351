"""Kiwoom sends every number as a string: signed, zero padded, sometimes empty.

The conventions of the fact base (spec.json ``rest_common.numeric_format``):

- A price's leading ``+``/``-`` is a *direction marker* versus the previous close, not a sign:
  ``"-60000"`` is a price of 60000 on a down day. :func:`price` drops it and
  :func:`direction` keeps it.
- Changes, rates and net quantities are truly signed: :func:`signed_int` / :func:`signed_float`.
- Zero padding (``"000000017598258"``, ``"-00000000196888"``) is ignored.
- A doubled marker (``"--714"``, seen in investor net-buy fields) is a direction marker in front
  of a negative value: it reads as -714.
- An empty (or blank) string is a missing value: ``None``.
- Index values of sector charts are index x 100 without a point: ``"252127"`` is 2521.27.
- Stock codes may carry a market prefix letter (``A005930``); :func:`stock_code` strips it.

Every parser raises :class:`~kiwoom_async.errors.MalformedValueError` (a ``KiwoomError`` and a
``ValueError``) on text that is not a number, or that is longer than any number field
(``MAX_NUMBER_LENGTH``), so the caller can count and skip a malformed record instead of passing
a wrong value on, and no server text reaches Python's own limits on integer conversion.
"""

from __future__ import annotations

from ..errors import MalformedValueError

__all__ = [
    "MAX_NUMBER_LENGTH",
    "direction",
    "index_x100",
    "price",
    "signed_float",
    "signed_int",
    "stock_code",
    "unsigned_int",
]


MAX_NUMBER_LENGTH = 64
"""The fact base's longest number field is 60 characters wide; a 64-bit value needs 20."""


def signed_int(raw: str) -> int | None:
    """A truly signed integer: ``"+693"`` -> 693, ``"-00000000196888"`` -> -196888,
    ``"--714"`` -> -714, ``""`` -> None."""
    if len(raw) <= MAX_NUMBER_LENGTH:
        try:
            return int(raw)  # the common case, at C speed
        except ValueError:
            pass
    text = _unmarked(raw)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise MalformedValueError("", raw) from None


def unsigned_int(raw: str) -> int | None:
    """A magnitude whose marker carries no meaning for the value: ``"+00061300"`` -> 61300."""
    value = signed_int(raw)
    return None if value is None else abs(value)


def price(raw: str) -> int | None:
    """A price: the +/- is a direction marker, so the value is its magnitude."""
    return unsigned_int(raw)


def direction(raw: str) -> int:
    """The direction marker of a price: +1 up, -1 down, 0 unchanged or missing."""
    if not raw:
        return 0
    first = raw[0]
    if first == "+":
        return 1
    if first == "-":
        return -1
    return 0


def signed_float(raw: str) -> float | None:
    """A signed decimal such as a rate: ``"+26.07"`` -> 26.07, ``"-0.24"`` -> -0.24."""
    if len(raw) <= MAX_NUMBER_LENGTH:
        try:
            return float(raw)
        except ValueError:
            pass
    text = _unmarked(raw)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise MalformedValueError("", raw) from None


def _unmarked(raw: str) -> str | None:
    """Text the plain parsers refused: None when blank, else without a doubled marker (the
    caller's parser then refuses anything still not a number)."""
    text = raw.strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_LENGTH:
        raise MalformedValueError("", raw, f"longer than {MAX_NUMBER_LENGTH} characters")
    if len(text) > 2 and text[0] in "+-" and text[1] in "+-":
        return text[1:]
    return text


def index_x100(raw: str) -> float | None:
    """A sector index sent as index x 100: ``"252127"`` -> 2521.27 (sign kept)."""
    value = signed_int(raw)
    return None if value is None else value / 100


def stock_code(raw: str) -> str:
    """Strip a market prefix letter: ``"A005930"`` -> ``"005930"``; other text is unchanged.

    An exchange suffix stays, since it says where the order or quote lives:
    ``"A005930_AL"`` -> ``"005930_AL"``. (The fact base shows suffixed codes in requests and
    in one ranking answer, ka10039, and prefixed ones in account answers; a code with both is
    not seen there, so this is the conservative reading should one appear.)"""
    if len(raw) == 10 and raw[7:] in _EXCHANGE_SUFFIXES:
        return stock_code(raw[:7]) + raw[7:]
    if (
        len(raw) == 7
        and raw[0] in "AJQ"
        and raw[1].isdigit()
        and raw[2:].isascii()
        and raw[2:].isalnum()
    ):
        return raw[1:]  # also newer codes with letters, such as A0009K0
    return raw


_EXCHANGE_SUFFIXES = ("_NX", "_AL")
