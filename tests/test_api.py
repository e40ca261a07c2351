"""The typed TR wrappers (kw.quote / kw.order / kw.account / kw.chart) against the simulator."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kiwoom_async import (
    InvalidStockCodeError,
    Kiwoom,
    KiwoomValidationError,
    OrderAck,
    TypedPager,
)
from kiwoom_async.api import AccountAPI, ChartAPI, OrderAPI, QuoteAPI
from kiwoom_async.models import DailyPrices, OrderBook, StockDailyChart, UnfilledOrders
from kiwoom_async.models.tr import REQUEST_MODELS, RESPONSE_MODELS
from kiwoom_async.registry import REGISTRY
from kiwoom_async.testing import Simulator
from kiwoom_async.testing._examples import EXAMPLES as SIM_EXAMPLES

APPKEY = "sim-appkey-0123456789"
SECRETKEY = "sim-secretkey-9876543210"
ROOT = Path(__file__).resolve().parents[1]
RESTING = "{resting}"
"""Stands for the number of a resting order placed just before a modify/cancel call."""
RESTING_GOLD = "{resting-gold}"

# (group, method, api_id, positional args, keyword args): one valid call per TR.
CALLS: list[tuple[str, str, str, tuple[Any, ...], dict[str, Any]]] = [
    # quote
    ("quote", "orderbook", "ka10004", ("005930",), {}),
    ("quote", "period_prices", "ka10005", ("005930",), {}),
    ("quote", "time_snapshot", "ka10006", ("005930",), {}),
    ("quote", "quote_board", "ka10007", ("005930",), {}),
    ("quote", "subscription_rights_quotes", "ka10011", (), {"newstk_recvrht_tp": "00"}),
    (
        "quote",
        "daily_institutional_trading",
        "ka10044",
        (),
        dict(strt_dt="20241106", end_dt="20241107", trde_tp="1", mrkt_tp="001", stex_tp="3"),
    ),
    (
        "quote",
        "institutional_trading_trend",
        "ka10045",
        ("005930",),
        dict(strt_dt="20241007", end_dt="20241107", orgn_prsm_unp_tp="1", for_prsm_unp_tp="1"),
    ),
    ("quote", "execution_strength_by_time", "ka10046", ("005930",), {}),
    ("quote", "execution_strength_by_day", "ka10047", ("005930",), {}),
    (
        "quote",
        "intraday_investor_trading",
        "ka10063",
        (),
        dict(
            mrkt_tp="000", amt_qty_tp="1", invsr="6", frgn_all="0", smtm_netprps_tp="0", stex_tp="3"
        ),
    ),
    (
        "quote",
        "after_close_investor_trading",
        "ka10066",
        (),
        dict(mrkt_tp="000", amt_qty_tp="1", trde_tp="0", stex_tp="3"),
    ),
    (
        "quote",
        "broker_trading_trend",
        "ka10078",
        ("005930",),
        dict(mmcm_cd="001", strt_dt="20241106", end_dt="20241107"),
    ),
    ("quote", "daily_prices", "ka10086", ("005930",), dict(qry_dt="20241125", indc_tp="0")),
    ("quote", "after_hours_single_price", "ka10087", ("005930",), {}),
    ("quote", "gold_execution_trend", "ka50010", ("M04020000",), {}),
    ("quote", "gold_daily_trend", "ka50012", ("M04020000",), dict(base_dt="20250820")),
    ("quote", "gold_expected_execution", "ka50087", ("M04020000",), {}),
    ("quote", "gold_quote", "ka50100", ("M04020000",), {}),
    ("quote", "gold_orderbook", "ka50101", ("M04020000",), dict(tic_scope="1")),
    (
        "quote",
        "program_trading_by_time",
        "ka90005",
        (),
        dict(date="20241101", amt_qty_tp="1", mrkt_tp="P00101", min_tic_tp="1", stex_tp="1"),
    ),
    ("quote", "program_arbitrage_balance", "ka90006", (), dict(date="20241125", stex_tp="1")),
    (
        "quote",
        "program_trading_accumulated",
        "ka90007",
        (),
        dict(date="20240525", amt_qty_tp="1", mrkt_tp="0", stex_tp="3"),
    ),
    (
        "quote",
        "stock_program_trading_by_time",
        "ka90008",
        ("005930",),
        dict(amt_qty_tp="1", date="20241125"),
    ),
    (
        "quote",
        "program_trading_by_day",
        "ka90010",
        (),
        dict(date="20241125", amt_qty_tp="1", mrkt_tp="P00101", min_tic_tp="0", stex_tp="1"),
    ),
    ("quote", "stock_program_trading_by_day", "ka90013", ("005930",), {}),
    # order
    ("order", "buy", "kt10000", ("005930",), dict(qty=1, price=None, trde_tp="3")),
    ("order", "sell", "kt10001", ("005930",), dict(qty=1, price=69000, trde_tp="0")),
    ("order", "modify", "kt10002", (RESTING, "005930"), dict(qty=0, price=51000)),
    ("order", "cancel", "kt10003", (RESTING, "005930"), {}),
    ("order", "gold_buy", "kt50000", ("M04020000",), dict(qty=1, price=150_000)),
    ("order", "gold_sell", "kt50001", ("M04020000",), dict(qty=1, price=150_000)),
    ("order", "gold_modify", "kt50002", (RESTING_GOLD, "M04020000"), dict(qty=1, price=101)),
    ("order", "gold_cancel", "kt50003", (RESTING_GOLD, "M04020000"), {}),
    # account
    ("account", "account_numbers", "ka00001", (), {}),
    ("account", "daily_balance_return", "ka01690", (), dict(qry_dt="20250825")),
    ("account", "realized_pnl_by_stock_on_date", "ka10072", (), dict(strt_dt="20241128")),
    (
        "account",
        "realized_pnl_by_stock_for_period",
        "ka10073",
        (),
        dict(strt_dt="20241128", end_dt="20241128"),
    ),
    ("account", "realized_pnl_by_date", "ka10074", (), dict(strt_dt="20241128", end_dt="20241128")),
    ("account", "open_orders", "ka10075", (), {}),
    ("account", "filled_orders", "ka10076", (), {}),
    ("account", "today_realized_pnl_detail", "ka10077", ("005930",), {}),
    ("account", "returns", "ka10085", (), dict(stex_tp="0")),
    ("account", "open_split_order_detail", "ka10088", (), dict(ord_no="8")),
    ("account", "trading_journal", "ka10170", (), dict(ottks_tp="1")),
    ("account", "deposit_detail", "kt00001", (), dict(qry_tp="3")),
    (
        "account",
        "daily_estimated_assets",
        "kt00002",
        (),
        dict(start_dt="20241111", end_dt="20241125"),
    ),
    ("account", "estimated_assets", "kt00003", (), {}),
    ("account", "evaluation", "kt00004", (), {}),
    ("account", "execution_balance", "kt00005", (), {}),
    ("account", "order_history", "kt00007", (), {}),
    ("account", "next_day_settlements", "kt00008", (), {}),
    ("account", "order_status", "kt00009", (), {}),
    ("account", "orderable_amount", "kt00010", ("005930",), dict(trde_tp="2", uv="267000")),
    ("account", "orderable_qty_by_margin_rate", "kt00011", ("005930",), {}),
    ("account", "orderable_qty_by_credit_deposit_rate", "kt00012", ("005930",), {}),
    ("account", "margin_detail", "kt00013", (), {}),
    ("account", "transaction_history", "kt00015", (), dict(strt_dt="20241121", end_dt="20241125")),
    ("account", "daily_return_detail", "kt00016", (), dict(fr_dt="20241111", to_dt="20241125")),
    ("account", "today_status", "kt00017", (), {}),
    ("account", "balance", "kt00018", (), {}),
    ("account", "gold_balance", "kt50020", (), {}),
    ("account", "gold_deposit", "kt50021", (), {}),
    ("account", "gold_all_orders", "kt50030", (), dict(ord_dt="20250821")),
    ("account", "gold_order_history", "kt50031", (), {}),
    ("account", "gold_transaction_history", "kt50032", (), {}),
    ("account", "gold_open_orders", "kt50075", (), dict(ord_dt="20250821")),
    # chart
    (
        "chart",
        "investor_institution",
        "ka10060",
        ("005930",),
        dict(dt="20241107", amt_qty_tp="1", trde_tp="0", unit_tp="1000"),
    ),
    (
        "chart",
        "intraday_investor_trading",
        "ka10064",
        ("005930",),
        dict(mrkt_tp="000", amt_qty_tp="1", trde_tp="0"),
    ),
    ("chart", "ticks", "ka10079", ("005930",), dict(tic_scope="1", upd_stkpc_tp="1")),
    ("chart", "minutes", "ka10080", ("005930",), dict(tic_scope="1", upd_stkpc_tp="1")),
    ("chart", "daily", "ka10081", ("005930",), dict(base_dt="20250908", upd_stkpc_tp="1")),
    ("chart", "weekly", "ka10082", ("005930",), dict(base_dt="20250905", upd_stkpc_tp="1")),
    ("chart", "monthly", "ka10083", ("005930",), dict(base_dt="20250905", upd_stkpc_tp="1")),
    ("chart", "yearly", "ka10094", ("005930",), dict(base_dt="20250905", upd_stkpc_tp="1")),
    ("chart", "sector_ticks", "ka20004", ("001",), dict(tic_scope="1")),
    ("chart", "sector_minutes", "ka20005", ("001",), dict(tic_scope="5")),
    ("chart", "sector_daily", "ka20006", ("001",), dict(base_dt="20250905")),
    ("chart", "sector_weekly", "ka20007", ("001",), dict(base_dt="20250905")),
    ("chart", "sector_monthly", "ka20008", ("002",), dict(base_dt="20250905")),
    ("chart", "sector_yearly", "ka20019", ("001",), dict(base_dt="20250905")),
    ("chart", "gold_ticks", "ka50079", ("M04020000",), dict(tic_scope="1", upd_stkpc_tp="1")),
    ("chart", "gold_minutes", "ka50080", ("M04020000",), dict(tic_scope="1")),
    ("chart", "gold_daily", "ka50081", ("M04020000",), dict(base_dt="20250826", upd_stkpc_tp="1")),
    ("chart", "gold_weekly", "ka50082", ("M04020000",), dict(base_dt="20250826", upd_stkpc_tp="1")),
    (
        "chart",
        "gold_monthly",
        "ka50083",
        ("M04020000",),
        dict(base_dt="20250826", upd_stkpc_tp="1"),
    ),
    ("chart", "gold_today_ticks", "ka50091", ("M04020000",), dict(tic_scope="1")),
    ("chart", "gold_today_minutes", "ka50092", ("M04020000",), dict(tic_scope="1")),
]

GROUP_TYPES = {"quote": QuoteAPI, "order": OrderAPI, "account": AccountAPI, "chart": ChartAPI}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # Shares to sell: the simulator refuses sells of shares not held, as the exchange does.
    async with Simulator(seed=7, holdings={"005930": 100}) as simulator:
        yield simulator


def client(sim: Simulator) -> Kiwoom:
    return Kiwoom(
        APPKEY, SECRETKEY, base_url=sim.base_url, ws_url=sim.ws_url, requests_per_second=None
    )


# --- the table covers every TR ---------------------------------------------------------------


HAND_WRITTEN_CALLS = {c[2] for c in CALLS}
# Every other query TR is called with its official example request.
EXAMPLE_CALLS = sorted(
    api_id
    for api_id, spec in REGISTRY.items()
    if spec.group and not spec.is_order and api_id not in HAND_WRITTEN_CALLS
)
ORDER_TRS = sorted(api_id for api_id, spec in REGISTRY.items() if spec.is_order)


def test_the_tables_call_every_typed_tr() -> None:
    assert len(CALLS) == 87
    covered = HAND_WRITTEN_CALLS | set(EXAMPLE_CALLS) | set(ORDER_TRS)
    assert covered == set(REQUEST_MODELS)
    assert len(REQUEST_MODELS) == 304


def method_of(kw: Kiwoom, api_id: str) -> Any:
    """The typed method of ``api_id`` on the client, found by the registry's wrapper path."""
    target: Any = kw
    for part in REGISTRY[api_id].wrapper.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("api_id", EXAMPLE_CALLS)
