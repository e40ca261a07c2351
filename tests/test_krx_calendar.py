"""KRX trading days and session windows, on fixed dates in KST."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from kiwoom_async import KiwoomError, KiwoomValidationError, krx_calendar
from kiwoom_async._kst import KST
from kiwoom_async.dataframes import MissingExtraError
from kiwoom_async.krx_calendar import (
    HOLIDAYS,
    Phase,
    is_trading_day,
    next_trading_day,
    phase_at,
    previous_trading_day,
    trading_day,
)


def kst(day: date, hhmm: str) -> datetime:
    return datetime(day.year, day.month, day.day, int(hhmm[:2]), int(hhmm[2:]), tzinfo=KST)


NORMAL = date(2025, 9, 8)  # a Monday


@pytest.mark.parametrize(
    ("hhmm", "phase"),
    [
        ("0829", Phase.CLOSED),
        ("0830", Phase.PRE_MARKET_AFTER_HOURS),
        ("0839", Phase.PRE_MARKET_AFTER_HOURS),
        ("0840", Phase.OPENING_AUCTION),
        ("0859", Phase.OPENING_AUCTION),
        ("0900", Phase.REGULAR),
        ("1519", Phase.REGULAR),
        ("1520", Phase.CLOSING_AUCTION),
        ("1530", Phase.BREAK),
        ("1540", Phase.POST_MARKET_AFTER_HOURS),
        ("1600", Phase.AFTER_HOURS_SINGLE_PRICE),
        ("1759", Phase.AFTER_HOURS_SINGLE_PRICE),
        ("1800", Phase.CLOSED),
    ],
)
def test_the_windows_of_a_normal_day(hhmm: str, phase: Phase) -> None:
    assert phase_at(kst(NORMAL, hhmm)) is phase


def test_a_moment_in_another_zone_is_read_in_kst() -> None:
    # 00:30 UTC is 09:30 in Seoul.
    assert phase_at(datetime(2025, 9, 8, 0, 30, tzinfo=UTC)) is Phase.REGULAR
    new_york = timezone(timedelta(hours=-4))
    # 20:30 on Sunday in New York is Monday 09:30 in Seoul.
    assert phase_at(datetime(2025, 9, 7, 20, 30, tzinfo=new_york)) is Phase.REGULAR


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(KiwoomValidationError, match="no time zone"):
        phase_at(datetime(2025, 9, 8, 9, 30))
    with pytest.raises(KiwoomValidationError, match="no time zone"):
        is_trading_day(datetime(2025, 9, 8, 9, 30))


def test_holidays_weekends_and_the_year_end_are_closed() -> None:
    assert not is_trading_day(date(2025, 1, 28))  # 설날
    assert not is_trading_day(date(2025, 10, 6))  # 추석
    assert not is_trading_day(date(2025, 6, 3))  # presidential election
    assert not is_trading_day(date(2025, 12, 31))  # year-end closing day
    assert not is_trading_day(date(2025, 9, 6))  # Saturday
    assert is_trading_day(date(2025, 12, 30))
    assert phase_at(kst(date(2025, 10, 6), "1000")) is Phase.CLOSED
    assert trading_day(date(2025, 10, 6)) is None


def test_extra_holidays_close_a_day() -> None:
    assert not is_trading_day(NORMAL, extra_holidays=[NORMAL])
    assert next_trading_day(date(2025, 9, 5), extra_holidays=[NORMAL]) == date(2025, 9, 9)


def test_the_first_day_of_the_year_opens_at_ten() -> None:
    first = trading_day(date(2025, 1, 2))
    assert first is not None
    assert first.open == kst(date(2025, 1, 2), "1000")
    assert first.close == kst(date(2025, 1, 2), "1530")
    assert phase_at(kst(date(2025, 1, 2), "0930")) is Phase.PRE_MARKET_AFTER_HOURS
    assert phase_at(kst(date(2025, 1, 2), "0945")) is Phase.OPENING_AUCTION
    second = trading_day(date(2025, 1, 3))
    assert second is not None and second.open == kst(date(2025, 1, 3), "0900")


def test_csat_day_moves_every_window_an_hour() -> None:
    csat = trading_day(date(2025, 11, 13))
    assert csat is not None
    assert (csat.open, csat.close) == (
        kst(date(2025, 11, 13), "1000"),
        kst(date(2025, 11, 13), "1630"),
    )
    assert csat.closing_auction[0] == kst(date(2025, 11, 13), "1620")
    assert csat.after_hours_single_price == (
        kst(date(2025, 11, 13), "1700"),
        kst(date(2025, 11, 13), "1900"),
    )


def test_next_and_previous_trading_days_skip_closures() -> None:
    assert next_trading_day(date(2025, 1, 24)) == date(2025, 1, 31)  # over 설날
    assert previous_trading_day(date(2025, 1, 31)) == date(2025, 1, 24)
    assert next_trading_day(date(2025, 12, 30)) == date(2026, 1, 2)
    assert previous_trading_day(datetime(2025, 9, 8, 1, 0, tzinfo=UTC)) == date(2025, 9, 5)


def test_the_table_has_no_weekend_and_covers_each_year() -> None:
    assert all(day.weekday() < 5 for day in HOLIDAYS)
    assert {day.year for day in HOLIDAYS} == {2024, 2025, 2026}
    assert all(date(year, 12, 31) in HOLIDAYS for year in (2024, 2025))


def test_other_years_need_the_calendar_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    krx_calendar._xkrx.cache_clear()
    monkeypatch.setitem(sys.modules, "exchange_calendars", None)
    try:
        with pytest.raises(MissingExtraError) as caught:
            is_trading_day(date(2023, 9, 8))
        assert isinstance(caught.value, KiwoomError)
        assert "kiwoom-async[calendar]" in str(caught.value)
    finally:
        krx_calendar._xkrx.cache_clear()


def test_other_years_come_from_exchange_calendars() -> None:
    assert not is_trading_day(date(2023, 9, 28))  # 추석 2023
    assert is_trading_day(date(2023, 9, 27))
