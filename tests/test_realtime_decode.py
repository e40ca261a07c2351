"""Decoding of realtime WebSocket frames into typed events, and encoding of client frames,
checked against the official examples of the API fact base."""

from __future__ import annotations

import copy
import json
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kiwoom_async.errors import KiwoomValidationError, RealtimeError
from kiwoom_async.models import frames, numbers, realtime
from kiwoom_async.models.frames import (
    SYSTEM_SESSION_TAKEN_OVER,
    CnsrClrFrame,
    CnsrLstFrame,
    CnsrReqFrame,
    FrameDecodeError,
    LoginFrame,
    PingFrame,
    RealFrame,
    RegFrame,
    RemoveFrame,
    SalvagedEvents,
    SystemFrame,
    UnknownFrame,
    decode_events,
    decode_frame,
    encode_cnsrclr,
    encode_cnsrlst,
    encode_cnsrreq,
    encode_frame,
    encode_login,
    encode_reg,
    encode_remove,
)
from kiwoom_async.models.realtime import (
    EVENT_TYPES,
    Balance,
    ConditionHit,
    FidValues,
    OrderBookUpdate,
    OrderFill,
    RawEvent,
    RealItem,
    RealtimeEvent,
    StockTrade,
    StockTradeValues,
    event_from_item,
)
from kiwoom_async.testing._market import Market
from kiwoom_async.testing._ws_frames import book_values, real_frame, tick_values

from .conftest import SPEC_PATH

ROOT = Path(__file__).resolve().parents[1]
ALL_TYPES = [
    "00",
    "04",
    "0A",
    "0B",
    "0C",
    "0D",
    "0E",
    "0F",
    "0G",
    "0H",
    "0I",
    "0J",
    "0U",
    "0g",
    "0m",
    "0s",
    "0u",
    "0w",
    "1h",
    "02",
]


def _load_spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


SPEC = _load_spec()
WS: dict[str, Any] = SPEC["websocket"]


def example_frame(code: str) -> dict[str, Any]:
    """The official example REAL frame of a realtime type."""
    if code == "02":
        frame: dict[str, Any] = WS["messages"]["CNSRREQ_realtime"]["server_push"]
        return frame
    frame = WS["realtime_types"][code]["example_real"]
    return frame


def fid_table(code: str) -> dict[str, Any]:
    if code == "02":
        table: dict[str, Any] = WS["messages"]["CNSRREQ_realtime"]["push_fields"]
        return table
    table = WS["realtime_types"][code]["fields"]
    return table


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def reorder(frame: dict[str, Any], *, type_first: bool) -> dict[str, Any]:
    """The frame with the key order of one of the two server styles seen in the examples:
    trnm/type first, or data/values first."""
    entries = []
    for entry in frame.get("data") or []:
        keys = ["type", "name", "item", "values"]
        entries.append({k: entry[k] for k in (keys if type_first else keys[::-1]) if k in entry})
    if type_first:
        return {"trnm": frame["trnm"], "data": entries}
    return {"data": entries, "trnm": frame["trnm"]}


def decode_one(frame: dict[str, Any]) -> RealtimeEvent:
    """Decode a one-entry REAL frame in both key orders, and build the same entry the way the
    generic decode does (from a values dict); all three must agree."""
    results = []
    for type_first in (True, False):
        events = decode_events(dumps(reorder(frame, type_first=type_first)).encode())
        assert isinstance(events, list)
        assert len(events) == 1
        results.append(events[0])
    entry = frame["data"][0]
    item = RealItem(entry["type"], entry.get("name", ""), entry.get("item", ""), entry["values"])
    results.append(event_from_item(item))
    for other in results[1:]:
        assert other == results[0]
        assert type(other) is type(results[0])
        assert type(other.values) is type(results[0].values)
    return results[0]


def with_table(code: str, values: dict[str, str]) -> dict[str, str]:
    """``values`` as a typed event reads them: every FID of the table, "" where not sent, in
    table order, then any other FID."""
    table = {fid: values.get(fid, "") for fid in fid_table(code)}
    return table | {fid: value for fid, value in values.items() if fid not in table}


# --- every official example -------------------------------------------------------------


def test_every_type_is_covered() -> None:
    assert set(ALL_TYPES) == set(WS["realtime_type_list"]) == set(EVENT_TYPES)


@pytest.mark.parametrize("code", ALL_TYPES)
def test_example_decodes_to_its_typed_event(code: str) -> None:
    frame = example_frame(code)
    entry = frame["data"][0]
    event = decode_one(frame)
    assert type(event) is EVENT_TYPES[code]
    assert event.type == code
    assert event.name == entry["name"]
    assert event.item == entry["item"]
    assert type(event.values) is EVENT_TYPES[code].VALUES_TYPE
    assert event.values.extra is None
    assert dict(event.values) == with_table(code, entry["values"])
    assert list(event.values) == list(fid_table(code))
    assert event.is_account is (code in ("00", "04"))

    as_sent = decode_events(dumps(frame))
    assert as_sent == [event]
    wrapped = decode_frame(dumps(frame))
    assert isinstance(wrapped, RealFrame)
    assert wrapped.trnm == "REAL"
    assert wrapped.data == [event]


