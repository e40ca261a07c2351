"""The account rules the simulator's order desk applies before it books an order: prices the
exchange takes (tick grid, daily band), shares held for a sell, cash for a buy, and, when
asked, the market's hours. The RC numbers and their wording are the simulator's own except
RC4058, the fact base's example of a mock-server refusal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .._kst import KST as KST_ZONE
from ..krx import is_on_tick
from ..krx_calendar import Phase, phase_at
from ._config import SimConfig
from ._market import Market, tick_size

if TYPE_CHECKING:
    from ._orders import OrderRecord, Position

__all__ = ["RC_CLOSED", "AccountRules", "OrderError"]


class OrderError(Exception):
    """A rejected order request: answered with HTTP 200 and this return_code/return_msg."""

    def __init__(self, return_code: int, return_msg: str) -> None:
        super().__init__(return_msg)
        self.return_code = return_code
        self.return_msg = return_msg


_RC_OFF_TICK = "[2000](RC4010:주문가격이 호가단위에 맞지 않습니다. 호가단위={tick}원)"
_RC_OUT_OF_BAND = "[2000](RC4011:주문가격이 가격제한폭({lower}~{upper}원)을 벗어났습니다.)"
_RC_NOT_HELD = "[2000](RC4025:매도가능수량이 부족합니다. 매도가능수량={sellable}주)"
_RC_NO_CASH = "[2000](RC4026:주문가능금액이 부족합니다. 주문가능금액={orderable}원)"
RC_CLOSED = "[2000](RC4058:모의투자 장종료)"


class AccountRules:
    """Checks an order desk runs; it provides ``config``, ``market``, ``orders``, the cash
    per app key and the positions book."""

    config: SimConfig
    market: Market
    orders: list[OrderRecord]
    _cash: dict[str, int]

    def _book(self, appkey: str) -> dict[str, Position]:
        raise NotImplementedError

    def cash(self, appkey: str) -> int:
        """KRW the account holds: ``SimConfig.cash`` to start, moved by every stock fill."""
        return self._cash.get(appkey, self.config.cash or 0)

    def orderable(self, appkey: str) -> int:
        """Cash not already promised to open buys (market buys count at the upper limit)."""
        promised = sum(
            o.remaining_qty * self._buy_price(o.stk_cd, o.price)
            for o in self.orders
            if o.appkey == appkey
            and o.side == "buy"
            and o.action != "cancel"
            and o.status == "open"
            and not o.is_gold
        )
        return max(0, self.cash(appkey) - promised)

    def _buy_price(self, stk_cd: str, price: int) -> int:
        return price or self.market.limits(stk_cd)[1]

    def _check_price(self, stk_cd: str, price: int) -> None:
        if not self.config.check_prices:
            return
        instrument = self.market.instrument(stk_cd)
        lower, upper = self.market.limits(stk_cd)
        if not lower <= price <= upper:
            raise OrderError(20, _RC_OUT_OF_BAND.format(lower=lower, upper=upper))
        if not is_on_tick(price, instrument):
            raise OrderError(20, _RC_OFF_TICK.format(tick=tick_size(price, instrument)))

    def _check_cash(self, appkey: str, needed: int) -> None:
        if self.config.cash is None or needed <= 0:
            return
        orderable = self.orderable(appkey)
        if needed > orderable:
            raise OrderError(20, _RC_NO_CASH.format(orderable=orderable))

    def _market_open(self) -> bool:
        clock = self.config.clock
        moment = clock() if clock is not None else datetime.now(KST_ZONE)
        return phase_at(moment) not in (Phase.CLOSED, Phase.BREAK)

    def _check_sellable(self, appkey: str, stk_cd: str, qty: int) -> None:
        if not self.config.check_holdings:
            return
        held = self._book(appkey).get(stk_cd)
        offered = sum(
            o.remaining_qty
            for o in self.orders
            if o.appkey == appkey
            and o.stk_cd == stk_cd
            and o.side == "sell"
            and o.action != "cancel"
            and o.status == "open"
            and not o.is_gold
        )
        sellable = max(0, (held.qty if held is not None else 0) - offered)
        if qty > sellable:
            raise OrderError(20, _RC_NOT_HELD.format(sellable=sellable))
