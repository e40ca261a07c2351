"""Generate the typed TR models (kiwoom_async/models/{quote,order,account,chart,tr}.py)
from the API fact base (spec.json).

Usage: python tools/gen_models.py [path/to/spec.json]

The output is committed so an installed package never needs the fact base.
tests/test_models.py re-renders from spec.json and compares with the committed files.

How a response field is decoded (see ``field_kind``):

- ``code``:   stock codes, market prefix letter stripped (``A005930`` -> ``005930``).
- ``text``:   fields with allowed ``values`` or a date/time ``format``, names, order numbers.
- ``index``:  unit ``index_x100`` (sector index values) -> float.
- ``number``: unit ``percent`` or fixed ``decimals`` -> float with a true sign.
- ``price``:  absolute prices (``*_pric``, ``*_prc``, ``*_uv``, quote levels ``*bid``...) ->
  magnitude plus a ``<name>_dir`` attribute holding the +1/-1/0 direction marker.
- ``integer``: every other amount, quantity, change or net figure -> int with a true sign.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_FOR_IMPORTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_FOR_IMPORTS))

from tools._format import format_source  # noqa: E402
from tools._names import SECTIONS, camel, class_name, fill_titles  # noqa: E402
from tools._write import write_all  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "kiwoom_async" / "_generated"
MODELS_DIR = GENERATED / "models"
LINE = 100

# Request facts corrected where the official table contradicts the official example.
REQUEST_FIXES: dict[tuple[str, str], dict[str, Any]] = {
    # The table swaps the two lengths (base_dt 3, inds_cd 8); the example sends an 8-digit date.
    ("ka20007", "base_dt"): {"length": 8},
    ("ka20007", "inds_cd"): {"length": 3},
    # The official examples send tic_scope "" for the gold tick/minute charts.
    ("ka50079", "tic_scope"): {"required": False},
    ("ka50080", "tic_scope"): {"required": False},
    # The table lists only "5"; the official examples send "1".
    ("kt50030", "mrkt_deal_tp"): {
        "extra_values": {"1": "also accepted: the official example sends it"}
    },
    ("kt50075", "mrkt_deal_tp"): {
        "extra_values": {"1": "also accepted: the official example sends it"}
    },
}

# Stock-code request fields whose spec allows an exchange suffix (_NX, _AL) may be up to
# this long even where the table gives 6.
SUFFIXED_CODE_LEN = 9

# Response fields with no unit in the table, read from their names and the official examples.
UNITLESS_KINDS: dict[str, str] = {
    "acc_trde_qty": "integer",
    "avg_pric_pre": "integer",
    "basis": "number",
    "buy_uv": "price",
    "cntr_str": "number",
    # ka20005's official example row (a daily row, under the daily list's key) carries a date.
    "dt": "text",
    "crd_remn_rt": "number",
    "cur_prc": "price",
    "day_stk_asst": "integer",
    "dbrt_trde_rpy_sum": "integer",
    "dbst_bal": "integer",
    "evlt_amt": "integer",
    "evltv_prft": "integer",
    "exp_acc_trde_qty": "integer",
    "exp_cntr_trde_qty": "integer",
    "fc_cmsn": "number",
    "fc_dly_sum": "number",
    "fc_entra": "number",
    "fc_exct_amt": "number",
    "fc_trde_amt": "number",
    "fc_trde_tax": "number",
    "fc_uncl_ocr": "number",
    "for_dt_acc": "integer",
    "for_netprps": "integer",
    "frgn_pay_txam": "number",
    "ind_netprps": "integer",
    "kospi200": "number",
    "last_tic_cnt": "integer",
    "orgn_dt_acc": "integer",
    "orgn_netprps": "integer",
    "pre_rt": "number",
    "pred_pre": "integer",
    "prsm_avg_pric": "price",
    "remn_rcvord_sum": "integer",
    "rmnd_qty": "integer",
    "rpym_sum": "integer",
    "rpym_sum_fr": "number",
    "stop_pric": "price",
    "sum_cmsn": "integer",
    "tax_sum_cmsn": "integer",
    "tdy_sel_pl_1": "number",
    "tot_buy_amt": "integer",
    "tot_buy_cnt": "integer",
    "tot_evlt_amt": "integer",
    "tot_evltv_prft": "integer",
    "tot_sel_cnt": "integer",
    "trde_prica": "integer",
    "trde_qty": "integer",
    "trde_qty_jwa_cnt": "integer",
    "txon_base_pric": "number",
    "uncl_ocr": "integer",
    "uv_exrt": "number",
    "vlbl_nowrm": "integer",
}
# Order counts per quote level: buy_1bid_cnt ... sel_5bid_cnt.
UNITLESS_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(buy|sel)_\d+bid_cnt$"), "integer"),
)

# Single fields whose official examples contradict the table's unit.
KIND_FIXES: dict[tuple[str, str], str] = {
    # Realized P/L reports average buy prices and P/L with decimals ("97602.96").
    ("ka10072", "buy_uv"): "number",
    ("ka10072", "tdy_sel_pl"): "number",
    ("ka10073", "buy_uv"): "number",
    ("ka10073", "tdy_sel_pl"): "number",
    ("ka10077", "buy_uv"): "number",
    ("ka10077", "tdy_sel_pl"): "number",
    # The break-even purchase price carries decimals ("153380.50").
    ("kt50020", "pl_prch_prc"): "number",
    # Sector chart changes are on the same index x 100 scale as the index values beside them
    # ("388193" with a change of "18031"); the table gives them no unit.
    ("ka20004", "pred_pre"): "index",
    ("ka20005", "pred_pre"): "index",
    # The official example carries text ("현금") in this commission field.
    ("ka10073", "tdy_htssel_cmsn"): "text",
}

CODE_FIELDS = frozenset({"stk_cd", "stk_cd_1"})
# An absolute price: its +/- marks the direction versus the previous close.
PRICE_NAME = re.compile(
    r"(^|_)(pric|prc|uv|unp)$"  # *_pric, cur_prc, ord_uv, unp
    r"|_\d*bid(_\d+)?$"  # quote levels: sel_fpr_bid, buy_10th_pre_bid, sel_1bid, *_bid_3
    r"|^(buy|sel)_bid$"
    r"|_bid_unit$"
)
NUMERIC_UNITS = re.compile(
    r"^(KRW|KRW_thousand|KRW_million|KRW_100million|USD_thousand|shares|hundred_shares"
    r"|thousand_shares|million_shares|stocks)(_or_.*)?$"
)
# Amounts with cents: prices and amounts in dollars.
DECIMAL_UNITS = frozenset({"USD", "index"})
NUMERIC_REQUEST_UNITS = frozenset({"KRW", "shares"})
DECIMAL_REQUEST_UNITS = frozenset({"USD"})

TYPES = {
    "text": ("str", '""'),
    "code": ("str", '""'),
    "integer": ("int | None", "None"),
    "price": ("int | None", "None"),
    "number": ("float | None", "None"),
    "decimal_price": ("float | None", "None"),
    "index": ("float | None", "None"),
    "index_price": ("float | None", "None"),
}
# Kinds whose leading +/- is a direction marker: the value is the magnitude, the marker
# goes to a ``<name>_dir`` attribute beside it.
MARKED = frozenset({"price", "decimal_price", "index_price"})
NUMERIC_KINDS = frozenset(TYPES) - {"text", "code"}


def table_kind(api_id: str, f: dict[str, Any]) -> str:
    """The kind the table's annotations give a field."""
    name = f["name"]
    unit = f.get("unit")
    if (api_id, name) in KIND_FIXES:
        return KIND_FIXES[api_id, name]
    if name in CODE_FIELDS:
        return "code"
    if f.get("values") or f.get("format"):
        return "text"
    if unit == "index_x100":
        # An index level cannot be negative: its sign is the direction marker, as on prices.
        return "index_price" if PRICE_NAME.search(name) else "index"
    if unit in DECIMAL_UNITS:
        return "decimal_price" if PRICE_NAME.search(name) else "number"
    if unit == "percent" or f.get("decimals"):
        return "number"
    if unit is None:
        if name in UNITLESS_KINDS:
            return UNITLESS_KINDS[name]
        for pattern, kind in UNITLESS_PATTERNS:
            if pattern.search(name):
                return kind
        return "text"
    if PRICE_NAME.search(name):
        return "price"
    if NUMERIC_UNITS.match(unit):
        return "integer"
    raise ValueError(f"no decoding rule for field {name!r} with unit {unit!r}")


