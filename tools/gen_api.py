"""Generate the typed TR wrappers kiwoom_async/api/{quote,account,chart}.py from the API fact
base (spec.json) and the typed models (kiwoom_async/models).

Usage: python tools/gen_api.py [path/to/spec.json]

One method per TR. Its parameters are the request fields under their wire names (so the
official guide and the models read the same), typed from the model's field rules: a
``Literal`` where the model lists the accepted codes, ``int | str`` for quantities and prices.
A required stock or sector code comes first and positional; every other field is keyword-only.
The order group (kiwoom_async/api/order.py) is written by hand: it carries the order-safety
checks, the idempotency ledger and reconciliation.

The output is committed and formatted with ``ruff format``; tests/test_api.py re-renders it
and compares.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiwoom_async.models._convert import FieldRule  # noqa: E402
from kiwoom_async.models.tr import REQUEST_MODELS, RESPONSE_MODELS  # noqa: E402
from kiwoom_async.registry import REGISTRY  # noqa: E402
from tools._format import format_source  # noqa: E402

DEFAULT_SPEC = ROOT / "spec" / "kiwoom-api.json"
API_DIR = ROOT / "kiwoom_async" / "api"
LINE = 100

# spec section -> (module, class, title)
GROUPS: dict[str, tuple[str, str, str]] = {
    "mrkcond": ("quote", "QuoteAPI", "Quote TRs (시세, /api/dostk/mrkcond)"),
    "acnt": ("account", "AccountAPI", "Account TRs (계좌, /api/dostk/acnt)"),
    "chart": ("chart", "ChartAPI", "Chart TRs (차트, /api/dostk/chart)"),
}

# Method names: what the TR returns, in English, short enough to read at the call site.
METHODS: dict[str, str] = {
    # quote
    "ka10004": "orderbook",
    "ka10005": "period_prices",
    "ka10006": "time_snapshot",
    "ka10007": "quote_board",
    "ka10011": "subscription_rights_quotes",
    "ka10044": "daily_institutional_trading",
    "ka10045": "institutional_trading_trend",
    "ka10046": "execution_strength_by_time",
    "ka10047": "execution_strength_by_day",
    "ka10063": "intraday_investor_trading",
    "ka10066": "after_close_investor_trading",
    "ka10078": "broker_trading_trend",
    "ka10086": "daily_prices",
    "ka10087": "after_hours_single_price",
    "ka50010": "gold_execution_trend",
    "ka50012": "gold_daily_trend",
    "ka50087": "gold_expected_execution",
    "ka50100": "gold_quote",
    "ka50101": "gold_orderbook",
    "ka90005": "program_trading_by_time",
    "ka90006": "program_arbitrage_balance",
    "ka90007": "program_trading_accumulated",
    "ka90008": "stock_program_trading_by_time",
    "ka90010": "program_trading_by_day",
    "ka90013": "stock_program_trading_by_day",
    # account
    "ka00001": "account_numbers",
    "ka01690": "daily_balance_return",
    "ka10072": "realized_pnl_by_stock_on_date",
    "ka10073": "realized_pnl_by_stock_for_period",
    "ka10074": "realized_pnl_by_date",
    "ka10075": "open_orders",
    "ka10076": "filled_orders",
    "ka10077": "today_realized_pnl_detail",
    "ka10085": "returns",
    "ka10088": "open_split_order_detail",
    "ka10170": "trading_journal",
    "kt00001": "deposit_detail",
    "kt00002": "daily_estimated_assets",
    "kt00003": "estimated_assets",
    "kt00004": "evaluation",
    "kt00005": "execution_balance",
    "kt00007": "order_history",
    "kt00008": "next_day_settlements",
    "kt00009": "order_status",
    "kt00010": "orderable_amount",
    "kt00011": "orderable_qty_by_margin_rate",
    "kt00012": "orderable_qty_by_credit_deposit_rate",
    "kt00013": "margin_detail",
    "kt00015": "transaction_history",
    "kt00016": "daily_return_detail",
    "kt00017": "today_status",
    "kt00018": "balance",
    "kt50020": "gold_balance",
    "kt50021": "gold_deposit",
    "kt50030": "gold_all_orders",
    "kt50031": "gold_order_history",
    "kt50032": "gold_transaction_history",
    "kt50075": "gold_open_orders",
    # chart
    "ka10060": "investor_institution",
    "ka10064": "intraday_investor_trading",
    "ka10079": "ticks",
    "ka10080": "minutes",
    "ka10081": "daily",
    "ka10082": "weekly",
    "ka10083": "monthly",
    "ka10094": "yearly",
    "ka20004": "sector_ticks",
    "ka20005": "sector_minutes",
    "ka20006": "sector_daily",
    "ka20007": "sector_weekly",
    "ka20008": "sector_monthly",
    "ka20019": "sector_yearly",
    "ka50079": "gold_ticks",
    "ka50080": "gold_minutes",
    "ka50081": "gold_daily",
    "ka50082": "gold_weekly",
    "ka50083": "gold_monthly",
    "ka50091": "gold_today_ticks",
    "ka50092": "gold_today_minutes",
}

# Defaults only where one value plainly means "everything" (a filter left open) or is the
# only value the server takes; every other required field must be chosen by the caller.
_ALL_ORDERS = {"stk_bond_tp": "0", "sell_tp": "0"}
DEFAULTS: dict[str, dict[str, str]] = {
    "ka10075": {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"},
    "ka10076": {"qry_tp": "0", "sell_tp": "0", "stex_tp": "0"},
    "ka10170": {"ch_crd_tp": "0"},
    "kt00003": {"qry_tp": "0"},
    "kt00004": {"qry_tp": "0", "dmst_stex_tp": "KRX"},
    "kt00005": {"dmst_stex_tp": "KRX"},
    "kt00007": {"qry_tp": "1", **_ALL_ORDERS, "dmst_stex_tp": "%"},
    "kt00009": {**_ALL_ORDERS, "mrkt_tp": "0", "qry_tp": "0", "dmst_stex_tp": "%"},
    "kt00015": {"tp": "0", "gds_tp": "0", "dmst_stex_tp": "%"},
    "kt00018": {"qry_tp": "1", "dmst_stex_tp": "KRX"},
    "kt50030": {"mrkt_deal_tp": "5", "stk_bond_tp": "0", "slby_tp": "0"},
    "kt50031": {"qry_tp": "1", **_ALL_ORDERS, "dmst_stex_tp": "%"},
    "kt50075": {"mrkt_deal_tp": "5", **_ALL_ORDERS},
}

# A required field of these names is the first, positional parameter.
POSITIONAL = ("stk_cd", "inds_cd")


@dataclass
class Param:
    name: str
    annotation: str
    default: str | None
    positional: bool
    doc: str
    check_code: bool


def _field_doc(field: dict[str, Any]) -> str:
    desc, ko = field.get("desc") or "", field.get("ko") or ""
    text = f"{desc} ({ko})" if desc and ko else desc or ko or field["name"]
    values = field.get("values") or {}
    if values:
        text += "; " + ", ".join(f"{code} = {meaning}" for code, meaning in values.items())
    for extra in ("unit", "format", "note", "code_format"):
        if field.get(extra):
            text += f". {field[extra]}"
    return text.rstrip(".") + "."


def _annotation(rule: FieldRule) -> str:
    if rule.allowed is not None:
        # An optional field may be left empty: the server reads "" as "not given".
        codes = rule.allowed if rule.required else ("", *rule.allowed)
        return "Literal[" + ", ".join(json.dumps(v) for v in codes) + "]"
    return "int | str" if rule.numeric else "str"


def params_for(api_id: str, tr: dict[str, Any]) -> list[Param]:
    fields = {f["name"]: f for f in tr["request"]}
    defaults = DEFAULTS.get(api_id, {})
    rules = REQUEST_MODELS[api_id].rules
    positional = next(
        (r.name for r in rules if r.required and r.name in POSITIONAL),
        None,
    )
    params: list[Param] = []
    for rule in rules:
        field = fields[rule.name]
        default: str | None = None
        if rule.name in defaults:
            default = json.dumps(defaults[rule.name])
        elif not rule.required:
            default = '""'
        params.append(
            Param(
                name=rule.name,
                annotation=_annotation(rule),
                default=default,
                positional=rule.name == positional,
                doc=_field_doc(field),
                check_code=rule.name == "stk_cd" and "code_format" in field,
            )
        )
    params.sort(key=lambda p: not p.positional)
    return params


def _width(text: str) -> int:
    """Display width as ruff measures line length: wide (Korean) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap(text: str, indent: int, hanging: int = 0) -> list[str]:
    """Greedy word wrap to the line limit, measured in display width."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        prefix = " " * hanging if lines else ""
        candidate = f"{current} {word}" if current else prefix + word
        if current and indent + _width(candidate) > LINE:
            lines.append(current)
            current = " " * hanging + word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def render_method(api_id: str, tr: dict[str, Any]) -> list[str]:
    spec = REGISTRY[api_id]
    request = REQUEST_MODELS[api_id].__name__
    response = RESPONSE_MODELS[api_id].__name__
    name = METHODS[api_id]
    params = params_for(api_id, tr)
    signature = ["self"]
    positional = [p for p in params if p.positional]
    keyword = [p for p in params if not p.positional]
    for p in positional:
        signature.append(f"{p.name}: {p.annotation}")
    if keyword or spec.paginates:
        signature.append("*")
    for p in keyword:
        default = f" = {p.default}" if p.default is not None else ""
        signature.append(f"{p.name}: {p.annotation}{default}")
    if spec.paginates:
        signature += ["max_pages: int | None = None", 'next_key: str = ""']
        returns = f"TypedPager[{response}]"
        head = f"    def {name}("
    else:
        returns = response
        head = f"    async def {name}("
    lines = [head + ", ".join(signature) + f") -> {returns}:"]

    doc = [f"{api_id} {tr['name_ko']}: {tr['name_en']}."]
    if tr.get("summary"):
        doc += ["", *_wrap(tr["summary"], 8)]
    if params or spec.paginates:
        doc += ["", "Args:"]
        for p in params:
            doc += ["    " + line for line in _wrap(f"{p.name}: {p.doc}", 12, 4)]
        if spec.paginates:
            doc += [
                "    max_pages: stop after this many pages (None: follow the server to the end).",
                "    next_key: resume a walk from the ``next_key`` of an earlier pager.",
            ]
    doc += [""]
    if spec.paginates:
        doc += _wrap(
            f"Returns a :class:`TypedPager` of :class:`{response}` pages: ``async for`` fetches "
            "them as you go, ``await`` gives the list.",
            8,
        )
    else:
        doc += [f"Returns :class:`{response}`; its ``raw`` holds the body as received."]
    lines.append('        """' + doc[0])
    lines += [("        " + line) if line else "" for line in doc[1:]]
    lines.append('        """')
    for p in params:
        if p.check_code:
            if p.default is None:
                lines.append(f'        check_stock_code("{api_id}", stk_cd, suffix_allowed=True)')
            else:
                lines.append("        if stk_cd:")
                lines.append(
                    f'            check_stock_code("{api_id}", stk_cd, suffix_allowed=True)'
                )
    fields = ", ".join(f"{p.name}={p.name}" for p in params)
    lines.append(f"        request = {request}({fields})")
    if spec.paginates:
        lines.append(
            f"        return self._paginate(request, {response}, "
            "max_pages=max_pages, next_key=next_key)"
        )
    else:
        lines.append(f"        return await self._call(request, {response})")
    return lines


