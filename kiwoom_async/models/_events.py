"""The machinery every realtime event shares: the REAL entry as sent, the FID-values
mapping, the event base classes, and the field parsers the generated event classes use.

The event classes themselves are generated (kiwoom_async/_generated/realtime.py); the public
module is :mod:`kiwoom_async.models.realtime`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import chain
from typing import TYPE_CHECKING, ClassVar, Self, TypeAlias

import msgspec

from .numbers import MAX_NUMBER_LENGTH as _MAX_LENGTH
from .numbers import direction, signed_float, signed_int, stock_code
from .numbers import price as _numbers_price

__all__ = [
    "FidValues",
    "RawEvent",
    "RealItem",
    "RealtimeEvent",
    "ValuesType",
    "direction",
    "parse_price",
    "parse_price_float",
    "signed_float",
    "signed_int",
    "stock_code",
]


def parse_price(raw: str) -> int | None:
    # numbers.price, minus two nested calls in the common case: every tick reads a price.
    if len(raw) <= _MAX_LENGTH:
        try:
            return abs(int(raw))
        except ValueError:
            pass
    return _numbers_price(raw)


def parse_price_float(raw: str) -> float | None:
    value = signed_float(raw)
    return None if value is None else abs(value)


class RealItem(msgspec.Struct, gc=False):
    """One ``data`` entry of a REAL frame, as sent."""

    type: str
    name: str = ""
    item: str = ""
    values: dict[str, str] = {}


if TYPE_CHECKING:
    # A Struct cannot also be a real Mapping: its metaclass conflicts with Mapping's ABCMeta,
    # and one combining both needs msgspec 0.20. So at runtime FidValues is a plain Struct,
    # registered as a virtual Mapping and borrowing Mapping's mixin methods, while the type
    # checker sees the Mapping[str, str] it behaves as.
    class _MappingStruct(msgspec.Struct, Mapping[str, str]):
        pass

else:
    _MappingStruct = msgspec.Struct


class FidValues(
    _MappingStruct,
    gc=False,
    kw_only=True,
    forbid_unknown_fields=True,
    # msgspec's own encoding and repr then show only the FIDs that have a value.
    omit_defaults=True,
    repr_omit_defaults=True,
):
    """The ``values`` of a typed event: a read-only FID -> string mapping over the FID table of
    its type, one str field ``f<FID>`` per FID (named by the FID on the wire).

    A FID of the table that was not sent reads as ``""``, so every FID of the table is in the
    mapping. FIDs outside the table are kept in ``extra`` by :meth:`from_mapping` and read,
    iterate (after the table) and count like the others; any other FID raises ``KeyError``.
    """

    #: The FIDs of the table, in table order.
    FIDS: ClassVar[tuple[str, ...]] = ()
    #: FID -> field name.
    FID_FIELDS: ClassVar[Mapping[str, str]] = {}

    # An unknown FID fails the fast decode (forbid_unknown_fields) rather than being dropped:
    # the frame then takes the generic decode, which keeps it here through from_mapping. The
    # wire name is one no server sends.
    extra: dict[str, str] | None = msgspec.field(default=None, name="_extra")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Self:
        """The values of a FID -> string mapping; FIDs outside the table go to ``extra``.

        Raises ``msgspec.ValidationError`` when a value is not a string.
        """
        fields = cls.FID_FIELDS
        extra = {fid: value for fid, value in values.items() if fid not in fields}
        known: dict[str, object] = dict(values)
        if extra:
            for fid in extra:
                del known[fid]
            known["_extra"] = extra
        return msgspec.convert(known, cls)

    def __getitem__(self, fid: str) -> str:
        field = self.FID_FIELDS.get(fid)
        if field is not None:
            value: str = getattr(self, field)
            return value
        if self.extra is None:
            raise KeyError(fid)
        return self.extra[fid]

    def __contains__(self, fid: object) -> bool:
        return fid in self.FID_FIELDS or (self.extra is not None and fid in self.extra)

    def __iter__(self) -> Iterator[str]:
        return chain(self.FIDS, self.extra) if self.extra else iter(self.FIDS)

    def __len__(self) -> int:
        return len(self.FIDS) + (len(self.extra) if self.extra else 0)

    if not TYPE_CHECKING:  # the type checker has them from the Mapping base
        get = Mapping.get
        keys = Mapping.keys
        items = Mapping.items
        values = Mapping.values
        # Equal to any mapping with the same items, as a dict is; Struct's own __eq__ would
        # compare only with the same class.
        __eq__ = Mapping.__eq__


# typeshed's Mapping does not show the ABCMeta.register it has at runtime.
Mapping.register(FidValues)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]

# In an event's class body the name ``type`` is the realtime type code, not the builtin.
ValuesType: TypeAlias = type[FidValues]


class RealtimeEvent(msgspec.Struct, gc=False):
    """Base of every realtime event; see the module docstring.

    A typed event class is tagged with its realtime type code, so msgspec can decode a REAL
    entry straight into it: ``type`` is the class's code.
    """

    #: The realtime type code ("0B"); per instance on RawEvent.
    type: ClassVar[str] = ""
    #: True for events of the token's own account (00 fill, 04 balance).
    is_account: ClassVar[bool] = False
    #: FID -> typed attribute name.
    FID_ATTRS: ClassVar[Mapping[str, str]] = {}
    #: Every typed attribute, FID-backed or derived, in table order.
    ATTRS: ClassVar[tuple[str, ...]] = ()
    #: The class of ``values``.
    VALUES_TYPE: ClassVar[ValuesType] = FidValues

    name: str = ""
    item: str = ""
    # Narrowed by every subclass: its FidValues struct, or RawEvent's dict.
    values: Mapping[str, str] = {}

    @classmethod
    def from_values(cls, values: Mapping[str, str], name: str = "", item: str = "") -> Self:
        """The event of a FID -> string mapping (FIDs outside the type's table are kept)."""
        return cls(name, item, cls.VALUES_TYPE.from_mapping(values))

    def to_dict(self) -> dict[str, object]:
        """``type``, ``item``, ``name`` and every typed field, parsed now."""
        out: dict[str, object] = {"type": self.type, "item": self.item, "name": self.name}
        for attr in self.ATTRS:
            out[attr] = getattr(self, attr)
        return out


class RawEvent(RealtimeEvent):
    """An event of a realtime type this library has no class for: only the raw values.

    Positional order: ``RawEvent(name, item, values, type)``.
    """

    values: dict[str, str] = {}  # pyright: ignore[reportIncompatibleVariableOverride]
    # A typed event's code is its class; an unknown one has to be kept per instance.
    type: str = ""  # type: ignore[misc]

    @classmethod
    def from_values(cls, values: Mapping[str, str], name: str = "", item: str = "") -> Self:
        """A RawEvent of a copy of ``values``; its ``type`` is left empty."""
        return cls(name, item, dict(values))