# Hand-written from the example frames of the fact base.
EXPECTED: dict[str, dict[str, object]] = {
    "00": {
        "account_no": "1111111111",
        "order_no": 18,
        "code": "005930",
        "order_status": "접수",
        "stock_name": "삼성전자",
        "order_qty": 1,
        "order_price": 0,
        "unfilled_qty": 1,
        "cum_fill_amount": 0,
        "orig_order_no": 0,
        "order_kind": "+매수",
        "trade_type": "시장가",
        "side": "2",
        "time": "094022",
        # An order acceptance: nothing filled yet.
        "fill_no": None,
        "fill_price": None,
        "fill_qty": None,
        "price": 60700,
        "direction": 1,
        "best_ask": 60700,
        "best_bid": 60000,
        "commission": 0,
        "tax": 0,
        "exchange": "1",
        "exchange_name": "KRX",
        "sor": "Y",
    },
    "04": {
        "account_no": "1111111111",
        "code": "005930",
        "stock_name": "삼성전자",
        "price": 60150,
        "direction": -1,
        "holding_qty": 102,
        "avg_price": 154116,
        "total_purchase": 15719834,
        "orderable_qty": 102,
        "today_net_buy_qty": 4,
        "side": "2",
        "best_ask": 60200,
        "best_bid": 60100,
        "base_price": 60300,
        "pnl_rate": 0.0,
        "realized_pnl": 0,
        "realized_pnl_rate": 0.0,
        "maturity_date": "00000000",
    },
    "0A": {
        "price": 86800,
        "direction": 1,
        "change": 19500,
        "change_rate": 28.97,
        "cum_volume": 367090,
        "low": 67300,
        "volume_change": 131995,
        "volume_ratio": 156.15,
        "market_cap": 5181771,
        "upper_limit_time": "154912",
    },
    "0B": {
        "time": "165208",
        "price": 20800,
        "direction": -1,
        "change": -50,
        "change_rate": -0.24,
        "best_ask": 20800,
        "best_bid": 20700,
        "volume": 82,
        "cum_volume": 30379732,
        "cum_value": 632640,
        "open": 20850,
        "high": 21150,
        "low": 20450,
        "change_sign": "5",
        "volume_change": -1057122,
        "value_change": -22041267850,
        "volume_ratio": -96.64,
        "turnover_rate": 36.67,
        "strength": 98.92,
        "market_cap": 17230,
        "session": "2",
        "today_average_price": None,
        "exchange": "1",
    },
    "0C": {"best_ask": 20800, "best_bid": 20700},
    "0D": {
        "quote_time": "165207",
        "ask_price_1": 20800,
        "ask_qty_1": 82,
        "bid_price_1": 20700,
        "bid_qty_1": 23847,
        "ask_price_10": 21350,
        "bid_price_10": 20250,
        "bid_qty_10": 1062405,
        "total_ask_qty": 12622527,
        "total_ask_qty_change": -1036021,
        "total_bid_qty": 14453430,
        "total_bid_qty_change": 1062126,
        "expected_price": 20850,
        "expected_qty": 332941,
        "net_bid_qty": 1830903,
        "bid_ratio": 114.51,
        "net_ask_qty": -1830903,
        "ask_ratio": 87.33,
        "expected_volume_ratio": -1.06,
        "market_status": "",
    },
    "0E": {
        "quote_time": "165208",
        "total_ask_qty": 43955,
        "total_ask_qty_change": 156,
        "total_bid_qty": 0,
    },
    "0F": {
        "sell_broker_qty_1": 9350409,
        "sell_broker_change_1": 8593585,
        "sell_broker_code_1": "993",
        "sell_broker_change_2": -9060,
        "buy_broker_qty_1": 9321128,
        "sell_broker_name_5": "미래에셋",
        "exchange": "2",
    },
    "0G": {
        "nav": 7488.27,
        "nav_change": 9.57,
        "nav_change_rate": 0.13,
        "tracking_error_rate": 1.82,
        "price": 7485,
        "change": 45,
        "change_rate": 0.6,
        "nav_etf_disparity": -0.04,
        "gearing": None,
    },
    "0H": {"price": 60500, "change": 200, "change_rate": 0.33, "volume": -7805},
    "0I": {"price": 337782, "direction": -1, "change": -1674, "change_rate": -0.49},
    "0J": {
        "price": 1762.61,
        "direction": -1,
        "change": -189.51,
        "change_rate": -9.71,
        "open": 1949.04,
        "high": 1961.28,
        "low": 1756.13,
        "cum_value": 60711859,
    },
    "0U": {
        "rising_count": 46,
        "upper_limit_count": 1,
        "falling_count": 204,
        "price": 1757.42,
        "change": -194.7,
        "traded_issues_ratio": 43.2,
    },
    "0g": {"upper_limit_price": 78300, "lower_limit_price": 42300, "base_price": 60300},
    "0m": {"price": 450, "theoretical_price": 0.0, "lp_quote_implied_volatility": 0.0},
    "0s": {"market_status": "b", "time": "170000", "time_to_open": "000000"},
    "0u": {"parity": 69.13, "gearing": 1037.04, "break_even_rate": 44.73},
    "0w": {"price": 60200, "change": -100, "buy_qty": 8043, "net_buy_qty": 8043},
    "1h": {
        "code": "005930",
        "vi_price": 4125,
        "static_reference_price": 3750,
        "static_disparity": 10.0,
        "vi_type": "정적",
        "vi_trigger_count": 1,
        "processing_time": "111454",
        "release_time": "111703",
    },
    "02": {
        "condition_seq": "4",
        "code": "005930",
        "action": "I",
        "entered": True,
        "time": "152028",
        "side": "2",
    },
}