async def test_every_query_tr_answers_through_its_typed_method(sim: Simulator, api_id: str) -> None:
    request = REQUEST_MODELS[api_id]
    example = SIM_EXAMPLES[api_id].request
    kwargs = {rule.attribute: example[rule.name] for rule in request.rules if rule.name in example}
    async with client(sim) as kw:
        method = method_of(kw, api_id)
        doc = inspect.getdoc(method) or ""
        assert doc.startswith(f"{api_id} {REGISTRY[api_id].name_ko}")
        before = sim.stats.requests_by_api_id[api_id]
        result = method(**kwargs)
        model = RESPONSE_MODELS[api_id]
        if REGISTRY[api_id].paginates:
            assert isinstance(result, TypedPager)
            pages = await result.all()
            assert pages and all(type(page) is model for page in pages)
            answer = pages[0]
        else:
            answer = await result
            assert type(answer) is model
        assert answer.return_code == 0
        assert not kw.rest.stats.unknown_fields, "the example-shaped answer is typed"
    assert sim.stats.requests_by_api_id[api_id] > before


@pytest.mark.parametrize(("group", "method", "api_id"), [c[:3] for c in CALLS])
def test_every_method_names_its_tr_in_its_docstring(group: str, method: str, api_id: str) -> None:
    function = getattr(GROUP_TYPES[group], method)
    doc = inspect.getdoc(function) or ""
    assert doc.startswith(f"{api_id} {REGISTRY[api_id].name_ko}"), doc.splitlines()[:1]


