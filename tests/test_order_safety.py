"""Order safety: checks before sending, the real-money guard, idempotency keys and the ledger,
and reconciliation of orders whose answer was lost."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kiwoom_async import (
    FileLedger,
    IdempotencyError,
    InvalidOrderError,
    InvalidStockCodeError,
    Kiwoom,
    KiwoomValidationError,
    MemoryLedger,
    OrderAck,
    OrderLedger,
    OrderRejectedError,
    OrderStatusUnknownError,
    RealOrderNotAllowedError,
)
from kiwoom_async.ledger import (
    INFLIGHT_TIMEOUT,
    LedgerCorruptError,
    LedgerEntry,
    fingerprint,
    trade_date,
)
from kiwoom_async.testing import Simulator

from .conftest import seconds, until

APPKEY = "sim-appkey-0123456789"
SECRETKEY = "sim-secretkey-9876543210"
ROOT = Path(__file__).resolve().parents[1]
ORDER_IDS = ("kt10000", "kt10001", "kt10002", "kt10003", "kt50000", "kt50001", "kt50002", "kt50003")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=11) as simulator:
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


def order_requests(sim: Simulator) -> int:
    return sum(sim.stats.requests_by_api_id[api_id] for api_id in ORDER_IDS)


# --- bad input never leaves the machine ----------------------------------------------------

MARKET: dict[str, Any] = {"qty": 1, "price": None, "trde_tp": "3"}
LIMIT: dict[str, Any] = {"qty": 1, "price": 70_000, "trde_tp": "0"}
GOLD: dict[str, Any] = {"qty": 1, "price": 150_000}
AMEND: dict[str, Any] = {"qty": 1, "price": 70_000}
ORIG = "0000001"
NXT = {"dmst_stex_tp": "NXT"}
GOLD_CODE = "M04020000"

# (case id, method, positional args, keyword args, the error it must raise)
BAD_ORDERS: list[tuple[str, str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
    ("buy-short-code", "buy", ("5930",), MARKET, InvalidStockCodeError),
    ("buy-suffix", "buy", ("005930_NX",), MARKET, InvalidStockCodeError),
    ("buy-int-code", "buy", (5930,), MARKET, InvalidStockCodeError),
    ("buy-zero-qty", "buy", ("005930",), MARKET | {"qty": 0}, InvalidOrderError),
    ("buy-negative-qty", "buy", ("005930",), MARKET | {"qty": -2}, InvalidOrderError),
    ("buy-float-qty", "buy", ("005930",), MARKET | {"qty": 1.5}, InvalidOrderError),
    ("buy-qty-past-the-field", "buy", ("005930",), MARKET | {"qty": 10**12}, InvalidOrderError),
    ("buy-price-past-the-field", "buy", ("005930",), LIMIT | {"price": 10**12}, InvalidOrderError),
    ("buy-str-qty", "buy", ("005930",), MARKET | {"qty": "1"}, InvalidOrderError),
    ("buy-bool-qty", "buy", ("005930",), MARKET | {"qty": True}, InvalidOrderError),
    ("buy-market-with-price", "buy", ("005930",), MARKET | {"price": 70_000}, InvalidOrderError),
    ("buy-best-ioc-with-price", "buy", ("005930",), LIMIT | {"trde_tp": "16"}, InvalidOrderError),
    ("buy-limit-no-price", "buy", ("005930",), LIMIT | {"price": None}, InvalidOrderError),
    ("buy-limit-zero-price", "buy", ("005930",), LIMIT | {"price": 0}, InvalidOrderError),
    ("buy-limit-str-price", "buy", ("005930",), LIMIT | {"price": "70000"}, InvalidOrderError),
    ("buy-stop-no-cond", "buy", ("005930",), LIMIT | {"trde_tp": "28"}, InvalidOrderError),
    ("buy-cond-not-stop", "buy", ("005930",), LIMIT | {"cond_price": 69_000}, InvalidOrderError),
    ("buy-unknown-type", "buy", ("005930",), LIMIT | {"trde_tp": "99"}, InvalidOrderError),
    ("buy-gold-type", "buy", ("005930",), LIMIT | {"trde_tp": "00"}, InvalidOrderError),
    ("buy-bad-exchange", "buy", ("005930",), MARKET | {"dmst_stex_tp": "NYSE"}, InvalidOrderError),
    ("buy-nxt-on-mock", "buy", ("005930",), MARKET | {"dmst_stex_tp": "NXT"}, InvalidOrderError),
    ("sell-zero-qty", "sell", ("005930",), LIMIT | {"qty": 0}, InvalidOrderError),
    ("sell-ioc-with-price", "sell", ("005930",), LIMIT | {"trde_tp": "13"}, InvalidOrderError),
    ("sell-bad-code", "sell", ("00593A_",), MARKET, InvalidStockCodeError),
    ("sell-sor-on-mock", "sell", ("005930",), MARKET | {"dmst_stex_tp": "SOR"}, InvalidOrderError),
    ("modify-bad-orig", "modify", ("12a", "005930"), AMEND, InvalidOrderError),
    ("modify-long-orig", "modify", ("12345678", "005930"), AMEND, InvalidOrderError),
    ("modify-negative-qty", "modify", (ORIG, "005930"), AMEND | {"qty": -1}, InvalidOrderError),
    ("modify-zero-price", "modify", (ORIG, "005930"), AMEND | {"price": 0}, InvalidOrderError),
    ("modify-bad-code", "modify", (ORIG, "05930"), AMEND, InvalidStockCodeError),
    ("modify-nxt-on-mock", "modify", (ORIG, "005930"), AMEND | NXT, InvalidOrderError),
    ("cancel-negative-qty", "cancel", (ORIG, "005930"), {"qty": -1}, InvalidOrderError),
    ("cancel-empty-orig", "cancel", ("", "005930"), {}, InvalidOrderError),
    ("cancel-bad-code", "cancel", (ORIG, "005930_AL"), {}, InvalidStockCodeError),
    ("gold-buy-stock-code", "gold_buy", ("005930",), GOLD, InvalidOrderError),
    ("gold-buy-zero-price", "gold_buy", (GOLD_CODE,), GOLD | {"price": 0}, InvalidOrderError),
    ("gold-buy-zero-qty", "gold_buy", (GOLD_CODE,), GOLD | {"qty": 0}, InvalidOrderError),
    ("gold-buy-stock-type", "gold_buy", (GOLD_CODE,), GOLD | {"trde_tp": "0"}, InvalidOrderError),
    ("gold-sell-no-price", "gold_sell", (GOLD_CODE,), GOLD | {"price": None}, InvalidOrderError),
    ("gold-sell-market", "gold_sell", (GOLD_CODE,), GOLD | {"trde_tp": "3"}, InvalidOrderError),
    ("gold-modify-bad-orig", "gold_modify", ("x", GOLD_CODE), AMEND, InvalidOrderError),
    ("gold-modify-free", "gold_modify", (ORIG, GOLD_CODE), AMEND | {"price": 0}, InvalidOrderError),
    ("gold-modify-bad-code", "gold_modify", (ORIG, "M0402"), AMEND, InvalidOrderError),
    ("gold-cancel-negative-qty", "gold_cancel", (ORIG, GOLD_CODE), {"qty": -1}, InvalidOrderError),
    ("gold-cancel-bad-code", "gold_cancel", (ORIG, "005930"), {}, InvalidOrderError),
]  # fmt: skip

ORDER_METHODS = {"buy", "sell", "modify", "cancel"}
ORDER_METHODS |= {"gold_buy", "gold_sell", "gold_modify", "gold_cancel"}


def test_bad_input_cases_cover_every_order_method() -> None:
    assert {method for _, method, _, _, _ in BAD_ORDERS} == ORDER_METHODS


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "error"),
    [case[1:] for case in BAD_ORDERS],
    ids=[case[0] for case in BAD_ORDERS],
)
async def test_bad_order_input_raises_before_anything_is_sent(
    sim: Simulator,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    async with client(sim) as kw:
        place = getattr(kw.order, method)
        with pytest.raises(error) as raised:
            await place(*args, **kwargs)
        assert isinstance(raised.value, KiwoomValidationError)
        with pytest.raises(error):
            await place(*args, **kwargs, idempotency_key="k")
        assert kw.order.ledger.get("k") is None  # the key was not claimed either
    assert order_requests(sim) == 0
    assert sim.orders == []


async def test_a_valid_order_of_each_price_rule_is_accepted_by_the_simulator(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        await kw.order.buy("005930", qty=1, price=None, trde_tp="61")
        await kw.order.buy("005930", qty=1, price=50_000, trde_tp="0")
        await kw.order.buy("005930", qty=1, price=50_000, trde_tp="28", cond_price=49_000)
        await kw.order.sell("005930", qty=1, price=90_000, trde_tp="62")
    assert [(o.trde_tp, o.price, o.cond_price) for o in sim.orders] == [
        ("3", 0, 0),
        ("61", 0, 0),
        ("0", 50_000, 0),
        ("28", 50_000, 49_000),
        ("62", 90_000, 0),
    ]


# --- real money needs an explicit opt-in -----------------------------------------------------


VALID_ORDERS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("buy", ("005930",), MARKET),
    ("sell", ("005930",), LIMIT),
    ("modify", (ORIG, "005930"), AMEND),
    ("cancel", (ORIG, "005930"), {}),
    ("gold_buy", (GOLD_CODE,), GOLD),
    ("gold_sell", (GOLD_CODE,), GOLD),
    ("gold_modify", (ORIG, GOLD_CODE), AMEND),
    ("gold_cancel", (ORIG, GOLD_CODE), {}),
]


async def test_real_orders_are_refused_without_the_opt_in(sim: Simulator) -> None:
    assert {method for method, _, _ in VALID_ORDERS} == ORDER_METHODS
    async with client(sim, env="real") as kw:
        for method, args, kwargs in VALID_ORDERS:
            place = getattr(kw.order, method)
            with pytest.raises(RealOrderNotAllowedError):
                await place(*args, **kwargs)
            with pytest.raises(RealOrderNotAllowedError):
                await place(*args, **kwargs, idempotency_key="real")
        assert kw.order.ledger.get("real") is None
    assert sim.stats.requests_by_api_id == {}  # not even a token was asked for


async def test_real_orders_go_out_once_allowed(sim: Simulator) -> None:
    async with client(sim, env="real", allow_real_orders=True) as kw:
        assert kw.allow_real_orders
        ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        kw.allow_real_orders = False
        with pytest.raises(RealOrderNotAllowedError):
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]


# --- idempotency keys ----------------------------------------------------------------------


async def test_a_repeat_with_the_same_key_and_body_returns_the_first_ack(sim: Simulator) -> None:
    async with client(sim) as kw:
        first = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        again = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
    assert again.ord_no == first.ord_no and again.raw == first.raw
    assert again.replayed and not first.replayed
    assert len(sim.orders) == 1 and sim.stats.requests_by_api_id["kt10000"] == 1


async def test_the_same_key_with_a_different_body_raises(sim: Simulator) -> None:
    async with client(sim) as kw:
        await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        with pytest.raises(IdempotencyError, match="different order"):
            await kw.order.buy("005930", qty=2, price=None, trde_tp="3", idempotency_key="a")
        with pytest.raises(IdempotencyError, match="different order"):
            await kw.order.sell("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
    assert len(sim.orders) == 1


async def test_a_repeat_while_the_first_is_in_flight_raises(sim: Simulator) -> None:
    sim.config.latency = seconds(0.3)
    async with client(sim) as kw:
        first = asyncio.create_task(
            kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        )
        await until(lambda: sim.stats.requests_by_api_id["kt10000"] == 1)  # on the wire
        with pytest.raises(IdempotencyError, match="in flight"):
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        ack = await first
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]


async def test_a_repeat_after_a_lost_answer_raises_until_reconciled(sim: Simulator) -> None:
    async with client(sim) as kw:
        sim.config.drop_after_order = True
        with pytest.raises(OrderStatusUnknownError) as lost:
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        sim.config.drop_after_order = False
        entry = kw.order.ledger.get("a")
        assert entry is not None and entry.state == "unknown"
        with pytest.raises(IdempotencyError, match="unknown"):
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        assert len(sim.orders) == 1

        result = await kw.order.reconcile(lost.value)
        assert result.ord_no == sim.orders[0].ord_no
        again = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
    assert again.ord_no == sim.orders[0].ord_no and again.reconciled and again.replayed
    assert len(sim.orders) == 1 and sim.stats.requests_by_api_id["kt10000"] == 1


async def test_a_cancelled_send_leaves_the_key_unknown(sim: Simulator) -> None:
    async with client(sim) as kw:
        await kw.tokens.token()  # so the cancel lands while the order is on the wire
        sim.config.latency = seconds(0.3)
        task = asyncio.create_task(
            kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        )
        await until(lambda: sim.stats.requests_by_api_id["kt10000"] == 1)  # on the wire
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        entry = kw.order.ledger.get("a")
        assert entry is not None and entry.state == "unknown"
        with pytest.raises(IdempotencyError):
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")


async def test_a_cancel_before_the_send_frees_the_key(sim: Simulator) -> None:
    sim.config.latency = seconds(0.3)  # the token request is slow: the order waits for it
    async with client(sim) as kw:
        task = asyncio.create_task(
            kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="b")
        )
        await until(lambda: sim.stats.requests_by_api_id["au10001"] == 1)  # waiting for it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        entry = kw.order.ledger.get("b")
        assert entry is not None and entry.state == "rejected"
        sim.config.latency = 0
        ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="b")
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]


async def test_a_rejected_order_may_be_retried_with_the_same_key(sim: Simulator) -> None:
    async with client(sim) as kw:
        with pytest.raises(OrderRejectedError):
            await kw.order.cancel("0000042", "005930", idempotency_key="c")
        entry = kw.order.ledger.get("c")
        assert entry is not None and entry.state == "rejected"
        with pytest.raises(OrderRejectedError):
            await kw.order.cancel("0000042", "005930", idempotency_key="c")
        with pytest.raises(IdempotencyError):
            await kw.order.cancel("0000043", "005930", idempotency_key="c")
    assert sim.stats.requests_by_api_id["kt10003"] == 2


async def test_the_ledger_state_machine_without_a_server() -> None:
    ledger = MemoryLedger()
    body = {"stk_cd": "005930", "ord_qty": "1"}
    assert ledger.begin("k", "kt10000", body) is None
    with pytest.raises(IdempotencyError):
        ledger.begin("k", "kt10000", body)
    ledger.mark_unknown("k", "timed out")
    assert ledger.resolve("k", None).state == "released"
    assert ledger.begin("k", "kt10000", dict(reversed(body.items()))) is None  # key order: same
    ledger.finish("k", OrderAck(api_id="kt10000", ord_no="0000007"))
    replay = ledger.begin("k", "kt10000", body)
    assert replay is not None and replay.ord_no == "0000007" and replay.replayed
    assert ledger.known_order_numbers() == {"0000007"}
    with pytest.raises(KiwoomValidationError):
        ledger.begin("", "kt10000", body)
    assert fingerprint("kt10000", body) != fingerprint("kt10001", body)


# --- the file ledger -------------------------------------------------------------------------


async def test_file_ledger_shared_by_two_clients_never_sends_twice(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    async with client(sim, order_ledger=FileLedger(path)) as one:
        first = await one.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="x")
    async with client(sim, order_ledger=FileLedger(path)) as two:
        again = await two.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="x")
        with pytest.raises(IdempotencyError):
            await two.order.buy("005930", qty=9, price=None, trde_tp="3", idempotency_key="x")
    assert again.ord_no == first.ord_no and again.replayed
    assert len(sim.orders) == 1
    text = path.read_text(encoding="utf-8")
    assert APPKEY not in text and SECRETKEY not in text and "token" not in text.lower()
    assert [line.count('"state"') for line in text.splitlines()] == [1, 1]  # inflight, done


async def test_file_ledger_keeps_an_unknown_order_blocked_across_restarts(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    sim.config.drop_after_order = True
    async with client(sim, order_ledger=FileLedger(path)) as crashed:
        with pytest.raises(OrderStatusUnknownError):
            await crashed.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="u")
    sim.config.drop_after_order = False
    async with client(sim, order_ledger=FileLedger(path)) as restarted:
        with pytest.raises(IdempotencyError):
            await restarted.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="u")
        result = await restarted.order.reconcile("u")
        assert result.ord_no == sim.orders[0].ord_no
    assert FileLedger(path).get("u") is not None
    assert FileLedger(path).get("u").state == "done"  # type: ignore[union-attr]
    assert len(sim.orders) == 1


def test_file_ledger_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    ledger = FileLedger(path)
    assert ledger.begin("a", "kt10000", {"stk_cd": "005930"}) is None
    with open(path, "ab") as file:
        file.write(b'{"key":"b","fingerp')  # a writer died mid-record
    other = FileLedger(path)
    assert other.begin("c", "kt10000", {"stk_cd": "000660"}) is None
    fresh = FileLedger(path)
    assert {e.key for e in fresh.entries()} == {"a", "c"}
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from kiwoom_async import FileLedger, IdempotencyError, Kiwoom

    async def main() -> None:
        base_url, path, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
        async with Kiwoom("{appkey}", "{secretkey}", base_url=base_url,
                          requests_per_second=None, order_ledger=FileLedger(path)) as kw:
            await kw.tokens.token()
            await asyncio.sleep(max(0.0, start - __import__("time").time()))
            try:
                ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3",
                                         idempotency_key="shared")
            except IdempotencyError:
                print("refused")
            else:
                print("replayed" if ack.replayed else "sent", ack.ord_no)

    asyncio.run(main())
    """
).format(appkey=APPKEY, secretkey=SECRETKEY)


