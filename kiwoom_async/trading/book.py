"""The trade book: every trade of an account, kept true by order answers, 00/04 events and
REST snapshots, in any order and with any of them repeated.

A :class:`TradeBook` is synchronous and plain: it takes facts (an order answer, a
:class:`OrderEvent`, a :class:`Snapshot`) and updates :class:`TradeState` records; it never
waits, sends or reads anything, so one process (or a test) can drive it from anywhere.

How a fill is never counted twice, nor missed:

- a realtime fill carries the exchange's fill number: a number seen on the leg is skipped;
- it also carries the leg's cumulative filled quantity (FID 911). A fill that the cumulative
  figure says is already counted was taken from a REST snapshot (its event was still queued
  when the snapshot was read): it replaces that much of the REST fill instead of adding to it;
- a snapshot adds to a leg only what its cumulative quantity has beyond what the leg holds.
  Snapshots are applied in stream order (after the events that came before them), so their
  figures are never older than the leg's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from .model import Fill, Leg, LegKind, LogEntry, OrderSpec, Position, Side, Source, TradeState
from .model import TradeStatus as Status

__all__ = ["BookStats", "OrderEvent", "RestOrder", "Snapshot", "TradeBook", "TradeUpdate"]


class OrderEvent(msgspec.Struct, kw_only=True):
    """The fields of a 00 (주문체결) event the book reads, as plain values."""

    ord_no: str
    orig_ord_no: str = ""
    stk_cd: str = ""
    status: str = ""
    """FID 913: 접수 / 체결 / 확인 / 취소 / 거부."""
    kind_text: str = ""
    """FID 905: +매수, -매도, +매수정정, 매수취소..."""
    side: Side | None = None
    order_qty: int = 0
    order_price: int = 0
    cum_qty: int | None = None
    """The leg's cumulative filled quantity (None: not known)."""
    cum_includes_taken: bool = False
    """``cum_qty`` also counts what was moved or cancelled off the leg (900 - 902)."""
    fill_no: str = ""
    fill_qty: int = 0
    """FID 915 (unit execution quantity), else 911."""
    fill_price: int = 0
    """FID 914 (unit execution price), else 910."""
    time: str = ""
    trade_type: str = ""
    reject_reason: str = ""

    @property
    def action(self) -> LegKind:
        if "취소" in self.kind_text:
            return "cancel"
        return "modify" if "정정" in self.kind_text else "new"


class RestOrder(msgspec.Struct, kw_only=True):
    """One order number as ka10075 (open) and ka10076 (filled) describe it."""

    ord_no: str
    orig_ord_no: str = ""
    stk_cd: str = ""
    side: Side | None = None
    kind: LegKind = "new"
    qty: int = 0
    price: int = 0
    cum_qty: int = 0
    cum_amount: int | None = None
    """Exact KRW over every fill (ka10075 cntr_tot_amt), when the row has it."""
    avg_price: int | None = None
    """Average fill price (ka10076 cntr_pric), rounded by the server."""
    open: bool = False
    """Listed by ka10075: still working."""
    working: bool = False
    """Some of it still works by either list's unfilled quantity (oso_qty): a row of
    ka10076 says so for an order a page boundary of ka10075 may have skipped (rows move
    between pages while orders come and go)."""
    trade_type: str = ""


class Snapshot(msgspec.Struct, kw_only=True):
    orders: dict[str, RestOrder]
    """Order key (digits without leading zeros) -> row, ka10075 and ka10076 merged."""
    open_complete: bool = True
    """ka10075 was read to its end: a working leg missing from it no longer works."""
    positions: dict[str, Position] | None = None
    """kt00018 rows by stock code (None: not read)."""


class TradeUpdate(msgspec.Struct, kw_only=True):
    """One change to a trade, in the order the book applied it."""

    trade_id: str
    kind: str
    """``status`` (it changed), ``fill`` (a fill was added), ``leg`` (a modify/cancel joined
    the chain), ``external`` (a trade placed elsewhere was found)."""
    status: Status
    source: Source
    fill: Fill | None = None
    message: str = ""


@dataclass(slots=True)
class BookStats:
    realtime_fills: int = 0
    rest_fills: int = 0
    """Fills learned from snapshots (their events were missed)."""
    duplicate_fills: int = 0
    """Realtime fills skipped: their fill number or quantity was already counted."""
    replaced_rest_qty: int = 0
    """Shares first learned from a snapshot whose realtime fill came later."""
    gaps: int = 0
    """Realtime fills whose cumulative figure showed earlier fills missing."""
    position_mismatches: int = 0
    """Positions the 04 events had wrong when kt00018 was read."""


