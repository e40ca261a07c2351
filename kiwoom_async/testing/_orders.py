"""Order validation and the simulator's order book.

Validation rules, checked in this order (the first failure answers):

1. Every field the spec marks required is present and non-empty, else ``return_code`` 1511
   (``필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터=<field>``). Credit orders
   (kt10006-kt10009) have no spec table of their own and follow kt10000-kt10003.
2. ``dmst_stex_tp`` is one of KRX/NXT/SOR (1517). With ``SimConfig.mock`` only KRX is served:
   other values get ``return_code`` 20,
   ``[2000](RC9000:모의투자에서는 해당업무가 제공되지 않습니다.)``.
   Gold spot orders (kt5000x) have no exchange field.
3. ``trde_tp`` is one of the values the spec lists for that TR (1517).
4. ``ord_qty`` is a positive integer (1517); for modify/cancel ``mdfy_qty``/``cncl_qty`` is a
   non-negative integer, ``0`` meaning "all that is left".
5. Price: per the spec note on ``ord_uv`` ("required for limit-type trde_tp; send empty string for
   market (3) and other price-less types"), the price-less types -- market 3/13/23, best-price
   6/16/26, top-priority 7 and the after-hours closing-price types 61/81 -- must carry an empty
   ``ord_uv``; every other type (limit 0/10/20/00, conditional limit 5, after-hours single price
   62, stop limit 28, mid price 29/30/31, whose price is the limit) needs a positive integer
   ``ord_uv`` (1517). Stop limit 28 also needs a positive ``cond_uv``; other types ignore it.
   ``mdfy_uv`` of a modify must be a positive integer.
6. Modify/cancel: ``orig_ord_no`` names an order of the same app key that still has quantity
   left, for the same stock, and the quantity does not exceed what is left.
7. Stock prices (``SimConfig.check_prices``), of new orders and of modifies: on the KRX tick
   grid for the price (:mod:`kiwoom_async.krx`; funds step 5 KRW) and inside the day's band,
   ±30% of the previous close (so 1 KRW is refused too).
8. Stock sells (``SimConfig.check_holdings``): no more shares than held minus those already
   offered by the account's open sells. ``SimConfig.holdings`` gives every account its first
   shares.

9. Stock buys (``SimConfig.cash``): the order's amount (market orders at the upper limit) fits in
   the account's cash less what its open buys already promise.
10. With ``SimConfig.market_hours``: KRX is open (a trading day, inside a session window).

The account rules (7-10) live in :mod:`._order_rules`. Failures of 6-10 answer ``return_code``
20 in the ``[2000](RCnnnn:...)`` form the fact base records for order rejections; only RC4058
and RC9000 are documented upstream, the other RC numbers (and their wording) are the
simulator's own.

Fills (``SimConfig.fill_orders``): price-less types fill at once at the market price; a buy limit
fills at the market price when its limit is at or above it (a sell when at or below), otherwise it
rests and fills on a later market tick that crosses it, or, with ``SimConfig.fill_interval``,
in random parts at its own price as the fill clock runs (counterparties arriving at the price).
IOC/FOK types that cannot fill at once are cancelled. Every execution gets a fill number and
joins :attr:`OrderDesk.fills`, whether or not anyone is connected to hear of it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from ._config import SimConfig
from ._examples import EXAMPLES
from ._market import Market, Tick, kst_now, normalize_code
from ._order_rules import RC_CLOSED, AccountRules, OrderError

__all__ = [
    "IOC_FOK_TYPES",
    "PRICELESS_TYPES",
    "TRADE_TYPE_TEXT",
    "FillRecord",
    "OrderDesk",
    "OrderError",
    "OrderEvent",
    "OrderListener",
    "OrderRecord",
    "Position",
]

log = logging.getLogger(__name__)

OrderEvent = Literal["accepted", "filled", "modified", "cancelled"]

PRICELESS_TYPES = frozenset({"3", "13", "23", "6", "16", "26", "7", "61", "81"})
IOC_FOK_TYPES = frozenset({"10", "13", "16", "20", "23", "26", "30", "31"})

TRADE_TYPE_TEXT: dict[str, str] = {
    "0": "보통",
    "00": "보통",
    "3": "시장가",
    "5": "조건부지정가",
    "81": "장마감후시간외",
    "61": "장시작전시간외",
    "62": "시간외단일가",
    "6": "최유리지정가",
    "7": "최우선지정가",
    "10": "보통(IOC)",
    "13": "시장가(IOC)",
    "16": "최유리(IOC)",
    "20": "보통(FOK)",
    "23": "시장가(FOK)",
    "26": "최유리(FOK)",
    "28": "스톱지정가",
    "29": "중간가",
    "30": "중간가(IOC)",
    "31": "중간가(FOK)",
}

_EXCHANGES = ("KRX", "NXT", "SOR")


@dataclass(slots=True)
class OrderRecord:
    """One accepted order request: a new order, a modify or a cancel, each with its own number.

    A modify moves quantity from the original (``orig_ord_no``) into this new record at the new
    price; a cancel record carries the cancelled quantity and takes it off the original.
    """

    appkey: str
    api_id: str
    ord_no: str
    """Seven digits, strictly increasing across the simulator."""
    orig_ord_no: str
    """The order a modify/cancel refers to; "" for a new order."""
    base_ord_no: str
    """The root of a modify/cancel chain (the new order's own number for a new order)."""
    action: Literal["new", "modify", "cancel"]
    stk_cd: str
    stk_nm: str
    side: Literal["buy", "sell"]
    trde_tp: str
    qty: int
    price: int
    """Limit price; 0 for price-less (market-type) orders."""
    cond_price: int
    dmst_stex_tp: str
    credit: bool
    received_at: float
    """time.time() at arrival."""
    ord_time: str
    """HHMMSS, KST."""
    remaining_qty: int
    filled_qty: int = 0
    fill_price: int = 0
    """Average price of all fills so far (0 before the first)."""
    fill_amount: int = 0
    last_fill_qty: int = 0
    last_fill_price: int = 0
    last_fill_no: str = ""
    """The fill number of the latest execution ("" before the first)."""
    status: Literal["open", "filled", "cancelled", "modified"] = "open"

    @property
    def priceless(self) -> bool:
        return self.trde_tp in PRICELESS_TYPES

    @property
    def is_gold(self) -> bool:
        return self.api_id.startswith("kt5")


@dataclass(frozen=True, slots=True)
class Position:
    """Holdings of one stock for one app key. Replaced, never mutated, so a view is a snapshot."""

    stk_cd: str
    stk_nm: str
    qty: int
    avg_price: int
    """Average purchase price, rounded to the won."""
    pur_amt: int
    """Purchase cost of the shares held."""
    tdy_buy_qty: int = 0
    tdy_sell_qty: int = 0


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution, as the exchange numbered it."""

    ord_no: str
    fill_no: str
    qty: int
    price: int
    time: str
    """HHMMSS, KST."""


OrderListener = Callable[[OrderRecord, str], None]


@dataclass(frozen=True, slots=True)
class _Kind:
    action: Literal["new", "modify", "cancel"]
    side: Literal["buy", "sell"] | None
    rules: str
    """The TR whose spec fields apply."""
    credit: bool = False
    gold: bool = False


_KINDS: dict[str, _Kind] = {
    "kt10000": _Kind("new", "buy", "kt10000"),
    "kt10001": _Kind("new", "sell", "kt10001"),
    "kt10002": _Kind("modify", None, "kt10002"),
    "kt10003": _Kind("cancel", None, "kt10003"),
    "kt10006": _Kind("new", "buy", "kt10000", credit=True),
    "kt10007": _Kind("new", "sell", "kt10001", credit=True),
    "kt10008": _Kind("modify", None, "kt10002", credit=True),
    "kt10009": _Kind("cancel", None, "kt10003", credit=True),
    "kt50000": _Kind("new", "buy", "kt50000", gold=True),
    "kt50001": _Kind("new", "sell", "kt50001", gold=True),
    "kt50002": _Kind("modify", None, "kt50002", gold=True),
    "kt50003": _Kind("cancel", None, "kt50003", gold=True),
}

_RC_MOCK = "[2000](RC9000:모의투자에서는 해당업무가 제공되지 않습니다.)"
_RC_NO_ORIG = "[2000](RC4007:원주문번호가 존재하지 않습니다.)"
_RC_NOTHING_LEFT = "[2000](RC4033:정정/취소 가능수량이 없습니다.)"
_RC_TOO_MANY = "[2000](RC4034:정정/취소 가능수량을 초과하였습니다.)"
_RC_OTHER_STOCK = "[2000](RC4003:원주문의 종목코드와 일치하지 않습니다.)"

# How often an idle fill clock looks at its knob again.
_CLOCK_IDLE = 0.05


def _missing(name: str) -> OrderError:
    return OrderError(1511, f"필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터={name}")


def _bad(name: str, reason: str) -> OrderError:
    return OrderError(1517, f"입력 값 형식이 올바르지 않습니다. 파라미터={name} 실패사유= {reason}")


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def _int_field(body: Mapping[str, Any], name: str, *, allow_zero: bool) -> int:
    text = _text(body, name)
    if not text.isascii() or not text.isdigit():
        raise _bad(name, "숫자가 아닙니다")
    value = int(text)
    if value == 0 and not allow_zero:
        raise _bad(name, "0보다 커야 합니다")
    return value


def _pad12(value: int) -> str:
    return f"{value:012d}"


class OrderDesk(AccountRules):
    """Every order the simulator accepted, the positions they built, and the order listeners."""

    def __init__(self, config: SimConfig, market: Market) -> None:
        self.config = config
        self.market = market
        self.orders: list[OrderRecord] = []
        self._by_no: dict[str, OrderRecord] = {}
        self._positions: dict[str, dict[str, Position]] = {}
        self._listeners: list[OrderListener] = []
        self._next_no = 1
        self.fills: list[FillRecord] = []
        """Every execution in order, fill numbers increasing."""
        self._next_fill_no = 1
        self._fill_rng = random.Random(f"fills:{config.seed}")
        self._cash: dict[str, int] = {}

    # --- listeners and views ---

    def add_listener(self, callback: OrderListener) -> Callable[[], None]:
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def positions(self, appkey: str) -> dict[str, Position]:
        return dict(self._book(appkey))

    def _book(self, appkey: str) -> dict[str, Position]:
        """The account's positions, opened with ``SimConfig.holdings`` on first use."""
        book = self._positions.get(appkey)
        if book is None:
            book = self._positions[appkey] = {}
            for code, qty in self.config.holdings.items():
                if qty > 0:
                    close = self.market.prev_close(code)
                    book[code] = Position(code, self.market.name(code), qty, close, qty * close)
        return book

    def get(self, ord_no: str) -> OrderRecord | None:
        return self._by_no.get(ord_no)

    def _notify(self, order: OrderRecord, event: OrderEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(order, event)
            except Exception:
                # A broken listener must not turn an accepted order into a failed HTTP request.
                log.exception("order listener failed for %s %s", order.ord_no, event)

    # --- entry point ---

    @staticmethod
    def models(api_id: str) -> bool:
        """Whether the desk keeps a book for this order TR (domestic cash, credit and gold)."""
        return api_id in _KINDS

    def submit(self, appkey: str, api_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and apply one order request; return the response body or raise OrderError."""
        kind = _KINDS.get(api_id)
        if kind is None:
            raise OrderError(1505, f"해당 API ID는 존재하지 않습니다. API ID={api_id}")
        rules = EXAMPLES[kind.rules]
        for name in rules.required:
            if not _text(body, name):
                raise _missing(name)
        if self.config.market_hours and not self._market_open():
            raise OrderError(20, RC_CLOSED)
        exchange = "KRX"
        if not kind.gold:
            exchange = _text(body, "dmst_stex_tp")
            if exchange not in _EXCHANGES:
                raise _bad("dmst_stex_tp", "허용되지 않은 값입니다")
            if self.config.mock and exchange != "KRX":
                raise OrderError(20, _RC_MOCK)
        if kind.action == "new":
            assert kind.side is not None
            return self._new(appkey, api_id, kind, kind.side, exchange, body)
        return self._amend(appkey, api_id, kind, exchange, body)

    # --- new orders ---

    def _new(
        self,
        appkey: str,
        api_id: str,
        kind: _Kind,
        side: Literal["buy", "sell"],
        exchange: str,
        body: Mapping[str, Any],
    ) -> dict[str, Any]:
        trde_tp = _text(body, "trde_tp")
        allowed = EXAMPLES[kind.rules].values.get("trde_tp")
        if allowed is not None and trde_tp not in allowed:
            raise _bad("trde_tp", "허용되지 않은 매매구분입니다")
        qty = _int_field(body, "ord_qty", allow_zero=False)
        price = 0
        cond_price = 0
        if trde_tp in PRICELESS_TYPES:
            if _text(body, "ord_uv"):
                raise _bad("ord_uv", "시장가 계열 주문에는 주문단가를 입력할 수 없습니다")
        else:
            if not _text(body, "ord_uv"):
                raise _bad("ord_uv", "지정가 계열 주문에는 주문단가가 필요합니다")
            price = _int_field(body, "ord_uv", allow_zero=False)
            if trde_tp == "28":
                if not _text(body, "cond_uv"):
                    raise _bad("cond_uv", "스톱지정가 주문에는 조건단가가 필요합니다")
                cond_price = _int_field(body, "cond_uv", allow_zero=False)
        stk_cd = normalize_code(_text(body, "stk_cd"))
        if not kind.gold:
            if price:
                self._check_price(stk_cd, price)
            if side == "sell":
                self._check_sellable(appkey, stk_cd, qty)
            else:
                self._check_cash(appkey, qty * self._buy_price(stk_cd, price))
        order = self._record(
            appkey=appkey,
            api_id=api_id,
            action="new",
            orig=None,
            stk_cd=stk_cd,
            side=side,
            trde_tp=trde_tp,
            qty=qty,
            price=price,
            cond_price=cond_price,
            exchange=exchange,
            credit=kind.credit,
        )
        self._notify(order, "accepted")
        self._execute(order, immediate=True)
        side_ko = "매수" if side == "buy" else "매도"
        message = (
            f"모의투자 {side_ko}주문완료"
            if self.config.mock
            else f"{side_ko}주문이 완료되었습니다."
        )
        response: dict[str, Any] = {"ord_no": order.ord_no}
        if not kind.gold:
            response["dmst_stex_tp"] = exchange
        response["return_code"] = 0
        response["return_msg"] = message
        return response

    # --- modify / cancel ---

    def _amend(
        self, appkey: str, api_id: str, kind: _Kind, exchange: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        qty_field = "mdfy_qty" if kind.action == "modify" else "cncl_qty"
        asked = _int_field(body, qty_field, allow_zero=True)
        new_price = 0
        if kind.action == "modify":
            new_price = _int_field(body, "mdfy_uv", allow_zero=False)
        orig = self._by_no.get(_text(body, "orig_ord_no"))
        if orig is None or orig.appkey != appkey or orig.action == "cancel":
            raise OrderError(20, _RC_NO_ORIG)
        if orig.is_gold != kind.gold:
            raise OrderError(20, _RC_NO_ORIG)
        if normalize_code(_text(body, "stk_cd")) != orig.stk_cd:
            raise OrderError(20, _RC_OTHER_STOCK)
        if orig.remaining_qty <= 0:
            raise OrderError(20, _RC_NOTHING_LEFT)
        if new_price and not kind.gold:
            self._check_price(orig.stk_cd, new_price)
        qty = asked or orig.remaining_qty
        if qty > orig.remaining_qty:
            raise OrderError(20, _RC_TOO_MANY)
        if new_price and orig.side == "buy" and not kind.gold:
            # The moved shares are promised at the new price instead of the old one.
            old = qty * self._buy_price(orig.stk_cd, orig.price)
            self._check_cash(appkey, qty * new_price - old)
        orig.remaining_qty -= qty
        if kind.action == "modify":
            return self._modify(appkey, api_id, kind, exchange, body, orig, qty, new_price)
        return self._cancel(appkey, api_id, kind, exchange, orig, qty)

    def _modify(
        self,
        appkey: str,
        api_id: str,
        kind: _Kind,
        exchange: str,
        body: Mapping[str, Any],
        orig: OrderRecord,
        qty: int,
        new_price: int,
    ) -> dict[str, Any]:
        side_ko = "매수" if orig.side == "buy" else "매도"
        if orig.remaining_qty == 0:
            orig.status = "modified"
        # A price-less order that gets a price becomes a plain limit order.
        trde_tp = orig.trde_tp
        if trde_tp in PRICELESS_TYPES:
            trde_tp = "00" if orig.is_gold else "0"
        cond = _text(body, "mdfy_cond_uv")
        order = self._record(
            appkey=appkey,
            api_id=api_id,
            action="modify",
            orig=orig,
            stk_cd=orig.stk_cd,
            side=orig.side,
            trde_tp=trde_tp,
            qty=qty,
            price=new_price,
            cond_price=int(cond) if cond.isascii() and cond.isdigit() else orig.cond_price,
            exchange=exchange,
            credit=kind.credit,
        )
        self._notify(order, "modified")
        self._execute(order, immediate=False)
        response: dict[str, Any] = {
            "ord_no": order.ord_no,
            "base_orig_ord_no": order.base_ord_no,
            "mdfy_qty": _pad12(qty),
        }
        if not kind.gold:
            response["dmst_stex_tp"] = exchange
        response["return_code"] = 0
        response["return_msg"] = f"{side_ko}정정 주문입력이 완료되었습니다"
        return response

    def _cancel(
        self,
        appkey: str,
        api_id: str,
        kind: _Kind,
        exchange: str,
        orig: OrderRecord,
        qty: int,
    ) -> dict[str, Any]:
        side_ko = "매수" if orig.side == "buy" else "매도"
        if orig.remaining_qty == 0:
            orig.status = "cancelled"
        order = self._record(
            appkey=appkey,
            api_id=api_id,
            action="cancel",
            orig=orig,
            stk_cd=orig.stk_cd,
            side=orig.side,
            trde_tp=orig.trde_tp,
            qty=qty,
            price=orig.price,
            cond_price=orig.cond_price,
            exchange=exchange,
            credit=kind.credit,
        )
        order.remaining_qty = 0
        order.status = "cancelled"
        self._notify(order, "cancelled")
        return {
            "ord_no": order.ord_no,
            "base_orig_ord_no": order.base_ord_no,
            "cncl_qty": _pad12(qty),
            "return_code": 0,
            "return_msg": f"{side_ko}취소 주문입력이 완료되었습니다",
        }

    def _record(
        self,
        *,
        appkey: str,
        api_id: str,
        action: Literal["new", "modify", "cancel"],
        orig: OrderRecord | None,
        stk_cd: str,
        side: Literal["buy", "sell"],
        trde_tp: str,
        qty: int,
        price: int,
        cond_price: int,
        exchange: str,
        credit: bool,
    ) -> OrderRecord:
        ord_no = f"{self._next_no:07d}"
        self._next_no += 1
        order = OrderRecord(
            appkey=appkey,
            api_id=api_id,
            ord_no=ord_no,
            orig_ord_no=orig.ord_no if orig is not None else "",
            base_ord_no=orig.base_ord_no if orig is not None else ord_no,
            action=action,
            stk_cd=stk_cd,
            stk_nm=self.market.name(stk_cd),
            side=side,
            trde_tp=trde_tp,
            qty=qty,
            price=price,
            cond_price=cond_price,
            dmst_stex_tp=exchange,
            credit=credit,
            received_at=time.time(),
            ord_time=kst_now().strftime("%H%M%S"),
            remaining_qty=qty,
        )
        self.orders.append(order)
        self._by_no[ord_no] = order
        return order

    # --- fills ---

    def on_tick(self, tick: Tick) -> None:
        """Fill resting orders of the ticked stock that the new price crosses."""
        if not self.config.fill_orders:
            return
        for order in list(self.orders):
            if order.stk_cd == tick.stk_cd and order.status == "open" and order.remaining_qty:
                self._execute(order, immediate=False)

    def _execute(self, order: OrderRecord, *, immediate: bool) -> None:
        if not self.config.fill_orders or order.remaining_qty <= 0:
            return
        market_price = self.market.price(order.stk_cd)
        if order.priceless:
            marketable = True
        elif order.side == "buy":
            marketable = order.price >= market_price
        else:
            marketable = order.price <= market_price
        if not marketable:
            if immediate and order.trde_tp in IOC_FOK_TYPES:
                order.remaining_qty = 0
                order.status = "cancelled"
                self._notify(order, "cancelled")
            return
        total = order.remaining_qty
        steps = [total]
        if self.config.partial_fills and total >= 2:
            steps = [total // 2, total - total // 2]
        for qty in steps:
            self._fill(order, qty, market_price)

    async def run_fill_clock(self) -> None:
        """Trade resting limit orders every ``SimConfig.fill_interval`` seconds (a task of the
        simulator, cancelled when it closes)."""
        while True:
            interval = self.config.fill_interval
            if interval <= 0:
                await asyncio.sleep(_CLOCK_IDLE)
                continue
            await asyncio.sleep(interval)
            self.fill_round()

    def fill_round(self) -> None:
        """One round of the fill clock: each resting order trades, with ``fill_chance``, a
        random part of what is left at its own price."""
        if not self.config.fill_orders:
            return
        rng = self._fill_rng
        for order in list(self.orders):
            if order.status != "open" or order.remaining_qty <= 0 or order.action == "cancel":
                continue
            if order.priceless or rng.random() >= self.config.fill_chance:
                continue
            self._fill(order, rng.randint(1, order.remaining_qty), order.price)

    def _fill(self, order: OrderRecord, qty: int, price: int) -> None:
        fill_no = f"{self._next_fill_no:07d}"
        self._next_fill_no += 1
        order.last_fill_no = fill_no
        self.fills.append(
            FillRecord(order.ord_no, fill_no, qty, price, kst_now().strftime("%H%M%S"))
        )
        order.remaining_qty -= qty
        order.filled_qty += qty
        order.fill_amount += qty * price
        order.fill_price = round(order.fill_amount / order.filled_qty)
        order.last_fill_qty = qty
        order.last_fill_price = price
        if order.remaining_qty == 0:
            order.status = "filled"
        if not order.is_gold and self.config.cash is not None:
            amount = qty * price
            cash = self.cash(order.appkey)
            self._cash[order.appkey] = cash - amount if order.side == "buy" else cash + amount
        self._apply_position(order, qty, price)
        self._notify(order, "filled")

    def _apply_position(self, order: OrderRecord, qty: int, price: int) -> None:
        book = self._book(order.appkey)
        held = book.get(order.stk_cd) or Position(order.stk_cd, order.stk_nm, 0, 0, 0)
        if order.side == "buy":
            new_qty = held.qty + qty
            cost = held.pur_amt + qty * price
            held = replace(held, qty=new_qty, pur_amt=cost, tdy_buy_qty=held.tdy_buy_qty + qty)
        else:
            new_qty = held.qty - qty
            cost = held.avg_price * new_qty if new_qty > 0 else 0
            held = replace(held, qty=new_qty, pur_amt=cost, tdy_sell_qty=held.tdy_sell_qty + qty)
        if held.qty == 0:
            book.pop(order.stk_cd, None)
            return
        avg = round(held.pur_amt / held.qty) if held.qty > 0 else price
        book[order.stk_cd] = replace(held, avg_price=avg)