async def test_file_ledger_shared_by_two_processes_never_sends_twice(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    sim.config.latency = seconds(0.2)  # keeps the first order in flight while the other tries
    start = time.time() + seconds(1.5)  # both processes fire at the same moment
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PROCESS_SCRIPT,
            sim.base_url,
            str(path),
            str(start),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    lines = sorted(out.decode().strip() for out, _ in outputs)
    assert all(p.returncode == 0 for p in processes), lines
    assert len(sim.orders) == 1
    assert sim.stats.requests_by_api_id["kt10000"] == 1
    sent = [line for line in lines if line.startswith("sent")]
    assert sent == [f"sent {sim.orders[0].ord_no}"], lines
    assert any(line in ("refused", f"replayed {sim.orders[0].ord_no}") for line in lines), lines


# --- reconciliation ------------------------------------------------------------------------


async def _lose_answer(sim: Simulator, send: Awaitable[OrderAck]) -> OrderStatusUnknownError:
    sim.config.drop_after_order = True
    try:
        await send
    except OrderStatusUnknownError as lost:
        return lost
    finally:
        sim.config.drop_after_order = False
    raise AssertionError("the answer was not lost")


async def test_reconcile_finds_a_filled_market_order(sim: Simulator) -> None:
    async with client(sim) as kw:
        lost = await _lose_answer(
            sim, kw.order.buy("005930", qty=2, price=None, trde_tp="3", idempotency_key="m")
        )
        assert lost.idempotency_key == "m" and lost.sent_at is not None
        result = await kw.order.reconcile(lost)
    (order,) = sim.orders
    assert order.status == "filled"
    assert result.found and not result.ambiguous and result.ord_no == order.ord_no
    assert "ka10076" in result.searched
    entry = kw.order.ledger.get("m")
    assert entry is not None and entry.state == "done" and entry.ack is not None
    assert entry.ack.ord_no == order.ord_no


async def test_reconcile_finds_a_resting_limit_order_without_a_key(sim: Simulator) -> None:
    sim.config.holdings = {"005930": 5}  # sells need shares held, as on the exchange
    async with client(sim) as kw:
        await kw.order.sell("005930", qty=5, price=90_000, trde_tp="0")
        lost = await _lose_answer(sim, kw.order.buy("005930", qty=3, price=51_000, trde_tp="0"))
        result = await kw.order.reconcile(lost)
    assert result.ord_no == sim.orders[1].ord_no and sim.orders[1].status == "open"
    assert result.searched[0] == "ka10075" and result.idempotency_key is None


async def test_reconcile_falls_back_to_the_order_history(sim: Simulator) -> None:
    async with client(sim) as kw:
        # An IOC limit below the market is cancelled at once: neither open nor filled.
        lost = await _lose_answer(sim, kw.order.buy("005930", qty=1, price=50_000, trde_tp="10"))
        result = await kw.order.reconcile(lost)
    assert sim.orders[0].status == "cancelled"
    assert result.ord_no == sim.orders[0].ord_no and result.searched[-1] == "kt00007"


async def test_reconcile_finds_a_lost_modify(sim: Simulator) -> None:
    async with client(sim) as kw:
        resting = await kw.order.buy("005930", qty=4, price=50_000, trde_tp="0")
        lost = await _lose_answer(
            sim, kw.order.modify(resting.ord_no, "005930", qty=0, price=50_100)
        )
        result = await kw.order.reconcile(lost)
    modified = sim.orders[-1]
    assert modified.action == "modify" and result.ord_no == modified.ord_no
    assert result.searched == ("kt00007",)


async def test_reconcile_of_an_order_that_never_reached_the_server_finds_nothing(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        await kw.tokens.token()
        sim.config.http500_rate = 1.0  # answered before the order desk sees it
        with pytest.raises(OrderStatusUnknownError) as lost:
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="n")
        sim.config.http500_rate = 0.0
        assert sim.orders == []
        result = await kw.order.reconcile(lost.value)
        assert not result.found and result.ord_no is None
        entry = kw.order.ledger.get("n")
        assert entry is not None and entry.state == "unknown"  # left for the caller to decide

        released = await kw.order.reconcile("n", release_if_missing=True)
        assert not released.found
        ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="n")
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]