@pytest.mark.parametrize("code", ALL_TYPES)
def test_example_typed_values(code: str) -> None:
    event = decode_one(example_frame(code))
    for attr, expected in EXPECTED[code].items():
        value = getattr(event, attr)
        assert value == expected, attr
        assert type(value) is type(expected), attr


def _return_check(hint: object, value: object) -> bool:
    if hint is str:
        return type(value) is str
    if hint is bool:
        return type(value) is bool
    if hint == int | None:
        return value is None or type(value) is int
    if hint == float | None:
        return value is None or type(value) is float
    if hint is int:
        return type(value) is int
    return isinstance(value, list)


@pytest.mark.parametrize("code", ALL_TYPES)
def test_every_fid_has_a_typed_property(code: str) -> None:
    cls = EVENT_TYPES[code]
    table = fid_table(code)
    assert set(cls.FID_ATTRS) == set(table)
    assert len(set(cls.FID_ATTRS.values())) == len(cls.FID_ATTRS)
    assert set(cls.FID_ATTRS.values()) <= set(cls.ATTRS)
    event = decode_one(example_frame(code))
    for attr in cls.ATTRS:
        prop = getattr(cls, attr)
        assert isinstance(prop, property), attr
        assert prop.__doc__, attr
        value = getattr(event, attr)  # must not raise on the official example
        hint = typing.get_type_hints(prop.fget, vars(realtime))["return"]
        assert _return_check(hint, value), (attr, hint, value)
    for fid, attr in cls.FID_ATTRS.items():
        assert f"FID {fid} " in (getattr(cls, attr).__doc__ or "")
    as_dict = event.to_dict()
    assert as_dict["type"] == code
    assert list(as_dict)[3:] == list(cls.ATTRS)


@pytest.mark.parametrize("code", ALL_TYPES)
def test_missing_fids_read_as_empty(code: str) -> None:
    event = EVENT_TYPES[code]()
    assert event.type == code
    for attr in event.ATTRS:
        value = getattr(event, attr)
        assert value in (None, "", 0, False, []) or attr in ("asks", "bids"), attr


def test_stock_trade_attributes() -> None:
    event = decode_one(example_frame("0B"))
    assert isinstance(event, StockTrade)
    assert event.price == 20800
    assert event.direction == -1
    assert event.change == -50
    assert event.change_rate == -0.24
    assert event.volume == 82


def test_order_fill_numbers_of_a_fill() -> None:
    frame = copy.deepcopy(example_frame("00"))
    frame["data"][0]["item"] = "A005930"
    frame["data"][0]["values"].update(
        {
            "9001": "A005930",
            "913": "체결",
            "909": "0000123",
            "910": "60700",
            "911": "1",
            "902": "0",
            "903": "60700",
            "914": "60700",
            "915": "1",
        }
    )
    event = decode_one(frame)
    assert isinstance(event, OrderFill)
    assert event.order_no == 18
    assert event.fill_no == 123
    assert event.fill_price == 60700
    assert event.fill_qty == 1
    assert event.unfilled_qty == 0
    assert event.cum_fill_amount == 60700
    assert event.order_status == "체결"
    # the fact base: account data may carry the market prefix letter
    assert event.item == "005930"
    assert event.code == "005930"
    assert event.values["9001"] == "A005930"


def test_balance_item_prefix_stripped() -> None:
    frame = copy.deepcopy(example_frame("04"))
    frame["data"][0]["item"] = "A005930"
    event = decode_one(frame)
    assert isinstance(event, Balance)
    assert event.item == "005930"


