"""The trade book on its own: facts in any order, repeated, never counted twice."""

from __future__ import annotations

import msgspec

from kiwoom_async.trading.book import OrderEvent, RestOrder, Snapshot, TradeBook, order_key
from kiwoom_async.trading.model import OrderSpec, TradeState, TradeStatus


def _placed(book: TradeBook, qty: int = 10, price: int = 60_000) -> TradeState:
    trade = book.open_trade(
        OrderSpec(stk_cd="005930", side="buy", qty=qty, price=price, trde_tp="0"), "20250908"
    )
    book.bind(trade, "0000007")
    book.settle_inflight()
    return trade


def _fill(
    fill_no: str, qty: int, cum: int, price: int = 60_000, ord_no: str = "0000007"
) -> OrderEvent:
    return OrderEvent(
        ord_no=ord_no,
        stk_cd="005930",
        status="체결",
        kind_text="+매수",
        side="buy",
        order_qty=10,
        order_price=60_000,
        cum_qty=cum,
        fill_no=fill_no,
        fill_qty=qty,
        fill_price=price,
    )


def test_a_fill_delivered_twice_counts_once() -> None:
    book = TradeBook()
    trade = _placed(book)
    book.apply_event(_fill("0000001", 4, 4))
    book.apply_event(_fill("0000001", 4, 4))
    assert trade.filled_qty == 4 and len(trade.fills) == 1
    assert book.stats.duplicate_fills == 1
    assert trade.status is TradeStatus.PARTIALLY_FILLED


def test_a_fill_first_learned_from_rest_is_replaced_by_its_event_not_added() -> None:
    book = TradeBook()
    trade = _placed(book)
    working = book.known_working()
    rows = {"7": RestOrder(ord_no="0000007", qty=10, cum_qty=6, cum_amount=6 * 60_100, open=True)}
    book.apply_snapshot(Snapshot(orders=rows), working, book.balance_seq)
    assert trade.filled_qty == 6 and [f.source for f in trade.fills] == ["rest"]
    # The event of a fill the snapshot already counted arrives after it.
    book.apply_event(_fill("0000002", 2, 2, price=60_100))
    assert trade.filled_qty == 6
    assert sorted(f.source for f in trade.fills) == ["realtime", "rest"]
    assert book.stats.replaced_rest_qty == 2
    # A later fill adds.
    book.apply_event(_fill("0000003", 4, 10, price=60_000))
    assert trade.filled_qty == 10 and trade.status is TradeStatus.FILLED
    assert trade.filled_amount == 6 * 60_100 + 4 * 60_000


def test_a_gap_in_the_cumulative_figure_asks_for_a_snapshot() -> None:
    book = TradeBook()
    _placed(book)
    assert book.apply_event(_fill("0000001", 2, 2)) is False
    assert book.apply_event(_fill("0000009", 2, 7)) is True  # 3 shares of fills missing
    assert book.stats.gaps == 1


def test_events_before_the_answer_join_the_trade_when_it_comes() -> None:
    book = TradeBook()
    trade = book.open_trade(
        OrderSpec(stk_cd="005930", side="buy", qty=10, price=None, trde_tp="3"), "20250908"
    )
    accepted = _fill("", 0, 0)
    accepted.status, accepted.ord_no = "접수", "0000012"
    book.apply_event(accepted)
    book.apply_event(_fill("0000001", 10, 10, ord_no="0000012"))
    assert [t.id for t in book.trades.values()] == [trade.id]  # not an external trade
    book.bind(trade, "0000012")
    book.settle_inflight()
    assert trade.status is TradeStatus.FILLED and trade.filled_qty == 10
    assert not trade.external and len(book.trades) == 1


def test_unknown_orders_become_external_once_nothing_is_in_flight() -> None:
    book = TradeBook()
    event = _fill("", 0, 0, ord_no="0000100")
    event.status = "접수"
    book.apply_event(event)
    (trade,) = book.trades.values()
    assert trade.external and trade.ord_no == "0000100"
    assert any(u.kind == "external" for u in book.updates)