async def test_reconcile_finds_a_lost_gold_order(sim: Simulator) -> None:
    price = sim.state.market.price(GOLD_CODE)
    async with client(sim) as kw:
        await kw.order.buy("005930", qty=2, price=None, trde_tp="3")
        # Same code, quantity and price on the other side: only the side tells them apart.
        await kw.order.gold_sell("M04020000", qty=2, price=price + 1_000)
        lost = await _lose_answer(
            sim, kw.order.gold_buy("M04020000", qty=2, price=price + 1_000, idempotency_key="g")
        )
        assert lost.api_id == "kt50000"
        result = await kw.order.reconcile(lost)
        entry = kw.order.ledger.get("g")
    order = sim.orders[-1]
    assert order.is_gold and order.side == "buy" and order.status == "filled"
    assert result.found and not result.ambiguous and result.ord_no == order.ord_no
    assert result.searched == ("kt50031",)
    assert entry is not None and entry.state == "done" and entry.ack is not None
    assert entry.ack.ord_no == order.ord_no


async def test_reconcile_of_a_gold_order_that_never_reached_the_server_finds_nothing(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        await kw.order.gold_sell("M04020000", qty=1, price=150_000)
        sim.config.http500_rate = 1.0  # answered before the order desk sees it
        with pytest.raises(OrderStatusUnknownError) as lost:
            await kw.order.gold_buy("M04020000", qty=1, price=150_000, idempotency_key="gn")
        sim.config.http500_rate = 0.0
        assert [o.api_id for o in sim.orders] == ["kt50001"]
        result = await kw.order.reconcile(lost.value, release_if_missing=True)
        assert not result.found and result.ord_no is None
        assert result.searched == ("kt50031",)

        ack = await kw.order.gold_buy("M04020000", qty=1, price=150_000, idempotency_key="gn")
    assert [o.ord_no for o in sim.orders if o.api_id == "kt50000"] == [ack.ord_no]


async def test_reconcile_reports_an_identical_manual_order_as_ambiguous(sim: Simulator) -> None:
    async with client(sim) as kw:
        # The same order placed "by hand" a moment before: the matching rule cannot tell them
        # apart, so nothing is decided.
        await kw.rest.call(
            "kt10000",
            {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "3", "ord_uv": "51000"}
            | {"trde_tp": "0", "cond_uv": ""},
        )
        lost = await _lose_answer(
            sim, kw.order.buy("005930", qty=3, price=51_000, trde_tp="0", idempotency_key="d")
        )
        result = await kw.order.reconcile(lost)
        entry = kw.order.ledger.get("d")
    assert result.ambiguous and result.ord_no is None
    assert set(result.candidates) == {o.ord_no for o in sim.orders}
    assert entry is not None and entry.state == "unknown"


async def test_reconcile_skips_orders_already_tied_to_another_key(sim: Simulator) -> None:
    async with client(sim) as kw:
        await kw.order.buy("005930", qty=3, price=51_000, trde_tp="0", idempotency_key="first")
        lost = await _lose_answer(
            sim, kw.order.buy("005930", qty=3, price=51_000, trde_tp="0", idempotency_key="second")
        )
        result = await kw.order.reconcile(lost)
    assert result.ord_no == sim.orders[1].ord_no


async def test_reconcile_by_an_unknown_key_raises(sim: Simulator) -> None:
    async with client(sim) as kw:
        with pytest.raises(KiwoomValidationError):
            await kw.order.reconcile("never-used")


async def test_the_client_uses_the_ledger_it_was_given(sim: Simulator, tmp_path: Path) -> None:
    ledger: OrderLedger = FileLedger(tmp_path / "orders.jsonl")
    async with client(sim, order_ledger=ledger) as kw:
        assert kw.order.ledger is ledger
    async with client(sim) as kw:
        assert isinstance(kw.order.ledger, MemoryLedger)


async def test_a_call_cancelled_while_claiming_its_key_gives_the_key_back(
    sim: Simulator, tmp_path: Path
) -> None:
    class SlowLedger(FileLedger):
        def begin(self, key: str, api_id: str, body: Mapping[str, str]) -> OrderAck | None:
            time.sleep(seconds(0.2))
            return super().begin(key, api_id, body)

    ledger = SlowLedger(tmp_path / "orders.jsonl")
    async with client(sim, order_ledger=ledger) as kw:
        task = asyncio.create_task(
            kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="slow")
        )
        await asyncio.sleep(seconds(0.05))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(seconds(0.4))
        entry = ledger.get("slow")
        assert entry is not None and entry.state == "rejected"
        ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="slow")
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]


