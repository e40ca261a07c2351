"""Realtime events as they travel through Redis Streams between the fleet's leader and its
consumers: names of the keys, and the encoding of events and lifecycle events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import msgspec

from ..models.lifecycle import (
    AccountFrameLost,
    Connected,
    Disconnected,
    LifecycleEvent,
    Reconnecting,
    Resubscribed,
    SystemMessage,
)
from ..models.realtime import RealItem, RealtimeEvent, event_from_item

__all__ = ["ACCOUNT_TYPES", "RealtimeKeys", "decode_entry", "encode_event"]

ACCOUNT_TYPES = frozenset({"00", "04"})

_LIFECYCLE: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Connected,
        Resubscribed,
        Disconnected,
        Reconnecting,
        SystemMessage,
        AccountFrameLost,
    )
}
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class RealtimeKeys:
    """The Redis keys of one app key's realtime fleet."""

    base: str

    @property
    def leader(self) -> str:
        """The leader's holder id, with the lease as TTL."""
        return f"{self.base}:leader"

    @property
    def term(self) -> str:
        """Incremented by every new leader: the fencing token of its term."""
        return f"{self.base}:term"

    @property
    def applied(self) -> str:
        """What the leader has registered with the server: type -> JSON list of items."""
        return f"{self.base}:applied"

    @property
    def market(self) -> str:
        return f"{self.base}:market"

    @property
    def account(self) -> str:
        return f"{self.base}:account"

    def wanted(self, consumer: str) -> str:
        """One consumer's subscriptions (JSON list of [item, type]), with a TTL it renews."""
        return f"{self.base}:wanted:{consumer}"

    @property
    def wanted_pattern(self) -> str:
        return f"{self.base}:wanted:*"


def encode_event(event: RealtimeEvent | LifecycleEvent, term: int, seq: int) -> bytes:
    if isinstance(event, RealtimeEvent):
        body: dict[str, Any] = {
            "t": event.type,
            "n": event.name,
            "i": event.item,
            "v": dict(event.values),
        }
    else:
        fields = dataclasses.asdict(event)
        fields.pop("type", None)
        body = {"l": type(event).__name__, "f": fields}
    body["term"] = term
    body["seq"] = seq
    return _encode(body)


def decode_entry(raw: bytes) -> tuple[RealtimeEvent | LifecycleEvent, int, int]:
    """(event, leader term, sequence number) of one stream entry; raises ValueError."""
    try:
        body = _decode(raw)
        term, seq = int(body["term"]), int(body["seq"])
        if "l" in body:
            cls = _LIFECYCLE[body["l"]]
            fields = body["f"]
            if "groups" in fields:
                fields = {**fields, "groups": tuple(fields["groups"])}
            if "failed" in fields:
                fields = {**fields, "failed": tuple(fields["failed"])}
            return cls(**fields), term, seq
        item = RealItem(type=body["t"], name=body["n"], item=body["i"], values=body["v"])
        return event_from_item(item), term, seq
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable stream entry ({type(exc).__name__}: {exc})") from None
