"""Access to the example request/response bodies shipped in ``_examples.json``.

The JSON file is generated from the fact base by ``tools/gen_sim_examples.py``; it is data, read
once at import, so the simulator works without the fact base on disk.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import msgspec

__all__ = ["EXAMPLES", "TRExample", "example_request", "example_response"]


class TRExample(msgspec.Struct, frozen=True):
    request: dict[str, Any]
    """The official example request body; for catalogue TRs every field with an empty value."""
    response: dict[str, Any] | None
    """The official example response body; None for catalogue TRs (the spec has none)."""
    list_keys: list[str]
    required: list[str]
    fields: list[str]
    values: dict[str, list[str]]
    """Allowed values of enforced request fields (order TRs only)."""


class _File(msgspec.Struct, frozen=True):
    trs: dict[str, TRExample]


def _load() -> dict[str, TRExample]:
    raw = resources.files("kiwoom_async.testing").joinpath("_examples.json").read_bytes()
    return msgspec.json.decode(raw, type=_File).trs


EXAMPLES: dict[str, TRExample] = _load()


def example_request(api_id: str) -> dict[str, Any]:
    """A fresh copy of the example request of ``api_id`` (empty if unknown)."""
    entry = EXAMPLES.get(api_id)
    return copy.deepcopy(entry.request) if entry is not None else {}


def example_response(api_id: str) -> dict[str, Any] | None:
    """A fresh copy of the example response of ``api_id``; None when the spec has none."""
    entry = EXAMPLES.get(api_id)
    if entry is None or entry.response is None:
        return None
    return copy.deepcopy(entry.response)
