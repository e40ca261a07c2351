"""What a trade is, as plain data: the order as sent, its legs (each order number of the
modify/cancel chain), fills, status and log.

Everything here is a msgspec Struct of strings and numbers, so the state of a trading session
can be written to a file, sent to another process or rebuilt from either; nothing here knows
about sessions, sockets or tasks.

Quantities of a leg always add up the way the exchange keeps them::

    qty == filled + moved + cancelled + remaining

``moved`` went to modify legs (each its own order number), ``cancelled`` to cancel legs (or to
the exchange, for the unfilled rest of an IOC/FOK order), ``remaining`` still works. A leg the
exchange no longer lists as working is ``closed``: its remaining is zero whatever is not
accounted for yet.
"""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

__all__ = [
    "Fill",
    "Leg",
    "LegKind",
    "LogEntry",
    "OrderSpec",
    "Position",
    "Side",
    "Source",
    "TradeState",
    "TradeStatus",
]

Side = Literal["buy", "sell"]
LegKind = Literal["new", "modify", "cancel"]
Source = Literal["order", "realtime", "rest", "restore"]
"""Where a change came from: ``order`` the answer of the order TR, ``realtime`` a 00/04
event, ``rest`` a snapshot of ka10075/ka10076/kt00018, ``restore`` state read back from a
file."""


class TradeStatus(enum.Enum):
    """A trade's status, with Kiwoom's own words (FID 913 주문상태) in :attr:`korean`."""

    PENDING = "pending"
    """Sent; no order number yet (or its answer was lost and is being looked up)."""
    ACCEPTED = "accepted"
    """접수: the exchange took the order."""
    CONFIRMED = "confirmed"
    """확인: a modify of the order was confirmed; nothing filled yet."""
    PARTIALLY_FILLED = "partially_filled"
    """체결: some shares filled, some still working."""
    FILLED = "filled"
    """체결: every share filled."""
    CANCELLED = "cancelled"
    """취소: nothing works any more and not every share filled (see ``filled_qty``)."""
    REJECTED = "rejected"
    """거부: the server or the exchange refused the order."""

    @property
    def korean(self) -> str:
        return _KOREAN[self]

    @property
    def done(self) -> bool:
        """Filled, cancelled or rejected: nothing will change any more."""
        return self in (TradeStatus.FILLED, TradeStatus.CANCELLED, TradeStatus.REJECTED)


_KOREAN = {
    TradeStatus.PENDING: "전송",
    TradeStatus.ACCEPTED: "접수",
    TradeStatus.CONFIRMED: "확인",
    TradeStatus.PARTIALLY_FILLED: "체결",
    TradeStatus.FILLED: "체결",
    TradeStatus.CANCELLED: "취소",
    TradeStatus.REJECTED: "거부",
}


class OrderSpec(msgspec.Struct, kw_only=True):
    """The order as sent (or, for an external trade, as the server described it)."""

    stk_cd: str
    side: Side
    qty: int
    price: int | None
    """Limit price in KRW; None for price-less (market-type) orders."""
    trde_tp: str = ""
    """The trade type code as sent; for an external trade the server's text (보통, 시장가)."""
    dmst_stex_tp: str = "KRX"
    idempotency_key: str | None = None


class Fill(msgspec.Struct, kw_only=True):
    """One execution. ``fill_no`` is the exchange's execution number (FID 909); a fill learned
    from a REST snapshot has none, and may stand for several executions the snapshot summed."""

    ord_no: str
    fill_no: str
    qty: int
    price: int
    """This execution's price (for a REST fill: its amount over its quantity, rounded)."""
    amount: int
    """qty x price for a realtime fill; exactly what the snapshot added for a REST fill."""
    time: str = ""
    """HHMMSS (KST) as the server reported it."""
    source: Source = "realtime"