def field_kind(api_id: str, f: dict[str, Any], shown: Sequence[str] = ()) -> tuple[str, str]:
    """The kind a field decodes as, and why where the official example overrules the table.

    The example wins: a number the table calls whole but the example writes with a point
    becomes a decimal, and a field the example fills with text stays the exact string."""
    kind = table_kind(api_id, f)
    if kind not in NUMERIC_KINDS or (api_id, f["name"]) in KIND_FIXES:
        return kind, ""
    for value in shown:
        if not is_number(value):
            note = f"Kept as sent: the official example shows {value!r}, not a number."
            return "text", note
    if any("." in value for value in shown):
        if kind == "price":
            return "decimal_price", "Decimal: the official example writes it with a point."
        if kind in ("integer", "index"):
            return "number", "Decimal: the official example writes it with a point."
    return kind, ""


NUMBER_TEXT = re.compile(r"^[+-]{0,2}\d+(\.\d+)?%?$")


def is_number(text: str) -> bool:
    return not text.strip() or bool(NUMBER_TEXT.match(text.strip()))


# --- text layout --------------------------------------------------------------------------


def width(text: str) -> int:
    """Display width as the linter measures it: East Asian wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, room: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and width(candidate) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def docstring(text: str, indent: int) -> list[str]:
    """A docstring at ``indent`` spaces, one line if it fits; PARA splits paragraphs."""
    pad = " " * indent
    paragraphs = [
        " ".join(part.replace("\\", "\\\\").replace('"""', "'''").split())
        for part in text.split(PARA)
    ]
    if len(paragraphs) == 1 and width(pad) + 6 + width(paragraphs[0]) <= LINE:
        one = paragraphs[0]
        return [f'{pad}"""{one} """' if one.endswith('"') else f'{pad}"""{one}"""']
    lines: list[str] = []
    for number, paragraph in enumerate(paragraphs):
        if number:
            lines.append("")
        lines += wrap(paragraph, LINE - indent - 3)
    if len(lines) == 1:
        # Too long for one line with both quotes, yet one wrapped line: make it two.
        lines = wrap(paragraphs[0], LINE - indent - 6)
    out = [f'{pad}"""{lines[0]}']
    out += [f"{pad}{line}" if line else "" for line in lines[1:]]
    out.append(f'{pad}"""')
    return out


