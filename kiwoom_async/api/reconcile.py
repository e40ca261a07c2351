"""Reconciliation: whether an order whose answer was lost reached the server.

A :class:`Reconciler` reads the account's order lists (through the account API) and settles
the idempotency ledger; it needs nothing of the order API. ``kw.order.reconcile`` is the way
in; the matching rule is documented there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, TypeVar, cast

import msgspec

from .._generated.api.account import AccountAPI
from .._kst import KST
from .._ledger_io import LedgerRunner
from ..errors import IdempotencyError, KiwoomValidationError, OrderStatusUnknownError
from ..ledger import trade_date
from ..models._convert import TRResponse
from ._base import TypedPager

__all__ = ["GOLD_CODES", "Reconciler", "Reconciliation"]

log = logging.getLogger("kiwoom_async.order")

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TRResponse)

GoldCodeFilter = Literal["", "M04020000", "M04020100"]
GOLD_CODES: Final = frozenset({"M04020000", "M04020100"})

_BUY, _SELL = "buy", "sell"
_SIDE_OF: Final = {"kt10000": _BUY, "kt10001": _SELL, "kt50000": _BUY, "kt50001": _SELL}
_SideFilter = Literal["0", "1", "2"]


def _side_filter(side: str) -> _SideFilter:
    """The side filter code of ka10075 / ka10076 / kt00007 / kt50031 (0: both sides)."""
    return "2" if side == _BUY else "1" if side == _SELL else "0"


# How many pages of order lists reconciliation reads at most per TR; a search cut short by
# it is reported as incomplete and settles nothing.
_RECONCILE_PAGES = 20


class Reconciliation(msgspec.Struct, frozen=True, kw_only=True):
    """What ``kw.order.reconcile`` found for an order whose answer was lost."""

    api_id: str
    candidates: tuple[str, ...]
    """Order numbers of every order that matches. More than one means another order with the
    same fields was placed in the window (by hand, or by another program): the library does
    not guess."""
    searched: tuple[str, ...]
    """The TR ids that were read."""
    idempotency_key: str | None = None
    complete: bool = True
    """False when an order list had pages left unread (the page limit): an order may be
    among them, so the ledger entry was left as it was, whatever ``candidates`` holds."""

    @property
    def found(self) -> bool:
        """At least one order matches: assume the order was placed."""
        return bool(self.candidates)

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    @property
    def ord_no(self) -> str | None:
        """The order number when exactly one order matches."""
        return self.candidates[0] if len(self.candidates) == 1 else None


@dataclass(frozen=True, slots=True)
class _Lost:
    """The request whose answer was lost, as the error or the ledger remembers it."""

    api_id: str
    body: dict[str, str]
    sent_at: float | None
    key: str | None


class Reconciler:
    def __init__(self, account: AccountAPI, ledger: LedgerRunner) -> None:
        self._account = account
        self._ledger = ledger

    async def reconcile(
        self,
        target: OrderStatusUnknownError | str,
        *,
        release_if_missing: bool,
        clock_skew: float,
    ) -> Reconciliation:
        """See :meth:`kiwoom_async.api.OrderAPI.reconcile`."""
        lost = await self._lost(target)
        if isinstance(lost, Reconciliation):
            return lost
        today = trade_date(time.time())
        # Without a send time (an error raised outside this API) assume today, as the caller
        # reconciles right after the loss.
        order_date = trade_date(lost.sent_at) if lost.sent_at is not None else today
        taken = await self._ledger.run(self._ledger.ledger.known_order_numbers, order_date)
        match = _Matcher(lost.api_id, lost.body, _earliest_time(lost.sent_at, clock_skew), taken)
        search = _Search()
        if lost.api_id in ("kt10000", "kt10001"):
            # ka10075/ka10076 list today's orders only, and their times carry no date.
            need_history = order_date != today
            if not need_history:
                await self._search_today(search, match, lost.body)
                need_history = not search.found or not search.complete
        else:
            need_history = lost.api_id.startswith("kt1")
        if need_history:
            await self._search_history(search, match, lost.body, order_date)
        if lost.api_id.startswith("kt5"):
            await self._search_gold(search, match, lost.body, order_date)
        result = Reconciliation(
            api_id=lost.api_id,
            candidates=tuple(dict.fromkeys(search.found)),
            searched=tuple(search.searched),
            idempotency_key=lost.key,
            complete=search.complete,
        )
        await self._settle(result, release_if_missing)
        return result

    async def _lost(self, target: OrderStatusUnknownError | str) -> _Lost | Reconciliation:
        if isinstance(target, OrderStatusUnknownError):
            body = {k: str(v) for k, v in target.body.items()}
            return _Lost(target.api_id, body, target.sent_at, target.idempotency_key)
        if not isinstance(target, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("reconcile takes an OrderStatusUnknownError or an idempotency key")
        entry = await self._ledger.run(self._ledger.ledger.get, target)
        if entry is None:
            raise KiwoomValidationError(f"no ledger entry for idempotency key {target!r}")
        if entry.state == "done" and entry.ack is not None:
            return Reconciliation(
                api_id=entry.api_id,
                candidates=(entry.ack.ord_no,),
                searched=(),
                idempotency_key=target,
            )
        return _Lost(entry.api_id, entry.body, entry.sent_at, target)

    async def _search_today(self, search: _Search, match: _Matcher, body: dict[str, str]) -> None:
        side_filter = _side_filter(match.side)
        code = body.get("stk_cd", "")
        search.searched.append("ka10075")
        open_found, open_complete = await _scan(
            self._account.open_orders(
                all_stk_tp="1", trde_tp=side_filter, stk_cd=code, max_pages=_RECONCILE_PAGES
            ),
            lambda page: match.rows(
                page.oso, time_of=lambda r: r.tm, orig_of=lambda r: r.orig_ord_no
            ),
        )
        search.searched.append("ka10076")
        fill_found, fill_complete = await _scan(
            self._account.filled_orders(
                qry_tp="1", sell_tp=side_filter, stk_cd=code, max_pages=_RECONCILE_PAGES
            ),
            lambda page: match.rows(
                page.cntr, time_of=lambda r: r.ord_tm, orig_of=lambda r: r.orig_ord_no
            ),
        )
        search.found += open_found + fill_found
        search.complete = open_complete and fill_complete

    async def _search_history(
        self, search: _Search, match: _Matcher, body: dict[str, str], order_date: str
    ) -> None:
        search.searched.append("kt00007")
        found, search.complete = await _scan(
            self._account.order_history(
                ord_dt=order_date,
                qry_tp="2",  # newest first: the order sought is among the first rows
                sell_tp=_side_filter(match.side),
                stk_cd=body.get("stk_cd", ""),
                max_pages=_RECONCILE_PAGES,
            ),
            lambda page: match.history_rows(page.acnt_ord_cntr_prps_dtl),
            stop=lambda page: match.older([r.ord_tm for r in page.acnt_ord_cntr_prps_dtl]),
        )
        search.found += found

    async def _search_gold(
        self, search: _Search, match: _Matcher, body: dict[str, str], order_date: str
    ) -> None:
        search.searched.append("kt50031")
        gold_code = body.get("stk_cd", "")
        listed_code = cast(GoldCodeFilter, gold_code if gold_code in GOLD_CODES else "")
        search.found, search.complete = await _scan(
            self._account.gold_order_history(
                ord_dt=order_date,
                qry_tp="2",
                sell_tp=_side_filter(match.side),
                stk_cd=listed_code,
                max_pages=_RECONCILE_PAGES,
            ),
            lambda page: match.history_rows(page.acnt_ord_cntr_prps_dtl),
            stop=lambda page: match.older([r.ord_tm for r in page.acnt_ord_cntr_prps_dtl]),
        )

    async def _settle(self, result: Reconciliation, release_if_missing: bool) -> None:
        key, api_id = result.idempotency_key, result.api_id
        if key is not None:
            if not result.complete:
                log.warning(
                    "%s: order lists had more than %d pages; key %r left as it is",
                    api_id,
                    _RECONCILE_PAGES,
                    key,
                )
            elif result.ord_no is not None or (not result.found and release_if_missing):
                try:
                    await self._ledger.run(self._ledger.ledger.resolve, key, result.ord_no)
                except (KeyError, IdempotencyError) as exc:
                    # Only an entry still waiting for its answer is settled here.
                    log.warning("%s: key %r not settled: %s", api_id, key, exc)
        if result.ambiguous:
            log.warning(
                "%s: %d orders match a lost order; not deciding which: %s",
                api_id,
                len(result.candidates),
                ", ".join(result.candidates),
            )


class _Search:
    """What a reconciliation has read and found so far."""

    def __init__(self) -> None:
        self.searched: list[str] = []
        self.found: list[str] = []
        self.complete = True


def _earliest_time(sent_at: float | None, clock_skew: float) -> str:
    """The earliest HHMMSS (KST) a matching order may carry; empty: no time filter."""
    if sent_at is None:
        return ""
    sent = _kst(sent_at)
    earliest = _kst(sent_at - clock_skew)
    # Across midnight a clock-time comparison would exclude the order itself.
    return earliest.strftime("%H%M%S") if earliest.date() == sent.date() else ""


def _kst(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, KST)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _plain_code(code: str) -> str:
    """Row codes may carry a market prefix letter (A005930); request codes never do."""
    return code[1:] if len(code) == 7 and code[0].isalpha() else code


async def _scan(
    pager: TypedPager[_P],
    match: Callable[[_P], list[str]],
    stop: Callable[[_P], bool] | None = None,
) -> tuple[list[str], bool]:
    """The matches in an order list and whether the list was read to its end (or to rows
    older than any match can be, for a newest-first list with ``stop``)."""
    found: list[str] = []
    async for page in pager:
        found += match(page)
        if stop is not None and stop(page):
            return found, True
    return found, not pager.has_more


class _Matcher:
    """The matching rule of reconciliation for one lost request."""

    def __init__(self, api_id: str, body: dict[str, str], earliest: str, taken: set[str]) -> None:
        self.api_id = api_id
        self.earliest = earliest
        self.taken = taken
        self.code = _plain_code(body.get("stk_cd", ""))
        self.side = _SIDE_OF.get(api_id, "")
        self.orig = body.get("orig_ord_no", "")
        if api_id in ("kt10002", "kt50002"):
            self.action = "정정"
            self.qty = int(body.get("mdfy_qty") or 0)
            self.price = int(body.get("mdfy_uv") or 0)
        elif api_id in ("kt10003", "kt50003"):
            self.action = "취소"
            self.qty = int(body.get("cncl_qty") or 0)
            self.price = -1  # a cancel row repeats the original price, which the body lacks
        else:
            self.action = ""
            self.qty = int(body.get("ord_qty") or 0)
            self.price = int(body.get("ord_uv") or 0)

    def older(self, times: Iterable[str]) -> bool:
        """Whether a newest-first list has reached rows sent before any match can be."""
        if not self.earliest:
            return False
        return any(len(c) == 6 and c < self.earliest for c in map(_digits, times))

    def history_rows(self, rows: Iterable[_T]) -> list[str]:
        """Matches among kt00007 / kt50031 rows, which name the action and price apart."""
        return self.rows(
            rows,
            time_of=lambda r: getattr(r, "ord_tm", ""),
            orig_of=lambda r: getattr(r, "ori_ord", ""),
            action_of=lambda r: getattr(r, "mdfy_cncl", ""),
            price_of=lambda r: getattr(r, "ord_uv", None),
        )

    def rows(
        self,
        rows: Iterable[_T],
        *,
        time_of: Callable[[_T], str],
        orig_of: Callable[[_T], str],
        action_of: Callable[[_T], str] | None = None,
        price_of: Callable[[_T], int | None] | None = None,
    ) -> list[str]:
        matches: list[str] = []
        for row in rows:
            ord_no: str = getattr(row, "ord_no", "")
            if not ord_no or ord_no in self.taken:
                continue
            if _plain_code(getattr(row, "stk_cd", "")) != self.code:
                continue
            io_name: str = getattr(row, "io_tp_nm", "")
            action = action_of(row) if action_of is not None else ""
            if self.action:
                if self.action not in io_name and self.action not in action:
                    continue
                if _digits(orig_of(row)).lstrip("0") != self.orig.lstrip("0"):
                    continue
            else:
                if "정정" in io_name or "취소" in io_name or action:
                    continue
                if _digits(orig_of(row)).strip("0"):
                    continue
                side = _BUY if "매수" in io_name else _SELL if "매도" in io_name else ""
                if self.side and side != self.side:
                    continue
            if self.qty and getattr(row, "ord_qty", None) != self.qty:
                continue
            price = price_of(row) if price_of is not None else getattr(row, "ord_pric", None)
            if self.price >= 0 and (price or 0) != self.price:
                continue
            clock = _digits(time_of(row))
            if self.earliest and len(clock) == 6 and clock < self.earliest:
                continue
            matches.append(ord_no)
        return matches