def order_key(ord_no: str) -> str:
    """Order numbers compare without leading zeros (the server pads them variously)."""
    if ord_no.isdigit():
        return ord_no.lstrip("0") or "0"
    digits = "".join(ch for ch in ord_no if ch.isdigit())
    return digits.lstrip("0") or ("0" if digits else "")


class TradeBook:
    """The trades, the legs by order number, orders seen but not yet claimed, positions."""

    def __init__(self) -> None:
        self.trades: dict[str, TradeState] = {}
        self.positions: dict[str, Position] = {}
        self.stats = BookStats()
        self.inflight = 0
        """Orders sent whose number is not known yet: unknown numbers may be theirs."""
        self.updates: list[TradeUpdate] = []
        """Changes since the owner last took them (it empties the list)."""
        self.balance_seq = 0
        """How many 04 events were applied: a snapshot read meanwhile is older for them."""
        self._balance_seen: dict[str, int] = {}
        self._positions_known = False
        self._legs: dict[str, tuple[TradeState, Leg]] = {}
        self._unclaimed: dict[str, TradeState] = {}

    # --- reading ------------------------------------------------------------------------

    def leg(self, ord_no: str) -> tuple[TradeState, Leg] | None:
        return self._legs.get(order_key(ord_no))

    def claimable(self, ord_no: str) -> bool:
        """Whether an order found for a trade of ours may be tied to it: nothing holds the
        number yet, or only an order nobody here claimed (an unclaimed or external one)."""
        found = self._legs.get(order_key(ord_no))
        return found is None or found[0].id in self._unclaimed or found[0].external

    def trade_of(self, ord_no: str) -> TradeState | None:
        found = self._legs.get(order_key(ord_no))
        return found[0] if found is not None else None

    # --- our own orders -----------------------------------------------------------------

    def open_trade(self, order: OrderSpec, trade_date: str) -> TradeState:
        """A trade for an order about to be sent (PENDING until its number is known)."""
        trade = TradeState(
            id=uuid.uuid4().hex[:16], order=order, created_at=time.time(), trade_date=trade_date
        )
        trade.log.append(LogEntry(time=trade.created_at, status=Status.PENDING, source="order"))
        self.trades[trade.id] = trade
        self.inflight += 1
        return trade

    def bind(self, trade: TradeState, ord_no: str, source: Source = "order") -> None:
        """The order has number ``ord_no``; events that came before the answer join it."""
        key = order_key(ord_no)
        known = self._legs.get(key)
        if known is not None and known[0] is not trade:
            if not self.claimable(ord_no):
                self.note(trade, f"order number {ord_no} already belongs to another trade")
                return
            self._adopt(trade, known[0])
        elif known is None:
            leg = Leg(ord_no=ord_no, kind="new", qty=trade.order.qty, price=trade.order.price or 0)
            trade.legs.append(leg)
            self._legs[key] = (trade, leg)
        self._touch(trade, source, f"order number {ord_no}")

    def reject(self, trade: TradeState, reason: str, source: Source = "order") -> None:
        trade.status = Status.REJECTED
        trade.reason = reason
        trade.log.append(
            LogEntry(time=time.time(), status=Status.REJECTED, source=source, message=reason)
        )
        self._emit(trade, "status", source, message=reason)

    def note(self, trade: TradeState, reason: str) -> None:
        """Something about the trade is not known (an answer lost); kept in ``reason``."""
        trade.reason = reason
        trade.log.append(
            LogEntry(time=time.time(), status=trade.status, source="order", message=reason)
        )

    def add_child(
        self,
        trade: TradeState,
        parent_ord_no: str,
        ord_no: str,
        kind: LegKind,
        qty: int,
        price: int,
        source: Source,
    ) -> Leg:
        """A modify or cancel of ``parent_ord_no`` got number ``ord_no`` for ``qty`` shares."""
        key = order_key(ord_no)
        known = self._legs.get(key)
        if known is not None:
            owner, leg = known
            if owner is trade or not (owner.id in self._unclaimed or owner.external):
                return leg
            # Seen before its parent was known to be its parent (its events or rows came
            # first, without the original's number): it joins its chain now.
            self._move_leg(owner, trade, leg)
            leg.kind, leg.orig_ord_no = kind, parent_ord_no
        else:
            leg = Leg(ord_no=ord_no, kind=kind, orig_ord_no=parent_ord_no, qty=qty, price=price)
            trade.legs.append(leg)
            self._legs[key] = (trade, leg)
        parent = self._legs.get(order_key(parent_ord_no))
        if parent is not None:
            self._take_off(parent[1], leg)
        self._emit(trade, "leg", source, message=f"{kind} {ord_no} of {parent_ord_no}: {qty}")
        self._touch(trade, source, f"{kind} {ord_no}")
        return leg

    def refresh(self, trade: TradeState, source: Source, message: str) -> None:
        """Derive the trade's status again (after something outside the legs changed)."""
        self._touch(trade, source, message)

    def settle_inflight(self) -> None:
        """One order sent earlier has its answer (or none will come)."""
        self.inflight = max(0, self.inflight - 1)
        if self.inflight == 0:
            self.claim_unclaimed()

    def claim_unclaimed(self) -> None:
        """Orders nobody here placed are external trades."""
        unclaimed, self._unclaimed = self._unclaimed, {}
        for trade in unclaimed.values():
            trade.external = True
            self.trades[trade.id] = trade
            self._emit(trade, "external", "realtime", message="placed elsewhere")

    # --- realtime -----------------------------------------------------------------------

    def apply_event(self, event: OrderEvent) -> bool:
        """Apply a 00 event; True when it shows fills missing (a snapshot should be read)."""
        key = order_key(event.ord_no)
        if not key:
            return False
        found = self._legs.get(key)
        action = event.action
        if found is None and event.orig_ord_no:
            # Fills of a modified order name the original in 904 but not the modify in 905.
            parent = self._legs.get(order_key(event.orig_ord_no))
            if parent is not None:
                leg = self.add_child(
                    parent[0],
                    parent[1].ord_no,
                    event.ord_no,
                    "cancel" if action == "cancel" else "modify",
                    event.order_qty,
                    event.order_price,
                    "realtime",
                )
                found = (parent[0], leg)
        if found is None:
            found = self._new_unclaimed(
                event.ord_no,
                event.orig_ord_no,
                action,
                OrderSpec(
                    stk_cd=event.stk_cd,
                    side=event.side or "buy",
                    qty=event.order_qty,
                    price=event.order_price or None,
                    trde_tp=event.trade_type,
                ),
            )
        trade, leg = found
        gap = False
        if event.status == "거부":
            self._refused(trade, leg, event.reject_reason)
        elif event.fill_qty > 0 and event.status == "체결":
            gap = self._realtime_fill(trade, leg, event)
        elif action == "cancel" and leg.working:
            # The exchange cancelled this order's own rest (IOC/FOK), under its own number.
            leg.closed = True
        self._touch(trade, "realtime", f"{event.status} {event.ord_no}")
        return gap

    def apply_balance(self, stk_cd: str, qty: int | None, avg_price: int | None, name: str) -> None:
        if not stk_cd or qty is None:
            return
        self.balance_seq += 1
        self._balance_seen[stk_cd] = self.balance_seq
        self._positions_known = True
        if qty <= 0:
            self.positions.pop(stk_cd, None)
            return
        self.positions[stk_cd] = Position(
            stk_cd=stk_cd, qty=qty, avg_price=avg_price or 0, name=name, source="realtime"
        )

    # --- snapshots ----------------------------------------------------------------------

    def known_working(self) -> set[str]:
        """Keys of legs that still work: a snapshot read after this may close them."""
        return {key for key, (_, leg) in self._legs.items() if leg.remaining > 0}

    def apply_snapshot(
        self, snapshot: Snapshot, working_before: set[str], balance_seq: int
    ) -> None:
        """Apply what ka10075/ka10076/kt00018 said. ``working_before`` are the legs that worked
        before ka10075 was read: only those may be closed for missing from it (a leg added
        since may simply be newer than the list). ``balance_seq`` is :attr:`balance_seq` then:
        a stock whose 04 event came during the read keeps what the event said."""
        rows = sorted(snapshot.orders.items(), key=lambda item: int(item[0] or 0))
        for key, row in rows:
            found = self._legs.get(key)
            if found is None:
                found = self._leg_from_row(row)
            trade, leg = found
            self._rest_fill(trade, leg, row)
            if row.open and leg.closed and leg.working:
                leg.closed = False  # closed on an earlier list that missed it: it works
            self._touch(trade, "rest", f"snapshot of {row.ord_no}")
        if snapshot.open_complete:
            for key in working_before:
                found = self._legs.get(key)
                if found is None:
                    continue
                trade, leg = found
                listed = snapshot.orders.get(key)
                if leg.remaining > 0 and (listed is None or not (listed.open or listed.working)):
                    leg.closed = True
                    self._touch(trade, "rest", f"{leg.ord_no} no longer open (ka10075)")
        if snapshot.positions is not None:
            self._adopt_positions(snapshot.positions, balance_seq)

    # --- state as plain data ------------------------------------------------------------

    def restore(self, trades: Iterable[TradeState], positions: dict[str, Position]) -> None:
        """Put back trades and positions read from a file (legs are indexed again)."""
        self.positions = dict(positions)
        self._positions_known = bool(positions)
        for trade in trades:
            self.trades[trade.id] = trade
            for leg in trade.legs:
                self._legs[order_key(leg.ord_no)] = (trade, leg)

    # --- internals ----------------------------------------------------------------------

    def _leg_from_row(self, row: RestOrder) -> tuple[TradeState, Leg]:
        parent = self._legs.get(order_key(row.orig_ord_no)) if row.orig_ord_no else None
        if parent is not None:
            kind: LegKind = "cancel" if row.kind == "cancel" else "modify"
            leg = self.add_child(
                parent[0], parent[1].ord_no, row.ord_no, kind, row.qty, row.price, "rest"
            )
            return parent[0], leg
        spec = OrderSpec(
            stk_cd=row.stk_cd,
            side=row.side or "buy",
            qty=row.qty,
            price=row.price or None,
            trde_tp=row.trade_type,
        )
        return self._new_unclaimed(row.ord_no, row.orig_ord_no, row.kind, spec)

    def _new_unclaimed(
        self, ord_no: str, orig_ord_no: str, kind: LegKind, spec: OrderSpec
    ) -> tuple[TradeState, Leg]:
        trade = TradeState(id=uuid.uuid4().hex[:16], order=spec, created_at=time.time())
        leg = Leg(
            ord_no=ord_no, kind=kind, orig_ord_no=orig_ord_no, qty=spec.qty, price=spec.price or 0
        )
        trade.legs.append(leg)
        self._legs[order_key(ord_no)] = (trade, leg)
        if self.inflight:
            self._unclaimed[trade.id] = trade
        else:
            trade.external = True
            self.trades[trade.id] = trade
            self._emit(trade, "external", "realtime", message="placed elsewhere")
        return trade, leg

    def _adopt(self, trade: TradeState, unclaimed: TradeState) -> None:
        """Our order's events came before its answer: their legs and fills become ours."""
        self._unclaimed.pop(unclaimed.id, None)
        self.trades.pop(unclaimed.id, None)
        for leg in unclaimed.legs:
            if leg.kind == "new" and not trade.legs:
                leg.qty, leg.price = trade.order.qty, trade.order.price or 0
            trade.legs.append(leg)
            self._legs[order_key(leg.ord_no)] = (trade, leg)
        trade.fills.extend(unclaimed.fills)
        for fill in unclaimed.fills:
            self._emit(trade, "fill", fill.source, fill=fill)

    def _move_leg(self, owner: TradeState, trade: TradeState, leg: Leg) -> None:
        """Move ``leg`` (and its fills) from an unclaimed or external trade to ``trade``."""
        owner.legs.remove(leg)
        moved = [f for f in owner.fills if f.ord_no == leg.ord_no]
        owner.fills = [f for f in owner.fills if f.ord_no != leg.ord_no]
        if not owner.legs:
            self._unclaimed.pop(owner.id, None)
            self.trades.pop(owner.id, None)
        trade.legs.append(leg)
        trade.fills.extend(moved)
        self._legs[order_key(leg.ord_no)] = (trade, leg)
        for fill in moved:
            self._emit(trade, "fill", fill.source, fill=fill)

    def _take_off(self, parent: Leg, child: Leg) -> None:
        if child.ord_no in parent.applied:
            return
        parent.applied.append(child.ord_no)
        if child.kind == "modify":
            parent.moved += child.qty
        else:
            parent.cancelled += child.qty

    def _refused(self, trade: TradeState, leg: Leg, reason: str) -> None:
        message = reason or "refused by the exchange"
        if leg.kind == "new" and leg.filled == 0:
            leg.closed = True
            self.reject(trade, message, "realtime")
            return
        # A refused modify or cancel gives its shares back to the leg it came from.
        parent = self._legs.get(order_key(leg.orig_ord_no))
        if parent is not None and leg.ord_no in parent[1].applied:
            parent[1].applied.remove(leg.ord_no)
            if leg.kind == "modify":
                parent[1].moved -= leg.qty
            else:
                parent[1].cancelled -= leg.qty
        leg.closed = True
        leg.qty = leg.filled
        self.note(trade, f"{leg.kind} {leg.ord_no} refused: {message}")

    def _realtime_fill(self, trade: TradeState, leg: Leg, event: OrderEvent) -> bool:
        qty, price = event.fill_qty, event.fill_price
        if event.fill_no and event.fill_no in leg.fill_nos:
            self.stats.duplicate_fills += 1
            return False
        gap = False
        added = qty
        cumulative = expected = event.cum_qty
        if expected is not None and event.cum_includes_taken:
            # 900 - 902 also counts shares moved or cancelled before the event, which may be
            # fewer than are known now: as a running total of fills it is an upper bound,
            # safe for telling counted shares apart, less what is known for finding gaps.
            expected -= leg.moved + leg.cancelled
        if cumulative is not None and expected is not None:
            # Of this fill, what the leg already holds (from a snapshot, or twice delivered).
            overlap = min(qty, max(0, leg.filled + qty - cumulative))
            from_rest = min(overlap, leg.rest_qty)
            added = qty - (overlap - from_rest)
            if added <= 0:
                self.stats.duplicate_fills += 1
                return False
            if from_rest:
                self._shrink_rest(trade, leg, from_rest, price)
            gap = expected > leg.filled + added
        fill = Fill(
            ord_no=leg.ord_no,
            fill_no=event.fill_no,
            qty=added,
            price=price,
            amount=added * price,
            time=event.time,
            source="realtime",
        )
        if event.fill_no:
            leg.fill_nos.append(event.fill_no)
        self._add_fill(trade, leg, fill)
        self.stats.realtime_fills += 1
        if gap:
            self.stats.gaps += 1
        return gap

    def _rest_fill(self, trade: TradeState, leg: Leg, row: RestOrder) -> None:
        missing = row.cum_qty - leg.filled
        if missing <= 0:
            return
        if row.cum_amount is not None:
            total = row.cum_amount
        else:
            total = row.cum_qty * (row.avg_price or row.price or leg.price)
        amount = total - leg.amount
        if amount <= 0:
            amount = missing * (row.avg_price or row.price or leg.price)
        fill = Fill(
            ord_no=leg.ord_no,
            fill_no="",
            qty=missing,
            price=round(amount / missing),
            amount=amount,
            source="rest",
        )
        leg.rest_qty += missing
        self._add_fill(trade, leg, fill)
        self.stats.rest_fills += 1

    def _shrink_rest(self, trade: TradeState, leg: Leg, qty: int, price: int) -> None:
        """``qty`` shares of the leg's REST fills turned out to be a realtime fill."""
        self.stats.replaced_rest_qty += qty
        left = qty
        for fill in reversed([f for f in trade.fills if f.ord_no == leg.ord_no]):
            if left == 0:
                break
            if fill.source != "rest":
                continue
            take = min(left, fill.qty)
            amount = fill.amount if take == fill.qty else min(fill.amount, take * price)
            fill.qty -= take
            fill.amount -= amount
            fill.price = round(fill.amount / fill.qty) if fill.qty else 0
            leg.filled -= take
            leg.amount -= amount
            leg.rest_qty -= take
            left -= take
        trade.fills = [f for f in trade.fills if f.qty > 0]

    def _add_fill(self, trade: TradeState, leg: Leg, fill: Fill) -> None:
        leg.filled += fill.qty
        leg.amount += fill.amount
        trade.fills.append(fill)
        self._emit(trade, "fill", fill.source, fill=fill)

    def _adopt_positions(self, positions: dict[str, Position], balance_seq: int) -> None:
        for code in set(self.positions) | set(positions):
            if self._balance_seen.get(code, 0) > balance_seq:
                continue  # an event newer than the read
            held, listed = self.positions.get(code), positions.get(code)
            if self._positions_known and (held.qty if held else 0) != (listed.qty if listed else 0):
                self.stats.position_mismatches += 1
            if listed is None:
                self.positions.pop(code, None)
            else:
                self.positions[code] = listed
        self._positions_known = True

    def _touch(self, trade: TradeState, source: Source, message: str) -> None:
        status = trade.derived_status()
        if status is trade.status:
            return
        trade.status = status
        trade.log.append(LogEntry(time=time.time(), status=status, source=source, message=message))
        self._emit(trade, "status", source, message=message)

    def _emit(
        self,
        trade: TradeState,
        kind: str,
        source: Source,
        *,
        fill: Fill | None = None,
        message: str = "",
    ) -> None:
        if trade.id in self._unclaimed:
            return  # told once it is claimed (adopted or found external)
        self.updates.append(
            TradeUpdate(
                trade_id=trade.id,
                kind=kind,
                status=trade.status,
                source=source,
                fill=fill,
                message=message,
            )
        )
