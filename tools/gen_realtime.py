"""Generate kiwoom_async/_generated/realtime.py from the API fact base (spec.json).

Usage: python tools/gen_realtime.py [path/to/spec.json]

One event class per realtime type of ``websocket.realtime_types`` plus the condition-search
push ``02``, each with a values struct (``StockTradeValues``) holding one str field ``f<FID>``
per FID of the type's table. Every FID becomes a typed property of the event that parses its
field of ``self.values`` on access. Attribute names come from the FID's English name (snake
case), except where ``NAMES`` / ``TYPE_NAMES`` pin a shorter or clearer one; once published, a
name must not change, so add overrides rather than editing the derivation rules.

The output is committed so an installed package never needs the fact base.
tests/test_realtime_decode.py checks the committed module against spec.json.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools._format import format_source  # noqa: E402
from tools._write import write_all  # noqa: E402

OUTPUT = ROOT / "kiwoom_async" / "_generated" / "realtime.py"
LINE_LENGTH = 100

CLASS_NAMES = {
    "00": "OrderFill",
    "04": "Balance",
    "0A": "StockIndicativePrice",
    "0B": "StockTrade",
    "0C": "BestQuote",
    "0D": "OrderBookUpdate",
    "0E": "AfterHoursQuote",
    "0F": "BrokerActivity",
    "0G": "EtfNav",
    "0H": "ExpectedTrade",
    "0I": "GoldPrice",
    "0J": "SectorIndex",
    "0U": "SectorBreadth",
    "0g": "StockInfo",
    "0m": "ElwTheoreticalPrice",
    "0s": "MarketStatus",
    "0u": "ElwIndicators",
    "0w": "ProgramTrading",
    "1h": "ViStatus",
    "02": "ConditionHit",
}

# Pushed for the token's own account: the session delivers them losslessly.
ACCOUNT_TYPES = frozenset({"00", "04"})
# Per the fact base, codes from account data and condition search may carry a market prefix
# letter (A005930); everywhere else the item is the code that was registered.
PREFIXED_ITEM_TYPES = frozenset({"00", "04", "02"})

# Names pinned per FID (all types), then per (type, FID).
NAMES = {
    "10": "price",
    "11": "change",
    "14": "cum_value",
    "15": "volume",
    "20": "time",
    "23": "expected_price",
    "24": "expected_qty",
    "25": "change_sign",
    "26": "volume_change",
    "29": "value_change",
    "30": "volume_ratio",
    "131": "total_ask_qty",
    "132": "total_ask_qty_change",
    "135": "total_bid_qty",
    "136": "total_bid_qty_change",
    "200": "expected_change",
    "201": "expected_change_rate",
    "214": "time_to_open",
    "215": "market_status",
    "228": "strength",
    "238": "expected_change_sign",
    "299": "expected_volume_ratio",
    "337": "exchange",
    "567": "upper_limit_time",
    "568": "lower_limit_time",
    "851": "volume_ratio_same_time",
    "903": "cum_fill_amount",
    "904": "orig_order_no",
    "908": "time",
    "909": "fill_no",
    "910": "fill_price",
    "911": "fill_qty",
    "912": "order_class",
    "914": "unit_fill_price",
    "915": "unit_fill_qty",
    "931": "avg_price",
    "938": "commission",
    "939": "tax",
    "946": "side",
    "950": "today_sell_pnl",
    "990": "realized_pnl",
    "991": "realized_pnl_rate",
    "992": "credit_realized_pnl",
    "993": "credit_realized_pnl_rate",
    "1221": "vi_price",
    "1223": "processing_time",
    "1224": "release_time",
    "2134": "exchange",
    "2135": "exchange_name",
    "2136": "sor",
    "9001": "code",
    "9081": "exchange",
    "9205": "manager_no",
    "10010": "after_hours_price",
    "841": "condition_seq",
    "843": "action",
}
TYPE_NAMES = {
    ("0D", "291"): "expected_price_291",
    ("0D", "292"): "expected_qty_292",
    ("0D", "293"): "expected_change_sign_293",
    ("0D", "294"): "expected_change_294",
    ("0D", "295"): "expected_change_rate_295",
    ("04", "951"): "extra_item_951",
    ("02", "907"): "side",
    ("02", "20"): "time",
}
# Word substitutions of the derived names.
WORDS = {"quantity": "qty", "number": "no", "accumulated": "cum"}
PHRASES = (("p/l", "pnl"), ("sell-side", "sell"), ("buy-side", "buy"))
DROP_PREFIX = ("elw_",)
RESERVED = frozenset(
    {
        "type",
        "name",
        "item",
        "values",
        "is_account",
        "to_dict",
        "direction",
        "asks",
        "bids",
        "entered",
    }
)

# How a value is parsed. price: a price whose +/- is a direction marker (numbers.price);
# int / float: a truly signed number; price_float: a decimal price (index, NAV) whose sign is
# a direction marker; code: a stock code with its market prefix stripped; str: as received.
KINDS = ("str", "code", "price", "int", "float", "price_float")
PRICE_FIDS = frozenset(
    {"10", "16", "17", "18", "23", "27", "28", "291", "305", "306", "307", "901", "910"}
    | {"914", "931", "1221", "1236", "1237", "10010"}
    | {str(fid) for fid in range(41, 61)}
)
FID_KINDS = {
    "9001": "code",
    "9203": "int",
    "904": "int",
    "909": "int",
    "915": "int",
    "311": "int",
    "851": "float",
    "1890": "str",
    "1891": "str",
    "1892": "str",
    "214": "str",
    "620": "float",
    "691": "float",
    "732": "float",
    "852": "float",
    "1497": "float",
    "1498": "float",
    "670": "float",
    "1211": "float",
    "6102": "price_float",
    "6107": "price_float",
    "6110": "float",
    "6113": "float",
    "36": "price_float",
    "9068": "str",
    "9069": "str",
    "9075": "str",
    "9008": "str",
    "946": "str",
    "951": "str",
    "924": "str",
    "1279": "str",
    "919": "str",
    "922": "str",
    "917": "str",
    "297": "str",
    "592": "str",
    "593": "str",
    "689": "str",
    "216": "str",
    "841": "str",
    "843": "str",
}
# Sector indices are sent with a decimal point ("-1762.61"), unlike stock prices.
TYPE_KINDS = {
    (code, fid): kind
    for code in ("0J", "0U")
    for fid, kind in (
        ("10", "price_float"),
        ("16", "price_float"),
        ("17", "price_float"),
        ("18", "price_float"),
        ("11", "float"),
    )
}
# Fallback by the words of the derived name, for FIDs whose table row has no unit.
STR_WORDS = frozenset(
    {
        "code",
        "name",
        "time",
        "colour",
        "flag",
        "date",
        "sign",
        "type",
        "status",
        "kind",
        "reason",
        "info",
        "display",
        "unit",
        "ticker",
        "market",
        "session",
        "side",
    }
)
FLOAT_WORDS = frozenset(
    {
        "rate",
        "ratio",
        "strength",
        "disparity",
        "parity",
        "gearing",
        "volatility",
        "delta",
        "gamma",
        "theta",
        "vega",
        "rho",
        "point",
        "premium",
    }
)
INT_WORDS = frozenset(
    {
        "qty",
        "volume",
        "count",
        "amount",
        "value",
        "cost",
        "price",
        "pnl",
        "estimate",
        "change",
        "commission",
        "tax",
        "interest",
        "total",
        "cap",
    }
)


@dataclass(frozen=True)
class Field:
    fid: str
    ko: str
    en: str
    attr: str
    kind: str
    unit: str
    choices: str


@dataclass(frozen=True)
class RealType:
    code: str
    class_name: str
    name_ko: str
    name_en: str
    item_note: str
    fields: tuple[Field, ...]


def derive_name(en: str) -> str:
    text = en.lower()
    for phrase, short in PHRASES:
        text = text.replace(phrase, short)
    text = re.sub(r"\([^)]*\)", " ", text)
    words = [WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+", text) if w != "level"]
    name = "_".join(words)
    for prefix in DROP_PREFIX:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if not name or name[0].isdigit():
        name = f"f_{name}"
    return name


def derive_kind(code: str, fid: str, meta: dict[str, Any], attr: str) -> str:
    if (code, fid) in TYPE_KINDS:
        return TYPE_KINDS[(code, fid)]
    if fid in FID_KINDS:
        return FID_KINDS[fid]
    if fid in PRICE_FIDS:
        return "price"
    if meta.get("format") or meta.get("values") or meta.get("values_ko"):
        return "str"
    if meta.get("unit") == "percent" or meta.get("decimals"):
        return "float"
    if meta.get("unit") in ("shares", "KRW", "KRW_million", "KRW_100million"):
        return "int"
    words = attr.split("_")
    if any(w in STR_WORDS for w in words):
        return "str"
    if any(w in FLOAT_WORDS for w in words):
        return "float"
    if any(w in INT_WORDS for w in words):
        return "int"
    return "str"


def describe_choices(meta: dict[str, Any]) -> str:
    values = meta.get("values")
    if isinstance(values, dict):
        return ", ".join(f"{k} {v}" for k, v in values.items())
    values_ko = meta.get("values_ko")
    if isinstance(values_ko, list):
        return " / ".join(str(v) for v in values_ko)
    return ""


def build_type(
    code: str, name_ko: str, name_en: str, item_note: str, table: dict[str, Any]
) -> RealType:
    fields: list[Field] = []
    used: set[str] = set()
    for fid, meta in table.items():
        attr = TYPE_NAMES.get((code, fid)) or NAMES.get(fid) or derive_name(meta["en"])
        if attr in used or attr in RESERVED or keyword.iskeyword(attr):
            attr = f"{attr}_{fid}"
        if attr in used:
            raise SystemExit(f"{code}: attribute {attr!r} of FID {fid} is not unique")
        used.add(attr)
        kind = derive_kind(code, fid, meta, attr)
        fields.append(
            Field(
                fid=fid,
                ko=meta.get("ko", ""),
                en=meta["en"],
                attr=attr,
                kind=kind,
                unit=meta.get("unit", "") or "",
                choices=describe_choices(meta),
            )
        )
    return RealType(code, CLASS_NAMES[code], name_ko, name_en, item_note, tuple(fields))


def condition_push_table(ws: dict[str, Any]) -> dict[str, Any]:
    """The 02 push has no realtime_types entry: assemble it from the ka10173 facts."""
    push = ws["messages"]["CNSRREQ_realtime"]["push_fields"]
    rows = ws["condition_search_trs"]["ka10173"]["response_rows"]
    ko = {row["name"]: row for row in rows if row.get("depth") == 2}
    table: dict[str, Any] = {}
    for fid, en in push.items():
        meta: dict[str, Any] = {"en": en, "ko": ko.get(fid, {}).get("ko", "")}
        if "values" in ko.get(fid, {}):
            meta["values"] = ko[fid]["values"]
        if fid == "20":
            meta["format"] = "HHMMSS"
        table[fid] = meta
    return table


def collect(spec: dict[str, Any]) -> list[RealType]:
    ws = spec["websocket"]
    types = [
        build_type(code, t["name_ko"], t["name_en"], t["item"], t["fields"])
        for code, t in ws["realtime_types"].items()
    ]
    name_ko = ws["realtime_type_list"]["02"].split(" (")[0]
    types.append(
        build_type(
            "02",
            name_ko,
            "condition search push (search_type 1)",
            "stock code",
            condition_push_table(ws),
        )
    )
    return types


# --- rendering ----------------------------------------------------------------------------


def width(text: str) -> int:
    """Display width as the formatter counts it: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, first: str, indent: str) -> list[str]:
    """Greedy word wrap; every line leaves room for the closing quotes."""
    lines: list[str] = []
    line = ""
    prefix = first
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and width(prefix + candidate) > LINE_LENGTH - 3:
            lines.append(prefix + line)
            line, prefix = word, indent
        else:
            line = candidate
    lines.append(prefix + line)
    return lines


