"""Typed TR pages as tables: pandas and polars DataFrames, and plain columns for CSV.

A page's table is its list block, one row per element (the candles of a chart, the orders of
``ka10075``); a page without a list block is one row of its own fields. A model with several
list blocks needs ``rows=`` to say which one. Columns keep the models' types: prices,
quantities and amounts are integers (nullable: a missing value stays missing, never 0), rates
are floats, and date and time fields (``dt``, ``*_dt``, ``date``, ``*_tm``...) holding only
``YYYYMMDD`` become dates, only ``YYYYMMDDHHMMSS`` KST datetimes. A column that does not
hold one shape throughout stays text, so nothing the server sent is lost.

pandas and polars are optional: ``pip install 'kiwoom-async[pandas]'`` or
``'kiwoom-async[polars]'``. Without them, :class:`MissingExtraError` names the extra.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, Union, get_args, get_origin

import msgspec

from ._kst import KST
from .errors import KiwoomError, KiwoomValidationError
from .models._convert import TRResponse

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["MissingExtraError", "Table", "table", "to_pandas", "to_polars"]

Kind: TypeAlias = Literal["int", "float", "bool", "text", "date", "datetime"]

# The envelope is the same on every page; as columns it would only repeat itself.
_ENVELOPE = frozenset({"return_code", "return_msg", "raw"})


class MissingExtraError(KiwoomError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module} is not installed: pip install 'kiwoom-async[{extra}]' (or pip install "
            f"{module})"
        )


@dataclass(frozen=True, slots=True)
class Table:
    """Columns in model order, each a list of Python values, and the kind of each."""

    columns: dict[str, list[Any]]
    kinds: dict[str, Kind]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))

    def records(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        rows = zip(*self.columns.values(), strict=True)
        return [dict(zip(names, values, strict=True)) for values in rows]


Pages: TypeAlias = TRResponse | Iterable[TRResponse]


def table(pages: Pages, rows: str | None = None, *, model: type[TRResponse] | None = None) -> Table:
    """The rows of one page, or of several pages of the same TR in order. ``model`` gives
    the columns when there may be no page at all (a pager that found nothing)."""
    page_list = [pages] if isinstance(pages, TRResponse) else list(pages)
    if model is None:
        if not page_list:
            return Table({}, {})
        model = type(page_list[0])
    for page in page_list:
        if type(page) is not model:
            raise KiwoomValidationError(
                f"pages of different TRs in one table: {model.__name__} and {type(page).__name__}"
            )
    key = _list_key(model, rows)
    items: list[msgspec.Struct] = []
    for page in page_list:
        items.extend(getattr(page, key) if key else [page])
    row_type = _row_type(model, key) if key else model
    fields = [f for f in msgspec.structs.fields(row_type) if f.name not in _ENVELOPE]
    columns: dict[str, list[Any]] = {}
    kinds: dict[str, Kind] = {}
    for field in fields:
        kind = _kind(field.type)
        if kind is None:  # a nested list block: not a column
            continue
        values = [getattr(item, field.name) for item in items]
        if kind == "text" and _names_a_moment(field.name):
            kind, values = _dated(values)
        columns[field.name] = values
        kinds[field.name] = kind
    return Table(columns, kinds)


def to_pandas(
    pages: Pages, rows: str | None = None, *, model: type[TRResponse] | None = None
) -> pandas.DataFrame:
    """A pandas DataFrame of :func:`table`: integers as nullable ``Int64``, rates as
    ``float64``, dates as ``datetime64`` (midnight), times as KST-aware datetimes."""
    pd: Any = _require("pandas", "pandas")
    data = table(pages, rows, model=model)
    series: dict[str, Any] = {}
    for name, values in data.columns.items():
        kind = data.kinds[name]
        if kind == "int":
            series[name] = pd.array(values, dtype="Int64")
        elif kind == "float":
            series[name] = pd.array(values, dtype="Float64")
        elif kind == "bool":
            series[name] = pd.array(values, dtype="boolean")
        elif kind in ("date", "datetime"):
            series[name] = pd.to_datetime(pd.Series(values, dtype=object))
        else:
            series[name] = pd.array(values, dtype="string")
    frame: pandas.DataFrame = pd.DataFrame(series, columns=list(data.columns))
    return frame


def to_polars(
    pages: Pages, rows: str | None = None, *, model: type[TRResponse] | None = None
) -> polars.DataFrame:
    """A polars DataFrame of :func:`table`: ``Int64``, ``Float64``, ``Date`` and
    ``Datetime(time_zone="Asia/Seoul")`` columns, missing values as nulls."""
    pl: Any = _require("polars", "polars")
    data = table(pages, rows, model=model)
    dtypes = {
        "int": pl.Int64,
        "float": pl.Float64,
        "bool": pl.Boolean,
        "text": pl.String,
        "date": pl.Date,
        "datetime": pl.Datetime("us", time_zone="Asia/Seoul"),
    }
    schema = {name: dtypes[kind] for name, kind in data.kinds.items()}
    frame: polars.DataFrame = pl.DataFrame(data.columns, schema=schema)
    return frame


def _require(module: str, extra: str) -> types.ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None


def _list_key(model: type[TRResponse], rows: str | None) -> str | None:
    keys = [f.name for f in msgspec.structs.fields(model) if _is_row_list(f.type)]
    if rows is not None:
        if rows not in keys:
            known = ", ".join(keys) if keys else "none"
            raise KiwoomValidationError(
                f"{model.__name__} has no list block {rows!r}; its list blocks: {known}"
            )
        return rows
    if len(keys) > 1:
        raise KiwoomValidationError(
            f"{model.__name__} has {len(keys)} list blocks: choose one with rows= "
            f"({', '.join(keys)})"
        )
    return keys[0] if keys else None


def _is_row_list(annotation: Any) -> bool:
    return get_origin(annotation) is list and _struct_arg(annotation) is not None


def _struct_arg(annotation: Any) -> type[msgspec.Struct] | None:
    args = get_args(annotation)
    if args and isinstance(args[0], type) and issubclass(args[0], msgspec.Struct):
        return args[0]
    return None


def _row_type(model: type[TRResponse], key: str) -> type[msgspec.Struct]:
    for field in msgspec.structs.fields(model):
        if field.name == key:
            row = _struct_arg(field.type)
            if row is not None:
                return row
    raise KiwoomValidationError(f"{model.__name__}.{key} is not a list block")  # pragma: no cover


def _kind(annotation: Any) -> Kind | None:
    if get_origin(annotation) in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = present[0] if len(present) == 1 else annotation
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str:
        return "text"
    return None


_MOMENT_NAMES = frozenset({"dt", "date", "tm", "time"})
_MOMENT_SUFFIXES = ("_dt", "_date", "_tm", "_time")


def _names_a_moment(name: str) -> bool:
    """Only date and time fields are read as moments: an account number or an order number
    may be eight digits too."""
    return name in _MOMENT_NAMES or name.endswith(_MOMENT_SUFFIXES)


def _dated(values: Sequence[Any]) -> tuple[Kind, list[Any]]:
    """A text column as dates or KST datetimes when every non-empty value has that shape."""
    present = [v for v in values if v]
    if not present or not all(isinstance(v, str) and v.isascii() and v.isdigit() for v in present):
        return "text", list(values)
    width = len(present[0])
    if width not in (8, 14) or any(len(v) != width for v in present):
        return "text", list(values)
    try:
        if width == 8:
            return "date", [_date(v) if v else None for v in values]
        return "datetime", [_datetime(v) if v else None for v in values]
    except ValueError:  # digits that are no date (an amount, a code): keep the text
        return "text", list(values)


def _date(text: str) -> date | None:
    if text == "00000000":  # how some account TRs say "no date"
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=KST)
