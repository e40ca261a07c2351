"""Credit orders, US orders and the currency exchange: the same safety as cash orders (checks
before sending, the real-money guard, at most one send, idempotency keys in the client's one
ledger), and the simulator's refusal of requests the server refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from kiwoom_async import (
    APIError,
    IdempotencyError,
    InvalidOrderError,
    InvalidStockCodeError,
    Kiwoom,
    OrderStatusUnknownError,
    RealOrderNotAllowedError,
)
from kiwoom_async.testing import Simulator

APPKEY = "sim-appkey-0123456789"
SECRETKEY = "sim-secretkey-9876543210"

Place = Callable[[Kiwoom], Awaitable[Any]]

# One valid call per new order method, and the TR it sends.
VALID: list[tuple[str, Place]] = [
    ("kt10006", lambda kw: kw.credit.buy("005930", qty=1, price=60_000, trde_tp="0")),
    (
        "kt10007",
        lambda kw: kw.credit.sell("005930", qty=1, price=60_000, trde_tp="0", crd_deal_tp="99"),
    ),
    (
        "ust20000",
        lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=2, price=Decimal("213.04")),
    ),
    ("ust20001", lambda kw: kw.us.order.sell("NVDA", stex_tp="ND", qty=1, price="210.05")),
    ("ust20002", lambda kw: kw.us.order.modify("000000050", "NVDA", stex_tp="ND", price=210)),
    ("ust20003", lambda kw: kw.us.order.cancel("000000047", "NVDA", stex_tp="ND")),
    ("ust31302", lambda kw: kw.us.exchange.convert("1", 1_000_000)),
]

# Bad input, each refused before anything is sent: (field named in the error, call).
BAD: list[tuple[str, Place]] = [
    ("stk_cd", lambda kw: kw.us.order.buy("nvda", stex_tp="ND", qty=1, price=1)),
    ("stk_cd", lambda kw: kw.us.order.buy("NV DA", stex_tp="ND", qty=1, price=1)),
    ("stex_tp", lambda kw: kw.us.order.buy("NVDA", stex_tp="NASDAQ", qty=1, price=1)),  # type: ignore[arg-type]
    ("ord_qty", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=0, price=1)),
    ("ord_qty", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=True, price=1)),
    ("ord_uv", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price="213.045")),
    ("ord_uv", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=-1)),
    ("ord_uv", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=float("nan"))),
    ("ord_uv", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price="abc")),
    ("trde_tp", lambda kw: kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=1, trde_tp="0")),
    ("orig_ord_no", lambda kw: kw.us.order.cancel("12ab", "NVDA", stex_tp="ND")),
    ("orig_ord_no", lambda kw: kw.us.order.cancel("1234567890", "NVDA", stex_tp="ND")),
    ("stop_pric", lambda kw: kw.us.order.sell("NVDA", stex_tp="ND", qty=1, price=1, stop_price=0)),
    ("fc_exmn_amt", lambda kw: kw.us.exchange.convert("1", "1000.5")),
    ("exch_tp", lambda kw: kw.us.exchange.convert("3", 1000)),  # type: ignore[arg-type]
    (
        "crd_deal_tp",
        lambda kw: kw.credit.sell("005930", qty=1, price=1, trde_tp="0", crd_deal_tp="11"),  # type: ignore[arg-type]
    ),
    (
        "crd_loan_dt",
        lambda kw: kw.credit.sell(
            "005930", qty=1, price=1, trde_tp="0", crd_deal_tp="33", crd_loan_dt="2024-11-01"
        ),
    ),
    ("stk_cd", lambda kw: kw.credit.buy("005930_NX", qty=1, price=1, trde_tp="0")),
]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=5, holdings={"005930": 10}) as simulator:
        yield simulator


def client(sim: Simulator, **options: Any) -> Kiwoom:
    return Kiwoom(
        APPKEY,
        SECRETKEY,
        base_url=sim.base_url,
        ws_url=sim.ws_url,
        requests_per_second=None,
        **options,
    )


@pytest.mark.parametrize(("api_id", "place"), VALID, ids=[v[0] for v in VALID])
async def test_each_new_order_method_sends_its_tr_once(
    sim: Simulator, api_id: str, place: Place
) -> None:
    async with client(sim) as kw:
        ack = await place(kw)
    assert ack.api_id == api_id
    assert sim.stats.requests_by_api_id[api_id] == 1


@pytest.mark.parametrize(("field", "place"), BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
async def test_bad_input_raises_before_anything_is_sent(
    sim: Simulator, field: str, place: Place
) -> None:
    async with client(sim) as kw:
        with pytest.raises((InvalidOrderError, InvalidStockCodeError)) as info:
            await place(kw)
    # A stock code the exchange could not take is an InvalidStockCodeError, which has no field.
    assert getattr(info.value, "field", "stk_cd") == field
    assert sim.stats.requests_by_api_id == {}  # not even a token


async def test_dollar_prices_go_out_as_plain_digits(sim: Simulator) -> None:
    calls: list[tuple[str, str, Decimal | float]] = [
        ("BRK.B", "NY", 213.04),
        ("NVDA", "ND", Decimal("1E+2")),
        ("NVDA", "ND", Decimal("0.50")),
    ]
    async with client(sim) as kw:
        for number, (code, exchange, price) in enumerate(calls):
            await kw.us.order.buy(
                code,
                stex_tp=exchange,  # type: ignore[arg-type]
                qty=1,
                price=price,
                idempotency_key=str(number),
            )
        # The ledger keeps each order's fields as they went out.
        sent = [kw.order.ledger.get(str(n)) for n in range(len(calls))]
    assert [entry.body["ord_uv"] for entry in sent if entry] == ["213.04", "100", "0.5"]
    assert [entry.body["stk_cd"] for entry in sent if entry] == ["BRK.B", "NVDA", "NVDA"]
    assert sim.stats.requests_by_api_id["ust20000"] == 3


async def test_real_money_orders_need_the_opt_in(sim: Simulator) -> None:
    async with client(sim, env="real") as kw:
        for _, place in VALID:
            with pytest.raises(RealOrderNotAllowedError):
                await place(kw)
    assert sim.stats.requests_by_api_id == {}


async def test_a_lost_answer_is_never_resent(sim: Simulator) -> None:
    sim.config.drop_after_order = True
    async with client(sim) as kw:
        with pytest.raises(OrderStatusUnknownError):
            await kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=1, idempotency_key="k")
        entry = kw.order.ledger.get("k")
        assert entry is not None and entry.state == "unknown"
        with pytest.raises(IdempotencyError):
            await kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=1, idempotency_key="k")
    assert sim.stats.requests_by_api_id["ust20000"] == 1


async def test_one_ledger_serves_every_order_group(sim: Simulator) -> None:
    async with client(sim) as kw:
        first = await kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=1, idempotency_key="k")
        again = await kw.us.order.buy("NVDA", stex_tp="ND", qty=1, price=1, idempotency_key="k")
        assert again.replayed and again.ord_no == first.ord_no
        with pytest.raises(IdempotencyError, match="different order"):
            await kw.credit.buy("005930", qty=1, price=60_000, trde_tp="0", idempotency_key="k")
    assert sim.stats.requests_by_api_id["ust20000"] == 1
    assert sim.stats.requests_by_api_id["kt10006"] == 0


async def test_the_simulator_refuses_a_malformed_code_and_a_missing_field(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        with pytest.raises(APIError) as bad_code:
            await kw.rest.call("ka10004", {"stk_cd": "BAD!!"})
        with pytest.raises(APIError) as missing:
            await kw.rest.call("ka10004", {})
        with pytest.raises(APIError) as us_code:
            await kw.rest.call("usa20100", {"stex_tp": "ND", "stk_cd": "nvda"})
        book = await kw.quote.orderbook("005930")
    assert bad_code.value.return_code == 1902 and "BAD!!" in bad_code.value.return_msg
    assert missing.value.return_code == 1511 and "stk_cd" in missing.value.return_msg
    assert us_code.value.return_code == 1902
    assert book.return_code == 0


async def test_the_refusals_can_be_turned_off(sim: Simulator) -> None:
    sim.config.validate_requests = False
    async with client(sim) as kw:
        response = await kw.rest.call("ka10004", {})
    assert response.return_code == 0


async def test_the_order_api_sets_the_real_money_switch_both_ways(sim: Simulator) -> None:
    from kiwoom_async.api import OrderAPI

    async with client(sim, env="real", allow_real_orders=True) as kw:
        OrderAPI(kw.rest, allow_real_orders=False)
        assert not kw.rest.allow_real_orders
        with pytest.raises(RealOrderNotAllowedError):
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        OrderAPI(kw.rest)  # None leaves the switch as it is
        assert not kw.rest.allow_real_orders
        OrderAPI(kw.rest, allow_real_orders=True)
        assert kw.rest.allow_real_orders
    assert sim.stats.requests_by_api_id["kt10000"] == 0