def docstring(text: str, indent: str) -> list[str]:
    lines = wrap(text, indent + '"""', indent)
    lines[-1] += '"""'
    return lines


RETURNS = {
    "str": "str",
    "code": "str",
    "price": "int | None",
    "int": "int | None",
    "float": "float | None",
    "price_float": "float | None",
}
PARSERS = {
    "str": "",
    "code": "_code",
    "price": "_price",
    "int": "_int",
    "float": "_float",
    "price_float": "_price_float",
}
UNITS = {"KRW_million": "KRW million", "KRW_100million": "KRW 100 million"}
NOTES = {
    "price": "direction marker dropped",
    "price_float": "direction marker dropped",
    "code": "market prefix stripped",
}

HEADER = '''\
"""The typed realtime event classes, one per realtime type. Generated by
tools/gen_realtime.py from the API fact base: edit the generator instead. The public module,
with what these classes mean, is :mod:`kiwoom_async.models.realtime`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, TypeAlias

import msgspec

from kiwoom_async.models._events import FidValues, RealtimeEvent
from kiwoom_async.models._events import ValuesType as _ValuesType
from kiwoom_async.models._events import direction as _direction
from kiwoom_async.models._events import parse_price as _price
from kiwoom_async.models._events import parse_price_float as _price_float
from kiwoom_async.models._events import signed_float as _float
from kiwoom_async.models._events import signed_int as _int
from kiwoom_async.models._events import stock_code as _code

__all__ = [
__ALL_NAMES__
]
'''

