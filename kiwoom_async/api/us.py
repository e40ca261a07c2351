"""``kw.us``: the US groups of TRs, each built on first use and loading only its own models.
The query groups are generated; the order and currency exchange groups are in
:mod:`kiwoom_async.api.us_orders`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from .._generated.api.groups import UsGroups
from ..rest import RestSession
from ._placement import OrderPlacement

if TYPE_CHECKING:
    from .us_orders import UsExchangeAPI, UsOrderAPI

__all__ = ["UsAPI"]


class UsAPI(UsGroups):
    """The US groups, each built on first use: ``quote``, ``stock``, ``ranking``, ``chart``,
    ``sector``, ``invest``, ``watchlist``, ``account``, ``order`` and ``exchange``."""

    def __init__(self, rest: RestSession, placement: OrderPlacement) -> None:
        self.rest = rest
        self._placement = placement

    def __repr__(self) -> str:
        return f"<UsAPI base_url={self.rest.base_url!r}>"

    @cached_property
    def order(self) -> UsOrderAPI:
        """US order TRs (미국주식 주문)."""
        from .us_orders import UsOrderAPI

        return UsOrderAPI(self.rest, self._placement)

    @cached_property
    def exchange(self) -> UsExchangeAPI:
        """Currency exchange TRs (환전)."""
        from .us_orders import UsExchangeAPI

        return UsExchangeAPI(self.rest, self._placement)