# --- review fixes: dates, paging, states, damaged files --------------------------------------

YESTERDAY = time.time() - 86_400
BUY_BODY = {
    "dmst_stex_tp": "KRX",
    "stk_cd": "005930",
    "ord_qty": "1",
    "ord_uv": "",
    "trde_tp": "3",
    "cond_uv": "",
}


def _old_record(key: str, ord_no: str, *, dated: bool) -> bytes:
    entry = LedgerEntry(
        key=key,
        fingerprint=fingerprint("kt10000", BUY_BODY),
        api_id="kt10000",
        body=BUY_BODY,
        state="done",
        sent_at=YESTERDAY,
        updated_at=YESTERDAY,
        ack=OrderAck(api_id="kt10000", ord_no=ord_no),
        trade_date=trade_date(YESTERDAY) if dated else "",
    )
    record = msgspec.json.decode(msgspec.json.encode(entry))
    if not dated:
        del record["trade_date"]  # written before the date was kept
    return msgspec.json.encode(record) + b"\n"


@pytest.mark.parametrize("dated", [True, False])
async def test_reconcile_ignores_yesterdays_order_numbers(
    sim: Simulator, tmp_path: Path, dated: bool
) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_bytes(_old_record("yesterday", "0000001", dated=dated))
    async with client(sim, order_ledger=FileLedger(path)) as kw:
        lost = await _lose_answer(
            sim, kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="today")
        )
        assert sim.orders[0].ord_no == "0000001"  # the broker numbers each day afresh
        result = await kw.order.reconcile(lost, release_if_missing=True)
        assert result.ord_no == "0000001" and result.complete
        again = await kw.order.buy(
            "005930", qty=1, price=None, trde_tp="3", idempotency_key="today"
        )
    assert again.replayed and len(sim.orders) == 1
    ledger = FileLedger(path)
    assert ledger.known_order_numbers(trade_date(YESTERDAY)) == {"0000001"}
    assert ledger.known_order_numbers(trade_date(time.time())) == {"0000001"}  # today's own
    entry = ledger.get("today")
    assert entry is not None and entry.trade_date == trade_date(time.time())


