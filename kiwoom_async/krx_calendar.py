"""KRX trading days and session hours, in KST.

A trading day of the KRX stock market (KST, UTC+9), on a normal day:

==========================  ===========  =============================================
window                      hours        what trades
==========================  ===========  =============================================
pre-market after-hours      08:30-08:40  장전 시간외 종가: at the previous close
opening auction             08:30-09:00  장 시작 동시호가: orders collected, one price at 09:00
regular (continuous)        09:00-15:20  정규장 접속매매
closing auction             15:20-15:30  장 마감 동시호가: one price at 15:30
post-market after-hours     15:40-16:00  장후 시간외 종가: at the day's close
after-hours single price    16:00-18:00  시간외 단일가: a call every 10 minutes, ±10 %
==========================  ===========  =============================================

Two kinds of day move every window: the first trading day of a year opens an hour late
(10:00), and the day of the national university entrance exam (수능, CSAT) opens at 10:00
and closes at 16:30. The windows are laid relative to the day's open and close.

Holidays: the table below covers 2024-2026 (weekday closures: public holidays, election
days, substitute holidays and the year-end closing day, 31 December). It was read from
``exchange-calendars`` (XKRX) and corrected where that calendar lags the exchange's own
notices (the 2026 local election day, CSAT opening hours). Other years need the optional
extra: ``pip install 'kiwoom-async[calendar]'``, which reads them from XKRX; without it
:class:`~kiwoom_async.dataframes.MissingExtraError` names the extra. The exchange can add
a closure at short notice: ``extra_holidays`` adds your own.

Every moment passed in must be timezone-aware: a naive datetime is refused, since the
same wall-clock time means different moments in Seoul and on the machine running a bot.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import importlib
import warnings
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ._kst import KST
from .errors import KiwoomValidationError

__all__ = [
    "CSAT_DAYS",
    "HOLIDAYS",
    "Phase",
    "TradingDay",
    "is_trading_day",
    "next_trading_day",
    "phase_at",
    "previous_trading_day",
    "trading_day",
]

_TABLE_YEARS = range(2024, 2027)


def _days(year: int, codes: str) -> frozenset[date]:
    return frozenset(date(year, int(c[:2]), int(c[2:])) for c in codes.split())


HOLIDAYS: frozenset[date] = (
    _days(2024, "0101 0209 0212 0301 0410 0501 0506 0515 0606 0815 0916 0917 0918 1001 1003")
    | _days(2024, "1009 1225 1231")
    | _days(2025, "0101 0127 0128 0129 0130 0303 0501 0505 0506 0603 0606 0815 1003 1006")
    | _days(2025, "1007 1008 1009 1225 1231")
    # 0603: local elections (전국동시지방선거), a public holiday.
    | _days(2026, "0101 0216 0217 0218 0302 0501 0505 0525 0603 0817 0924 0925 1005 1009")
    | _days(2026, "1225 1231")
)
"""Weekdays the KRX stock market is closed, 2024-2026."""

CSAT_DAYS: frozenset[date] = frozenset({date(2024, 11, 14), date(2025, 11, 13), date(2026, 11, 19)})
"""수능 days: the market opens at 10:00 and closes at 16:30."""


class Phase(enum.StrEnum):
    """What the market is doing at a moment."""

    CLOSED = "closed"
    """Not a trading day, or outside every window."""
    PRE_MARKET_AFTER_HOURS = "pre_market_after_hours"
    """장전 시간외 종가 (the opening auction collects orders at the same time)."""
    OPENING_AUCTION = "opening_auction"
    REGULAR = "regular"
    CLOSING_AUCTION = "closing_auction"
    POST_MARKET_AFTER_HOURS = "post_market_after_hours"
    AFTER_HOURS_SINGLE_PRICE = "after_hours_single_price"
    BREAK = "break"
    """Between two windows of a trading day (15:30-15:40)."""


@dataclass(frozen=True, slots=True)
class TradingDay:
    """The windows of one trading day, each a (start, end) pair of KST datetimes; a window
    includes its start and excludes its end."""

    day: date
    opening_auction: tuple[datetime, datetime]
    pre_market_after_hours: tuple[datetime, datetime]
    regular: tuple[datetime, datetime]
    """From the open to the close, the closing auction included."""
    closing_auction: tuple[datetime, datetime]
    post_market_after_hours: tuple[datetime, datetime]
    after_hours_single_price: tuple[datetime, datetime]

    @property
    def open(self) -> datetime:
        return self.regular[0]

    @property
    def close(self) -> datetime:
        return self.regular[1]

    def phase(self, moment: datetime) -> Phase:
        at = _kst(moment)
        windows = (
            (self.pre_market_after_hours, Phase.PRE_MARKET_AFTER_HOURS),
            (self.opening_auction, Phase.OPENING_AUCTION),
            (self.closing_auction, Phase.CLOSING_AUCTION),
            (self.regular, Phase.REGULAR),
            (self.post_market_after_hours, Phase.POST_MARKET_AFTER_HOURS),
            (self.after_hours_single_price, Phase.AFTER_HOURS_SINGLE_PRICE),
        )
        for (start, end), phase in windows:
            if start <= at < end:
                return phase
        if self.close <= at < self.post_market_after_hours[0]:
            return Phase.BREAK
        return Phase.CLOSED


def is_trading_day(day: date | datetime, extra_holidays: Iterable[date] = ()) -> bool:
    """Whether the KRX stock market trades on ``day`` (a date, or an aware datetime, taken
    in KST)."""
    plain = _day(day)
    if plain.weekday() >= 5 or plain in frozenset(extra_holidays):
        return False
    if plain.year in _TABLE_YEARS:
        return plain not in HOLIDAYS
    return _xkrx_is_session(plain)


def trading_day(day: date | datetime, extra_holidays: Iterable[date] = ()) -> TradingDay | None:
    """The windows of ``day``, or None when the market does not trade that day."""
    plain = _day(day)
    if not is_trading_day(plain, extra_holidays):
        return None
    first_of_year = not any(
        is_trading_day(earlier, extra_holidays) for earlier in _dates(date(plain.year, 1, 1), plain)
    )
    late = first_of_year or plain in CSAT_DAYS
    opens = datetime.combine(plain, time(10 if late else 9), KST)
    closes = datetime.combine(plain, time(16, 30) if plain in CSAT_DAYS else time(15, 30), KST)
    return TradingDay(
        day=plain,
        opening_auction=(opens - _minutes(30), opens),
        pre_market_after_hours=(opens - _minutes(30), opens - _minutes(20)),
        regular=(opens, closes),
        closing_auction=(closes - _minutes(10), closes),
        post_market_after_hours=(closes + _minutes(10), closes + _minutes(30)),
        after_hours_single_price=(closes + _minutes(30), closes + _minutes(150)),
    )


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def phase_at(moment: datetime, extra_holidays: Iterable[date] = ()) -> Phase:
    """What the market is doing at ``moment`` (timezone-aware)."""
    day = trading_day(_kst(moment).date(), extra_holidays)
    return Phase.CLOSED if day is None else day.phase(moment)


def next_trading_day(day: date | datetime, extra_holidays: Iterable[date] = ()) -> date:
    """The first trading day after ``day``."""
    holidays = frozenset(extra_holidays)
    candidate = _day(day) + timedelta(days=1)
    while not is_trading_day(candidate, holidays):
        candidate += timedelta(days=1)
    return candidate


def previous_trading_day(day: date | datetime, extra_holidays: Iterable[date] = ()) -> date:
    """The last trading day before ``day``."""
    holidays = frozenset(extra_holidays)
    candidate = _day(day) - timedelta(days=1)
    while not is_trading_day(candidate, holidays):
        candidate -= timedelta(days=1)
    return candidate


def _dates(start: date, end: date) -> Iterable[date]:
    current = start
    while current < end:
        yield current
        current += timedelta(days=1)


def _kst(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KiwoomValidationError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise KiwoomValidationError(
            f"{moment.isoformat()} has no time zone: pass an aware datetime "
            "(e.g. datetime.now(kiwoom_async.KST))"
        )
    return moment.astimezone(KST)


def _day(day: date | datetime) -> date:
    if isinstance(day, datetime):
        return _kst(day).date()
    if not isinstance(day, date):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KiwoomValidationError(f"expected a date, got {type(day).__name__}")
    return day


def _xkrx_is_session(day: date) -> bool:
    pandas: Any = importlib.import_module("pandas")
    with _quiet():
        return bool(_xkrx(day.year).is_session(pandas.Timestamp(day)))


@contextlib.contextmanager
def _quiet() -> Generator[None, None, None]:
    """exchange-calendars' own deprecation warnings from pandas concern it, not the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@functools.cache
def _xkrx(year: int) -> Any:
    """The XKRX calendar of ``exchange-calendars`` for one year (building every year at once
    takes seconds)."""
    from .dataframes import MissingExtraError

    try:
        module: Any = importlib.import_module("exchange_calendars")
    except ImportError:
        raise MissingExtraError("exchange-calendars", "calendar") from None
    try:
        with _quiet():
            return module.get_calendar("XKRX", start=f"{year}-01-01", end=f"{year}-12-31")
    except ValueError as exc:  # its own errors are ValueErrors: a year it does not cover
        raise KiwoomValidationError(
            f"{year} is outside the years the KRX calendar knows: {exc}"
        ) from None
