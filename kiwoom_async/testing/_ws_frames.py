"""REAL frame bodies shaped like the official example frames: every value a string, prices with
a +/- direction marker versus the previous close, rates with two decimals, empty strings where
the server has nothing to say."""

from __future__ import annotations

from typing import Any

from ._market import Book, Tick, marked, sign_code, signed, signed_rate
from ._orders import TRADE_TYPE_TEXT, OrderRecord, Position

__all__ = [
    "CONDITIONS",
    "REAL_NAMES",
    "balance_values",
    "book_values",
    "condition_push_values",
    "condition_row",
    "order_values",
    "real_frame",
    "tick_values",
]

REAL_NAMES: dict[str, str] = {
    "00": "주문체결",
    "04": "현물잔고",
    "0A": "주식기세",
    "0B": "주식체결",
    "0C": "주식우선호가",
    "0D": "주식호가잔량",
    "0E": "주식시간외호가",
    "0F": "주식당일거래원",
    "0G": "ETF NAV",
    "0H": "주식예상체결",
    "0I": "국제금환산가격",
    "0J": "업종지수",
    "0U": "업종등락",
    "0g": "주식종목정보",
    "0m": "ELW 이론가",
    "0s": "장시작시간",
    "0u": "ELW 지표",
    "0w": "종목프로그램매매",
    "1h": "VI발동/해제",
}
"""Every domestic type a REG may name; only 00/04/0B/0D produce frames here."""

CONDITIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("0", "조건1", ("005930", "000660", "035420")),
    ("1", "조건2", ("000660", "051910")),
    ("2", "조건3", ("035720", "005380", "068270", "207940", "006400")),
    ("3", "조건4", ()),
    ("4", "조건5", ("005930",)),
]
"""Canned condition searches: (seq, name, codes that currently match)."""

_EXCHANGE = {"KRX": ("1", "KRX"), "NXT": ("2", "NXT"), "SOR": ("0", "통합")}


def padded9(value: int) -> str:
    """Nine characters, zero padded, a leading ``-`` inside the width: ``-00000100``."""
    return f"{value:09d}"


def real_frame(type_code: str, item: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "trnm": "REAL",
        "data": [
            {
                "type": type_code,
                "name": REAL_NAMES.get(type_code, "조건검색"),
                "item": item,
                "values": values,
            }
        ],
    }


def tick_values(tick: Tick, *, buy_initiated: bool = True) -> dict[str, str]:
    """Type 0B (주식체결); the sign of FID 15 says who initiated the trade."""
    ref = tick.prev_close
    value_million = tick.cum_volume * tick.price // 1_000_000
    return {
        "20": tick.time,
        "10": marked(tick.price, ref),
        "11": signed(tick.change),
        "12": signed_rate(tick.rate),
        "27": marked(tick.best_ask, ref),
        "28": marked(tick.best_bid, ref),
        "15": f"+{tick.volume}" if buy_initiated else f"-{tick.volume}",
        "13": str(tick.cum_volume),
        "14": str(value_million),
        "16": marked(tick.open, ref),
        "17": marked(tick.high, ref),
        "18": marked(tick.low, ref),
        "25": sign_code(tick.change),
        "26": "0",
        "29": "0",
        "30": "0.00",
        "31": "0.00",
        "32": "0",
        "228": "100.00",
        "311": "0",
        "290": "2",
        "691": "0",
        "567": "000000",
        "568": "000000",
        "851": "",
        "1890": "",
        "1891": "",
        "1892": "",
        "1030": "",
        "1031": "",
        "1032": "",
        "1071": "",
        "1072": "",
        "1313": "",
        "1315": "",
        "1316": "",
        "1314": "",
        "1497": "",
        "1498": "",
        "620": "",
        "732": "",
        "852": "",
        "9081": "1",
    }


def book_values(book: Book) -> dict[str, str]:
    """Type 0D (주식호가잔량): ask level n is FID 40+n (qty 60+n), bid level n is 50+n
    (qty 70+n), per-level changes 80+n / 90+n."""
    ref = book.prev_close
    values: dict[str, str] = {"21": book.time}
    total_ask = total_bid = 0
    for n in range(1, 11):
        ask_price, ask_qty = book.asks[n - 1] if n <= len(book.asks) else (0, 0)
        bid_price, bid_qty = book.bids[n - 1] if n <= len(book.bids) else (0, 0)
        total_ask += ask_qty
        total_bid += bid_qty
        values[str(40 + n)] = marked(ask_price, ref) if ask_price else "0"
        values[str(60 + n)] = str(ask_qty)
        values[str(80 + n)] = "0"
        values[str(50 + n)] = marked(bid_price, ref) if bid_price else "0"
        values[str(70 + n)] = str(bid_qty)
        values[str(90 + n)] = "0"
    net = total_bid - total_ask
    values.update(
        {
            "121": str(total_ask),
            "122": "0",
            "125": str(total_bid),
            "126": "0",
            "23": "0",
            "24": "0",
            "128": signed(net),
            "129": f"{(total_bid / total_ask * 100) if total_ask else 0:.2f}",
            "138": signed(-net),
            "139": f"{(total_ask / total_bid * 100) if total_bid else 0:.2f}",
            "200": "0",
            "201": "0.00",
            "238": "3",
            "291": "0",
            "292": "0",
            "293": "3",
            "294": "0",
            "295": "0.00",
        }
    )
    for n in range(10):
        values[str(621 + n)] = "0"
        values[str(631 + n)] = "0"
    values.update({"13": str(book.cum_volume), "299": "0.00", "215": "", "216": ""})
    for fid in range(6044, 6088):
        values[str(fid)] = "0"
    for fid in range(6100, 6116):
        values[str(fid)] = "0"
    return values