class Leg(msgspec.Struct, kw_only=True):
    """One order number of a trade: the new order, a modify (its own number) or a cancel."""

    ord_no: str
    kind: LegKind
    orig_ord_no: str = ""
    qty: int = 0
    """Shares ordered (new), moved here (modify) or cancelled (cancel)."""
    price: int = 0
    filled: int = 0
    amount: int = 0
    """KRW paid or received over every fill of this leg."""
    moved: int = 0
    cancelled: int = 0
    closed: bool = False
    rest_qty: int = 0
    """Of ``filled``, what REST snapshots added (fills whose events were missed)."""
    fill_nos: list[str] = msgspec.field(default_factory=list[str])
    applied: list[str] = msgspec.field(default_factory=list[str])
    """Order numbers of the modify/cancel legs already taken off this leg."""

    @property
    def working(self) -> bool:
        return self.kind != "cancel"

    @property
    def remaining(self) -> int:
        if not self.working or self.closed:
            return 0
        return max(0, self.qty - self.filled - self.moved - self.cancelled)

    @property
    def avg_price(self) -> float:
        return self.amount / self.filled if self.filled else 0.0


class LogEntry(msgspec.Struct, kw_only=True):
    time: float
    """time.time() when the change was applied."""
    status: TradeStatus
    source: Source
    message: str = ""


class Position(msgspec.Struct, kw_only=True):
    """Holdings of one stock: from 04 balance events, checked against kt00018."""

    stk_cd: str
    qty: int
    avg_price: int
    """Average purchase price (KRW)."""
    name: str = ""
    source: Source = "realtime"


class TradeState(msgspec.Struct, kw_only=True):
    """Everything known about one trade: plain data, the whole of what a process holds."""

    id: str
    """The first order number of the chain; ``local-N`` until the order has one."""
    order: OrderSpec
    legs: list[Leg] = msgspec.field(default_factory=list[Leg])
    fills: list[Fill] = msgspec.field(default_factory=list[Fill])
    status: TradeStatus = TradeStatus.PENDING
    log: list[LogEntry] = msgspec.field(default_factory=list[LogEntry])
    external: bool = False
    """Placed elsewhere (HTS/MTS, another program): learned from events or snapshots."""
    reason: str = ""
    """Why it was rejected, or what is not known about it (an answer lost)."""
    created_at: float = 0.0
    trade_date: str = ""
    requests: int = 0
    """Modify/cancel requests of this trade still waiting for their answer: until they have
    one, a leg that stopped working may have moved to a leg not known yet."""
    """KST date (YYYYMMDD) of the order: order numbers are unique within it only."""

    @property
    def ord_no(self) -> str | None:
        """The first order number of the chain (None before the server gave one)."""
        return self.legs[0].ord_no if self.legs else None

    @property
    def ord_nos(self) -> list[str]:
        """Every order number of the chain: original, modifies, cancels, in order."""
        return [leg.ord_no for leg in self.legs]

    @property
    def current_ord_no(self) -> str | None:
        """The newest leg that still works (what a modify or cancel refers to)."""
        working = [leg for leg in self.legs if leg.working and leg.remaining > 0]
        return working[-1].ord_no if working else None

    @property
    def filled_qty(self) -> int:
        return sum(leg.filled for leg in self.legs)

    @property
    def remaining_qty(self) -> int:
        if not self.legs:
            return 0 if self.status is TradeStatus.REJECTED else self.order.qty
        return sum(leg.remaining for leg in self.legs)

    @property
    def filled_amount(self) -> int:
        return sum(leg.amount for leg in self.legs)

    @property
    def avg_price(self) -> float:
        """Average fill price in KRW (0.0 before the first fill)."""
        filled = self.filled_qty
        return self.filled_amount / filled if filled else 0.0

    def derived_status(self) -> TradeStatus:
        """The status the legs imply (a rejection stays a rejection)."""
        if self.status is TradeStatus.REJECTED:
            return TradeStatus.REJECTED
        if not self.legs:
            return TradeStatus.PENDING
        filled = self.filled_qty
        if self.remaining_qty == 0 and not self.requests:
            return TradeStatus.FILLED if filled >= self.order.qty else TradeStatus.CANCELLED
        if filled:
            return TradeStatus.PARTIALLY_FILLED
        if any(leg.kind == "modify" for leg in self.legs):
            return TradeStatus.CONFIRMED
        return TradeStatus.ACCEPTED
