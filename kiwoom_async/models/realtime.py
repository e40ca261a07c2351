"""Typed realtime events, one class per realtime type (generated from the API fact base into
kiwoom_async/_generated/realtime.py, re-exported here with the machinery they share).

Every event is a small msgspec Struct with the four attributes of a REAL ``data`` entry:

- ``type``: the realtime type code (``"0B"``), a class attribute of each typed class
  (``StockTrade.type``) and an instance attribute of :class:`RawEvent`;
- ``name``: the server's name for the entry (``"주식체결"``);
- ``item``: the item code, with the market prefix (``A005930``) stripped for the account and
  condition-search types, whose codes may carry one according to the fact base;
- ``values``: the FID -> string values. On a typed event, a read-only mapping over the FID
  table of its type (a :class:`FidValues`, e.g. ``StockTradeValues``): ``values["10"]``,
  ``get``, ``in``, ``len`` and iteration in table order. A FID of the table that the server did
  not send reads as ``""``; a FID outside the table that it did send is kept and reads like the
  others; any other FID raises ``KeyError``. On a :class:`RawEvent`, the dict as received.

msgspec decodes ``values`` straight into that struct, one field per FID, creating no key
strings and no dict, which were most of the cost of decoding a frame. Typed fields are
properties that parse their field on access, so a consumer pays only for the fields it reads.
Each property names its FID and Korean field name. Numbers follow :mod:`.numbers`: a price drops
its direction marker (``direction`` keeps it as +1 / -1 / 0), changes and rates keep their sign,
an empty value is ``None``, and text that is not a number raises ``ValueError`` on access.

An event is built from a FID -> string mapping with ``from_values``
(``StockTrade.from_values({"10": "+60700"}, item="005930")``); the constructor takes the values
struct itself (``StockTrade(values=StockTradeValues(f10="+60700"))``).

``EVENT_TYPES`` maps a type code to its class (an unknown code becomes a :class:`RawEvent`),
``event_from_item`` builds the event of one :class:`RealItem`, ``FID_ATTRS`` on each class maps
FID -> attribute, ``ATTRS`` lists every typed attribute and ``to_dict()`` parses them all.
``is_account`` is true for the account types (00 fill, 04 balance). REAL frames are decoded
by :mod:`.frames`.
"""

from __future__ import annotations

from kiwoom_async._generated import realtime as _generated
from kiwoom_async._generated.realtime import *  # noqa: F403
from kiwoom_async._generated.realtime import EVENT_TYPES
from kiwoom_async.models._events import FidValues, RawEvent, RealItem, RealtimeEvent

__all__ = ["FidValues", "RawEvent", "RealItem", "RealtimeEvent", "event_from_item"]
__all__ += _generated.__all__


def event_from_item(item: RealItem) -> RealtimeEvent:
    """The typed event of one REAL ``data`` entry (a :class:`RawEvent` for an unknown type)."""
    cls = EVENT_TYPES.get(item.type)
    if cls is None:
        return RawEvent(item.name, item.item, item.values, item.type)
    return cls.from_values(item.values, item.name, item.item)