def render_module(section: str, spec: dict[str, Any]) -> str:
    module, cls, title = GROUPS[section]
    trs: dict[str, dict[str, Any]] = spec["sections"][section]["trs"]
    uses_literal = any(r.allowed is not None for k in trs for r in REQUEST_MODELS[k].rules)
    uses_pager = any(REGISTRY[k].paginates for k in trs)
    uses_check = any(p.check_code for k, tr in trs.items() for p in params_for(k, tr))
    names = sorted(
        {REQUEST_MODELS[k].__name__ for k in trs} | {RESPONSE_MODELS[k].__name__ for k in trs}
    )
    base_names = ["TRGroup"]
    if uses_pager:
        base_names.append("TypedPager")
    if uses_check:
        base_names.append("check_stock_code")
    lines = [
        f'"""{title}: one typed method per TR.',
        "",
        "Generated by tools/gen_api.py from the API fact base and the typed models: edit the",
        "generator instead.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    if uses_literal:
        lines += ["from typing import Literal", ""]
    lines += [f"from ..models.{module} import (", *[f"    {n}," for n in names], ")"]
    lines += [f"from ._base import {', '.join(sorted(base_names))}", ""]
    lines += [f'__all__ = ["{cls}"]', "", ""]
    lines += [
        f"class {cls}(TRGroup):",
        f'    """{title}. Reach it as ``kw.{module}``."""',
    ]
    for api_id, tr in trs.items():
        lines.append("")
        lines += render_method(api_id, tr)
    return "\n".join(lines) + "\n"


def render_all(spec: dict[str, Any]) -> dict[Path, str]:
    return {
        API_DIR / f"{module}.py": format_source(render_module(section, spec))
        for section, (module, _, _) in GROUPS.items()
    }


def main() -> None:
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    for path, text in render_all(spec).items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