def test_a_leg_missing_from_the_open_orders_is_closed_with_its_last_fills() -> None:
    book = TradeBook()
    trade = _placed(book)
    working = book.known_working()
    rows = {"7": RestOrder(ord_no="0000007", qty=10, cum_qty=3, avg_price=60_000, open=False)}
    book.apply_snapshot(Snapshot(orders=rows), working, book.balance_seq)
    assert trade.filled_qty == 3 and trade.remaining_qty == 0
    assert trade.status is TradeStatus.CANCELLED
    assert trade.log[-1].source == "rest"


def test_a_modify_found_in_a_snapshot_joins_the_chain() -> None:
    book = TradeBook()
    trade = _placed(book)
    working = book.known_working()
    rows = {
        "8": RestOrder(
            ord_no="0000008", orig_ord_no="0000007", kind="modify", qty=10, price=61_000, open=True
        )
    }
    book.apply_snapshot(Snapshot(orders=rows), working, book.balance_seq)
    assert trade.ord_nos == ["0000007", "0000008"]
    assert trade.status is TradeStatus.CONFIRMED and trade.remaining_qty == 10
    assert trade.current_ord_no == "0000008"


def test_the_state_is_plain_data() -> None:
    book = TradeBook()
    trade = _placed(book)
    book.apply_event(_fill("0000001", 4, 4))
    encoded = msgspec.json.encode(trade)
    again = msgspec.json.decode(encoded, type=TradeState)
    assert again == trade and again.filled_qty == 4
    assert TradeStatus.PARTIALLY_FILLED.korean == "체결"
    assert TradeStatus.CANCELLED.korean == "취소" and TradeStatus.REJECTED.korean == "거부"


def test_order_numbers_compare_without_padding() -> None:
    assert order_key("0000018") == order_key("18") == "18"
    assert order_key("") == ""


def test_fills_of_a_modify_seen_before_the_modify_join_the_chain() -> None:
    book = TradeBook()
    trade = _placed(book)
    # The modify's own 확인 event was lost; its fill names the original in 904 only.
    fill = _fill("0000005", 4, 4, price=60_100, ord_no="0000008")
    fill.orig_ord_no, fill.order_qty = "0000007", 6
    book.apply_event(fill)
    assert trade.ord_nos == ["0000007", "0000008"] and trade.legs[1].kind == "modify"
    assert trade.filled_qty == 4 and trade.remaining_qty == 4 + 2  # 4 left here, 2 there
    assert len(book.trades) == 1


def test_an_order_seen_without_its_parent_is_moved_into_the_chain() -> None:
    book = TradeBook()
    trade = _placed(book)
    book.inflight = 1  # another order is on its way: unknown numbers may be ours
    lone = _fill("0000005", 6, 6, price=60_100, ord_no="0000009")
    lone.order_qty = 6
    book.apply_event(lone)  # no 904: nothing says whose it is yet
    assert trade.ord_nos == ["0000007"]
    book.add_child(trade, "0000007", "0000009", "modify", 6, 60_100, "order")  # the answer
    book.inflight = 0
    book.claim_unclaimed()
    assert trade.ord_nos == ["0000007", "0000009"] and trade.filled_qty == 6
    assert trade.remaining_qty == 4 and list(book.trades) == [trade.id]


def test_an_order_a_page_boundary_skipped_is_not_closed_and_reopens() -> None:
    book = TradeBook()
    trade = _placed(book)
    working = book.known_working()
    # Missing from ka10075 (its rows moved between pages), but ka10076 says 6 still work.
    row = RestOrder(ord_no="0000007", qty=10, cum_qty=4, avg_price=60_000, working=True)
    book.apply_snapshot(Snapshot(orders={"7": row}), working, book.balance_seq)
    assert trade.remaining_qty == 6 and trade.derived_status() is TradeStatus.PARTIALLY_FILLED
    # Missing from both lists: closed; listed open again later: it works after all.
    book.apply_snapshot(Snapshot(orders={}), book.known_working(), book.balance_seq)
    assert trade.remaining_qty == 0 and trade.derived_status() is TradeStatus.CANCELLED
    row = RestOrder(ord_no="0000007", qty=10, cum_qty=4, cum_amount=240_000, open=True)
    book.apply_snapshot(Snapshot(orders={"7": row}), book.known_working(), book.balance_seq)
    assert trade.remaining_qty == 6 and trade.derived_status() is TradeStatus.PARTIALLY_FILLED
    assert trade.filled_qty == 4
