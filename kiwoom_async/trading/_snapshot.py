"""Reading the account's state through REST (ka10075 open orders, ka10076 filled orders,
kt00018 balance) and the 00/04 events into the plain facts the trade book takes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from ..errors import KiwoomError
from ..models.numbers import price as parse_price
from ..models.numbers import stock_code, unsigned_int
from ..models.realtime import Balance, OrderFill
from ..rest import RestSession
from .book import OrderEvent, RestOrder, Snapshot, order_key
from .model import LegKind, Position, Side

__all__ = ["CumulativeSource", "balance_of", "order_event", "read_snapshot"]

CumulativeSource = Literal["911", "unfilled", "none"]
"""Where a fill event's cumulative filled quantity is read (the fact base names FID 911
체결량 "execution quantity" and 915 단위체결량 "unit execution quantity" without saying
which is the running total): ``"911"`` FID 911 when 915 carries the fill's own quantity (as
the simulator sends them, and as Kiwoom's older OpenAPI+ documents them); ``"unfilled"``
the order quantity (900) less the unfilled quantity (902), which also counts shares moved or
cancelled before the event (after a partial modify or cancel it is an upper bound, and a fill
a snapshot already counted may then count again); ``"none"`` no running total: fill numbers
alone keep fills apart."""

log = logging.getLogger("kiwoom_async.trading")

# Pages of each list read at most per snapshot; a list cut short closes nothing.
SNAPSHOT_PAGES: Final = 50

_OPEN_BODY: Final = {"all_stk_tp": "0", "trde_tp": "0", "stk_cd": "", "stex_tp": "0"}
_FILLED_BODY: Final = {"stk_cd": "", "qry_tp": "0", "sell_tp": "0", "ord_no": "", "stex_tp": "0"}
_BALANCE_BODY: Final = {"qry_tp": "1", "dmst_stex_tp": "KRX"}


def _int(value: object) -> int | None:
    if value is None:
        return None
    try:
        return unsigned_int(str(value))
    except KiwoomError:
        return None


def _side(text: str) -> Side | None:
    if "매수" in text:
        return "buy"
    return "sell" if "매도" in text else None


def _kind(text: str) -> LegKind:
    if "취소" in text:
        return "cancel"
    return "modify" if "정정" in text else "new"


def _row(raw: Mapping[str, Any], *, listed_open: bool) -> RestOrder | None:
    ord_no = str(raw.get("ord_no") or "").strip()
    if not order_key(ord_no):
        return None
    io_name = str(raw.get("io_tp_nm") or "")
    orig = str(raw.get("orig_ord_no") or "").strip()
    return RestOrder(
        ord_no=ord_no,
        orig_ord_no=orig if order_key(orig) not in ("", "0") else "",
        stk_cd=stock_code(str(raw.get("stk_cd") or "")),
        side=_side(io_name),
        kind=_kind(io_name),
        qty=_int(raw.get("ord_qty")) or 0,
        price=_int(raw.get("ord_pric")) or 0,
        cum_qty=_int(raw.get("cntr_qty")) or 0,
        cum_amount=_int(raw.get("cntr_tot_amt")) if listed_open else None,
        avg_price=_int(raw.get("cntr_pric")),
        open=listed_open and (_int(raw.get("oso_qty")) or 0) > 0,
        working=(_int(raw.get("oso_qty")) or 0) > 0,
        trade_type=str(raw.get("trde_tp") or ""),
    )


async def _rows(
    rest: RestSession, api_id: str, body: Mapping[str, str], list_key: str
) -> tuple[list[Mapping[str, Any]], bool]:
    rows: list[Mapping[str, Any]] = []
    pager = rest.paginate(api_id, body, max_pages=SNAPSHOT_PAGES)
    async for page in pager:
        listed: object = page.body.get(list_key)
        if isinstance(listed, list):
            for row in cast(list[object], listed):
                if isinstance(row, Mapping):
                    rows.append(cast(Mapping[str, Any], row))
    return rows, not pager.has_more


async def read_snapshot(rest: RestSession, *, positions: bool = True) -> Snapshot:
    """ka10075 first, then ka10076: an order missing from the open list was done before the
    filled list was read, so the filled list has its last fills."""
    open_rows, open_complete = await _rows(rest, "ka10075", _OPEN_BODY, "oso")
    filled_rows, _ = await _rows(rest, "ka10076", _FILLED_BODY, "cntr")
    orders: dict[str, RestOrder] = {}
    for raw in open_rows:
        row = _row(raw, listed_open=True)
        if row is not None:
            orders[order_key(row.ord_no)] = row
    for raw in filled_rows:
        row = _row(raw, listed_open=False)
        if row is None:
            continue
        key = order_key(row.ord_no)
        earlier = orders.get(key)
        if earlier is None:
            orders[key] = row
        elif row.cum_qty > earlier.cum_qty:
            # Filled further between the two reads: the later figure, still open as listed.
            row.open = earlier.open
            orders[key] = row
        else:
            earlier.working = earlier.working or row.working
    held: dict[str, Position] | None = None
    if positions:
        held = {}
        balance_rows, _ = await _rows(rest, "kt00018", _BALANCE_BODY, "acnt_evlt_remn_indv_tot")
        for raw in balance_rows:
            code = stock_code(str(raw.get("stk_cd") or ""))
            qty = _int(raw.get("rmnd_qty")) or 0
            if code and qty > 0:
                held[code] = Position(
                    stk_cd=code,
                    qty=qty,
                    avg_price=_int(raw.get("pur_pric")) or 0,
                    name=str(raw.get("stk_nm") or ""),
                    source="rest",
                )
    return Snapshot(orders=orders, open_complete=open_complete, positions=held)


def order_event(event: OrderFill, cumulative_from: CumulativeSource = "911") -> OrderEvent:
    """The book's view of a 00 event; numbers stay strings where the server pads them."""
    values = event.values
    unit_qty = values.f915 or values.f911
    unit_price = values.f914 or values.f910
    cumulative: int | None = None
    if cumulative_from == "911":
        # 911 is the leg's running total when 915 carries this fill's own quantity.
        cumulative = _safe_int(values.f911) if values.f915 else None
    elif cumulative_from == "unfilled":
        ordered, unfilled = _safe_int(values.f900), _safe_int(values.f902)
        if ordered is not None and unfilled is not None:
            cumulative = ordered - unfilled
    side = values.f907
    return OrderEvent(
        ord_no=values.f9203.strip(),
        orig_ord_no=values.f904.strip() if order_key(values.f904) not in ("", "0") else "",
        stk_cd=_plain_code(values.f9001),
        status=values.f913.strip(),
        kind_text=values.f905,
        side="sell" if side == "1" else "buy" if side == "2" else _side(values.f905),
        order_qty=_safe_int(values.f900) or 0,
        order_price=_safe_price(values.f901) or 0,
        cum_qty=cumulative,
        cum_includes_taken=cumulative_from == "unfilled",
        fill_no=values.f909.strip(),
        fill_qty=_safe_int(unit_qty) or 0,
        fill_price=_safe_price(unit_price) or 0,
        time=values.f908,
        trade_type=values.f906,
        reject_reason=values.f919 if values.f919.strip() not in ("", "0") else "",
    )


def balance_of(event: Balance) -> tuple[str, int | None, int | None, str]:
    values = event.values
    return event.code, _safe_int(values.f930), _safe_price(values.f931), values.f302


def _plain_code(raw: str) -> str:
    """``A005930`` -> ``005930``: the market prefix of account events' codes."""
    return raw[1:] if len(raw) == 7 and raw[0].isalpha() else raw


def _safe_int(raw: str) -> int | None:
    try:
        return abs(int(raw))  # the common case: plain digits, maybe a marker
    except ValueError:
        pass
    try:
        return unsigned_int(raw)
    except KiwoomError:
        return None


def _safe_price(raw: str) -> int | None:
    """A price's +/- is a direction marker: the magnitude, as :func:`_safe_int` reads it."""
    try:
        return abs(int(raw))
    except ValueError:
        pass
    try:
        return parse_price(raw)
    except KiwoomError:
        return None