def test_market_data_item_kept_as_registered() -> None:
    frame = copy.deepcopy(example_frame("0B"))
    frame["data"][0]["item"] = "005930_NX"
    assert decode_one(frame).item == "005930_NX"


def test_order_book_levels() -> None:
    event = decode_one(example_frame("0D"))
    assert isinstance(event, OrderBookUpdate)
    assert event.asks[0] == (20800, 82)
    assert event.asks[9] == (21350, 1242991)
    assert event.bids[0] == (20700, 23847)
    assert event.bids[9] == (20250, 1062405)


def test_condition_hit_left() -> None:
    frame = copy.deepcopy(example_frame("02"))
    frame["data"][0]["values"]["843"] = "D"
    event = decode_one(frame)
    assert isinstance(event, ConditionHit)
    assert event.entered is False


def test_bad_number_raises_value_error_on_access() -> None:
    event = StockTrade.from_values({"10": "abc"}, "주식체결", "005930")
    assert (event.name, event.item) == ("주식체결", "005930")
    with pytest.raises(ValueError):
        _ = event.price


@pytest.mark.parametrize("raw", ["+60700", "-60000", " 450", "+00061300", "--714", "", " ", "0"])
def test_price_parsing_matches_numbers(raw: str) -> None:
    event = StockTrade(values=StockTradeValues(f10=raw))
    assert event.price == numbers.price(raw)
    assert event.direction == numbers.direction(raw)
    assert StockTrade.from_values({"10": raw}) == event


def test_several_entries_in_one_frame() -> None:
    trade = example_frame("0B")["data"][0]
    book = example_frame("0D")["data"][0]
    events = decode_events(dumps({"data": [trade, book, trade], "trnm": "REAL"}))
    assert isinstance(events, list)
    assert [type(e) for e in events] == [StockTrade, OrderBookUpdate, StockTrade]


def test_key_order_does_not_matter() -> None:
    entry = example_frame("0B")["data"][0]
    reordered = {"values": entry["values"], "item": entry["item"], "name": entry["name"]}
    reordered["type"] = entry["type"]
    events = decode_events(dumps({"data": [reordered], "trnm": "REAL"}))
    assert isinstance(events, list)
    assert events == decode_events(dumps(example_frame("0B")))


# --- unknowns and tolerance -------------------------------------------------------------


@pytest.mark.parametrize("type_first", [True, False])
def test_unknown_realtime_type_becomes_raw_event(type_first: bool) -> None:
    trade = example_frame("0B")["data"][0]
    unknown = {"type": "9Z", "name": "새타입", "item": "005930", "values": {"10": "+1"}}
    frame = reorder({"trnm": "REAL", "data": [unknown, trade]}, type_first=type_first)
    events = decode_events(dumps(frame))
    assert isinstance(events, list)
    raw, typed = events
    assert type(raw) is RawEvent
    assert (raw.type, raw.name, raw.item, raw.values) == ("9Z", "새타입", "005930", {"10": "+1"})
    assert raw.is_account is False
    assert raw.to_dict() == {"type": "9Z", "item": "005930", "name": "새타입"}
    assert isinstance(typed, StockTrade)
    # The frame took the generic decode: its typed entry is the one the fast path makes.
    assert typed == decode_one(example_frame("0B"))
    assert type(typed.values) is StockTradeValues
    assert raw == RawEvent("새타입", "005930", {"10": "+1"}, "9Z")
    assert type(raw.values) is dict
    assert RawEvent.from_values({"10": "+1"}, "새타입", "005930") == RawEvent(
        "새타입", "005930", {"10": "+1"}
    )


def test_event_from_item() -> None:
    quote = event_from_item(RealItem("0C", "", "005930", {"27": "1", "9999": "x"}))
    assert type(quote) is realtime.BestQuote
    assert (quote.best_ask, quote.values["9999"], quote.values["28"]) == (1, "x", "")
    raw = event_from_item(RealItem("zz"))
    assert type(raw) is RawEvent
    assert raw.type == "zz"


# --- values: a read-only FID mapping over the type's table --------------------------------


def test_values_is_a_read_only_fid_mapping() -> None:
    event = decode_one(example_frame("0B"))
    assert isinstance(event, StockTrade)
    values = event.values
    sent = example_frame("0B")["data"][0]["values"]
    assert isinstance(values, Mapping)
    assert isinstance(values, FidValues)
    assert values["10"] == values.f10 == sent["10"] == "-20800"
    assert values.get("10") == "-20800"
    assert values.get("1") is None
    assert values.get("1", "x") == "x"
    assert "10" in values
    assert "1" not in values
    not_a_fid: object = 10
    assert not_a_fid not in values
    with pytest.raises(KeyError):
        _ = values["1"]
    assert list(values) == list(values.keys()) == list(fid_table("0B"))
    assert tuple(values) == StockTradeValues.FIDS
    assert len(values) == len(fid_table("0B"))
    assert list(values.values()) == [sent[fid] for fid in values]
    assert dict(values.items()) == sent
    assert values == sent
    assert values != {**sent, "10": "+1"}
    assert values != {}
    assert not hasattr(values, "__setitem__")


