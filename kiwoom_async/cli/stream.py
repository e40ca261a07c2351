"""``stream``: realtime events of stocks (and the account's fills) until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import MalformedValueError
from ..models.lifecycle import (
    AccountFrameLost,
    Connected,
    Disconnected,
    Reconnecting,
    Resubscribed,
    SystemMessage,
)
from ..models.realtime import RealtimeEvent
from ._common import CommandError, add_json_option, open_client
from ._output import print_json

__all__ = ["register"]

# Types of the token's own account: registered with no stock codes.
_ACCOUNT_TYPES = frozenset({"00", "04"})


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    stream = commands.add_parser(
        "stream", parents=parents, help="realtime events until Ctrl-C (e.g. --types 0B,0D)"
    )
    stream.add_argument("codes", nargs="*", metavar="CODE", help="stock codes")
    stream.add_argument(
        "--types",
        default="0B",
        metavar="TYPES",
        help="realtime types, comma separated (default 0B trades; 0D order book, 00 fills, "
        "04 balance)",
    )
    stream.add_argument("--count", type=int, metavar="N", help="stop after N events")
    add_json_option(stream)
    stream.set_defaults(handler=stream_command)


async def stream_command(args: argparse.Namespace) -> int:
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    if not types:
        raise CommandError("--types names no realtime type")
    market = [t for t in types if t not in _ACCOUNT_TYPES]
    account = [t for t in types if t in _ACCOUNT_TYPES]
    if market and not args.codes:
        raise CommandError(f"types {','.join(market)} need stock codes: stream CODE... --types")
    seen = 0
    async with open_client(args) as kw, kw.realtime() as rt:
        if market:
            await rt.subscribe(args.codes, market, grp_no="1")
        if account:
            await rt.subscribe([], account, grp_no="2")
        sys.stderr.write(f"streaming {','.join(types)}; Ctrl-C to stop\n")
        sys.stderr.flush()
        async for event in rt:
            if not isinstance(event, RealtimeEvent):
                _lifecycle(event)
                continue
            _print_event(event, as_json=args.json)
            seen += 1
            if args.count is not None and seen >= args.count:
                break
    return 0


def _lifecycle(event: object) -> None:
    match event:
        case Connected():
            text = f"connected (connection {event.connection})"
        case Resubscribed():
            text = f"resubscribed {','.join(event.groups)}; data sent while down is not replayed"
        case Disconnected():
            text = f"disconnected: {event.cause}"
        case Reconnecting():
            text = f"reconnecting in {event.delay:.1f} s (attempt {event.attempt})"
        case SystemMessage():
            text = f"server: {event.code} {event.message}"
        case AccountFrameLost():
            text = f"a frame with account events was lost: {event.reason}"
        case _:
            text = repr(event)
    sys.stderr.write(f"[{text}]\n")
    sys.stderr.flush()


def _print_event(event: RealtimeEvent, *, as_json: bool) -> None:
    fields: dict[str, Any] = {"type": event.type, "item": event.item, "name": event.name}
    for attr in event.ATTRS:
        try:
            fields[attr] = getattr(event, attr)
        except MalformedValueError:
            fields[attr] = None  # one bad field does not hide the rest of the event
    if as_json:
        print_json(fields)
    else:
        shown = [f"{k}={_short(v)}" for k, v in list(fields.items())[3:] if v not in (None, "")]
        sys.stdout.write(f"{event.type} {event.item} {' '.join(shown[:8])}\n")
    sys.stdout.flush()


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