async def test_reconcile_reads_the_history_newest_first_and_stops_at_older_rows(
    sim: Simulator,
) -> None:
    sim.config.recon_page_size = 1
    async with client(sim) as kw:
        kw.order.clock_skew = 0.0
        acks = [
            await kw.order.buy("005930", qty=q, price=50_000, trde_tp="0") for q in range(1, 26)
        ]
        await asyncio.sleep(1.1)  # order times have one-second resolution
        lost = await _lose_answer(
            sim, kw.order.cancel(acks[0].ord_no, "005930", idempotency_key="c")
        )
        result = await kw.order.reconcile(lost)
        assert result.ord_no == sim.orders[-1].ord_no and result.complete
        assert sim.stats.requests_by_api_id["kt00007"] == 2
        entry = kw.order.ledger.get("c")
        assert entry is not None and entry.state == "done"


async def test_an_incomplete_search_never_releases_the_key(sim: Simulator) -> None:
    sim.config.recon_page_size = 1
    async with client(sim) as kw:
        for q in range(1, 26):
            await kw.order.buy("005930", qty=q, price=50_000, trde_tp="0")
        ledger = kw.order.ledger
        never_sent = BUY_BODY | {"ord_qty": "99"}
        assert ledger.begin("buy", "kt10000", never_sent) is None
        ledger.mark_unknown("buy", "timed out")
        cancel = {"dmst_stex_tp": "KRX", "orig_ord_no": "0000001", "stk_cd": "005930"}
        assert ledger.begin("cancel", "kt10003", cancel | {"cncl_qty": "7"}) is None
        ledger.mark_unknown("cancel", "timed out")
        for key, searched in [("buy", ("ka10075", "ka10076", "kt00007")), ("cancel", ("kt00007",))]:
            result = await kw.order.reconcile(key, release_if_missing=True)
            assert not result.found and not result.complete and result.searched == searched
            entry = ledger.get(key)
            assert entry is not None and entry.state == "unknown"
            with pytest.raises(IdempotencyError):
                ledger.begin(key, entry.api_id, entry.body)


