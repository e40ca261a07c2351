"""A deterministic toy market: one random walk per stock code on KRX tick sizes.

Each code draws from its own RNG seeded with ``(seed, code)``, so a code's price path does not
depend on which other codes were asked for, nor on the simulator's fault draws.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..krx import Instrument, round_to_tick, tick_size

__all__ = [
    "KST",
    "Book",
    "Market",
    "Tick",
    "kst_now",
    "marked",
    "normalize_code",
    "sign_code",
    "signed",
    "signed_rate",
    "tick_size",
]

KST = timedelta(hours=9)

# Well-known codes get realistic names and previous closes; any other code gets a generated one.
_KNOWN: dict[str, tuple[str, int]] = {
    "005930": ("삼성전자", 70_000),
    "000660": ("SK하이닉스", 180_000),
    "035420": ("NAVER", 190_000),
    "035720": ("카카오", 42_000),
    "005380": ("현대차", 230_000),
    "051910": ("LG화학", 300_000),
    "006400": ("삼성SDI", 320_000),
    "068270": ("셀트리온", 180_000),
    "207940": ("삼성바이오로직스", 800_000),
    "373220": ("LG에너지솔루션", 350_000),
    "069500": ("KODEX 200", 35_000),
    "M04020000": ("금 99.99_1kg", 150_000),
    "M04020100": ("미니금 99.99_100g", 150_000),
}

_FUND_BRANDS = ("KODEX", "TIGER", "KBSTAR", "ARIRANG", "ACE", "SOL", "HANARO")


def kst_now() -> datetime:
    """Wall-clock time in Korea (naive datetime, KST)."""
    return datetime.now(UTC).replace(tzinfo=None) + KST


def _floor_tick(price: int) -> int:
    return round_to_tick(price, "buy")


def _ceil_tick(price: int) -> int:
    return round_to_tick(price, "sell")


def normalize_code(stk_cd: str) -> str:
    """``A005930`` / ``005930_NX`` / ``005930_AL`` all name the stock ``005930``."""
    code = stk_cd.strip()
    for suffix in ("_NX", "_AL"):
        if code.endswith(suffix):
            code = code[: -len(suffix)]
    if len(code) == 7 and code[0] in "AJQ" and code[1:].isdigit():
        code = code[1:]
    return code


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade (or a snapshot of the last one when ``volume`` is 0)."""

    stk_cd: str
    price: int
    prev_close: int
    change: int
    """price - prev_close, truly signed."""
    rate: float
    """change / prev_close in percent, two decimals."""
    volume: int
    """Shares in this trade; 0 for a snapshot."""
    cum_volume: int
    cum_amount: int
    """Traded value today in KRW."""
    open: int
    high: int
    low: int
    best_ask: int
    best_bid: int
    upper_limit: int
    lower_limit: int
    time: str
    """HHMMSS, KST."""


@dataclass(frozen=True, slots=True)
class Book:
    """Ten levels per side, best first: ``asks`` ascend from the best ask, ``bids`` descend."""

    stk_cd: str
    asks: tuple[tuple[int, int], ...]
    bids: tuple[tuple[int, int], ...]
    prev_close: int
    cum_volume: int
    time: str

    @property
    def total_ask_qty(self) -> int:
        return sum(qty for _, qty in self.asks)

    @property
    def total_bid_qty(self) -> int:
        return sum(qty for _, qty in self.bids)


@dataclass(slots=True)
class _Stock:
    code: str
    name: str
    rng: random.Random
    prev_close: int
    price: int
    open: int
    high: int
    low: int
    upper_limit: int
    lower_limit: int
    cum_volume: int = 0
    cum_amount: int = 0
    last_volume: int = 0