FOOTER = """\

EVENT_TYPES: dict[str, type[RealtimeEvent]] = {
__EVENT_TYPES__
}

#: Every typed event class: msgspec decodes a REAL entry straight into one of them by its tag.
TypedEvent: TypeAlias = (
__TYPED_UNION__
)

"""


def render_property(f: Field) -> list[str]:
    ret = RETURNS[f.kind]
    parts = [f"FID {f.fid} {f.ko}: {f.en}" if f.ko else f"FID {f.fid}: {f.en}"]
    unit = "" if "%" in f.en else UNITS.get(f.unit, f.unit)
    extra = [x for x in (unit, NOTES.get(f.kind, "")) if x]
    if extra:
        parts[0] += f" ({'; '.join(extra)})"
    parts[0] += "."
    if f.choices:
        parts.append(f"Values: {f.choices}.")
    lines = ["    @property", f"    def {f.attr}(self) -> {ret}:"]
    lines += docstring(" ".join(parts), "        ")
    get = f"self.values.{field_name(f.fid)}"
    parser = PARSERS[f.kind]
    lines.append(f"        return {parser}({get})" if parser else f"        return {get}")
    return lines


def extras_for(t: RealType) -> list[tuple[str, list[str]]]:
    """Derived properties beyond one-FID-one-attribute."""
    fids = {f.fid: f for f in t.fields}
    out: list[tuple[str, list[str]]] = []
    if "10" in fids:
        out.append(
            (
                "direction",
                [
                    "    @property",
                    "    def direction(self) -> int:",
                    '        """+1 up, -1 down, 0 unchanged: the marker of FID 10 versus the '
                    'reference price."""',
                    "        return _direction(self.values.f10)",
                ],
            )
        )
    if t.code == "0D":
        for side in ("ask", "bid"):
            first_price = 41 if side == "ask" else 51
            first_qty = 61 if side == "ask" else 71
            levels = [(str(first_price + i), str(first_qty + i)) for i in range(10)]
            missing = [fid for pair in levels for fid in pair if fid not in fids]
            if missing:
                raise SystemExit(f"0D: level FIDs {missing} are not in the table")
            body = [
                "    @property",
                f"    def {side}s(self) -> list[tuple[int | None, int | None]]:",
                f'        """(price, quantity) of {side} levels 1-10, best first."""',
                "        v = self.values",
                "        return [",
            ]
            # Spelled out: reading fixed fields beats building FID strings per level.
            body += [
                f"            (_price(v.{field_name(price)}), _int(v.{field_name(qty)})),"
                for price, qty in levels
            ]
            body.append("        ]")
            out.append((f"{side}s", body))
    if t.code == "02":
        out.append(
            (
                "entered",
                [
                    "    @property",
                    "    def entered(self) -> bool:",
                    '        """True when the stock entered the condition (FID 843 "I"), '
                    'False when it left."""',
                    '        return self.values.f843 == "I"',
                ],
            )
        )
    return out


