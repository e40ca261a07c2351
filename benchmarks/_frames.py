"""Sample realtime frames, shaped as the simulator (and the official examples) send them, and
the plain msgspec structs the floors decode them into."""

from __future__ import annotations

import msgspec

from kiwoom_async.testing._market import Market
from kiwoom_async.testing._ws_frames import REAL_NAMES, book_values, real_frame, tick_values

_encode = msgspec.json.Encoder().encode

STAMP_FIDS = {"0B": "20", "0D": "21"}
"""The FID (trade time, quote time) the latency server overwrites with its send time
(time.monotonic_ns): a FID of the type's table, so every client reads it like any other."""


def tick_frame(item: str = "005930", seed: int = 1) -> bytes:
    values = tick_values(Market(seed=seed).tick(item))
    return _encode(real_frame("0B", item, values))


def book_frame(item: str = "005930", seed: int = 1) -> bytes:
    values = book_values(Market(seed=seed).book(item))
    return _encode(real_frame("0D", item, values))


ORDER_VALUES = {
    "9201": "1234567890",
    "9203": "0000123",
    "9205": "",
    "9001": "A005930",
    "912": "JJ",
    "913": "체결",
    "302": "삼성전자",
    "900": "10",
    "901": "70000",
    "902": "0",
    "903": "700000",
    "904": "0000000",
    "905": "+매수",
    "906": "보통",
    "907": "2",
    "908": "093015",
    "909": "1234567",
    "910": "70000",
    "911": "10",
    "10": "+70000",
    "27": "+70100",
    "28": "+70000",
    "914": "70000",
    "915": "10",
    "938": "105",
    "939": "0",
    "919": "0",
    "920": "0001",
    "921": "01",
    "922": "00",
    "923": "00000000",
    "10010": "",
    "2134": "1",
    "2135": "KRX",
    "2136": "",
}


def order_frame() -> bytes:
    return _encode(
        {
            "trnm": "REAL",
            "data": [{"type": "00", "name": REAL_NAMES["00"], "item": "", "values": ORDER_VALUES}],
        }
    )


# --- the floors' decode targets -------------------------------------------------------------


class Item(msgspec.Struct, gc=False):
    type: str
    name: str = ""
    item: str = ""
    values: dict[str, str] = {}


class Envelope(msgspec.Struct, gc=False):
    trnm: str
    data: list[Item] | None = None


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)


def floor_price(values: dict[str, str], fid: str) -> int:
    """What a hand-written client does with a price FID: drop the direction marker."""
    return abs(int(values[fid]))