_FEE_RATE = (15, 100_000)
"""Commission 0.015 %, as on the mock server."""
_SELL_TAX_RATE = (18, 10_000)
"""Securities transaction tax on sells, 0.18 %."""


def order_values(
    order: OrderRecord,
    event: str,
    *,
    account: str,
    fill_no: str,
    tick: Tick,
) -> dict[str, str]:
    """Type 00 (주문체결) for one order event: accepted, filled, modified or cancelled.

    A modify is announced on the new order (904 names the original), a cancel on the cancel
    request whose quantity is the cancelled quantity.
    """
    sell = order.side == "sell"
    side_text = "매도" if sell else "매수"
    mark = "-" if sell else "+"
    filled = event == "filled"
    if event == "accepted":
        status, kind = "접수", f"{mark}{side_text}"
    elif filled:
        status, kind = "체결", f"{mark}{side_text}"
    elif event == "modified":
        status, kind = "확인", f"{mark}{side_text}정정"
    else:
        status, kind = "확인", f"{side_text}취소"
    fee = tax = 0
    if filled:
        fee = order.fill_amount * _FEE_RATE[0] // _FEE_RATE[1]
        tax = order.fill_amount * _SELL_TAX_RATE[0] // _SELL_TAX_RATE[1] if sell else 0
    ex_code, ex_name = _EXCHANGE.get(order.dmst_stex_tp or "KRX", ("1", "KRX"))
    ref = tick.prev_close
    return {
        "9201": account,
        "9203": order.ord_no,
        "9205": "",
        "9001": order.stk_cd,
        "912": "JJ",
        "913": status,
        "302": order.stk_nm,
        "900": str(order.qty),
        "901": str(order.price),
        "902": "0" if event == "cancelled" else str(order.remaining_qty),
        "903": str(order.fill_amount),
        "904": order.orig_ord_no or "0000000",
        "905": kind,
        "906": TRADE_TYPE_TEXT.get(order.trde_tp, "보통"),
        "907": "1" if sell else "2",
        "908": tick.time if filled else order.ord_time,
        "909": fill_no if filled else "",
        "910": str(order.fill_price) if filled else "",
        "911": str(order.filled_qty) if filled else "",
        "10": marked(tick.price, ref),
        "27": marked(tick.best_ask, ref),
        "28": marked(tick.best_bid, ref),
        "914": str(order.last_fill_price) if filled else "",
        "915": str(order.last_fill_qty) if filled else "",
        "938": str(fee),
        "939": str(tax),
        "919": "0",
        "920": "",
        "921": "0701002",
        "922": "00",
        "923": "00000000",
        "10010": "",
        "2134": ex_code,
        "2135": ex_name,
        "2136": "Y" if order.dmst_stex_tp == "SOR" else "N",
    }


def balance_values(
    position: Position | None,
    order: OrderRecord,
    *,
    account: str,
    tick: Tick,
) -> dict[str, str]:
    """Type 04 (잔고) after a fill; a position sold out is reported with quantity 0."""
    qty = position.qty if position is not None else 0
    avg = position.avg_price if position is not None else 0
    net = position.tdy_buy_qty - position.tdy_sell_qty if position is not None else 0
    ref = tick.prev_close
    pl_rate = (tick.price - avg) / avg * 100 if avg else 0.0
    return {
        "9201": account,
        "9001": order.stk_cd,
        "917": "00",
        "916": "00000000",
        "302": position.stk_nm if position is not None else order.stk_nm,
        "10": marked(tick.price, ref),
        "930": str(qty),
        "931": str(avg),
        "932": str(position.pur_amt if position is not None else 0),
        "933": str(max(qty, 0)),
        "945": str(net),
        "946": "1" if order.side == "sell" else "2",
        "950": "0",
        "951": "0",
        "27": marked(tick.best_ask, ref),
        "28": marked(tick.best_bid, ref),
        "307": str(ref),
        "8019": f"{pl_rate:.2f}",
        "957": "0",
        "958": "0",
        "918": "00000000",
        "990": "0",
        "991": "0.00",
        "992": "0",
        "993": "0.00",
        "959": "0",
        "924": "0",
    }


def condition_row(code: str, name: str, tick: Tick) -> dict[str, str]:
    """One CNSRREQ search_type 0 row: 9-char zero-padded signed numbers, ``A``-prefixed code."""
    return {
        "9001": f"A{code}",
        "302": name,
        "10": padded9(tick.price),
        "25": sign_code(tick.change),
        "11": padded9(tick.change),
        # Field 12 is the rate x 1000: "-00000130" reads as -0.130 %.
        "12": padded9(round(tick.rate * 1000)),
        "13": padded9(tick.cum_volume),
        "16": padded9(tick.open),
        "17": padded9(tick.high),
        "18": padded9(tick.low),
    }


def condition_push_values(seq: str, code: str, entered: bool, time: str) -> dict[str, str]:
    """Type 02 (조건검색): a stock entering (I) or leaving (D) a realtime condition."""
    return {"841": seq, "9001": code, "843": "I" if entered else "D", "20": time, "907": "2"}
