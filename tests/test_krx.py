"""KRX price rules: the 2023 tick schedule at every boundary, rounding in the caller's favour,
and a daily band whose limits are on tick and within ±30%."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiwoom_async import APIError, InvalidOrderError, Kiwoom, KiwoomValidationError
from kiwoom_async.krx import (
    Instrument,
    check_order_ticks,
    is_on_tick,
    price_band,
    round_to_tick,
    tick_size,
)
from kiwoom_async.testing import Simulator


@pytest.mark.parametrize(
    ("price", "stock", "etf"),
    [
        (1, 1, 1), (1_999, 1, 1), (2_000, 5, 5), (4_999, 5, 5), (5_000, 10, 5),
        (19_999, 10, 5), (20_000, 50, 5), (49_999, 50, 5), (50_000, 100, 5),
        (199_999, 100, 5), (200_000, 500, 5), (499_999, 500, 5), (500_000, 1_000, 5),
        (3_000_000, 1_000, 5),
    ],
)  # fmt: skip
def test_tick_sizes_at_every_boundary(price: int, stock: int, etf: int) -> None:
    assert tick_size(price) == stock
    assert tick_size(price, "etf") == etf


@pytest.mark.parametrize(
    ("price", "buy", "sell", "nearest"),
    [(60_050, 60_000, 60_100, 60_000), (60_070, 60_000, 60_100, 60_100),
     (4_997, 4_995, 5_000, 4_995), (60_000, 60_000, 60_000, 60_000)],
)  # fmt: skip
def test_rounding_favours_the_caller(price: int, buy: int, sell: int, nearest: int) -> None:
    assert round_to_tick(price, "buy") == buy
    assert round_to_tick(price, "sell") == sell
    assert round_to_tick(price) == nearest
    assert not is_on_tick(60_050) and is_on_tick(60_000)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.integers(min_value=1, max_value=5_000_000), st.sampled_from(["stock", "etf"]))
def test_rounded_prices_are_on_tick_and_bracket_the_price(price: int, kind: str) -> None:
    down = round_to_tick(price, "buy", kind)  # type: ignore[arg-type]
    up = round_to_tick(price, "sell", kind)  # type: ignore[arg-type]
    assert down <= price <= up
    assert is_on_tick(down, kind) and is_on_tick(up, kind)  # type: ignore[arg-type]
    assert up - down in (0, tick_size(down, kind))  # type: ignore[arg-type]


@settings(derandomize=True, database=None, max_examples=300)
@given(st.integers(min_value=1_000, max_value=3_000_000))
def test_the_daily_band_is_on_tick_and_inside_thirty_percent(base: int) -> None:
    lower, upper = price_band(base)
    assert is_on_tick(lower) and is_on_tick(upper)
    assert base * 0.7 <= lower <= base <= upper <= base * 1.3


@pytest.mark.parametrize("bad", [0, -5, 1.5, "60000", True])
def test_a_price_that_is_not_whole_krw_above_zero_is_refused(bad: object) -> None:
    with pytest.raises(KiwoomValidationError):
        tick_size(bad)  # type: ignore[arg-type]


def test_unknown_sides_and_instruments_are_refused() -> None:
    with pytest.raises(KiwoomValidationError):
        round_to_tick(60_050, "up")  # type: ignore[arg-type]
    with pytest.raises(KiwoomValidationError):
        tick_size(60_000, "bond")  # type: ignore[arg-type]


# --- the opt-in tick check of orders ------------------------------------------------------


def test_an_off_tick_order_price_is_refused_with_the_nearest_valid_ones() -> None:
    with pytest.raises(InvalidOrderError, match="60,000 or 60,100") as caught:
        check_order_ticks("kt10000", {"stk_cd": "005930", "ord_uv": "60050", "trde_tp": "0"})
    assert caught.value.field == "ord_uv"
    with pytest.raises(InvalidOrderError) as modify:
        check_order_ticks("kt10002", {"stk_cd": "005930", "mdfy_uv": "20001"})
    assert modify.value.field == "mdfy_uv" and "20,000 or 20,050" in str(modify.value)


def test_on_tick_market_and_unpriced_orders_pass() -> None:
    check_order_ticks("kt10000", {"stk_cd": "005930", "ord_uv": "60100"})
    check_order_ticks("kt10000", {"stk_cd": "005930", "ord_uv": "", "trde_tp": "3"})
    check_order_ticks("kt10003", {"stk_cd": "005930", "cncl_qty": "0"})
    check_order_ticks("kt50000", {"stk_cd": "M04020000", "ord_uv": "100005"})  # gold: not KRX


def test_etf_codes_use_the_etf_grid() -> None:
    etfs = {"069500"}

    def instrument_of(code: str) -> Instrument:
        return "etf" if code in etfs else "stock"

    check_order_ticks("kt10000", {"stk_cd": "069500", "ord_uv": "30005"}, instrument_of)
    with pytest.raises(InvalidOrderError, match="etf tick grid"):
        check_order_ticks("kt10000", {"stk_cd": "069500", "ord_uv": "30003"}, instrument_of)
    with pytest.raises(InvalidOrderError, match="stock tick grid"):
        check_order_ticks("kt10000", {"stk_cd": "005930", "ord_uv": "30005"}, instrument_of)


async def test_orders_opted_in_are_checked_before_anything_is_sent() -> None:
    async with (
        Simulator() as sim,
        Kiwoom("k", "s", base_url=sim.base_url, requests_per_second=None, check_ticks=True) as kw,
    ):
        with pytest.raises(InvalidOrderError, match="60,000 or 60,100"):
            await kw.order.buy("005930", qty=1, price=60_050, trde_tp="0", idempotency_key="t1")
        with pytest.raises(InvalidOrderError, match="mdfy_uv"):
            await kw.order.modify("0000001", "005930", qty=0, price=60_050)
        assert "kt10000" not in sim.stats.requests_by_api_id
        assert "kt10002" not in sim.stats.requests_by_api_id
        # The refused order left no trace in the ledger: the key is free for the fixed order.
        ack = await kw.order.buy("005930", qty=1, price=60_000, trde_tp="0", idempotency_key="t1")
        assert not ack.replayed and sim.stats.requests_by_api_id["kt10000"] == 1
        market = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        assert market.ord_no


async def test_without_the_option_an_off_tick_price_goes_to_the_server() -> None:
    async with (
        Simulator() as sim,
        Kiwoom("k", "s", base_url=sim.base_url, requests_per_second=None) as kw,
    ):
        assert kw.order.check_ticks is False
        with contextlib.suppress(APIError):  # a strict server refuses it: its call
            await kw.order.buy("005930", qty=1, price=60_050, trde_tp="0")
        assert sim.stats.requests_by_api_id["kt10000"] == 1