def field_name(fid: str) -> str:
    """The values struct's field of a FID."""
    return f"f{fid}"


def values_class_name(t: RealType) -> str:
    return f"{t.class_name}Values"


def render_values_class(t: RealType) -> list[str]:
    for f in t.fields:
        if not field_name(f.fid).isidentifier():
            raise SystemExit(f"{t.code}: FID {f.fid!r} makes no field name")
    name = values_class_name(t)
    lines = ["", "", f"class {name}(FidValues, kw_only=True):"]
    lines += docstring(f"The ``values`` of a :class:`{t.class_name}` ({t.code}).", "    ")
    lines.append("")
    lines.append("    FIDS: ClassVar[tuple[str, ...]] = (")
    lines += [f'        "{f.fid}",' for f in t.fields]
    lines.append("    )")
    lines.append('    FID_FIELDS: ClassVar[Mapping[str, str]] = {fid: f"f{fid}" for fid in FIDS}')
    lines.append("")
    lines += [
        f'    {field_name(f.fid)}: str = msgspec.field(default="", name="{f.fid}")'
        for f in t.fields
    ]
    return lines


def render_class(t: RealType) -> list[str]:
    lines = render_values_class(t)
    lines += ["", "", f'class {t.class_name}(RealtimeEvent, tag_field="type", tag="{t.code}"):']
    lines += docstring(f"{t.code} {t.name_ko}: {t.name_en}. Item: {t.item_note}.", "    ")
    lines.append("")
    lines.append(f'    type: ClassVar[str] = "{t.code}"')
    if t.code in ACCOUNT_TYPES:
        lines.append("    is_account: ClassVar[bool] = True")
    lines.append(f"    VALUES_TYPE: ClassVar[_ValuesType] = {values_class_name(t)}")
    lines.append("    FID_ATTRS: ClassVar[Mapping[str, str]] = {")
    for f in t.fields:
        lines.append(f'        "{f.fid}": "{f.attr}",')
    lines.append("    }")
    extras = extras_for(t)
    attrs = [f.attr for f in t.fields] + [name for name, _ in extras]
    lines.append("    ATTRS: ClassVar[tuple[str, ...]] = (")
    for attr in attrs:
        lines.append(f'        "{attr}",')
    lines.append("    )")
    lines.append("")
    values = values_class_name(t)
    lines.append(f"    values: {values} = msgspec.field(default_factory={values})")
    if t.code in PREFIXED_ITEM_TYPES:
        lines += [
            "",
            "    def __post_init__(self) -> None:",
            "        # Account and condition-search codes may carry a market prefix (A005930).",
            "        self.item = _code(self.item)",
        ]
    for f in t.fields:
        lines.append("")
        lines += render_property(f)
    for _, body in extras:
        lines.append("")
        lines += body
    return lines


def render(types: list[RealType]) -> str:
    names = ["EVENT_TYPES", "TypedEvent"]
    names += [t.class_name for t in types]
    names += [values_class_name(t) for t in types]
    # The order the formatter's __all__ check wants: constants, classes, then functions.
    names.sort(key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    header = HEADER.replace("__ALL_NAMES__", "\n".join(f'    "{n}",' for n in names))
    lines = [header.rstrip("\n")]
    for t in types:
        lines += render_class(t)
    lines.append("")
    footer = FOOTER.replace(
        "__EVENT_TYPES__", "\n".join(f'    "{t.code}": {t.class_name},' for t in types)
    )
    union = "\n".join(f"    | {t.class_name}" for t in types).replace("| ", "", 1)
    footer = footer.replace("__TYPED_UNION__", union)
    return format_source("\n".join(lines) + "\n" + footer)


def render_all(spec: dict[str, Any]) -> dict[Path, str]:
    return {OUTPUT: render(collect(spec))}


if __name__ == "__main__":
    write_all(render_all)