def test_a_fid_of_the_table_that_was_not_sent_reads_as_empty() -> None:
    frame = copy.deepcopy(example_frame("0B"))
    del frame["data"][0]["values"]["10"]
    event = decode_one(frame)
    assert isinstance(event, StockTrade)
    assert event.values["10"] == event.values.get("10") == ""
    assert "10" in event.values
    assert event.price is None
    assert len(event.values) == len(fid_table("0B"))
    empty = StockTradeValues()
    assert dict(empty) == dict.fromkeys(fid_table("0B"), "")


@pytest.mark.parametrize("type_first", [True, False])
def test_a_fid_outside_the_table_is_kept(type_first: bool) -> None:
    frame = copy.deepcopy(example_frame("0B"))
    frame["data"][0]["values"]["9999"] = "123"
    frame["data"].append(example_frame("0D")["data"][0])
    events = decode_events(dumps(reorder(frame, type_first=type_first)))
    assert isinstance(events, list)
    trade, book = events
    assert isinstance(trade, StockTrade)
    assert type(trade.values) is StockTradeValues
    assert trade.values["9999"] == trade.values.get("9999") == "123"
    assert "9999" in trade.values
    assert list(trade.values)[-1] == "9999"
    assert len(trade.values) == len(fid_table("0B")) + 1
    assert trade.values.extra == {"9999": "123"}
    assert dict(trade.values) == with_table("0B", frame["data"][0]["values"])
    # The typed fields are read as without it.
    assert trade.to_dict() == decode_one(example_frame("0B")).to_dict()
    assert book == decode_one(example_frame("0D"))
    sent = json.loads(encode_frame(RealFrame([trade])))["data"][0]["values"]
    assert sent == with_table("0B", frame["data"][0]["values"])


def test_values_from_a_mapping() -> None:
    values = StockTradeValues.from_mapping({"10": "+1", "9999": "x"})
    assert (values.f10, values.extra) == ("+1", {"9999": "x"})
    assert StockTradeValues.from_mapping({"10": "+1"}) == StockTradeValues(f10="+1")
    assert StockTradeValues.from_mapping({"10": "+1"}).extra is None
    with pytest.raises(msgspec.ValidationError):
        StockTradeValues.from_mapping({"10": 5})  # type: ignore[dict-item]
    with pytest.raises(msgspec.ValidationError):
        StockTradeValues.from_mapping({"9999": 5})  # type: ignore[dict-item]


@pytest.mark.parametrize("code", ALL_TYPES)
def test_values_struct_options(code: str) -> None:
    values_type = EVENT_TYPES[code].VALUES_TYPE
    assert values_type is not FidValues
    config = values_type.__struct_config__
    assert config.forbid_unknown_fields
    assert not config.gc
    assert tuple(fid_table(code)) == values_type.FIDS
    assert values_type.__struct_encode_fields__[1:] == values_type.FIDS
    assert all(values_type.FID_FIELDS[fid] == f"f{fid}" for fid in values_type.FIDS)
    assert EVENT_TYPES[code]().values == values_type()


@pytest.mark.parametrize("code", ALL_TYPES)
def test_every_fid_reaches_its_own_property(code: str) -> None:
    cls = EVENT_TYPES[code]
    for fid, attr in cls.FID_ATTRS.items():
        entry = {"type": code, "name": "", "item": "", "values": {fid: "7"}}
        event = decode_one({"trnm": "REAL", "data": [entry]})
        for other_fid, other in cls.FID_ATTRS.items():
            value = getattr(event, other)
            if other_fid == fid:
                assert value in ("7", 7) and not isinstance(value, bool), (fid, attr, value)
            else:
                assert value in ("", None), (fid, other, value)


def test_the_official_and_simulated_frames_take_the_fast_path() -> None:
    # A REAL frame whose every entry fits its class decodes in one msgspec call; the generic
    # decode is for the unusual frame.
    market = Market(seed=1)
    simulated = [
        real_frame("0B", "005930", tick_values(market.tick("005930"))),
        real_frame("0D", "005930", book_values(market.book("005930"))),
    ]
    for frame in [example_frame(code) for code in ALL_TYPES] + simulated:
        for type_first in (True, False):
            tagged = frames._decode_tagged(dumps(reorder(frame, type_first=type_first)))
            assert tagged.trnm == "REAL"
            assert tagged.data is not None
            assert [type(e.values) for e in tagged.data] == [
                EVENT_TYPES[e["type"]].VALUES_TYPE for e in frame["data"]
            ]