@pytest.mark.parametrize(
    ("group", "method", "api_id", "args", "kwargs"), CALLS, ids=[c[2] for c in CALLS]
)
async def test_every_method_returns_its_typed_model(
    sim: Simulator,
    group: str,
    method: str,
    api_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    async with client(sim) as kw:
        if RESTING in args:
            resting = await kw.order.buy("005930", qty=2, price=50_000, trde_tp="0")
            args = tuple(resting.ord_no if a == RESTING else a for a in args)
        if RESTING_GOLD in args:
            resting = await kw.order.gold_buy("M04020000", qty=2, price=100)
            args = tuple(resting.ord_no if a == RESTING_GOLD else a for a in args)
        before = sim.stats.requests_by_api_id[api_id]
        result = getattr(getattr(kw, group), method)(*args, **kwargs)
        model = RESPONSE_MODELS[api_id]
        if REGISTRY[api_id].paginates:
            assert isinstance(result, TypedPager)
            pages = await result
            assert pages and all(type(page) is model for page in pages)
            assert pages[0].return_code == 0 and pages[0].raw["return_code"] == 0
        elif group == "order":
            ack = await result
            assert isinstance(ack, OrderAck) and ack.api_id == api_id
            assert ack.ord_no == ack.raw["ord_no"] and ack.ord_no.isdigit()
            typed = model.from_raw(ack.raw)
            assert typed.ord_no == ack.ord_no  # type: ignore[attr-defined]
        else:
            response = await result
            assert type(response) is model
            assert response.return_code == 0 and isinstance(response.raw, dict)
        assert sim.stats.requests_by_api_id[api_id] > before


# --- representative typed answers ------------------------------------------------------------


async def test_orderbook_prices_are_ints_matching_the_raw_body_without_the_marker(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        book = await kw.quote.orderbook("005930")
    assert isinstance(book, OrderBook)
    raw_ask = book.raw["sel_fpr_bid"]
    assert isinstance(book.sel_fpr_bid, int)
    assert book.sel_fpr_bid == int(raw_ask.lstrip("+-"))
    assert book.sel_fpr_bid_dir == (
        -1 if raw_ask.startswith("-") else 1 if raw_ask[0] == "+" else 0
    )
    assert isinstance(book.buy_fpr_bid, int) and book.buy_fpr_bid < book.sel_fpr_bid
    assert isinstance(book.tot_sel_req, int) and book.tot_sel_req == int(book.raw["tot_sel_req"])


async def test_a_suffixed_code_reaches_quote_trs(sim: Simulator) -> None:
    async with client(sim) as kw:
        snapshot = await kw.quote.time_snapshot("005930_NX")
    assert snapshot.return_code == 0
    assert sim.stats.requests_by_api_id["ka10006"] == 1


@pytest.mark.parametrize("code", ["5930", "005930_XX", "ABCDEF", "", "0059300"])
async def test_a_bad_stock_code_raises_before_sending(sim: Simulator, code: str) -> None:
    async with client(sim) as kw:
        with pytest.raises(InvalidStockCodeError):
            await kw.quote.orderbook(code)
        with pytest.raises(InvalidStockCodeError):
            kw.chart.daily(code, base_dt="20250908", upd_stkpc_tp="1")
    assert not sim.stats.requests_by_api_id


async def test_a_code_outside_the_allowed_list_raises_before_sending(sim: Simulator) -> None:
    async with client(sim) as kw:
        with pytest.raises(KiwoomValidationError, match="upd_stkpc_tp"):
            kw.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="2")  # type: ignore[arg-type]
        with pytest.raises(KiwoomValidationError, match="stk_cd"):
            await kw.quote.gold_quote("M0402")  # type: ignore[arg-type]
    assert not sim.stats.requests_by_api_id


async def test_paginating_wrapper_yields_typed_pages_in_order(sim: Simulator) -> None:
    sim.config.pages = 3
    async with client(sim) as kw:
        pager = kw.quote.daily_prices("005930", qry_dt="20241125", indc_tp="0")
        pages = [page async for page in pager]
    assert [type(p) for p in pages] == [DailyPrices] * 3
    dates = [row.date for page in pages for row in page.daly_stkpc]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)
    assert all(isinstance(row.close_pric, int) for page in pages for row in page.daly_stkpc)
    assert pager.has_more is False and pager.next_key == "" and pager.pages_fetched == 3


async def test_a_pager_stopped_by_max_pages_resumes_from_its_next_key(sim: Simulator) -> None:
    sim.config.pages = 3
    async with client(sim) as kw:
        first = kw.chart.daily("005930", base_dt="20250908", upd_stkpc_tp="1", max_pages=1)
        head = await first
        assert first.has_more and first.next_key
        rest = await kw.chart.daily(
            "005930", base_dt="20250908", upd_stkpc_tp="1", next_key=first.next_key
        )
    assert [type(p) for p in head + rest] == [StockDailyChart] * 3
    assert sim.stats.requests_by_api_id["ka10081"] == 3


async def test_open_orders_reads_the_orders_the_simulator_recorded(sim: Simulator) -> None:
    async with client(sim) as kw:
        ack = await kw.order.buy("005930", qty=3, price=50_000, trde_tp="0")
        pages = await kw.account.open_orders()
    assert [type(p) for p in pages] == [UnfilledOrders]
    (row,) = pages[0].oso
    assert row.ord_no == ack.ord_no and row.ord_qty == 3 and row.ord_pric == 50_000
