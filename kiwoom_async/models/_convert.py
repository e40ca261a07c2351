"""Shared machinery of the typed TR models: request checks and field decoders.

The model modules (quote, order, account, chart) are generated from the API fact base and
only declare fields; the behaviour they share lives here so it is written once.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    NamedTuple,
    Self,
    TypeAlias,
    TypeGuard,
    TypeVar,
    cast,
)

import msgspec

from kiwoom_async.errors import KiwoomValidationError, MalformedValueError, UnknownTRError
from kiwoom_async.models import numbers

if TYPE_CHECKING:
    import pandas
    import polars

log = logging.getLogger("kiwoom_async.models")

RowT = TypeVar("RowT")

__all__ = [
    "Body",
    "FieldRule",
    "ResponseDecodeError",
    "TRRequest",
    "TRResponse",
    "UnknownFields",
    "build_request",
    "code",
    "decimal_price",
    "decode_response",
    "direction",
    "index",
    "index_price",
    "integer",
    "number",
    "price",
    "return_code",
    "return_msg",
    "rows",
    "text",
    "unknown_keys",
]


# --- requests -----------------------------------------------------------------------------


class FieldRule(NamedTuple):
    """What the server accepts in one request field."""

    name: str
    required: bool = False
    max_len: int | None = None
    # None means any code is accepted: either the field takes free text or the spec's code
    # list is known to be incomplete.
    allowed: tuple[str, ...] | None = None
    # Quantities and prices: the caller may pass an int, the wire carries digits.
    numeric: bool = False
    # Dollar amounts: a Decimal, int, float or digits with at most this many decimals.
    decimals: int | None = None
    # The attribute holding the field where the wire name is not a Python name ("from").
    attr: str = ""

    @property
    def attribute(self) -> str:
        return self.attr or self.name


class TRRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every request model: checks its fields when built and renders the JSON body."""

    api_id: ClassVar[str]
    rules: ClassVar[tuple[FieldRule, ...]]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`KiwoomValidationError` if the server would refuse these fields."""
        for rule in self.rules:
            _check(self.api_id, rule, getattr(self, rule.attribute))

    def to_body(self) -> dict[str, str]:
        """The JSON body Kiwoom expects: every field, every value a string."""
        self.validate()
        return {rule.name: _wire(getattr(self, rule.attribute), rule) for rule in self.rules}


def _wire(value: object, rule: FieldRule | None = None) -> str:
    if isinstance(value, str):
        return value
    if rule is not None and rule.decimals is not None:
        return _decimal_text(value)
    return str(value)


def _decimal_text(value: object) -> str:
    """Plain digits with a point, never an exponent: Decimal("1E+2") is sent as "100"."""
    if isinstance(value, float):
        value = Decimal(repr(value))  # the shortest text that reads back as this float
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check(api_id: str, rule: FieldRule, value: object) -> None:
    where = f"{api_id} field {rule.name!r}"
    if rule.decimals is not None:
        _check_decimal(where, rule, value)
        return
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise KiwoomValidationError(f"{where}: expected a string, got {type(value).__name__}")
    if isinstance(value, int) and not rule.numeric:
        raise KiwoomValidationError(f"{where}: expected a string, got int {value}")
    text = _wire(value)
    if text == "":
        if rule.required:
            raise KiwoomValidationError(f"{where} is required and must not be empty")
        return
    if rule.numeric and not (text.isascii() and text.isdigit()):
        raise KiwoomValidationError(f"{where}: {value!r} is not a non-negative whole number")
    _check_text(where, rule, text)


def _check_text(where: str, rule: FieldRule, text: str) -> None:
    if rule.max_len is not None and len(text) > rule.max_len:
        raise KiwoomValidationError(
            f"{where}: {text!r} is {len(text)} characters, longer than the maximum {rule.max_len}"
        )
    if rule.allowed is not None and text not in rule.allowed:
        raise KiwoomValidationError(
            f"{where}: {text!r} is not an allowed code; allowed: {', '.join(rule.allowed)}"
        )


_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")


def _check_decimal(where: str, rule: FieldRule, value: object) -> None:
    """A non-negative amount with at most ``rule.decimals`` places: what a USD price is."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise KiwoomValidationError(
            f"{where}: expected a Decimal, int, float or string, got {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise KiwoomValidationError(f"{where}: {value!r} is not a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise KiwoomValidationError(f"{where}: {value!r} is not a finite number")
    text = _wire(value, rule)
    if text == "":
        if rule.required:
            raise KiwoomValidationError(f"{where} is required and must not be empty")
        return
    if not _DECIMAL_TEXT.fullmatch(text):
        raise KiwoomValidationError(f"{where}: {value!r} is not a non-negative amount")
    places = len(text.partition(".")[2])
    if places > (rule.decimals or 0):
        raise KiwoomValidationError(
            f"{where}: {value!r} has {places} decimal places; at most {rule.decimals} are sent"
        )
    _check_text(where, rule, text)


# --- responses ----------------------------------------------------------------------------


