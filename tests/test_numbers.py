from __future__ import annotations

import pytest

from kiwoom_async.models.numbers import (
    direction,
    index_x100,
    price,
    signed_float,
    signed_int,
    stock_code,
    unsigned_int,
)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("+693", 693),
        ("-00000000196888", -196888),
        ("000000017598258", 17598258),
        ("--714", -714),
        ("+-5", -5),
        ("", None),
        ("   ", None),
        ("0", 0),
    ],
)
def test_signed_int(raw: str, value: int | None) -> None:
    assert signed_int(raw) == value


@pytest.mark.parametrize(
    ("raw", "value", "dir_"),
    [("+60700", 60700, 1), ("-60000", 60000, -1), ("60000", 60000, 0), ("", None, 0)],
)
def test_price_drops_the_direction_marker_and_direction_keeps_it(
    raw: str, value: int | None, dir_: int
) -> None:
    assert price(raw) == unsigned_int(raw) == value
    assert direction(raw) == dir_


@pytest.mark.parametrize(
    ("raw", "value"),
    [("+26.07", 26.07), ("-0.24", -0.24), ("0.00", 0.0), ("--1.5", -1.5), ("", None)],
)
def test_signed_float(raw: str, value: float | None) -> None:
    assert signed_float(raw) == value


def test_index_values_are_scaled_and_codes_lose_their_market_prefix() -> None:
    assert index_x100("252127") == 2521.27
    assert index_x100("-1234") == -12.34
    assert index_x100("") is None
    assert stock_code("A005930") == "005930"
    assert stock_code("005930") == "005930"
    assert stock_code("A0009K0") == "0009K0"
    assert stock_code("ABCDEFG") == "ABCDEFG"
    # The exchange suffix says where the stock trades: kept, the prefix still dropped.
    assert stock_code("A005930_AL") == "005930_AL"
    assert stock_code("005930_NX") == "005930_NX"
    assert stock_code("ABCDEFG_AL") == "ABCDEFG_AL"


@pytest.mark.parametrize("bad", ["12a", "+", "1.2.3", "++"])
def test_text_that_is_not_a_number_raises(bad: str) -> None:
    with pytest.raises(ValueError):
        signed_int(bad)
