"""The TR registry: one table that says, for every REST TR (domestic and US), where it lives
and how the library treats it. REST routing, retries, typed wrappers and the simulator all
read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ._tr_table import TR_ROWS
from .errors import UnknownTRError

Category = Literal["auth", "query", "order"]
Market = Literal["domestic", "us"]


@dataclass(frozen=True, slots=True)
class TRSpec:
    api_id: str
    path: str
    market: Market
    category: Category
    paginates: bool
    name_ko: str

    @property
    def is_order(self) -> bool:
        """Orders are never resent once a request may have left the machine."""
        return self.category == "order"


def _build() -> dict[str, TRSpec]:
    table: dict[str, TRSpec] = {}
    for api_id, path, market, category, paginates, name_ko in TR_ROWS:
        if category not in ("auth", "query", "order") or market not in ("domestic", "us"):
            raise ValueError(f"TR {api_id} has no valid category or market: {category!r}")
        table[api_id] = TRSpec(
            api_id,
            path,
            market,  # type: ignore[arg-type]
            category,  # type: ignore[arg-type]
            paginates,
            name_ko,
        )
    return table


REGISTRY: Mapping[str, TRSpec] = _build()

TOKEN_ISSUE = REGISTRY["au10001"]
TOKEN_REVOKE = REGISTRY["au10002"]


def lookup(api_id: str) -> TRSpec:
    """Return the spec of ``api_id`` or raise :class:`UnknownTRError` before anything is sent."""
    try:
        return REGISTRY[api_id]
    except (KeyError, TypeError):
        raise UnknownTRError(api_id) from None