@dataclass(slots=True)
class Market:
    """Prices for any stock code, created on first use."""

    seed: int = 0
    _stocks: dict[str, _Stock] = field(default_factory=dict[str, _Stock])
    _listeners: list[Callable[[Tick], None]] = field(default_factory=list[Callable[[Tick], None]])

    def _stock(self, stk_cd: str) -> _Stock:
        code = normalize_code(stk_cd)
        stock = self._stocks.get(code)
        if stock is None:
            rng = random.Random(f"{self.seed}:{code}")
            name, prev_close = _KNOWN.get(code, ("", 0))
            if not prev_close:
                prev_close = _floor_tick(rng.randint(1_000, 300_000))
                name = f"모의종목{code}"
            upper = _floor_tick(prev_close * 13 // 10)
            lower = _ceil_tick(prev_close * 7 // 10)
            # The day has already traded a little, so open/high/low differ from the close.
            first = self._walk(rng, prev_close, lower, upper, steps=rng.randint(0, 6))
            stock = _Stock(
                code=code,
                name=name,
                rng=rng,
                prev_close=prev_close,
                price=first,
                open=prev_close,
                high=max(prev_close, first),
                low=min(prev_close, first),
                upper_limit=upper,
                lower_limit=lower,
                cum_volume=rng.randint(10_000, 500_000),
            )
            stock.cum_amount = stock.cum_volume * prev_close
            self._stocks[code] = stock
        return stock

    @staticmethod
    def _walk(rng: random.Random, price: int, lower: int, upper: int, steps: int) -> int:
        for _ in range(steps):
            move = rng.choice((-2, -1, -1, 0, 1, 1, 2))
            if move >= 0:
                for _ in range(move):
                    price += tick_size(price)
            else:
                for _ in range(-move):
                    price -= tick_size(price - 1)
            price = min(upper, max(lower, price))
        return price

    def name(self, stk_cd: str) -> str:
        return self._stock(stk_cd).name

    def instrument(self, stk_cd: str) -> Instrument:
        """Which tick table the code trades on: funds (KODEX, TIGER...) step 5 KRW."""
        name = self.name(stk_cd)
        return "etf" if name.startswith(_FUND_BRANDS) else "stock"

    def limits(self, stk_cd: str) -> tuple[int, int]:
        """(lower, upper) limit prices of the day: ±30% of the previous close, on tick."""
        stock = self._stock(stk_cd)
        return stock.lower_limit, stock.upper_limit

    def price(self, stk_cd: str) -> int:
        """The last traded price, without advancing the walk."""
        return self._stock(stk_cd).price

    def prev_close(self, stk_cd: str) -> int:
        return self._stock(stk_cd).prev_close

    def snapshot(self, stk_cd: str) -> Tick:
        """The current state as a :class:`Tick` with ``volume`` 0; nothing advances."""
        return self._make_tick(self._stock(stk_cd), volume=0)

    def tick(self, stk_cd: str) -> Tick:
        """Advance the walk by one trade and tell the tick listeners."""
        stock = self._stock(stk_cd)
        stock.price = self._walk(stock.rng, stock.price, stock.lower_limit, stock.upper_limit, 1)
        stock.high = max(stock.high, stock.price)
        stock.low = min(stock.low, stock.price)
        stock.last_volume = stock.rng.randint(1, 500)
        stock.cum_volume += stock.last_volume
        stock.cum_amount += stock.last_volume * stock.price
        tick = self._make_tick(stock, volume=stock.last_volume)
        for listener in list(self._listeners):
            listener(tick)
        return tick

    def book(self, stk_cd: str) -> Book:
        """Ten levels each side around the last price; quantities are drawn afresh each call."""
        stock = self._stock(stk_cd)
        asks: list[tuple[int, int]] = []
        level = stock.price
        for _ in range(10):
            level += tick_size(level)
            if level > stock.upper_limit:
                break
            asks.append((level, stock.rng.randint(1, 5_000)))
        bids: list[tuple[int, int]] = []
        level = stock.price
        for _ in range(10):
            if level < stock.lower_limit:
                break
            bids.append((level, stock.rng.randint(1, 5_000)))
            level -= tick_size(level - 1)
        return Book(
            stk_cd=stock.code,
            asks=tuple(asks),
            bids=tuple(bids),
            prev_close=stock.prev_close,
            cum_volume=stock.cum_volume,
            time=kst_now().strftime("%H%M%S"),
        )

    def add_tick_listener(self, callback: Callable[[Tick], None]) -> Callable[[], None]:
        """Call ``callback`` synchronously after every :meth:`tick`; returns a remover."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def _make_tick(self, stock: _Stock, *, volume: int) -> Tick:
        change = stock.price - stock.prev_close
        rate = round(change / stock.prev_close * 100, 2) if stock.prev_close else 0.0
        ask = stock.price + tick_size(stock.price)
        return Tick(
            stk_cd=stock.code,
            price=stock.price,
            prev_close=stock.prev_close,
            change=change,
            rate=rate,
            volume=volume,
            cum_volume=stock.cum_volume,
            cum_amount=stock.cum_amount,
            open=stock.open,
            high=stock.high,
            low=stock.low,
            best_ask=ask if ask <= stock.upper_limit else stock.price,
            best_bid=stock.price,
            upper_limit=stock.upper_limit,
            lower_limit=stock.lower_limit,
            time=kst_now().strftime("%H%M%S"),
        )


def marked(value: int, reference: int) -> str:
    """A price with Kiwoom's direction marker versus ``reference``: ``+70100``, ``-69900``."""
    if value > reference:
        return f"+{value}"
    if value < reference:
        return f"-{value}"
    return str(value)


def signed(value: int) -> str:
    """A truly signed number as Kiwoom writes it: ``+600``, ``-600``, ``0``."""
    return f"{value:+d}" if value else "0"


def signed_rate(value: float) -> str:
    """A rate with two decimals and a sign: ``+0.86``, ``-1.20``, ``0.00``."""
    text = f"{value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def sign_code(change: int) -> str:
    """Kiwoom's 대비기호: 2 up, 3 unchanged, 5 down (limit moves are not modelled)."""
    return "2" if change > 0 else "5" if change < 0 else "3"