class ResponseDecodeError(MalformedValueError):
    """A response field could not be read as the type the spec gives it (a malformed number,
    or a list block that is not a list). The caller may count and skip the record."""

    def __init__(self, field: str, value: object, reason: str, api_id: str = "") -> None:
        self.field = field
        self.value = value
        self.raw = shown = _shown(value)
        self.reason = reason
        self.api_id = api_id
        prefix = f"{api_id}: " if api_id else ""
        ValueError.__init__(self, f"{prefix}field {field!r}: {reason}: {shown}")

    def for_tr(self, api_id: str) -> ResponseDecodeError:
        return ResponseDecodeError(self.field, self.value, self.reason, api_id)


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's conversion limit, or something holding one
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= 80 else f"{text[:77]}... ({len(text)} characters)"


class TRResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every response model: the envelope plus the decoded body as received."""

    api_id: ClassVar[str]

    return_code: int = 0
    """Envelope code: 0 is success."""
    return_msg: str = ""
    """Envelope message from the server."""
    raw: dict[str, Any] = msgspec.field(default_factory=dict)  # pyright: ignore[reportUnknownVariableType]
    """The whole decoded body, including fields the model does not declare."""

    known_keys: ClassVar[frozenset[str] | None] = None
    """The top-level wire keys this model reads (None: not tracked)."""
    row_keys: ClassVar[Mapping[str, frozenset[str]]] = {}
    """Per list key (and its aliases): the wire keys of a row this model reads."""

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Self:
        """Build the model from a decoded body; every generated response model defines it."""
        raise TypeError(f"{cls.__name__} is a base class: decode with a TR's response model")

    def to_pandas(self, rows: str | None = None) -> pandas.DataFrame:
        """This page's rows as a pandas DataFrame (``pip install 'kiwoom-async[pandas]'``);
        see :mod:`kiwoom_async.dataframes`."""
        from kiwoom_async.dataframes import to_pandas

        return to_pandas(self, rows)

    def to_polars(self, rows: str | None = None) -> polars.DataFrame:
        """This page's rows as a polars DataFrame (``pip install 'kiwoom-async[polars]'``);
        see :mod:`kiwoom_async.dataframes`."""
        from kiwoom_async.dataframes import to_polars

        return to_polars(self, rows)


# Decoders: each takes the body (or one list row) and a wire key. A missing key reads like
# the empty string the server sends for a missing value.


def _string(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) or (
        isinstance(value, int) and not isinstance(value, bool) and -_MAX_INT < value < _MAX_INT
    ):
        # Some peers see numbers where the spec promises strings.
        return str(value)
    raise ResponseDecodeError(key, value, "expected a string")


# Beyond any field, and below Python's limit on int-to-text conversion.
_MAX_INT = 10**numbers.MAX_NUMBER_LENGTH


def text(raw: Mapping[str, Any], key: str) -> str:
    """A code, date, time or name: kept as sent."""
    return _string(raw, key)


def code(raw: Mapping[str, Any], key: str) -> str:
    """A stock code with any market prefix letter removed (``A005930`` -> ``005930``)."""
    return numbers.stock_code(_string(raw, key))


def integer(raw: Mapping[str, Any], key: str) -> int | None:
    """A truly signed whole number (change, amount, quantity, net figure)."""
    value = _string(raw, key)
    try:
        return numbers.signed_int(value)
    except ValueError:
        raise ResponseDecodeError(key, value, "not a whole number") from None


def number(raw: Mapping[str, Any], key: str) -> float | None:
    """A signed decimal: rates, ratios, foreign-currency amounts. A trailing ``%`` (seen on
    margin rates such as ``"20%"``) is dropped."""
    value = _string(raw, key)
    try:
        return numbers.signed_float(value[:-1] if value.endswith("%") else value)
    except ValueError:
        raise ResponseDecodeError(key, value, "not a number") from None


def price(raw: Mapping[str, Any], key: str) -> int | None:
    """A price: its leading +/- is a direction marker, so the value is the magnitude."""
    value = _string(raw, key)
    try:
        return numbers.price(value)
    except ValueError:
        raise ResponseDecodeError(key, value, "not a price") from None


def decimal_price(raw: Mapping[str, Any], key: str) -> float | None:
    """A price with decimals (dollars, index levels): like :func:`price`, its +/- is a
    direction marker, so the value is the magnitude (``"-145.5000"`` -> 145.5)."""
    value = number(raw, key)
    return None if value is None else abs(value)


def direction(raw: Mapping[str, Any], key: str) -> int:
    """The direction marker of a price: +1 up, -1 down, 0 unchanged or missing."""
    return numbers.direction(_string(raw, key))


def index(raw: Mapping[str, Any], key: str) -> float | None:
    """A sector index sent as index x 100 (``"252127"`` -> 2521.27)."""
    value = _string(raw, key)
    try:
        return numbers.index_x100(value)
    except ValueError:
        raise ResponseDecodeError(key, value, "not an index value") from None


def return_code(raw: Mapping[str, Any]) -> int:
    """The envelope code; some peers saw it as a numeric string. Official examples of some TRs
    (ka10030, ka10084, several US TRs) spell it ``returnCode``: read when ``return_code`` is
    absent."""
    value = raw.get("return_code", raw.get("returnCode", 0))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only, one optional sign, bounded: isdigit() also admits "²".
        digits = text[1:] if text[:1] in ("+", "-") else text
        if digits.isascii() and digits.isdigit() and len(digits) <= numbers.MAX_NUMBER_LENGTH:
            return int(text)
    raise ResponseDecodeError("return_code", value, "not a whole number")


def return_msg(raw: Mapping[str, Any]) -> str:
    """The envelope message, under ``return_msg`` or the examples' ``returnMsg``."""
    return _string(raw, "return_msg" if "return_msg" in raw else "returnMsg")