async def test_reconcile_of_an_order_sent_on_another_day_reads_that_days_history(
    sim: Simulator,
) -> None:
    async with client(sim) as kw:
        lost = await _lose_answer(
            sim, kw.order.buy("005930", qty=2, price=50_000, trde_tp="0", idempotency_key="y")
        )
        lost.sent_at = YESTERDAY  # as if sent yesterday: today's identical order is not it
        result = await kw.order.reconcile(lost, release_if_missing=False)
    assert result.searched == ("kt00007",) and not result.found and result.complete
    entry = kw.order.ledger.get("y")
    assert entry is not None and entry.state == "unknown"


async def test_reconcile_leaves_settled_keys_alone(sim: Simulator) -> None:
    async with client(sim) as kw:
        placed = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        ledger = kw.order.ledger
        assert ledger.begin("rejected", "kt10000", BUY_BODY) is None
        ledger.reject("rejected", "refused")
        assert ledger.begin("released", "kt10000", BUY_BODY) is None
        ledger.mark_unknown("released", "lost")
        ledger.resolve("released", None)
        for key in ("rejected", "released"):
            result = await kw.order.reconcile(key)
            assert result.ord_no == placed.ord_no  # it is reported, not recorded
            entry = ledger.get(key)
            assert entry is not None and entry.state == key
        assert ledger.begin("young", "kt10000", BUY_BODY) is None
        result = await kw.order.reconcile("young")
        assert result.ord_no == placed.ord_no
        entry = ledger.get("young")
        assert entry is not None and entry.state == "inflight"  # its sender may still be at it


