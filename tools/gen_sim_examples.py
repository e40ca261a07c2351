"""Generate kiwoom_async/testing/_examples.json from the fact base (spec/kiwoom-api.json).

The simulator ships this file so that it works installed, without the fact base. Per TR it keeps
the official example request and response, the names of the required request fields, the allowed
values of order fields, and for catalogue TRs (no official example) the request field names and
list keys.

Usage: python tools/gen_sim_examples.py [path/to/spec.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiwoom_async.registry import REGISTRY  # noqa: E402
from tools._write import write_all  # noqa: E402

OUT = ROOT / "kiwoom_async" / "testing" / "_examples.json"

# Order TRs whose allowed trde_tp / dmst_stex_tp values the simulator enforces.
_VALUE_FIELDS = ("trde_tp", "dmst_stex_tp")


def _align_lists(response: dict[str, Any] | None, spec_lists: list[str]) -> dict[str, Any] | None:
    """Rename an example's list when it disagrees with the spec table on the one list key.

    The table is the authoritative part of the spec; a client that parses the table's key would
    see nothing in the example's (ka20005 shows ``inds_dt_pole_qry`` for ``inds_min_pole_qry``).
    """
    if response is None:
        return None
    example_lists = [k for k, v in response.items() if isinstance(v, list)]
    missing = [k for k in spec_lists if k not in response]
    extra = [k for k in example_lists if k not in spec_lists]
    if len(missing) == 1 and len(extra) == 1:
        return {(missing[0] if k == extra[0] else k): v for k, v in response.items()}
    return response


def _spec_entry(tr: dict[str, Any], is_order: bool) -> dict[str, Any]:
    request_fields: list[dict[str, Any]] = tr.get("request", [])
    lists = tr.get("response", {}).get("lists", {})
    entry: dict[str, Any] = {
        "request": tr.get("example_request") or {},
        "response": _align_lists(tr.get("example_response"), sorted(lists)),
        "list_keys": sorted(lists),
        # Required as the typed models read it: not where the official example leaves the
        # field empty.
        "required": [
            f["name"]
            for f in request_fields
            if f.get("required") and (tr.get("example_request") or {}).get(f["name"]) != ""
        ],
        "fields": [f["name"] for f in request_fields],
        "values": {},
    }
    if is_order:
        entry["values"] = {
            f["name"]: sorted(f["values"])
            for f in request_fields
            if f["name"] in _VALUE_FIELDS and f.get("values")
        }
    return entry


def build(spec: dict[str, Any]) -> dict[str, Any]:
    trs: dict[str, Any] = {}
    for section in spec["sections"].values():
        for api_id, tr in section["trs"].items():
            trs[api_id] = _spec_entry(tr, is_order=REGISTRY[api_id].is_order)
    # Older fact bases listed some domestic TRs only in this catalogue, without examples.
    for entries in spec.get("other_domestic_catalogue", {}).values():
        for api_id, tr in entries.items():
            if api_id in trs:
                continue
            trs[api_id] = {
                "request": {name: "" for name in tr["request_fields"]},
                "response": None,
                "list_keys": sorted(tr["list_keys"]),
                "required": [],
                "fields": list(tr["request_fields"]),
                "values": {},
            }
    return {"trs": dict(sorted(trs.items()))}


def render_all(spec: dict[str, Any]) -> dict[Path, str]:
    data = build(spec)
    return {OUT: json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"}


if __name__ == "__main__":
    write_all(render_all)