def test_unknown_trnm_becomes_unknown_frame() -> None:
    raw = b'{"trnm":"NEWTHING","data":[[1,2]],"x":{"y":1}}'
    frame = decode_frame(raw)
    assert isinstance(frame, UnknownFrame)
    assert frame.trnm == "NEWTHING"
    assert frame.raw is raw
    assert encode_frame(frame) == raw
    simple = decode_events('{"trnm":"OTHER"}')
    assert isinstance(simple, UnknownFrame)
    assert simple.raw == '{"trnm":"OTHER"}'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"trnm":"REAL","seq":1,"data":[{"type":"0C","values":{"27":"-5"},"extra":[1]}]}',
        b'{"data":[{"extra":[1],"values":{"27":"-5"},"type":"0C"}],"seq":1,"trnm":"REAL"}',
    ],
)
def test_extra_keys_and_missing_optionals_are_tolerated(raw: bytes) -> None:
    events = decode_events(raw)
    assert isinstance(events, list)
    assert events[0].name == ""
    assert events[0].item == ""
    assert isinstance(events[0], realtime.BestQuote)
    assert events[0].best_ask == 5


def test_missing_data_and_unknown_keys() -> None:
    # A REAL frame without data carries nothing and is no REAL frame the server means to send:
    # it must be counted as malformed, not pass as an empty frame.
    for frame in (b'{"trnm":"REAL"}', b'{"trnm":"REAL","data":null}'):
        with pytest.raises(FrameDecodeError, match="without data"):
            decode_events(frame)
    assert decode_events(b'{"trnm":"REAL","data":[]}') == []
    reg = decode_frame(b'{"trnm":"REG","foo":"bar"}')
    assert isinstance(reg, RegFrame)
    assert reg.return_code == 0