def index_price(raw: Mapping[str, Any], key: str) -> float | None:
    """An index level (x 100 on the wire): like a price, its +/- is a direction marker, since
    an index cannot be negative (``"-239417"`` -> 2394.17, direction -1)."""
    value = index(raw, key)
    return None if value is None else abs(value)


def rows(
    raw: Mapping[str, Any], key: str, row: Callable[[dict[str, Any]], RowT], *aliases: str
) -> list[RowT]:
    """A list block, each element built by ``row``; missing or empty reads as no rows.
    ``aliases``: other keys the same rows are known to arrive under, read when ``key`` is
    absent."""
    value = raw.get(key)
    if value is None:
        for alias in aliases:
            value = raw.get(alias)
            if value is not None:
                key = alias
                break
    if value is None or value == "":
        return []
    if not _is_rows(value):
        raise ResponseDecodeError(key, value, "expected a list of objects")
    return [row(item) for item in value]


def _is_rows(value: object) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(value, list) and all(
        isinstance(item, dict) for item in cast("list[object]", value)
    )


def _is_row(item: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(item, dict)


# --- keys no model knows ----------------------------------------------------------------


def unknown_keys(model: type[TRResponse], raw: Mapping[str, Any]) -> list[str]:
    """The keys of ``raw`` that ``model`` does not read: top-level ones as they are, row keys
    as ``list_key[].key``. They stay in ``raw``; this only names them."""
    known = model.known_keys
    if known is None:
        return []
    # Every typed call runs this: the common case (nothing unknown) allocates nothing.
    found = [] if known.issuperset(raw) else [key for key in raw if key not in known]
    for list_key, row_known in model.row_keys.items():
        block = raw.get(list_key)
        if not isinstance(block, list):
            continue
        seen: set[str] = set()  # the only allocation of a list with nothing unknown
        for item in cast("list[object]", block):
            if _is_row(item) and not row_known.issuperset(item):
                for key in item:
                    if key not in row_known and key not in seen:
                        seen.add(key)
                        found.append(f"{list_key}[].{key}")
    return found


class UnknownFields:
    """Counts, per (TR, key), the keys typed models met and do not know, and logs each at
    WARNING the first time this process sees it: a change on the server's side shows the
    day it happens."""

    _logged: ClassVar[set[tuple[str, str]]] = set()

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def __repr__(self) -> str:
        return f"<UnknownFields {dict(self.counts)}>"

    def record(self, model: type[TRResponse], raw: Mapping[str, Any]) -> None:
        for key in unknown_keys(model, raw):
            where = (model.api_id, key)
            self.counts[where] += 1
            if where not in self._logged:
                self._logged.add(where)
                log.warning(
                    "%s: the server sent %r, which the typed model does not know; it is kept "
                    "in .raw",
                    model.api_id,
                    key,
                )


# --- entry points (the registries live in tr.py) ------------------------------------------

Body: TypeAlias = bytes | str | Mapping[str, Any]
"""A response body: raw JSON bytes or text, or an already decoded object."""


def decode_response(models: Mapping[str, type[TRResponse]], api_id: str, body: Body) -> TRResponse:
    model = models.get(api_id)
    if model is None:
        raise UnknownTRError(api_id)
    try:
        decoded: object = msgspec.json.decode(body) if isinstance(body, (bytes, str)) else body
    except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:
        raise ResponseDecodeError("<body>", _shown(body), f"not JSON ({exc})", api_id) from None
    if isinstance(decoded, Mapping) and not isinstance(decoded, dict):
        decoded = dict(cast("Mapping[str, Any]", decoded))
    if not isinstance(decoded, dict):
        raise ResponseDecodeError("<body>", decoded, "expected a JSON object", api_id)
    try:
        return model.from_raw(cast("dict[str, Any]", decoded))
    except ResponseDecodeError as exc:
        raise exc.for_tr(api_id) from None


def build_request(
    models: Mapping[str, type[TRRequest]], api_id: str, fields: Mapping[str, object]
) -> TRRequest:
    model = models.get(api_id)
    if model is None:
        raise UnknownTRError(api_id)
    known = {rule.name: rule for rule in model.rules}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise KiwoomValidationError(
            f"{api_id}: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    missing = [name for name, rule in known.items() if rule.required and name not in fields]
    if missing:
        raise KiwoomValidationError(f"{api_id}: missing required field(s) {', '.join(missing)}")
    return model(**{known[name].attribute: value for name, value in fields.items()})
