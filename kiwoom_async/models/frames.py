"""Frames of the realtime WebSocket API: server frames decoded, client frames encoded.

Pure data, no I/O. Every frame is a JSON text object with a ``trnm`` key.

Decoding server frames
----------------------
- :func:`decode_events` is the per-frame entry point. A REAL frame comes back as a
  ``list[RealtimeEvent]`` (one typed event per ``data`` entry, see :mod:`.realtime`); any other
  frame comes back as its frame struct (a :data:`ControlFrame`). One msgspec decode per REAL
  frame makes the events, each with its ``values`` as a struct of the FIDs of its type's table
  (a read-only FID -> string mapping), without building a dict of the values.
- :func:`decode_frame` returns a :data:`Frame` for every frame, wrapping REAL events in a
  :class:`RealFrame`.

The frame structs: :class:`LoginFrame`, :class:`RegFrame`, :class:`RemoveFrame`,
:class:`RealFrame`, :class:`PingFrame`, :class:`SystemFrame`, :class:`CnsrLstFrame`,
:class:`CnsrReqFrame`, :class:`CnsrClrFrame` and :class:`UnknownFrame` (a ``trnm`` this module
does not know, kept with its raw text). Each has a ``trnm`` attribute. Replies expose
``return_code`` as an int whether the server sent ``0`` or ``"0"``, ``ok`` and
``detail_code`` (the ``CODE=8005`` or ``[8005:...]`` number inside ``return_msg``).

Decoding is tolerant: unknown keys are ignored, missing optional keys take defaults, a FID
outside its type's table is kept in the event's ``values`` (a frame carrying one takes a slower
generic decode), an unknown realtime type becomes a :class:`RawEvent` (``values`` a dict) and an
unknown ``trnm`` an :class:`UnknownFrame`. Anything else that is not a well-formed frame (bad
JSON, no ``trnm``, wrong value types) raises :class:`FrameDecodeError`, so a session can count,
log and skip it.

A PING must be answered with the identical frame: echo the text that was received, not a
re-encoding of :class:`PingFrame`.

Encoding client frames
----------------------
:func:`encode_login`, :func:`encode_reg`, :func:`encode_remove`, :func:`encode_cnsrlst`,
:func:`encode_cnsrreq` and :func:`encode_cnsrclr` return the UTF-8 JSON bytes of the frame.
:func:`encode_frame` encodes a server frame struct (for a fake server); the values of a REAL
entry go out flat, every FID of the type's table included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, get_args

import msgspec

from .. import _codes
from ..errors import KiwoomValidationError, RealtimeError
from .numbers import stock_code
from .realtime import EVENT_TYPES, RawEvent, RealItem, RealtimeEvent, TypedEvent

__all__ = [
    "SYSTEM_HEARTBEAT_MISSING",
    "SYSTEM_SESSION_TAKEN_OVER",
    "CnsrClrFrame",
    "CnsrLstFrame",
    "CnsrReqFrame",
    "ControlFrame",
    "Frame",
    "FrameDecodeError",
    "LoginFrame",
    "PingFrame",
    "RealFrame",
    "RealItem",
    "RegFrame",
    "RemoveFrame",
    "SalvagedEvents",
    "SystemFrame",
    "UnknownFrame",
    "decode_events",
    "decode_frame",
    "encode_cnsrclr",
    "encode_cnsrlst",
    "encode_cnsrreq",
    "encode_frame",
    "encode_login",
    "encode_reg",
    "encode_remove",
]

#: SYSTEM code: another connection with the same app key took over; this one is closed.
SYSTEM_SESSION_TAKEN_OVER = "R10001"
#: SYSTEM code: PING echoes stopped arriving; the server closed the session.
SYSTEM_HEARTBEAT_MISSING = "R10002"


class FrameDecodeError(RealtimeError, ValueError):
    """A server frame that is not well-formed: bad JSON, no ``trnm``, or wrong value types.

    ``raw`` holds the offending frame for logging.
    """

    def __init__(self, reason: str, raw: bytes | str) -> None:
        self.reason = reason
        self.raw = raw
        super().__init__(f"malformed WebSocket frame: {reason}")


# --- server frames ------------------------------------------------------------------------


class _Reply(msgspec.Struct, gc=False):
    """Fields every reply to a client request shares."""

    # Sent as 0 by most servers and as "0" by some; normalised by the property below.
    raw_return_code: int | str = msgspec.field(default=0, name="return_code")
    return_msg: str = ""

    @property
    def return_code(self) -> int:
        """The reply code as an int; -1 when the server sent text that is not a number."""
        return _codes.return_code(self.raw_return_code)

    @property
    def ok(self) -> bool:
        return self.return_code == 0

    @property
    def detail_code(self) -> int | None:
        """The code embedded in ``return_msg`` (``CODE=8005`` or ``[8005:...]``), if any."""
        return _codes.detail_code(self.return_msg)


class LoginFrame(_Reply, tag_field="trnm", tag="LOGIN"):
    """Answer to LOGIN. ``ok`` is false when the token was refused."""

    trnm: ClassVar[str] = "LOGIN"
    sor_yn: str = ""


class RegFrame(_Reply, tag_field="trnm", tag="REG"):
    """Answer to REG."""

    trnm: ClassVar[str] = "REG"


class RemoveFrame(_Reply, tag_field="trnm", tag="REMOVE"):
    """Answer to REMOVE."""

    trnm: ClassVar[str] = "REMOVE"


class PingFrame(msgspec.Struct, tag_field="trnm", tag="PING", gc=False):
    """A heartbeat; echo the received text verbatim."""

    trnm: ClassVar[str] = "PING"


class SystemFrame(msgspec.Struct, tag_field="trnm", tag="SYSTEM", gc=False):
    """A server notice, e.g. :data:`SYSTEM_SESSION_TAKEN_OVER`. Not answered."""

    trnm: ClassVar[str] = "SYSTEM"
    code: str = ""
    message: str = ""


class CnsrLstFrame(_Reply, tag_field="trnm", tag="CNSRLST"):
    """The saved condition searches (ka10171); ``data`` rows are ``[seq, name]`` pairs."""

    trnm: ClassVar[str] = "CNSRLST"
    data: list[list[str]] | None = None

    @property
    def conditions(self) -> list[tuple[str, str]]:
        """``(seq, name)`` of every condition search."""
        return [(row[0], row[1] if len(row) > 1 else "") for row in self.data or () if row]


class CnsrReqFrame(_Reply, tag_field="trnm", tag="CNSRREQ"):
    """A condition search result (ka10172 normal, or the initial ka10173 realtime answer).

    ``data`` rows are FID -> string dicts (``9001`` code, ``302`` name, ``10`` price, ...) for
    a normal search and ``{"jmcode": "A005930"}`` for the realtime one.
    """

    trnm: ClassVar[str] = "CNSRREQ"
    seq: str = ""
    cont_yn: str = ""
    next_key: str = ""
    data: list[dict[str, str]] | None = None

    def __post_init__(self) -> None:
        # Seen padded ("2  "); the session matches replies to requests by seq.
        self.seq = self.seq.strip()

    @property
    def rows(self) -> list[dict[str, str]]:
        return self.data or []

    @property
    def codes(self) -> list[str]:
        """The stock code of every row, market prefix stripped."""
        return [stock_code(row.get("9001") or row.get("jmcode", "")) for row in self.data or ()]

    @property
    def has_more(self) -> bool:
        """True when another page can be asked for with ``next_key``."""
        return self.cont_yn == "Y"


class CnsrClrFrame(_Reply, tag_field="trnm", tag="CNSRCLR"):
    """Answer to CNSRCLR (ka10174)."""

    trnm: ClassVar[str] = "CNSRCLR"
    seq: str = ""

    def __post_init__(self) -> None:
        self.seq = self.seq.strip()


class RealFrame(msgspec.Struct, tag_field="trnm", tag="REAL", gc=False):
    """A REAL frame: its ``data`` entries as typed events."""

    trnm: ClassVar[str] = "REAL"
    data: list[RealtimeEvent] = []


class UnknownFrame(msgspec.Struct, gc=False):
    """A frame whose ``trnm`` this module does not know, kept as received."""

    trnm: str
    raw: bytes | str


KnownControlFrame: TypeAlias = (
    LoginFrame
    | RegFrame
    | RemoveFrame
    | PingFrame
    | SystemFrame
    | CnsrLstFrame
    | CnsrReqFrame
    | CnsrClrFrame
)
ControlFrame: TypeAlias = KnownControlFrame | UnknownFrame
Frame: TypeAlias = ControlFrame | RealFrame

_CONTROL_TYPES: tuple[type[KnownControlFrame], ...] = get_args(KnownControlFrame)
_CONTROL_TRNMS = frozenset(cls.trnm for cls in _CONTROL_TYPES)


if TYPE_CHECKING:
    _EventList: TypeAlias = list[RealtimeEvent]
else:
    # msgspec needs the tagged union to pick each entry's class; to the type checker every
    # entry is simply a RealtimeEvent.
    _EventList = list[TypedEvent]


class _TaggedEnvelope(msgspec.Struct, gc=False):
    # A plain struct rather than a union tagged on "trnm", so one decode serves every REAL
    # frame; the rare control frames are decoded a second time by their own union.
    trnm: str
    data: _EventList | None = None


class _Envelope(msgspec.Struct, gc=False):
    trnm: str
    data: list[RealItem] | None = None


class _Trnm(msgspec.Struct, gc=False):
    trnm: str


_TAGGED_DECODER = msgspec.json.Decoder(_TaggedEnvelope)
_ENVELOPE_DECODER = msgspec.json.Decoder(_Envelope)
_TRNM_DECODER = msgspec.json.Decoder(_Trnm)
_decode_tagged = _TAGGED_DECODER.decode

# What a decoder raises on a frame it cannot read. RecursionError: nesting deep enough to
# exhaust the decoder's stack (about a thousand levels, 2 KB of brackets).
# UnicodeError: a str with lone surrogates, which has no UTF-8 form.
_UNREADABLE = (msgspec.DecodeError, UnicodeError, RecursionError)
_CONTROL_DECODER: msgspec.json.Decoder[KnownControlFrame] = msgspec.json.Decoder(KnownControlFrame)


def decode_events(data: bytes | str) -> list[RealtimeEvent] | ControlFrame:
    """Decode one server frame: a REAL frame as its typed events, any other as its struct.

    Raises :class:`FrameDecodeError` when the frame is not well-formed.
    """
    # Entries decode straight into their tagged classes, values into each class's FID struct.
    # That stays the fastest path when "values" precedes "type" (msgspec then skips ahead over
    # the values for the tag): a generic decode would build the values dict the struct avoids.
    # This runs for every frame, hence the inlining.
    try:
        tagged = _decode_tagged(data)
    except msgspec.ValidationError:
        # An unknown realtime type, a FID outside its type's table, a control frame with a data
        # shape of its own, or a malformed frame: the generic path below sorts them out.
        pass
    except _UNREADABLE as exc:
        raise FrameDecodeError(str(exc), data) from None
    else:
        if tagged.trnm != "REAL":
            return _decode_control(data, tagged.trnm)
        events = tagged.data
        if events is None:
            raise FrameDecodeError("REAL frame without data", data)
        for event in events:
            # ``extra`` is set here only when the server sent a FID named like the field
            # that holds FIDs outside the table; the generic path keeps it as a FID instead.
            if event.values.extra is not None:  # type: ignore[attr-defined]  # FidValues here
                break
        else:
            return events
    try:
        envelope = _ENVELOPE_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        return _decode_other(data, exc)
    except _UNREADABLE as exc:
        raise FrameDecodeError(str(exc), data) from None
    if envelope.trnm != "REAL":
        return _decode_control(data, envelope.trnm)
    # from_values keeps a FID outside the type's table in the values' ``extra``.
    out: list[RealtimeEvent] = []
    items = envelope.data
    if items is None:
        raise FrameDecodeError("REAL frame without data", data)
    if items:
        get = EVENT_TYPES.get
        for i in items:
            cls = get(i.type)
            if cls is None:
                out.append(RawEvent(i.name, i.item, i.values, i.type))
            else:
                out.append(cls.from_values(i.values, i.name, i.item))
    return out


def decode_frame(data: bytes | str) -> Frame:
    """Decode one server frame into its struct; REAL events come wrapped in a RealFrame.

    Raises :class:`FrameDecodeError` when the frame is not well-formed.
    """
    result = decode_events(data)
    if isinstance(result, list):
        return RealFrame(result)
    return result


def _decode_other(
    data: bytes | str, error: msgspec.ValidationError
) -> ControlFrame | SalvagedEvents:
    """The envelope did not fit: a control frame with a ``data`` shape of its own, an
    unknown ``trnm``, or a malformed frame."""
    try:
        trnm = _TRNM_DECODER.decode(data).trnm
    except _UNREADABLE as exc:
        raise FrameDecodeError(str(exc), data) from None
    if trnm == "REAL":
        return _salvage(data, error)
    return _decode_control(data, trnm)


class SalvagedEvents(list[RealtimeEvent]):
    """The events of a REAL frame some entries of which were malformed: those are left out
    and counted in ``skipped``, the others (a fill among them) are kept."""

    skipped: int = 0


class _LooseItem(msgspec.Struct, gc=False):
    type: str
    name: str | None = ""
    item: str | None = ""
    values: dict[str, Any] | None = None


class _LooseReal(msgspec.Struct, gc=False):
    data: list[msgspec.Raw] | None = None


_LOOSE_REAL_DECODER = msgspec.json.Decoder(_LooseReal)
_LOOSE_ITEM_DECODER = msgspec.json.Decoder(_LooseItem)


def _salvage(data: bytes | str, error: msgspec.ValidationError) -> SalvagedEvents:
    """A REAL frame that did not fit: keep every entry that can be read, one by one; values
    that are numbers or null become the strings the server should have sent."""
    try:
        frame = _LOOSE_REAL_DECODER.decode(data)
    except _UNREADABLE:
        raise FrameDecodeError(str(error), data) from None
    if frame.data is None:
        raise FrameDecodeError("REAL frame without data", data)
    out = SalvagedEvents()
    get = EVENT_TYPES.get
    for raw_item in frame.data:
        try:
            item = _LOOSE_ITEM_DECODER.decode(raw_item)
        except _UNREADABLE:
            out.skipped += 1
            continue
        values = {
            fid: value if isinstance(value, str) else "" if value is None else str(value)
            for fid, value in (item.values or {}).items()
        }
        name, code = item.name or "", item.item or ""
        cls = get(item.type)
        out.append(
            RawEvent(name, code, values, item.type)
            if cls is None
            else cls.from_values(values, name, code)
        )
    return out


def _decode_control(data: bytes | str, trnm: str) -> ControlFrame:
    if trnm not in _CONTROL_TRNMS:
        return UnknownFrame(trnm, data)
    try:
        return _CONTROL_DECODER.decode(data)
    except _UNREADABLE as exc:
        raise FrameDecodeError(str(exc), data) from None


# --- client frames ------------------------------------------------------------------------


class _LoginRequest(msgspec.Struct, tag_field="trnm", tag="LOGIN"):
    token: str


class _Registration(msgspec.Struct):
    item: list[str]
    type: list[str]


class _RegRequest(msgspec.Struct, tag_field="trnm", tag="REG"):
    grp_no: str
    refresh: str
    data: list[_Registration]


class _RemoveRequest(msgspec.Struct, tag_field="trnm", tag="REMOVE"):
    grp_no: str
    data: list[_Registration]


class _CnsrReqRequest(msgspec.Struct, tag_field="trnm", tag="CNSRREQ", omit_defaults=True):
    seq: str
    search_type: str
    stex_tp: str
    # The realtime request (search_type "1") carries no paging fields.
    cont_yn: str | None = None
    next_key: str | None = None


class _CnsrClrRequest(msgspec.Struct, tag_field="trnm", tag="CNSRCLR"):
    seq: str


_ENCODER = msgspec.json.Encoder()
_CNSRLST = b'{"trnm":"CNSRLST"}'


def encode_login(token: str) -> bytes:
    """LOGIN with the access token (a leading ``Bearer`` is removed: the socket wants the
    bare token)."""
    bare = token.removeprefix("Bearer ").strip()
    if not bare:
        raise KiwoomValidationError("LOGIN needs an access token")
    return _ENCODER.encode(_LoginRequest(bare))


def _as_list(name: str, values: str | Sequence[str]) -> list[str]:
    # A lone string is one code, not a sequence of one-letter codes.
    if isinstance(values, str):
        return [values]
    out = list(values)
    if not all(isinstance(v, str) for v in out):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KiwoomValidationError(f"{name} must be strings, got {out!r}")
    return out


def _registration(items: str | Sequence[str], types: str | Sequence[str]) -> _Registration:
    # Account and market-wide types (00, 04, 0s) are registered with the item "".
    item_list = _as_list("items", items) or [""]
    type_list = _as_list("types", types)
    if not type_list:
        raise KiwoomValidationError("at least one realtime type is required")
    return _Registration(item_list, type_list)


def encode_reg(
    grp_no: str | int,
    items: str | Sequence[str],
    types: str | Sequence[str],
    refresh: bool | str = True,
) -> bytes:
    """REG: subscribe ``items`` x ``types`` in group ``grp_no``.

    ``refresh`` True / ``"1"`` keeps the group's earlier registrations, False / ``"0"``
    replaces them. An empty ``items`` registers the item ``""`` (account and market-wide
    types).
    """
    if isinstance(refresh, bool):
        flag = "1" if refresh else "0"
    elif refresh in ("0", "1"):
        flag = refresh
    else:
        raise KiwoomValidationError(f"refresh must be '1' or '0', got {refresh!r}")
    return _ENCODER.encode(_RegRequest(str(grp_no), flag, [_registration(items, types)]))


def encode_remove(
    grp_no: str | int, items: str | Sequence[str], types: str | Sequence[str]
) -> bytes:
    """REMOVE: unsubscribe ``items`` x ``types`` from group ``grp_no``."""
    return _ENCODER.encode(_RemoveRequest(str(grp_no), [_registration(items, types)]))


def encode_cnsrlst() -> bytes:
    """CNSRLST: list the saved condition searches (ka10171)."""
    return _CNSRLST


def encode_cnsrreq(
    seq: str | int,
    search_type: str = "0",
    stex_tp: str = "K",
    cont_yn: str | None = None,
    next_key: str | None = None,
) -> bytes:
    """CNSRREQ: run condition search ``seq``, once (``search_type`` "0", ka10172) or with
    realtime pushes (``"1"``, ka10173).

    A one-off search sends ``cont_yn`` "N" and an empty ``next_key`` unless given; pass the
    previous answer's ``next_key`` with ``cont_yn="Y"`` for the next page. The realtime
    request sends them only when given.
    """
    if search_type not in ("0", "1"):
        raise KiwoomValidationError(f"search_type must be '0' or '1', got {search_type!r}")
    if cont_yn not in (None, "Y", "N"):
        raise KiwoomValidationError(f"cont_yn must be 'Y' or 'N', got {cont_yn!r}")
    if search_type == "0":
        cont_yn = cont_yn or "N"
        next_key = next_key or ""
    return _ENCODER.encode(_CnsrReqRequest(str(seq), search_type, stex_tp, cont_yn, next_key))


def encode_cnsrclr(seq: str | int) -> bytes:
    """CNSRCLR: stop the realtime pushes of condition search ``seq`` (ka10174)."""
    return _ENCODER.encode(_CnsrClrRequest(str(seq)))


def encode_frame(frame: Frame) -> bytes:
    """The JSON of a server frame struct, as a server would send it (an UnknownFrame is
    returned as received)."""
    if isinstance(frame, UnknownFrame):
        raw = frame.raw
        return raw.encode() if isinstance(raw, str) else raw
    if isinstance(frame, RealFrame):
        # The values struct's own encoding leaves out empty FIDs and nests the extra ones;
        # a server sends them flat.
        data = [
            {"type": e.type, "name": e.name, "item": e.item, "values": dict(e.values)}
            for e in frame.data
        ]
        return _ENCODER.encode({"trnm": frame.trnm, "data": data})
    return _ENCODER.encode(frame)