PARA = "\n\n"  # paragraph break inside a docstring text


def call(head: str, args: list[str], indent: int, suffix: str = "") -> list[str]:
    """``head(arg, ...)suffix`` on one line if it fits, else one argument per line."""
    pad = " " * indent
    one = f"{pad}{head}({', '.join(args)}){suffix}"
    if width(one) <= LINE:
        return [one]
    out = [f"{pad}{head}("]
    for arg in args:
        line = f"{pad}    {arg},"
        if width(line) > LINE and arg.endswith(")") and "=(" in arg:
            key, _, rest = arg.partition("=(")
            items = [item.strip() for item in rest[:-1].split(", ") if item.strip()]
            out.append(f"{pad}    {key}=(")
            out += [f"{pad}        {item}," for item in items]
            out.append(f"{pad}    ),")
        else:
            out.append(line)
    out.append(f"{pad}){suffix}")
    return out


def q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# --- model description --------------------------------------------------------------------


@dataclass
class Attr:
    wire: str
    attr: str
    kind: str
    doc: str


@dataclass
class Model:
    api_id: str
    name: str
    section: str
    tr: dict[str, Any]
    scalars: list[Attr] = field(default_factory=list)
    lists: list[ListBlock] = field(default_factory=list)


@dataclass
class ListBlock:
    key: str
    row_name: str
    attrs: list[Attr]
    label: str
    aliases: list[str] = field(default_factory=list)
    """Other keys the same rows arrive under (the official example's spelling)."""


# Names a field may not take: inside a class body they would hide the types its annotations use.
SHADOWED = frozenset({"int", "float", "str", "bool", "list", "dict", "Any", "ClassVar", "Self"})


def attr_name(wire: str) -> str:
    # Python names cannot start with a digit: "100ord_alow_amt" -> "ord_alow_amt_100".
    match = re.match(r"^(\d+)(.*)$", wire)
    name = f"{match.group(2)}_{match.group(1)}" if match else wire
    if keyword.iskeyword(name) or not name.isidentifier() or name in SHADOWED:
        name += "_"
    return name


