"""The TR registry: one table that says, for every REST TR (domestic and US), where it lives
and how the library treats it. REST routing, retries, typed models and wrappers, the
simulator and the TR reference page all read it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._generated.tr_table import TR_ROWS
from .errors import UnknownTRError

if TYPE_CHECKING:
    from .models._convert import TRRequest, TRResponse

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
    group: str
    """The models (and wrappers) module of the TR's group: ``quote``, ``us_stock``; empty for
    the token TRs, which have no typed model."""
    model_name: str
    """The response model's class name (the request model's adds ``Request``)."""
    wrapper: str
    """Where the typed method lives on :class:`~kiwoom_async.Kiwoom`: ``quote.orderbook``,
    ``us.stock.basic_info``."""

    @property
    def is_order(self) -> bool:
        """Orders are never resent once a request may have left the machine."""
        return self.category == "order"

    @property
    def response_model(self) -> type[TRResponse]:
        """The typed response model, imported on first use."""
        model: type[TRResponse] = getattr(self._models_module(), self.model_name)
        return model

    @property
    def request_model(self) -> type[TRRequest]:
        """The request model (field checks, JSON body), imported on first use."""
        model: type[TRRequest] = getattr(self._models_module(), f"{self.model_name}Request")
        return model

    def _models_module(self) -> object:
        if not self.group:
            raise UnknownTRError(self.api_id)
        return importlib.import_module(f"kiwoom_async._generated.models.{self.group}")


def _build() -> dict[str, TRSpec]:
    table: dict[str, TRSpec] = {}
    for api_id, path, market, category, paginates, name_ko, group, model, wrapper in TR_ROWS:
        if category not in ("auth", "query", "order") or market not in ("domestic", "us"):
            raise ValueError(f"TR {api_id} has no valid category or market: {category!r}")
        table[api_id] = TRSpec(
            api_id,
            path,
            market,  # type: ignore[arg-type]
            category,  # type: ignore[arg-type]
            paginates,
            name_ko,
            group,
            model,
            wrapper,
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
