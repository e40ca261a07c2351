"""Decode cost in µs, no I/O: realtime frames (0B trade, 0D order book, 00 order fill) and
typed TR responses.

Realtime rows: ``decode_events`` plus one typed field read per event (0B ``price``, 0D
``ask_price_1``, 00 ``fill_price``) vs a msgspec decode into a plain Struct (the floor) vs
``json.loads`` (baseline), each reading and parsing the same FID from ``values``.

TR rows: ``kiwoom_async.models.tr.decode_response`` (bytes -> typed model, one field read)
vs msgspec to a dict vs ``json.loads``.

Run: ``python benchmarks/bench_decode.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
from _common import median, parser, ratio, table, write_result
from _frames import ENVELOPE_DECODER, book_frame, floor_price, order_frame, tick_frame

from kiwoom_async.models.frames import decode_events
from kiwoom_async.models.realtime import OrderBookUpdate, OrderFill, StockTrade


def per_call_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` timed loops of ``number`` calls."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return median(runs)


def realtime_cases() -> list[tuple[str, bytes, str, Callable[[Any], object]]]:
    return [
        ("0B trade", tick_frame(), "10", lambda e: StockTrade.price.fget(e)),  # type: ignore[attr-defined]
        ("0D order book", book_frame(), "41", lambda e: OrderBookUpdate.ask_price_1.fget(e)),  # type: ignore[attr-defined]
        ("00 order fill", order_frame(), "910", lambda e: OrderFill.fill_price.fget(e)),  # type: ignore[attr-defined]
    ]


def tr_cases() -> list[tuple[str, bytes, str]]:
    """Response bodies the simulator serves, captured in-process (no server needed)."""
    from kiwoom_async.testing._examples import example_response

    cases = []
    for api_id, label in (("ka10004", "ka10004 order book"), ("ka10086", "ka10086 daily page")):
        body = example_response(api_id)
        if body is not None:
            cases.append((label, msgspec.json.encode(body), api_id))
    return cases


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--number", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    if args.smoke:
        args.number, args.repeat = 200, 2
    n, r = args.number, args.repeat

    rows = []
    results: list[dict[str, Any]] = []
    for label, raw, fid, read in realtime_cases():

        def ours(raw: bytes = raw, read: Callable[[Any], object] = read) -> object:
            events = decode_events(raw)
            assert isinstance(events, list)
            return [read(e) for e in events]

        def floor(raw: bytes = raw, fid: str = fid) -> object:
            frame = ENVELOPE_DECODER.decode(raw)
            return [floor_price(i.values, fid) for i in frame.data or ()]

        def baseline(raw: bytes = raw, fid: str = fid) -> object:
            return [floor_price(i["values"], fid) for i in json.loads(raw)["data"]]

        if not ours() == floor() == baseline():
            raise RuntimeError(f"{label}: the three decoders disagree")
        o, f, b = per_call_us(ours, n, r), per_call_us(floor, n, r), per_call_us(baseline, n, r)
        results.append(
            {"case": label, "bytes": len(raw), "ours_us": o, "floor_us": f, "json_us": b}
        )
        rows.append([label, len(raw), o, f, b, ratio(f, o), ratio(b, o)])

    try:
        from kiwoom_async.models.tr import decode_response
    except ImportError:
        print("note: no typed TR models (kiwoom_async.models.tr.decode_response): TR rows skipped")
    else:
        for label, raw, api_id in tr_cases():

            def typed(raw: bytes = raw, api_id: str = api_id) -> object:
                return decode_response(api_id, raw)

            def plain(raw: bytes = raw) -> object:
                return msgspec.json.decode(raw)

            def loads(raw: bytes = raw) -> object:
                return json.loads(raw)

            try:
                typed()
            except Exception as exc:
                print(f"note: {label}: typed decode failed ({exc!r}); row skipped")
                continue
            o, f, b = per_call_us(typed, n, r), per_call_us(plain, n, r), per_call_us(loads, n, r)
            results.append(
                {"case": label, "bytes": len(raw), "ours_us": o, "floor_us": f, "json_us": b}
            )
            rows.append([label, len(raw), o, f, b, ratio(f, o), ratio(b, o)])

    print(
        table(
            f"Decode, µs per frame or response (median of {r} loops of {n:,}); "
            "speed = other / ours (above 1: ours is faster)",
            ["case", "bytes", "ours µs", "msgspec µs", "json.loads µs", "vs msgspec", "vs json"],
            rows,
        )
    )
    print(
        "TR rows: ours = typed model (decode_response); msgspec/json decode to plain dicts, "
        "without field conversion."
    )
    path = write_result("decode", {"params": vars(args), "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