def describe(f: dict[str, Any], *, request: bool = False) -> str:
    parts = [f"{f['ko']}" + (f": {f['desc']}" if f.get("desc") else "")]
    details = []
    if f.get("unit"):
        details.append(f["unit"])
    if f.get("format"):
        details.append(f["format"])
    if details:
        parts[0] += f" ({', '.join(details)})"
    for key in ("code_format", "note"):
        if f.get(key):
            parts.append(f[key][:1].upper() + f[key][1:])
    if f.get("values"):
        codes = "; ".join(f"{code} = {meaning}" for code, meaning in f["values"].items())
        parts.append(f"Codes: {codes}")
    text = ". ".join(part.rstrip(".") for part in parts) + "."
    if request and f.get("_numeric"):
        text += " An int is accepted and sent as digits."
    if request and f.get("_decimals") is not None:
        text += (
            f" A Decimal, int, float or digits with at most {f['_decimals']} decimal places;"
            " sent as plain digits."
        )
    return text


def build_attrs(
    api_id: str,
    fields: list[dict[str, Any]],
    taken: set[str],
    shown: dict[str, list[str]],
) -> list[Attr]:
    """Attributes for ``fields``; ``shown`` holds the official example's values per wire
    name, which overrule the table where they disagree."""
    attrs: list[Attr] = []
    seen: set[str] = set()
    for f in fields:
        if f["name"] in seen:
            continue
        seen.add(f["name"])
        kind, why = field_kind(api_id, f, shown.get(f["name"], []))
        name = attr_name(f["name"])
        doc = describe(f)
        if why:
            doc += f" {why}"
        if name != f["name"]:
            doc += f" Wire name ``{f['name']}``."
        for candidate in (name, f"{name}_dir"):
            if candidate in taken:
                raise ValueError(f"attribute {candidate!r} is taken twice")
        taken.add(name)
        attrs.append(Attr(f["name"], name, kind, doc))
        if kind in MARKED:
            taken.add(f"{name}_dir")
    return attrs


def shown_values(blocks: list[Any]) -> dict[str, list[str]]:
    """The string values each key has in these example objects (a body, or list rows)."""
    shown: dict[str, list[str]] = {}
    for block in blocks:
        if isinstance(block, dict):
            for key, value in block.items():
                if isinstance(value, str):
                    shown.setdefault(key, []).append(value)
    return shown


