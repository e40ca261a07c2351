"""Printing: aligned tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

import msgspec

__all__ = ["jsonable", "print_json", "print_table", "typed_fields"]


def typed_fields(model: msgspec.Struct) -> dict[str, Any]:
    """A typed model's fields as plain values, without the ``raw`` copy of the body."""
    out = msgspec.to_builtins(model)
    if isinstance(out, dict):
        fields = cast("dict[str, Any]", out)
        fields.pop("raw", None)
        return fields
    return {"value": out}  # pragma: no cover - every model is a struct


def jsonable(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return typed_fields(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in cast("dict[object, Any]", value).items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in cast("list[object] | tuple[object, ...]", value)]
    return value


def print_json(value: Any, *, indent: int | None = None) -> None:
    """One JSON document; Korean text kept readable (no \\u escapes)."""
    text = json.dumps(jsonable(value), ensure_ascii=False, indent=indent, default=str)
    sys.stdout.write(text + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to the widest cell; numbers right-aligned with thousands separators.
    Korean characters count two columns, as a terminal draws them."""
    cells = [[_cell(value) for value in row] for row in rows]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    widths = [_width(h) for h in headers]
    for row in cells:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]
    lines = [_line(headers, widths, numeric)]
    lines += [_line(row, widths, numeric) for row in cells]
    sys.stdout.write("\n".join(lines) + "\n")


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _line(row: Sequence[str], widths: Sequence[int], numeric: Sequence[bool]) -> str:
    parts: list[str] = []
    for text, width, right in zip(row, widths, numeric, strict=True):
        pad = " " * (width - _width(text))
        parts.append(pad + text if right else text + pad)
    return "  ".join(parts).rstrip()