MALFORMED = [
    b"",
    b"not json",
    b'{"trnm":"REAL","data":[',
    b"[]",
    b'"PING"',
    b"{}",
    b'{"data":[]}',
    b'{"trnm":5}',
    b'{"trnm":null}',
    b'{"trnm":"REAL","data":{}}',
    b'{"trnm":"LOGIN","return_code":0,"return_msg":5}',
    b'{"trnm":"LOGIN","return_code":[0]}',
    b'{"trnm":"SYSTEM","code":10001}',
    b'{"trnm":"CNSRLST","data":[[0,"x"]]}',
    b'{"trnm":"CNSRREQ","data":[{"9001":5}]}',
    "\ud800",
    b'{"trnm":"\xff"}',
    b'{"data":[{"values":{},"type":"0B"}],"trnm":7}',
    b'{"trnm":"REAL","data":[{"type":"0B","values":{}}',
    # Nesting deep enough to exhaust the decoder's recursion, in each place a decoder looks
    # (deeper than any recursion limit a process sets: mypy's is 16384).
    b'{"trnm":"REAL","data":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    b'{"trnm":"REAL","data":[{"type":"0B","name":"x","item":"005930","values":{"10":'
    + b"[" * 20_000
    + b"]" * 20_000
    + b"}}]}",
    b'{"trnm":"PING","x":' + b'{"a":' * 20_000 + b"1" + b"}" * 20_001,
    b'{"trnm":"LOGIN","return_code":0,"x":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_frames_raise_frame_decode_error(raw: bytes | str) -> None:
    with pytest.raises(FrameDecodeError) as info:
        decode_events(raw)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RealtimeError)
    assert info.value.raw == raw
    with pytest.raises(FrameDecodeError):
        decode_frame(raw)


# --- control frames ---------------------------------------------------------------------


def test_login_ok() -> None:
    frame = decode_frame(dumps(WS["messages"]["LOGIN"]["server_ok"]))
    assert isinstance(frame, LoginFrame)
    assert frame.trnm == "LOGIN"
    assert frame.return_code == 0
    assert frame.ok
    assert frame.sor_yn == "Y"
    assert frame.detail_code is None
    text_zero = decode_frame(b'{"trnm":"LOGIN","return_code":"0","return_msg":""}')
    assert isinstance(text_zero, LoginFrame)
    assert text_zero.return_code == 0
    assert text_zero.ok


@pytest.mark.parametrize(
    ("raw_code", "message", "code", "detail"),
    [
        ("805004", "인증 실패 (CODE=8005)", 805004, 8005),
        (1, "[8005:Token이 유효하지 않습니다]", 1, 8005),
        (8005, "Token이 유효하지 않습니다", 8005, None),
        ("non-zero", "text containing CODE=8005 style detail", -1, 8005),
        (" 3 ", "", 3, None),
    ],
)
def test_login_refused(raw_code: int | str, message: str, code: int, detail: int | None) -> None:
    raw = dumps({"trnm": "LOGIN", "return_code": raw_code, "return_msg": message})
    frame = decode_frame(raw)
    assert isinstance(frame, LoginFrame)
    assert frame.return_code == code
    assert not frame.ok
    assert frame.return_msg == message
    assert frame.detail_code == detail


def test_reg_and_remove_acks() -> None:
    reg = decode_frame(dumps(WS["messages"]["REG"]["server_ack"]))
    assert isinstance(reg, RegFrame)
    assert reg.ok
    refused = decode_frame(b'{"trnm":"REG","return_code":1,"return_msg":"fail"}')
    assert isinstance(refused, RegFrame)
    assert (refused.return_code, refused.ok) == (1, False)
    remove = decode_frame(dumps(WS["messages"]["REMOVE"]["server_ack"]))
    assert isinstance(remove, RemoveFrame)
    assert remove.ok


@pytest.mark.parametrize("index", [0, 1])
def test_system(index: int) -> None:
    example = WS["messages"]["SYSTEM"]["server_examples"][index]
    frame = decode_events(dumps(example))
    assert isinstance(frame, SystemFrame)
    assert frame.code == example["code"]
    assert frame.message == example["message"]
    assert (frame.code == SYSTEM_SESSION_TAKEN_OVER) is (index == 0)


@pytest.mark.parametrize("raw", [b'{"trnm":"PING"}', '{"trnm": "PING"}', b'{"trnm":"PING","x":1}'])
def test_ping(raw: bytes | str) -> None:
    frame = decode_events(raw)
    assert isinstance(frame, PingFrame)
    assert frame.trnm == "PING"


def test_cnsrlst_rows() -> None:
    example = WS["condition_search_examples"]["ka10171"]["responses"][0]
    frame = decode_frame(dumps(example))
    assert isinstance(frame, CnsrLstFrame)
    assert frame.ok
    assert frame.conditions == [(str(i), f"조건{i + 1}") for i in range(5)]
    empty = decode_frame(b'{"trnm":"CNSRLST","return_code":0}')
    assert isinstance(empty, CnsrLstFrame)
    assert empty.conditions == []


def test_cnsrreq_normal_rows() -> None:
    example = WS["condition_search_examples"]["ka10172"]["responses"][0]
    frame = decode_frame(dumps(example))
    assert isinstance(frame, CnsrReqFrame)
    assert frame.seq == "2"  # sent padded as "2  "
    assert frame.ok
    assert frame.has_more is False
    assert frame.next_key == ""
    assert len(frame.rows) == 5
    assert frame.rows[3]["10"] == "000075000"
    assert frame.codes == ["005930"] * 5


def test_cnsrreq_realtime_initial_rows() -> None:
    example = WS["condition_search_examples"]["ka10173"]["responses"][0]
    frame = decode_frame(dumps(example))
    assert isinstance(frame, CnsrReqFrame)
    assert frame.seq == "4"
    assert frame.codes == ["005930"] * len(example["data"])
    paged = decode_frame(b'{"trnm":"CNSRREQ","seq":"1","cont_yn":"Y","next_key":"K1"}')
    assert isinstance(paged, CnsrReqFrame)
    assert paged.has_more
    assert paged.rows == []


def test_cnsrreq_realtime_push_example() -> None:
    example = WS["condition_search_examples"]["ka10173"]["responses"][1]
    events = decode_events(dumps(example))
    assert isinstance(events, list)
    assert isinstance(events[0], ConditionHit)
    assert events[0].code == "005930"


def test_cnsrclr() -> None:
    frame = decode_frame(dumps(WS["messages"]["CNSRCLR"]["server"]))
    assert isinstance(frame, CnsrClrFrame)
    assert frame.seq == "1"
    assert frame.ok


# --- encoders ---------------------------------------------------------------------------


def same_frame(encoded: bytes, expected: dict[str, Any]) -> None:
    decoded = json.loads(encoded)
    assert decoded == expected
    assert list(decoded) == list(expected)


def test_encode_login() -> None:
    expected = dict(WS["messages"]["LOGIN"]["client"])
    expected["token"] = "TOKEN123"
    same_frame(encode_login("TOKEN123"), expected)
    same_frame(encode_login("Bearer TOKEN123"), expected)
    with pytest.raises(KiwoomValidationError):
        encode_login("")


def test_encode_reg_and_remove() -> None:
    same_frame(
        encode_reg("1", ["005930", "000660"], ["0B", "0D"], refresh="1"),
        WS["messages"]["REG"]["client"],
    )
    same_frame(
        encode_reg(1, ("005930", "000660"), ("0B", "0D"), refresh=True),
        WS["messages"]["REG"]["client"],
    )
    same_frame(encode_remove("1", ["005930"], ["0B"]), WS["messages"]["REMOVE"]["client"])
    account = json.loads(encode_reg("2", [], ["00", "04"], refresh=False))
    assert account["refresh"] == "0"
    assert account["data"] == [{"item": [""], "type": ["00", "04"]}]
    single = json.loads(encode_reg("3", "005930", "0B"))
    assert single["data"] == [{"item": ["005930"], "type": ["0B"]}]
    with pytest.raises(KiwoomValidationError):
        encode_reg("1", ["005930"], [])
    with pytest.raises(KiwoomValidationError):
        encode_reg("1", ["005930"], ["0B"], refresh="yes")


def test_encode_condition_search() -> None:
    same_frame(encode_cnsrlst(), WS["messages"]["CNSRLST"]["client"])
    same_frame(encode_cnsrreq("4", "0", "K"), WS["messages"]["CNSRREQ_normal"]["client"])
    same_frame(encode_cnsrreq(4), WS["condition_search_examples"]["ka10172"]["request"])
    same_frame(encode_cnsrreq("4", "1", "K"), WS["messages"]["CNSRREQ_realtime"]["client"])
    same_frame(encode_cnsrreq("4", "1"), WS["condition_search_examples"]["ka10173"]["request"])
    same_frame(encode_cnsrclr("1"), WS["messages"]["CNSRCLR"]["client"])
    same_frame(encode_cnsrclr(1), WS["condition_search_examples"]["ka10174"]["request"])
    page = json.loads(encode_cnsrreq("4", cont_yn="Y", next_key="K9"))
    assert (page["cont_yn"], page["next_key"]) == ("Y", "K9")
    with pytest.raises(KiwoomValidationError):
        encode_cnsrreq("4", "2")
    with pytest.raises(KiwoomValidationError):
        encode_cnsrreq("4", cont_yn="X")


@pytest.mark.parametrize("code", ALL_TYPES)
def test_encode_frame_round_trips_real(code: str) -> None:
    frame = decode_frame(dumps(example_frame(code)))
    expected = copy.deepcopy(example_frame(code))
    entry = expected["data"][0]
    entry["values"] = with_table(code, entry["values"])
    assert json.loads(encode_frame(frame)) == expected
    assert decode_frame(encode_frame(frame)) == frame


def test_encode_frame_control() -> None:
    login = LoginFrame(return_msg="ok", sor_yn="Y")
    assert json.loads(encode_frame(login)) == {
        "trnm": "LOGIN",
        "return_code": 0,
        "return_msg": "ok",
        "sor_yn": "Y",
    }
    assert encode_frame(PingFrame()) == b'{"trnm":"PING"}'
    assert decode_frame(encode_frame(SystemFrame("R10002", "x"))) == SystemFrame("R10002", "x")


def test_events_are_msgspec_structs() -> None:
    # The session may hand events across threads or queues; they must stay plain data.
    event = decode_one(example_frame("0B"))
    assert isinstance(event, msgspec.Struct)
    assert msgspec.json.decode(msgspec.json.encode(event), type=StockTrade) == event


@pytest.mark.parametrize(
    ("raw", "kept", "skipped"),
    [
        (b'{"trnm":"REAL","data":[{"name":"x","values":{}}]}', 0, 1),
        (b'{"trnm":"REAL","data":[{"type":"0B","values":["10"]}]}', 0, 1),
        (b'{"trnm":"REAL","data":[{"type":7,"values":{}}]}', 0, 1),
        (b'{"trnm":"REAL","data":[{"type":"0B","name":1,"values":{}}]}', 0, 1),
        (b'{"trnm":"REAL","data":[{"type":"0B","values":{"10":20800}}]}', 1, 0),
        (b'{"data":[{"values":{"10":20800},"type":"0B"}],"trnm":"REAL"}', 1, 0),
        (b'{"trnm":"REAL","data":[{"type":"0B","values":{"10":null}}]}', 1, 0),
    ],
)
def test_a_real_frame_with_bad_entries_keeps_the_readable_ones(
    raw: bytes, kept: int, skipped: int
) -> None:
    events = decode_events(raw)
    assert isinstance(events, SalvagedEvents)
    assert (len(events), events.skipped) == (kept, skipped)


def test_a_fill_next_to_a_malformed_tick_is_kept() -> None:
    raw = (
        b'{"trnm":"REAL","data":['
        b'{"type":"00","name":"","item":"005930","values":{"9203":"0000012","910":"60700","911":"1"}},'
        b'{"type":"0B","item":"005930","values":{"10":null,"15":5}},'
        b'{"type":"0B","item":"005930","values":"broken"}]}'
    )
    events = decode_events(raw)
    assert isinstance(events, SalvagedEvents) and events.skipped == 1
    fill, tick = events
    assert isinstance(fill, OrderFill) and (fill.order_no, fill.fill_price, fill.fill_qty) == (
        12,
        60700,
        1,
    )
    assert isinstance(tick, StockTrade) and type(tick.values) is StockTradeValues
    assert tick.values == with_table("0B", {"10": "", "15": "5"})