def example_only(tr: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """Keys the official example carries and the spec table lacks: (top level, per list)."""
    mismatch = tr.get("spec_vs_example_mismatch") or {}
    top = list(mismatch.get("example_only_top") or [])
    items = {key: list(names) for key, names in (mismatch.get("example_only_item") or {}).items()}
    return top, items


def example_field(name: str) -> dict[str, Any]:
    """A field only the official example carries, documented as other tables name it."""
    known = FIELD_NAMES.get(name, {})
    desc = known.get("desc") or ""
    note = "In the official example, not in the spec table."
    return {"name": name, "ko": known.get("ko") or name, "desc": f"{desc} {note}".strip()}


def list_aliases(tr: dict[str, Any], top_only: list[str]) -> dict[str, str]:
    """Example-only top-level lists that stand for a table list the example lacks: the same
    rows under another key (ka20005: table ``inds_min_pole_qry``, example
    ``inds_dt_pole_qry``). Paired only when exactly one of each is left over."""
    example = tr.get("example_response") or {}
    extra = [k for k in top_only if isinstance(example.get(k), list)]
    missing = [k for k in tr["response"]["lists"] if k not in example]
    return {missing[0]: extra[0]} if len(extra) == 1 and len(missing) == 1 else {}


def field_names(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Korean name and description of each wire name, from the first table that lists
    it: what an example-only field is documented with."""
    found: dict[str, dict[str, Any]] = {}
    for section in spec["sections"].values():
        for tr in section["trs"].values():
            response = tr.get("response") or {}
            rows = [f for block in response.get("lists", {}).values() for f in block]
            for f in [*response.get("scalars", []), *rows]:
                entry = {"ko": f.get("ko", ""), "desc": f.get("desc", "")}
                found.setdefault(f["name"], entry)
    return found


FIELD_NAMES: dict[str, dict[str, Any]] = {}


def collect(spec: dict[str, Any]) -> list[Model]:
    models: list[Model] = []
    names: set[str] = set()
    FIELD_NAMES.update(field_names(spec))
    fill_titles(spec)
    for section in SECTIONS:
        for api_id, tr in spec["sections"][section]["trs"].items():
            name = class_name(api_id, tr)
            if name in names:
                raise ValueError(f"{api_id}: class name {name} is taken twice")
            names.add(name)
            models.append(collect_model(api_id, name, section, tr))
    return models


def collect_model(api_id: str, name: str, section: str, tr: dict[str, Any]) -> Model:
    """One response model: the table's fields plus what the official example adds."""
    model = Model(api_id, name, section, tr)
    top_only, item_only = example_only(tr)
    aliases = list_aliases(tr, top_only)
    extra_scalars = [example_field(n) for n in top_only if n not in aliases.values()]
    taken = {"return_code", "return_msg", "raw", "api_id", "from_raw", "known_keys", "row_keys"}
    example = tr.get("example_response") or {}
    scalars = tr["response"]["scalars"] + extra_scalars
    model.scalars = build_attrs(api_id, scalars, taken, shown_values([example]))
    meta = tr["response"].get("list_meta") or {}
    lists = tr["response"]["lists"]
    for key, fields in lists.items():
        if key in taken:
            raise ValueError(f"{api_id}: list {key!r} collides with a field")
        taken.add(key)
        row_doc = meta.get(key, {})
        label = row_doc.get("ko", "")
        if row_doc.get("desc"):
            label += f": {row_doc['desc']}"
        row_name = f"{name}Row" if len(lists) == 1 else name + camel(key)
        extra = list(item_only.get(key, []))
        if key in aliases:
            # The fact base compares rows only under the table's key; read the example's
            # rows under the alias for the fields they add.
            table_names = {f["name"] for f in fields}
            example_rows = (tr.get("example_response") or {}).get(aliases[key]) or []
            for example_row in example_rows:
                extra += [n for n in example_row if n not in table_names and n not in extra]
        row_fields = fields + [example_field(n) for n in extra]
        example_rows = []
        for list_key in (key, *([aliases[key]] if key in aliases else [])):
            block = example.get(list_key)
            example_rows += block if isinstance(block, list) else []
        shown = shown_values(example_rows)
        attrs = build_attrs(api_id, row_fields, {"from_raw", "known_keys"}, shown)
        alias = [aliases[key]] if key in aliases else []
        model.lists.append(ListBlock(key, row_name, attrs, label, alias))
    return model


def request_fields(model: Model) -> list[dict[str, Any]]:
    fields = []
    for f in model.tr["request"]:
        f = dict(f)
        fix = REQUEST_FIXES.get((model.api_id, f["name"]), {})
        if "length" in fix:
            f["length"] = fix["length"]
        if "required" in fix:
            f["required"] = fix["required"]
        if "extra_values" in fix:
            f["values"] = {**f["values"], **fix["extra_values"]}
        sent = (model.tr.get("example_request") or {}).get(f["name"])
        if f["required"] and sent == "":
            # The official example leaves this "required" field empty: so may the caller.
            f["required"] = False
            f["note"] = " ".join(
                x for x in (f.get("note"), "The official example sends it empty.") if x
            )
        if f.get("values") and isinstance(sent, str) and sent and sent not in f["values"]:
            # The example wins: a code the official example sends is accepted.
            f["values"] = {**f["values"], sent: "also accepted: the official example sends it"}
        # A field with a code list takes the codes as text, whatever unit the table guessed.
        f["_numeric"] = f.get("unit") in NUMERIC_REQUEST_UNITS and not f.get("values")
        # Dollar prices: at most the table's decimals; four where it gives none, as US
        # quotes below one dollar carry four (whether orders may is not known).
        dollars = f.get("unit") in DECIMAL_REQUEST_UNITS and not f.get("values")
        f["_decimals"] = (f.get("decimals") or 4) if dollars else None
        f["_attr"] = attr_name(f["name"])
        f["_open_codes"] = bool(re.search(r"\bother\b.*\bsee\b", f.get("note") or ""))
        if "_NX" in (f.get("code_format") or ""):
            f["length"] = max(f.get("length") or 0, SUFFIXED_CODE_LEN)
        fields.append(f)
    return fields


# --- rendering ----------------------------------------------------------------------------


def mismatch_note(model: Model) -> str:
    mismatch = model.tr.get("spec_vs_example_mismatch") or {}
    notes = []
    for block in model.lists:
        for alias in block.aliases:
            notes.append(
                f"The spec table names the list ``{block.key}``, the official example sends "
                f"``{alias}``: rows under either key are read into ``{block.key}`` (which "
                "spelling the live server sends is not known)."
            )
    aliased = {alias for block in model.lists for alias in block.aliases}
    for key, value in mismatch.items():
        if key.startswith("example_only"):
            names = value if isinstance(value, list) else [n for v in value.values() for n in v]
            names = [n for n in names if n not in aliased]
            if names:
                notes.append(
                    "The official example also carries "
                    + ", ".join(f"``{n}``" for n in names)
                    + ", which the spec table lacks: decoded as well."
                )
        elif key.startswith("spec_only"):
            names = value if isinstance(value, list) else [n for v in value.values() for n in v]
            names = [n for n in names if n not in {b.key for b in model.lists if b.aliases}]
            if not names:
                continue
            listed = ", ".join(f"``{n}``" for n in names)
            them = "it" if len(names) == 1 else "them"
            notes.append(f"The official example lacks {listed}: expect {them} empty.")
    return " ".join(notes)


def render_request(model: Model) -> list[str]:
    tr = model.tr
    fields = request_fields(model)
    lines = [f"class {model.name}Request(TRRequest, frozen=True, kw_only=True):"]
    doc = f"Request of {model.api_id} {tr['name_ko']}: {tr['name_en']}."
    lines += docstring(doc, 4)
    lines += ["", f'    api_id: ClassVar[str] = "{model.api_id}"']
    rules = []
    for f in fields:
        args = [q(f["name"])]
        if f["required"]:
            args.append("required=True")
        if f.get("length"):
            args.append(f"max_len={f['length']}")
        if f.get("values") and not f["_open_codes"]:
            codes = ", ".join(q(code) for code in f["values"])
            args.append(f"allowed=({codes},)" if len(f["values"]) == 1 else f"allowed=({codes})")
        if f["_numeric"]:
            args.append("numeric=True")
        if f["_decimals"] is not None:
            args.append(f"decimals={f['_decimals']}")
        if f["_attr"] != f["name"]:
            args.append(f"attr={q(f['_attr'])}")
        rules.append(args)
    head = "    rules: ClassVar[tuple[FieldRule, ...]] = "
    if not rules:
        lines.append(f"{head}()")
    elif (
        len(rules) == 1
        and len(single := call("FieldRule", rules[0], 0)) == 1
        and width(one := f"{head}({single[0]},)") <= LINE
    ):
        lines.append(one)
    else:
        lines.append("    rules: ClassVar[tuple[FieldRule, ...]] = (")
        for args in rules:
            lines += call("FieldRule", args, 8, ",")
        lines.append("    )")
    for f in fields:
        annotation = "int | str" if f["_numeric"] else "str"
        if f["_decimals"] is not None:
            annotation = "Decimal | int | float | str"
        default = "" if f["required"] else ' = ""'
        if f["_attr"] != f["name"]:
            # The wire name is not a Python name: the attribute carries its own.
            default = f" = msgspec.field(name={q(f['name'])})"
            if not f["required"]:
                default = f' = msgspec.field(default="", name={q(f["name"])})'
        lines += ["", f"    {f['_attr']}: {annotation}{default}"]
        lines += docstring(describe(f, request=True), 4)
    return lines


def render_fields(attrs: list[Attr]) -> list[str]:
    lines: list[str] = []
    for a in attrs:
        annotation, default = TYPES[a.kind]
        lines += [f"    {a.attr}: {annotation} = {default}"]
        lines += docstring(a.doc, 4)
        if a.kind in MARKED:
            lines += [f"    {a.attr}_dir: int = 0"]
            lines += docstring(f"Direction marker of ``{a.attr}``: +1 up, -1 down, 0 flat.", 4)
    return lines


def render_from_raw(attrs: list[Attr], extra: list[str | list[str]]) -> list[str]:
    lines = [
        "    @classmethod",
        "    def from_raw(cls, raw: dict[str, Any]) -> Self:",
    ]
    args: list[str | list[str]] = list(extra)
    for a in attrs:
        args.append(f'{a.attr}=c.{a.kind}(raw, "{a.wire}")')
        if a.kind in MARKED:
            args.append(f'{a.attr}_dir=c.direction(raw, "{a.wire}")')
    if not args:
        return [*lines, "        return cls()"]
    lines.append("        return cls(")
    for arg in args:
        if isinstance(arg, list):
            lines += arg
        else:
            lines.append(f"            {arg},")
    lines.append("        )")
    return lines


# The envelope, in the spelling of the table and the camelCase some examples show.
ENVELOPE_KEYS = ("return_code", "return_msg", "returnCode", "returnMsg")


def render_keys(name: str, keys: list[str]) -> list[str]:
    """A ClassVar of wire keys, laid out by the formatter later."""
    listed = ", ".join(q(k) for k in sorted(set(keys)))
    return [f"    {name}: ClassVar[frozenset[str]] = frozenset({{{listed}}})"]


def render_response(model: Model) -> list[str]:
    tr = model.tr
    out: list[str] = []
    for block in model.lists:
        out += [f"class {block.row_name}(msgspec.Struct, frozen=True, kw_only=True, gc=False):"]
        out += docstring(f"One row of ``{block.key}`` ({block.label}) in :class:`{model.name}`.", 4)
        out.append("")
        out += render_keys("known_keys", [a.wire for a in block.attrs])
        out += docstring("The wire keys of a row this model reads; any other is reported.", 4)
        out += render_fields(block.attrs)
        out.append("")
        out += render_from_raw(block.attrs, [])
        out += ["", ""]
    out.append(f"class {model.name}(TRResponse, frozen=True, kw_only=True):")
    doc = f"{model.api_id} {tr['name_ko']}: {tr['name_en']}."
    extra = " ".join(x for x in (tr.get("summary") or "", mismatch_note(model)) if x)
    if extra:
        doc += PARA + extra
    out += docstring(doc, 4)
    out += ["", f'    api_id: ClassVar[str] = "{model.api_id}"']
    top_keys = [*ENVELOPE_KEYS, *(a.wire for a in model.scalars)]
    for block in model.lists:
        top_keys += [block.key, *block.aliases]
    out += render_keys("known_keys", top_keys)
    rows = ", ".join(
        f"{q(key)}: {block.row_name}.known_keys"
        for block in model.lists
        for key in (block.key, *block.aliases)
    )
    out += [f"    row_keys: ClassVar[dict[str, frozenset[str]]] = {{{rows}}}", ""]
    out += render_fields(model.scalars)
    for block in model.lists:
        key, row_name = block.key, block.row_name
        out.append(f"    {key}: list[{row_name}] = msgspec.field(default_factory=list)")
        out += docstring(f"{block.label or key}.", 4)
    out.append("")
    extra_args: list[str | list[str]] = [
        "return_code=c.return_code(raw)",
        "return_msg=c.return_msg(raw)",
        "raw=raw",
    ]
    for block in model.lists:
        args = ["raw", q(block.key), f"{block.row_name}.from_raw", *map(q, block.aliases)]
        extra_args.append(call(f"{block.key}=c.rows", args, 12, ","))
    out += render_from_raw(model.scalars, extra_args)
    return out


HEADER = "Generated by tools/gen_models.py from the API fact base: edit the generator instead."


def render_module(section: str, models: list[Model]) -> str:
    title = SECTIONS[section][1]
    names = []
    for m in models:
        names += [f"{m.name}Request", m.name, *(block.row_name for block in m.lists)]
    lines = ['"""' + title + ": typed requests and responses.", "", HEADER, '"""', ""]
    lines += [
        "from __future__ import annotations",
        "",
    ]
    fields = [f for m in models for f in request_fields(m)]
    if any(f["_decimals"] is not None for f in fields):
        lines.append("from decimal import Decimal")
    lines += ["from typing import Any, ClassVar, Self", ""]
    if any(m.lists for m in models) or any(f["_attr"] != f["name"] for f in fields):
        lines += ["import msgspec", ""]
    lines += [
        "from kiwoom_async.models import _convert as c",
        "from kiwoom_async.models._convert import FieldRule, TRRequest, TRResponse",
        "",
        "__all__ = [",
        *(f'    "{n}",' for n in sorted(names)),
        "]",
    ]
    for m in models:
        lines += ["", ""]
        lines += render_request(m)
        lines += ["", ""]
        lines += render_response(m)
    lines.append("")
    return format_source("\n".join(lines))


def render_tr(models: list[Model]) -> str:
    lines = [
        '"""Every typed TR model by api_id, and the entry points that use them. The tables load',
        "a group's module on first use.",
        "",
        HEADER,
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import TYPE_CHECKING, Literal, overload",
        "",
        "from kiwoom_async.models._convert import Body, TRRequest, TRResponse",
        "from kiwoom_async.models._convert import build_request as _build",
        "from kiwoom_async.models._convert import decode_response as _decode",
        "from kiwoom_async.models._tables import ModelTable",
        "",
        "if TYPE_CHECKING:",
    ]
    for section, (module, _) in sorted(SECTIONS.items(), key=lambda item: item[1][0]):
        names = sorted(m.name for m in models if m.section == section)
        lines += call(f"from kiwoom_async._generated.models.{module} import", names, 4)
    lines += [
        "",
        '__all__ = ["REQUEST_MODELS", "RESPONSE_MODELS", "build_request", "decode_response"]',
        "",
        'REQUEST_MODELS: Mapping[str, type[TRRequest]] = ModelTable[TRRequest]("request")',
        'RESPONSE_MODELS: Mapping[str, type[TRResponse]] = ModelTable[TRResponse]("response")',
    ]
    for m in models:
        lines += ["", "", "@overload"]
        one = f'def decode_response(api_id: Literal["{m.api_id}"], body: Body) -> {m.name}: ...'
        if width(one) <= LINE:
            lines.append(one)
        else:
            lines += [
                "def decode_response(",
                f'    api_id: Literal["{m.api_id}"], body: Body',
                f") -> {m.name}: ...",
            ]
    lines += [
        "",
        "",
        "@overload",
        "def decode_response(api_id: str, body: Body) -> TRResponse: ...",
        "",
        "",
        "def decode_response(api_id: str, body: Body) -> TRResponse:",
        '    """Decode a response body (bytes, str or an already decoded dict) of TR ``api_id``',
        "    into its typed model.",
        "",
        "    Raises UnknownTRError for an api_id without a model, and ResponseDecodeError (a",
        "    MalformedValueError naming the TR and field) for a body that is not a JSON object or",
        "    a field that is not the number the spec promises.",
        '    """',
        "    return _decode(RESPONSE_MODELS, api_id, body)",
        "",
        "",
        "def build_request(api_id: str, fields: Mapping[str, object]) -> TRRequest:",
        '    """The request model of TR ``api_id`` built from a plain mapping of wire names.',
        "",
        "    Raises KiwoomValidationError for an unknown TR, an unknown or missing field, or a",
        "    value the server would refuse.",
        '    """',
        "    return _build(REQUEST_MODELS, api_id, fields)",
        "",
    ]
    return format_source("\n".join(lines))


def render_package(models: list[Model]) -> str:
    """The package's index: which module holds each class, so lookups by name load one."""
    lines = [
        '"""The typed request and response models of every REST TR, one module per group of the',
        "official guide.",
        "",
        HEADER,
        '"""',
        "",
        "from typing import TYPE_CHECKING",
        "",
        "# class name -> module of this package",
        "CLASS_MODULES: dict[str, str] = {",
    ]
    for m in sorted(models, key=lambda m: m.name):
        module = SECTIONS[m.section][0]
        for name in (m.name, f"{m.name}Request", *(block.row_name for block in m.lists)):
            lines.append(f'    "{name}": "{module}",')
    lines += [
        "}",
        "",
        "if TYPE_CHECKING:",
        "    # Type checkers see every class here; at run time kiwoom_async.models loads them.",
    ]
    exported: list[str] = []
    for section, (module, _) in sorted(SECTIONS.items(), key=lambda item: item[1][0]):
        names = sorted(
            n
            for m in models
            if m.section == section
            for n in (m.name, f"{m.name}Request", *(block.row_name for block in m.lists))
        )
        exported += names
        lines += call(f"from kiwoom_async._generated.models.{module} import", names, 4)
    lines += ["", "    __all__ = ["]
    lines += [f'        "{n}",' for n in sorted(exported)]
    lines += ["    ]", ""]
    return format_source("\n".join(lines))


def render_all(spec: dict[str, Any]) -> dict[Path, str]:
    models = collect(spec)
    files = {
        MODELS_DIR / f"{module}.py": render_module(
            section, [m for m in models if m.section == section]
        )
        for section, (module, _) in SECTIONS.items()
    }
    files[MODELS_DIR / "__init__.py"] = render_package(models)
    files[GENERATED / "tr_models.py"] = render_tr(models)
    return files


if __name__ == "__main__":
    write_all(render_all)
