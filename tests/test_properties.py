"""Property-based tests: whatever a server (or a caller) hands the decoders, they answer with a
value or one of the library's own errors, never a stray Python exception; and the number
conventions of :mod:`kiwoom_async.models.numbers` hold for every number, not only the examples.

Every test is derandomized and database-less, so a run is reproducible and leaves nothing on
disk; the example counts keep the whole file to about 15 s on two cores. Failures Hypothesis
found are kept as explicit ``@example`` cases, which run first and fail without a search.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, get_args

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiwoom_async import KiwoomError, MalformedValueError
from kiwoom_async.models import numbers
from kiwoom_async.models.frames import ControlFrame, FrameDecodeError, decode_events
from kiwoom_async.models.realtime import EVENT_TYPES, RawEvent, RealtimeEvent
from kiwoom_async.models.tr import RESPONSE_MODELS, decode_response
from kiwoom_async.testing._examples import EXAMPLES

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    # Hostile frames are large on purpose (deep nesting, long numbers).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- JSON text with the shapes a hostile server can send ---------------------------------


class _Verbatim(NamedTuple):
    """JSON text emitted as is: what json.dumps cannot produce (numbers past Python's
    4300-digit str limit, nesting deeper than any recursion limit)."""

    text: str


class _Obj(NamedTuple):
    """A JSON object as (key, value) pairs, so that a key can repeat, as it can on the wire."""

    pairs: list[tuple[str, object]]


def _render(value: object, ascii_only: bool) -> str:
    if isinstance(value, _Verbatim):
        return value.text
    if isinstance(value, _Obj):
        members = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}:{_render(v, ascii_only)}"
            for k, v in value.pairs
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render(v, ascii_only) for v in value) + "]"
    # NaN and Infinity come out as the non-JSON tokens some encoders write.
    return json.dumps(value, ensure_ascii=ascii_only)


def _deep(depth: int, brackets: bool) -> _Verbatim:
    if brackets:
        return _Verbatim("[" * depth + "]" * depth)
    return _Verbatim('{"a":' * depth + "1" + "}" * depth)


# Text that looks like the numbers Kiwoom sends, with the markers, padding and widths that
# sit on the parsers' edges (doubled markers, the 64-character limit, a trailing %).
NUMERIC_TEXT = st.from_regex(r"\A ?[+-]{0,3}0*[0-9]{0,70}(\.[0-9]{0,4})?%? ?\Z")
ODD_TEXT = st.sampled_from(
    ["", " ", "+", "-", "--", "+-5", "-+0", "--714", "²", "１２", "1_000", "inf", "nan", "1e400"]
)
# Hypothesis leaves lone surrogates out of text unless asked; a str from a peer can hold them.
ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
TEXT = st.one_of(ANY_TEXT, NUMERIC_TEXT, ODD_TEXT)
LONG_DIGITS = st.integers(min_value=65, max_value=5000).map(lambda n: "9" * n)

T = TypeVar("T")


def _mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    # Rarely ``rare``: a frame has many leaves, and one deep or huge leaf makes the whole frame
    # unreadable, which would leave the paths behind the JSON decode untried. Hypothesis favours
    # the bottom of a range, so ``rare`` is the top (and shrinking heads for ``common``).
    return st.integers(min_value=0, max_value=9).flatmap(lambda i: rare if i == 9 else common)


_FRAME_LEAF: st.SearchStrategy[object] = _mostly(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    st.one_of(
        st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
        LONG_DIGITS,
        st.integers(min_value=20, max_value=4400).map(lambda n: _Verbatim("9" * n)),
        st.builds(_deep, st.integers(min_value=1, max_value=3000), st.booleans()),
    ),
)

REAL_TYPES = sorted(EVENT_TYPES)
ALL_FIDS = sorted({fid for cls in EVENT_TYPES.values() for fid in cls.VALUES_TYPE.FIDS})
FRAME_KEYS = st.one_of(
    st.sampled_from(
        [
            "trnm",
            "data",
            "type",
            "name",
            "item",
            "values",
            "return_code",
            "return_msg",
            "seq",
            "cont_yn",
            "next_key",
            "code",
            "message",
            "sor_yn",
            "jmcode",
            "9001",
            # the wire name of FidValues.extra
            "_extra",
        ]
    ),
    st.text(max_size=8),
)
TRNMS = st.one_of(
    st.sampled_from(
        ["REAL", "LOGIN", "REG", "REMOVE", "PING", "SYSTEM", "CNSRLST", "CNSRREQ", "CNSRCLR"]
    ),
    st.text(max_size=8),
)


def _pairs(
    keys: st.SearchStrategy[str], values: st.SearchStrategy[object], max_size: int
) -> st.SearchStrategy[_Obj]:
    return st.lists(st.tuples(keys, values), max_size=max_size).map(_Obj)


JSON_NODE: st.SearchStrategy[object] = st.recursive(
    _FRAME_LEAF,
    lambda children: st.lists(children, max_size=4) | _pairs(FRAME_KEYS, children, 5),
    max_leaves=12,
)


def _field(key: str, value: st.SearchStrategy[object]) -> st.SearchStrategy[tuple[str, object]]:
    return st.tuples(st.just(key), value)


FID_VALUES = _pairs(
    st.one_of(st.sampled_from([*ALL_FIDS, "_extra"]), st.text(max_size=6)),
    _mostly(TEXT, JSON_NODE),
    8,
)


@st.composite
def _with_member(
    draw: st.DrawFn,
    key: str,
    value: st.SearchStrategy[object],
    others: st.SearchStrategy[tuple[str, object]],
) -> _Obj:
    """An object of ``others`` that mostly also has ``key`` (at any position): the member
    without which the decoder stops at once."""
    members = draw(st.lists(others, max_size=6))
    if draw(st.integers(min_value=0, max_value=9)) < 9:
        members.insert(draw(st.integers(min_value=0, max_value=len(members))), (key, draw(value)))
    return _Obj(members)


ENTRY = _with_member(
    "type",
    _mostly(st.sampled_from(REAL_TYPES), st.one_of(st.text(max_size=3), JSON_NODE)),
    st.one_of(
        _field("name", _mostly(TEXT, JSON_NODE)),
        _field("item", _mostly(TEXT, JSON_NODE)),
        _field("values", _mostly(FID_VALUES, JSON_NODE)),
        st.tuples(FRAME_KEYS, JSON_NODE),
    ),
)
DATA = st.one_of(
    st.lists(_mostly(ENTRY, JSON_NODE), max_size=4),
    # the data shapes of CNSRLST and CNSRREQ
    st.lists(st.lists(_mostly(TEXT, JSON_NODE), max_size=3), max_size=3),
    st.lists(_pairs(FRAME_KEYS, _mostly(TEXT, JSON_NODE), 3), max_size=3),
    JSON_NODE,
)
FRAME_MEMBER = st.one_of(
    _field("data", DATA),
    # again, so that most REAL frames carry entries to decode
    _field("data", st.lists(ENTRY, max_size=4)),
    _field("trnm", st.one_of(TRNMS, JSON_NODE)),
    _field("return_code", st.one_of(st.integers(), TEXT, JSON_NODE)),
    _field("return_msg", st.one_of(TEXT, JSON_NODE)),
    st.tuples(FRAME_KEYS, JSON_NODE),
)
# A third of the frames are REAL: their entries are where the typed decoding and the salvage
# live.
HOSTILE_FRAMES = _with_member("trnm", st.one_of(st.just("REAL"), TRNMS), FRAME_MEMBER)


def _encoded(text: str, as_bytes: bool) -> bytes | str:
    # surrogatepass: a lone surrogate then reaches the decoder as the invalid UTF-8 it is.
    return text.encode("utf-8", "surrogatepass") if as_bytes else text


CONTROL_TYPES: tuple[type, ...] = get_args(ControlFrame)


def _decode_or_none(data: bytes | str) -> list[RealtimeEvent] | ControlFrame | None:
    try:
        return decode_events(data)
    except FrameDecodeError:
        return None
    except Exception as exc:
        raise AssertionError(
            f"decode_events raised {type(exc).__name__}, not FrameDecodeError: {exc}"
        ) from exc


def _public_properties(cls: type) -> list[str]:
    return [
        name
        for name in dir(cls)
        if not name.startswith("_") and isinstance(inspect.getattr_static(cls, name), property)
    ]


def _read_everything(obj: object) -> None:
    """Read every public property; a value that is not a number may raise only
    MalformedValueError, which a consumer catches as a KiwoomError."""
    for name in _public_properties(type(obj)):
        try:
            getattr(obj, name)
        except MalformedValueError:
            pass
        except Exception as exc:
            raise AssertionError(
                f"{type(obj).__name__}.{name} raised {type(exc).__name__}, not "
                f"MalformedValueError: {exc}"
            ) from exc


def _check_result(result: list[RealtimeEvent] | ControlFrame | None) -> None:
    if result is None:
        return
    if isinstance(result, list):
        for event in result:
            assert isinstance(event, RealtimeEvent)
            _read_everything(event)
            # The mapping protocol and to_dict are what a consumer reaches for besides the
            # properties; they must hold up as well.
            dict(event.values)
            with contextlib.suppress(MalformedValueError):
                event.to_dict()
    else:
        assert isinstance(result, CONTROL_TYPES)
        _read_everything(result)


@settings(PROFILE, max_examples=300)
@given(data=st.binary(max_size=300))
def test_any_bytes_decode_or_raise_frame_decode_error(data: bytes) -> None:
    _check_result(_decode_or_none(data))


@settings(PROFILE, max_examples=300)
@given(text=st.text(ANY_CHAR, max_size=300))
def test_any_text_decodes_or_raises_frame_decode_error(text: str) -> None:
    _check_result(_decode_or_none(text))


@settings(PROFILE, max_examples=400)
@given(frame=HOSTILE_FRAMES, ascii_only=st.booleans(), as_bytes=st.booleans())
def test_hostile_json_frames_decode_or_raise_frame_decode_error(
    frame: object, ascii_only: bool, as_bytes: bool
) -> None:
    _check_result(_decode_or_none(_encoded(_render(frame, ascii_only), as_bytes)))


@settings(PROFILE, max_examples=200)
@given(text=st.builds(_render, HOSTILE_FRAMES, st.booleans()))
# Found by reading frames.py, then confirmed here: the fast decode takes a "_extra" FID (the wire
# name of FidValues.extra) as the extra table itself, so a table FID inside it is iterated and
# counted twice.
@example(text='{"trnm":"REAL","data":[{"type":"0B","values":{"_extra":{"10":"-5"}}}]}')
def test_event_values_are_a_consistent_mapping(text: str) -> None:
    result = _decode_or_none(text)
    if not isinstance(result, list):
        return
    for event in result:
        keys = list(event.values)
        assert len(keys) == len(set(keys)) == len(event.values), (
            f"{type(event).__name__}.values iterates {len(keys)} keys, {len(set(keys))} distinct, "
            f"len() {len(event.values)}: {keys!r}"
        )
        for key in keys:
            assert key in event.values
            event.values[key]


# --- well-formed REAL frames ---------------------------------------------------------------

# No lone surrogates: they have no UTF-8 form, so a frame carrying one is not well-formed.
PLAIN_TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
# The realtime module strips a market prefix from the item of account and condition-search
# events only, where the fact base says codes may carry one.
PREFIX_STRIPPED = {"00", "04", "02"}
PREFIXED_CODE = st.builds(
    lambda prefix, code: prefix + code,
    st.sampled_from("AJQ"),
    st.from_regex(r"\A[0-9][0-9A-Z]{5}\Z"),
)


class _Entry(NamedTuple):
    type: str
    name: str
    item: str
    values: dict[str, str]
    extra: dict[str, str]
    order: list[str]

    def wire(self) -> dict[str, object]:
        parts: dict[str, object] = {
            "type": self.type,
            "name": self.name,
            "item": self.item,
            "values": {**self.values, **self.extra},
        }
        # Key order matters to msgspec's tagged decode ("values" before "type").
        return {key: parts[key] for key in self.order}


@st.composite
def real_entries(draw: st.DrawFn) -> _Entry:
    known = draw(st.booleans())
    if known:
        type_code = draw(st.sampled_from(REAL_TYPES))
        fids = EVENT_TYPES[type_code].VALUES_TYPE.FIDS
    else:
        type_code = draw(PLAIN_TEXT.filter(lambda t: t not in EVENT_TYPES))
        fids = tuple(ALL_FIDS)
    values = draw(
        st.dictionaries(st.sampled_from(fids), st.one_of(PLAIN_TEXT, NUMERIC_TEXT, ODD_TEXT))
    )
    extra: dict[str, str] = {}
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        outside = st.one_of(st.just("_extra"), PLAIN_TEXT).filter(lambda k: k not in fids)
        extra = draw(st.dictionaries(outside, PLAIN_TEXT, max_size=3))
    order = draw(st.permutations(["type", "name", "item", "values"]))
    return _Entry(
        type_code,
        draw(PLAIN_TEXT),
        draw(st.one_of(PLAIN_TEXT, PREFIXED_CODE)),
        values,
        extra,
        list(order),
    )


@settings(PROFILE, max_examples=300)
@given(
    entries=st.lists(real_entries(), min_size=1, max_size=3),
    ascii_only=st.booleans(),
    as_bytes=st.booleans(),
)
def test_well_formed_real_frames_decode_to_their_event_classes(
    entries: list[_Entry], ascii_only: bool, as_bytes: bool
) -> None:
    text = json.dumps(
        {"trnm": "REAL", "data": [entry.wire() for entry in entries]}, ensure_ascii=ascii_only
    )
    events = decode_events(text.encode() if as_bytes else text)
    assert isinstance(events, list)
    assert len(events) == len(entries)
    for entry, event in zip(entries, events, strict=True):
        cls = EVENT_TYPES.get(entry.type)
        if cls is None:
            assert isinstance(event, RawEvent)
            assert event.type == entry.type
            assert event.item == entry.item
            assert dict(event.values) == {**entry.values, **entry.extra}
        else:
            assert type(event) is cls
            assert event.type == entry.type
            stripped = entry.type in PREFIX_STRIPPED
            assert event.item == (numbers.stock_code(entry.item) if stripped else entry.item)
            expected = {fid: "" for fid in cls.VALUES_TYPE.FIDS} | entry.values | entry.extra
            assert dict(event.values) == expected
            assert len(event.values) == len(expected)
        assert event.name == entry.name
        _read_everything(event)


def test_the_prefix_stripping_types_are_realtime_types() -> None:
    # Guards PREFIX_STRIPPED against a regenerated realtime module renaming its codes.
    assert set(EVENT_TYPES) >= PREFIX_STRIPPED


# --- number parsers ------------------------------------------------------------------------

NUMBER_PARSERS: list[Callable[[str], object]] = [
    numbers.signed_int,
    numbers.unsigned_int,
    numbers.price,
    numbers.signed_float,
    numbers.index_x100,
]
ANY_NUMBER_TEXT = st.one_of(
    st.text(ANY_CHAR),
    TEXT,
    LONG_DIGITS,
    st.text(" \t\u3000", min_size=60, max_size=80).map(lambda pad: pad + "5"),
)


@settings(PROFILE, max_examples=600)
@given(raw=ANY_NUMBER_TEXT)
def test_number_parsers_return_a_value_or_raise_malformed_value_error(raw: str) -> None:
    for parse in NUMBER_PARSERS:
        try:
            value = parse(raw)
        except MalformedValueError:
            assert raw.strip(), f"{parse.__name__}({raw!r}): blank text is a missing value"
            continue
        except Exception as exc:
            raise AssertionError(
                f"{parse.__name__}({raw!r}) raised {type(exc).__name__}, not MalformedValueError"
            ) from exc
        # Blank is the one spelling of a missing value; anything else is a number or an error.
        assert (value is None) == (raw.strip() == ""), f"{parse.__name__}({raw!r}) -> {value!r}"
        assert value is None or isinstance(value, (int, float))
    assert numbers.direction(raw) in (-1, 0, 1)
    assert isinstance(numbers.stock_code(raw), str)


@settings(PROFILE, max_examples=300)
@given(n=st.integers(min_value=-(10**63) + 1, max_value=10**64 - 1))
def test_signed_int_reads_back_every_int(n: int) -> None:
    assert numbers.signed_int(str(n)) == n
    assert numbers.unsigned_int(str(n)) == abs(n)
    assert numbers.index_x100(str(n)) == n / 100


@settings(PROFILE, max_examples=300)
@given(n=st.integers(min_value=-(10**40), max_value=10**40), width=st.integers(1, 62))
def test_signed_int_ignores_zero_padding_and_explicit_signs(n: int, width: int) -> None:
    assert numbers.signed_int(f"{n:+0{width}d}") == n
    assert numbers.signed_int(f"{n:0{width}d}") == n


MARKERS = st.sampled_from(["", "+", "-"])
DIGITS = st.from_regex(r"\A[0-9]{1,62}\Z")
DIRECTION = {"": 0, "+": 1, "-": -1}


@settings(PROFILE, max_examples=300)
@given(marker=MARKERS, digits=DIGITS)
def test_a_price_marker_is_a_direction_not_a_sign(marker: str, digits: str) -> None:
    assert numbers.price(marker + digits) == int(digits)
    assert numbers.direction(marker + digits) == DIRECTION[marker]


@settings(PROFILE, max_examples=300)
@given(marker=st.sampled_from(["+", "-"]), digits=DIGITS)
def test_a_doubled_marker_is_a_direction_in_front_of_a_negative_value(
    marker: str, digits: str
) -> None:
    raw = f"{marker}-{digits}"  # "--714", "+-5"
    assert numbers.signed_int(raw) == -int(digits)
    assert numbers.price(raw) == int(digits)
    assert numbers.direction(raw) == DIRECTION[marker]


@settings(PROFILE, max_examples=300)
@given(x=st.floats(allow_nan=False, allow_infinity=False), marker=st.sampled_from(["+", "-"]))
def test_signed_float_reads_back_every_float(x: float, marker: str) -> None:
    assert numbers.signed_float(repr(x)) == x
    assert numbers.signed_float(f"{x:+}") == x
    assert numbers.signed_float(f"{marker}-{abs(x)!r}") == -abs(x)


@settings(PROFILE, max_examples=100)
@given(digits=st.from_regex(r"\A[1-9][0-9]{64,300}\Z"), marker=MARKERS)
def test_numbers_longer_than_any_field_are_malformed(digits: str, marker: str) -> None:
    for parse in NUMBER_PARSERS:
        with pytest.raises(MalformedValueError):
            parse(marker + digits)


@settings(PROFILE, max_examples=300)
@given(prefix=st.sampled_from("AJQ"), code=st.from_regex(r"\A[0-9][0-9A-Z]{5}\Z"))
def test_stock_code_strips_a_market_prefix(prefix: str, code: str) -> None:
    assert numbers.stock_code(prefix + code) == code
    assert numbers.stock_code(code) == code


@settings(PROFILE, max_examples=300)
@given(raw=st.text(max_size=10))
def test_stock_code_is_idempotent(raw: str) -> None:
    once = numbers.stock_code(raw)
    assert numbers.stock_code(once) == once


# --- REST response bodies ------------------------------------------------------------------

API_IDS = sorted(api_id for api_id in RESPONSE_MODELS if EXAMPLES[api_id].response is not None)


def _example(api_id: str) -> dict[str, Any]:
    body = EXAMPLES[api_id].response
    assert body is not None
    return copy.deepcopy(body)


def test_every_response_model_has_an_example() -> None:
    # Otherwise the mutation tests below would silently skip a TR.
    assert set(API_IDS) == set(RESPONSE_MODELS)


@pytest.mark.parametrize("api_id", API_IDS)
def test_official_examples_decode_and_keep_the_body(api_id: str) -> None:
    body = _example(api_id)
    decoded = decode_response(api_id, body)
    assert isinstance(decoded, RESPONSE_MODELS[api_id])
    assert decoded.raw == EXAMPLES[api_id].response
    # Decoding from the wire reads the same as decoding the dict.
    assert decode_response(api_id, json.dumps(body).encode()) == decoded


# Besides the JSON values, what a caller's dict can hold and JSON text read by msgspec cannot:
# ints past Python's 4300-digit str limit, NaN and infinities.
_BODY_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=4290, max_value=4310).map(lambda n: 10**n),
    st.floats(),
    TEXT,
    LONG_DIGITS,
)
BODY_VALUE: st.SearchStrategy[Any] = st.recursive(
    _BODY_LEAF,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


class Mutation(NamedTuple):
    """One change to a body. ``target`` picks a node (modulo the number of candidates)."""

    op: str
    target: int = 0
    key: str = ""
    value: Any = None

    def __repr__(self) -> str:
        # The generated repr fails on an int past the 4300-digit limit, and Hypothesis needs
        # the repr to report a failing example.
        return f"Mutation({self.op!r}, {self.target}, {self.key!r}, {_safe_repr(self.value)})"


def _safe_repr(value: object) -> str:
    if isinstance(value, int) and abs(value).bit_length() > 14_000:
        digits = len(str(abs(value) // 10**4000)) + 4000
        return f"10**{digits - 1}" if value == 10 ** (digits - 1) else f"<int of {digits} digits>"
    if isinstance(value, list):
        return "[" + ", ".join(_safe_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_safe_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


_NO_KEY: st.SearchStrategy[str] = st.just("")
_NO_VALUE: st.SearchStrategy[Any] = st.none()


def _mutations(
    op: str,
    key: st.SearchStrategy[str] = _NO_KEY,
    value: st.SearchStrategy[Any] = _NO_VALUE,
) -> st.SearchStrategy[Mutation]:
    return st.builds(Mutation, st.just(op), st.integers(0, 10**6), key, value)


MUTATIONS = st.one_of(
    _mutations("replace", value=BODY_VALUE),
    _mutations("delete"),
    _mutations(
        "unlist", value=st.one_of(_BODY_LEAF, st.dictionaries(st.text(max_size=4), _BODY_LEAF))
    ),
    _mutations("add", key=st.text(max_size=12), value=BODY_VALUE),
    _mutations("set", key=st.sampled_from(["return_code", "return_msg"]), value=BODY_VALUE),
)

_Path = tuple[str | int, ...]


def _nodes(value: object, path: _Path = ()) -> list[tuple[_Path, object]]:
    out: list[tuple[_Path, object]] = [(path, value)]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_nodes(child, (*path, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_nodes(child, (*path, i)))
    return out


def _parent(body: dict[str, Any], path: _Path) -> Any:
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    return node


def _mutate(body: dict[str, Any], mutation: Mutation) -> None:
    op = mutation.op
    if op == "set":
        body[mutation.key] = mutation.value
        return
    nodes = _nodes(body)
    if op == "add":
        dicts = [(path, node) for path, node in nodes if isinstance(node, dict)]
        _, target = dicts[mutation.target % len(dicts)]
        target[mutation.key] = mutation.value
        return
    if op == "unlist":
        nodes = [(path, node) for path, node in nodes if isinstance(node, list)]
    else:
        nodes = [(path, node) for path, node in nodes if path]  # the body itself stays a dict
    if not nodes:
        return
    path, _ = nodes[mutation.target % len(nodes)]
    parent = _parent(body, path)
    if op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = mutation.value


@settings(PROFILE, max_examples=800)
@given(api_id=st.sampled_from(API_IDS), mutations=st.lists(MUTATIONS, min_size=1, max_size=6))
# Failures Hypothesis found and shrank, kept as explicit examples so that they fail at once and
# stay covered after a fix. return_code text that str.isdigit() accepts and int() refuses:
@example(api_id="ka00001", mutations=[Mutation("set", key="return_code", value="--0")])
@example(api_id="ka00001", mutations=[Mutation("set", key="return_code", value="²")])
@example(api_id="ka00001", mutations=[Mutation("set", key="return_code", value="9" * 4301)])
# An int past Python's 4300-digit str limit, in a text field (str() of it) and in place of a
# list block (the repr() in ResponseDecodeError's own message):
@example(api_id="ka00001", mutations=[Mutation("replace", 0, value=10**4300)])
@example(api_id="ka10005", mutations=[Mutation("replace", 0, value=10**4300)])
def test_mutated_bodies_decode_or_raise_a_kiwoom_error(
    api_id: str, mutations: list[Mutation]
) -> None:
    body = _example(api_id)
    for mutation in mutations:
        _mutate(body, mutation)
    try:
        decoded = decode_response(api_id, body)
    except KiwoomError:
        return
    except Exception as exc:
        raise AssertionError(
            f"decode_response({api_id!r}) raised {type(exc).__name__}, not a KiwoomError: {exc}"
        ) from exc
    assert isinstance(decoded, RESPONSE_MODELS[api_id])
    assert decoded.raw is body


@settings(PROFILE, max_examples=200)
@given(
    api_id=st.sampled_from(API_IDS),
    body=st.one_of(
        st.binary(max_size=200),
        st.text(ANY_CHAR, max_size=200),
        st.builds(_render, JSON_NODE, st.booleans()),
        st.builds(_encoded, st.builds(_render, JSON_NODE, st.booleans()), st.booleans()),
    ),
)
# A body nested past the recursion limit, and a str with a lone surrogate (no UTF-8 form): the
# JSON decode raises RecursionError and UnicodeEncodeError for these, not msgspec.DecodeError.
@example(api_id="ka00001", body=b"[" * 100_000)
@example(api_id="ka00001", body="\ud800")
def test_text_bodies_decode_or_raise_a_kiwoom_error(api_id: str, body: bytes | str) -> None:
    try:
        decoded = decode_response(api_id, body)
    except KiwoomError:
        return
    except Exception as exc:
        raise AssertionError(
            f"decode_response({api_id!r}, <{type(body).__name__} body>) raised "
            f"{type(exc).__name__}, not a KiwoomError: {exc}"
        ) from exc
    assert isinstance(decoded, RESPONSE_MODELS[api_id])
