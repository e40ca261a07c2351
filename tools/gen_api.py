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
from tools._names import SECTIONS, camel, fill_titles, method_name, wrapper_path  # noqa: E402
from tools._write import write_all  # noqa: E402

API_DIR = ROOT / "kiwoom_async" / "_generated" / "api"
LINE = 100

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
    if rule.decimals is not None:
        return "Decimal | int | float | str"
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
                name=rule.attribute,
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
    name = method_name(api_id)
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

    # The title line, wrapped where a long Korean name pushes it past the line limit.
    doc = _wrap(f"{api_id} {tr['name_ko']}: {tr['name_en']}.", 11)
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


def group_class(section: str) -> str:
    """The wrapper class of a section: ``QuoteAPI``; ``UsOrderQueries`` where the section also
    holds orders, which a hand-written subclass adds (kiwoom_async/api/)."""
    module = SECTIONS[section][0]
    return camel(module.replace("_", " ")) + ("Queries" if has_orders(section) else "API")


def has_orders(section: str) -> bool:
    return any(spec.is_order for spec in REGISTRY.values() if spec.group == SECTIONS[section][0])


def query_ids(section: str, spec: dict[str, Any]) -> list[str]:
    return [k for k in spec["sections"][section]["trs"] if not REGISTRY[k].is_order]


def render_module(section: str, spec: dict[str, Any]) -> str:
    module, title = SECTIONS[section]
    cls = group_class(section)
    trs: dict[str, dict[str, Any]] = {
        k: spec["sections"][section]["trs"][k] for k in query_ids(section, spec)
    }
    uses_literal = any(r.allowed is not None for k in trs for r in REQUEST_MODELS[k].rules)
    uses_pager = any(REGISTRY[k].paginates for k in trs)
    uses_check = any(p.check_code for k, tr in trs.items() for p in params_for(k, tr))
    uses_decimal = any(r.decimals is not None for k in trs for r in REQUEST_MODELS[k].rules)
    names = sorted(
        {REQUEST_MODELS[k].__name__ for k in trs} | {RESPONSE_MODELS[k].__name__ for k in trs}
    )
    base_names = ["TRGroup"]
    if uses_pager:
        base_names.append("TypedPager")
    if uses_check:
        base_names.append("check_stock_code")
    lines = [
        f'"""{title}: one typed method per query TR.',
        "",
        "Generated by tools/gen_api.py from the API fact base and the typed models: edit the",
        "generator instead.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    if uses_decimal:
        lines += ["from decimal import Decimal"]
    if uses_literal:
        lines += ["from typing import Literal"]
    lines += [""]
    lines += [
        f"from kiwoom_async._generated.models.{module} import (",
        *[f"    {n}," for n in names],
        ")",
    ]
    lines += [f"from kiwoom_async.api._base import {', '.join(sorted(base_names))}", ""]
    lines += [f'__all__ = ["{cls}"]', "", ""]
    where = wrapper_path(section, next(iter(trs))).rpartition(".")[0]
    doc = _wrap(f"{title}. Reach it as ``kw.{where}``.", 10)
    lines.append(f"class {cls}(TRGroup):")
    if len(doc) == 1:
        lines.append(f'    """{doc[0]}"""')
    else:
        lines += [f'    """{doc[0]}', *(f"    {line}" for line in doc[1:]), '    """']
    for api_id, tr in trs.items():
        lines.append("")
        lines += render_method(api_id, tr)
    return "\n".join(lines) + "\n"


def render_package(spec: dict[str, Any]) -> str:
    """The package's index: which module holds each wrapper class."""
    groups = {
        group_class(section): module
        for section, (module, _) in SECTIONS.items()
        if query_ids(section, spec)
    }
    lines = [
        '"""The typed TR wrappers, one class per group of the official guide. Generated by',
        'tools/gen_api.py: edit the generator instead."""',
        "",
        "from typing import TYPE_CHECKING",
        "",
        "# class name -> module of this package",
        "GROUP_MODULES: dict[str, str] = {",
        *(f'    "{cls}": "{module}",' for cls, module in sorted(groups.items())),
        "}",
        "",
        "if TYPE_CHECKING:",
        *(
            f"    from kiwoom_async._generated.api.{module} import {cls}"
            for cls, module in sorted(groups.items(), key=lambda item: item[1])
        ),
        "",
        "    __all__ = [",
        *(f'        "{cls}",' for cls in sorted(groups)),
        "    ]",
        "",
    ]
    return format_source("\n".join(lines))


def render_groups(spec: dict[str, Any]) -> str:
    """Mixins that give the client one lazily built attribute per query group: ``kw.stock``,
    and under ``kw.us`` the US groups. Groups holding orders are added by hand."""
    domestic: list[tuple[str, str, str]] = []
    us: list[tuple[str, str, str]] = []
    titles = dict(SECTIONS.values())
    for section, (module, _) in SECTIONS.items():
        if not query_ids(section, spec) or has_orders(section):
            continue
        entry = (module.removeprefix("us_"), module, group_class(section))
        (us if module.startswith("us_") else domestic).append(entry)
    lines = [
        '"""One lazily built attribute per query group of TRs. Generated by tools/gen_api.py:',
        'edit the generator instead."""',
        "",
        "from __future__ import annotations",
        "",
        "from functools import cached_property",
        "from typing import TYPE_CHECKING",
        "",
        "from kiwoom_async.rest import RestSession",
        "",
        "if TYPE_CHECKING:",
    ]
    for _, module, cls in sorted(domestic + us, key=lambda e: e[1]):
        lines.append(f"    from kiwoom_async._generated.api.{module} import {cls}")
    lines += ["", '__all__ = ["DomesticGroups", "UsGroups"]']
    for name, entries in (("DomesticGroups", domestic), ("UsGroups", us)):
        lines += ["", "", f"class {name}:"]
        where = "the client" if name == "DomesticGroups" else "``kw.us``"
        lines += [f'    """The query groups of {where}, each built on first use."""', ""]
        lines += ["    rest: RestSession"]
        for attr, module, cls in entries:
            lines += [
                "",
                "    @cached_property",
                f"    def {attr}(self) -> {cls}:",
                f'        """{titles[module]}."""',
                f"        from kiwoom_async._generated.api.{module} import {cls}",
                "",
                f"        return {cls}(self.rest)",
            ]
    lines.append("")
    return format_source("\n".join(lines))


def render_all(spec: dict[str, Any]) -> dict[Path, str]:
    fill_titles(spec)
    files = {
        API_DIR / "__init__.py": render_package(spec),
        API_DIR / "groups.py": render_groups(spec),
    }
    for section, (module, _) in SECTIONS.items():
        if query_ids(section, spec):
            files[API_DIR / f"{module}.py"] = format_source(render_module(section, spec))
    return files


if __name__ == "__main__":
    write_all(render_all)
