"""The ``kiwoom-async`` command (also ``python -m kiwoom_async``).

Built on argparse: the standard library covers subcommands, help and shared options, and
the package keeps its dependencies to what the client needs at run time.

Keys come from the environment as :meth:`Kiwoom.from_env` reads them (``KIWOOM_APPKEY``,
``KIWOOM_SECRETKEY``, the ``_MOCK`` pair for the mock environment, ``KIWOOM_ENV``); no
command prints a key or a token. ``--base-url`` points every command at another host, such
as the simulator (``kiwoom-async sim``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from .. import __version__
from ..errors import KiwoomError
from . import account, doctor, market, stream, trade
from ._common import CommandError, add_connection_options

__all__ = ["CommandError", "build_parser", "main", "run"]

Handler = Callable[[argparse.Namespace], Awaitable[int]]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiwoom-async",
        description="Kiwoom Securities REST and realtime API from the command line.",
        epilog="Keys: KIWOOM_APPKEY / KIWOOM_SECRETKEY (mock: KIWOOM_APPKEY_MOCK / "
        "KIWOOM_SECRETKEY_MOCK first), environment: KIWOOM_ENV or --env.",
    )
    parser.add_argument("--version", action="version", version=f"kiwoom-async {__version__}")
    add_connection_options(parser, top=True)
    shared = argparse.ArgumentParser(add_help=False)
    add_connection_options(shared, top=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    market.register(commands, [shared])
    stream.register(commands, [shared])
    account.register(commands, [shared])
    trade.register(commands, [shared])
    doctor.register(commands, [shared])
    demo = commands.add_parser("demo", help="run the demo against the embedded simulator")
    demo.add_argument("--quick", action="store_true", help="fewer ticks, for smoke tests")
    commands.add_parser("sim", help="serve the simulator (options: sim --help)", add_help=False)
    return parser


async def run(args: argparse.Namespace) -> int:
    """Run the parsed command; the exit code."""
    handler: Handler = args.handler
    try:
        return await handler(args)
    except CommandError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KiwoomError as exc:
        _error(f"{type(exc).__name__}: {exc}")
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sim"]:
        from ..testing.cli import main as sim_main

        sim_main(arguments[1:])
        return
    args = build_parser().parse_args(arguments)
    if args.command == "demo":
        from ..demo import run as run_demo

        asyncio.run(run_demo(quick=args.quick))
        return
    try:
        code = asyncio.run(run(args))
    except KeyboardInterrupt:
        # asyncio.run cancelled the command first, so every session is closed by now.
        code = 0 if args.command == "stream" else EXIT_INTERRUPTED
        sys.stderr.write("stopped\n")
    except BrokenPipeError:  # `kiwoom-async chart ... | head`: the reader has had enough
        # Python flushes stdout once more at exit; point it at nothing so that is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


def _error(message: str) -> None:
    sys.stderr.write(f"kiwoom-async: {message}\n")
