"""KRX price rules: tick sizes, rounding a price onto the tick grid, the daily price band.

Tick sizes follow the schedule in force since 25 January 2023, the same for KOSPI and KOSDAQ
stocks; ETFs, ETNs and ELWs trade in 5 KRW steps (1 KRW below 2,000). The daily band is
±30% of the base price (usually the previous close), the upper limit rounded down and the
lower limit rounded up onto the grid, which is how the exchange keeps both limits on tick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias

from .errors import InvalidOrderError, KiwoomValidationError

__all__ = [
    "TICK_CHECKED_ORDERS",
    "Instrument",
    "InstrumentOf",
    "check_order_ticks",
    "is_on_tick",
    "price_band",
    "round_to_tick",
    "tick_size",
]

Instrument = Literal["stock", "etf"]
"""``"stock"``: KOSPI/KOSDAQ shares; ``"etf"``: ETFs, ETNs and ELWs."""

InstrumentOf: TypeAlias = Callable[[str], Instrument]
"""Names the instrument of a stock code, for orders of ETFs (5 KRW ticks) beside shares."""

TICK_CHECKED_ORDERS = frozenset({"kt10000", "kt10001", "kt10002", "kt10006", "kt10007", "kt10008"})
"""Stock orders whose prices follow the KRX tick grid: cash and credit buy, sell, modify (gold
spot orders have rules of their own, and a cancel carries no price)."""

_PRICE_FIELDS = ("ord_uv", "cond_uv", "mdfy_uv", "mdfy_cond_uv")

_STOCK_STEPS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))
_STOCK_TOP = 1_000


def tick_size(price: int, instrument: Instrument = "stock") -> int:
    """The tick size at ``price`` (KRW)."""
    _check_price(price)
    if instrument == "etf":
        return 1 if price < 2_000 else 5
    if instrument != "stock":
        raise KiwoomValidationError(f'instrument must be "stock" or "etf", not {instrument!r}')
    for below, step in _STOCK_STEPS:
        if price < below:
            return step
    return _STOCK_TOP


def is_on_tick(price: int, instrument: Instrument = "stock") -> bool:
    return price % tick_size(price, instrument) == 0


def round_to_tick(
    price: int,
    side: Literal["buy", "sell", "nearest"] = "nearest",
    instrument: Instrument = "stock",
) -> int:
    """``price`` moved onto the tick grid: a buy rounds down (never pays more than asked), a
    sell rounds up (never sells for less), ``"nearest"`` to the closer tick (down on a tie)."""
    below = price - price % tick_size(price, instrument)
    if below == price:
        return price
    above = below + tick_size(below, instrument)
    if side == "buy":
        return below
    if side == "sell":
        return above
    if side != "nearest":
        raise KiwoomValidationError(f'side must be "buy", "sell" or "nearest", not {side!r}')
    return below if price - below <= above - price else above


def price_band(base_price: int, instrument: Instrument = "stock") -> tuple[int, int]:
    """(lower, upper) limit prices of a trading day for ``base_price``: ±30%, on tick."""
    _check_price(base_price)
    upper = round_to_tick(base_price * 13 // 10, "buy", instrument)
    lower = round_to_tick(-(-base_price * 7 // 10), "sell", instrument)
    return max(lower, 1), upper


def _check_price(price: object) -> None:
    if isinstance(price, bool) or not isinstance(price, int) or price < 1:
        raise KiwoomValidationError(f"a price must be a whole number of KRW above zero: {price!r}")


def check_order_ticks(
    api_id: str, body: Mapping[str, str], instrument_of: InstrumentOf | None = None
) -> None:
    """Raise :class:`~kiwoom_async.errors.InvalidOrderError` when a price of the order body
    is off the tick grid (the exchange refuses such an order), naming the two nearest valid
    prices. ``instrument_of(stk_cd)`` tells ETFs from shares (default: every code a share,
    so an ETF price on a 5 KRW step may be refused: pass it when trading ETFs)."""
    if api_id not in TICK_CHECKED_ORDERS:
        return
    instrument = instrument_of(str(body.get("stk_cd", ""))) if instrument_of else "stock"
    for field in _PRICE_FIELDS:
        text = body.get(field, "")
        if not text or not text.isdigit() or int(text) < 1:
            continue  # no price (market orders), or one the order checks refuse already
        price = int(text)
        if is_on_tick(price, instrument):
            continue
        below = round_to_tick(price, "buy", instrument)
        above = round_to_tick(price, "sell", instrument)
        raise InvalidOrderError(
            api_id,
            field,
            f"{price:,} KRW is off the {instrument} tick grid ({tick_size(price, instrument):,} "
            f"KRW steps at this price): {below:,} or {above:,} would be accepted; nothing was sent",
        )