def test_resolve_settles_only_entries_awaiting_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = MemoryLedger()
    for key in ("rejected", "released", "done", "inflight"):
        assert ledger.begin(key, "kt10000", BUY_BODY) is None
    ledger.reject("rejected", "refused")
    ledger.mark_unknown("released", "lost")
    ledger.resolve("released", None)
    ledger.finish("done", OrderAck(api_id="kt10000", ord_no="0000005"))
    for key in ("rejected", "released", "inflight"):
        with pytest.raises(IdempotencyError):
            ledger.resolve(key, "0000009")
    with pytest.raises(IdempotencyError):
        ledger.resolve("done", "0000009")
    assert ledger.resolve("done", "0000005").state == "done"
    later = time.time() + INFLIGHT_TIMEOUT + 1
    monkeypatch.setattr("kiwoom_async.ledger.time.time", lambda: later)
    assert ledger.resolve("inflight", "0000009").state == "done"


def test_file_ledger_refuses_every_key_after_an_unreadable_record(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    ledger = FileLedger(path)
    assert ledger.begin("k", "kt10000", BUY_BODY) is None
    ledger.mark_unknown("k", "lost")
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"state":"unknown"', b'"state":"unknowx"')
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"\n".join(lines))
    os.replace(damaged, path)
    for key in ("k", "other"):
        with pytest.raises(LedgerCorruptError):
            FileLedger(path).begin(key, "kt10000", BUY_BODY)
        with pytest.raises(LedgerCorruptError):
            ledger.begin(key, "kt10000", BUY_BODY)  # the old view rereads the new file too
    repaired = tmp_path / "repaired.jsonl"
    repaired.write_bytes(b"\n".join([*lines[:1], b""]))
    os.replace(repaired, path)
    with pytest.raises(IdempotencyError, match="in flight"):
        ledger.begin("k", "kt10000", BUY_BODY)
    assert ledger.begin("other", "kt10000", BUY_BODY) is None


def test_file_ledger_rereads_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    ledger = FileLedger(path)
    assert ledger.begin("k", "kt10000", BUY_BODY) is None
    ledger.mark_unknown("k", "lost")
    first = path.read_bytes().split(b"\n")[0] + b"\n"
    with open(path, "r+b") as file:  # rewritten in place, shorter
        file.truncate(0)
        file.write(first)
    entry = ledger.get("k")
    assert entry is not None and entry.state == "inflight"


def test_a_state_change_for_a_vanished_entry_is_recorded() -> None:
    ledger = MemoryLedger()
    ledger.finish("ghost", OrderAck(api_id="kt10000", ord_no="0000003"))
    entry = ledger.get("ghost")
    assert entry is not None and entry.state == "done"
    with pytest.raises(IdempotencyError):
        ledger.begin("ghost", "kt10000", BUY_BODY)  # never free to send again


async def test_a_cancelled_send_records_off_the_loop_and_keeps_the_cancellation(
    sim: Simulator, tmp_path: Path
) -> None:
    threads: list[int] = []

    class BrokenLedger(FileLedger):
        def mark_unknown(self, key: str, reason: str) -> None:
            threads.append(threading.get_ident())
            raise OSError("disk full")

    async with client(sim, order_ledger=BrokenLedger(tmp_path / "orders.jsonl")) as kw:
        await kw.tokens.token()
        sim.config.latency = seconds(0.3)
        task = asyncio.create_task(
            kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="a")
        )
        await until(lambda: sim.stats.requests_by_api_id["kt10000"] == 1)  # on the wire
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(seconds(0.2))
    assert threads and threads[0] != threading.get_ident()
