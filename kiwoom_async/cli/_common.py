"""What every command shares: connection options, the client they open, the real-money
gate, and the error a command raises for bad use."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .._credentials import credentials_from_env
from ..errors import KiwoomError
from ..kiwoom import Kiwoom

__all__ = [
    "CommandError",
    "add_connection_options",
    "add_json_option",
    "confirm_real_money",
    "credentials_env",
    "open_client",
]


class CommandError(KiwoomError):
    """A command was used wrongly or refused to go on; the message says what to do."""


def add_connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options that choose the server and the keys. They are accepted both before and
    after the command name; after it, an option left out does not reset one given before
    (hence ``SUPPRESS`` on the subcommands)."""
    default: Any = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--env",
        choices=("mock", "real"),
        default=default,
        help="mock (모의투자) or real (실전투자); default $KIWOOM_ENV, else mock",
    )
    group.add_argument(
        "--base-url",
        default=default,
        metavar="URL",
        help="REST host to talk to instead of Kiwoom's (e.g. the simulator's base_url)",
    )
    group.add_argument(
        "--ws-url", default=default, metavar="URL", help="WebSocket URL (default: from --base-url)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=10.0 if top else argparse.SUPPRESS,
        metavar="SECONDS",
        help="per-request timeout (default: 10)",
    )
    group.add_argument(
        "--requests-per-second",
        type=float,
        default=default,
        metavar="N",
        help="client-side request budget (default: the environment's; 0 turns it off)",
    )
    group.add_argument(
        "--allow-real-orders",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="with --env real: allow commands that place orders (real money)",
    )
    group.add_argument(
        "--yes",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="answer the real-money confirmation with yes (for scripts)",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of a table"
    )


def open_client(args: argparse.Namespace, *, allow_real_orders: bool = False) -> Kiwoom:
    """A client with its keys from the environment, as :meth:`Kiwoom.from_env` reads them."""
    credentials = credentials_from_env(args.env)
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.requests_per_second is not None:
        options["requests_per_second"] = args.requests_per_second or None
    try:
        return Kiwoom(
            credentials.appkey,
            credentials.secretkey,
            env=credentials.env,
            base_url=args.base_url,
            ws_url=args.ws_url,
            allow_real_orders=allow_real_orders,
            **options,
        )
    except ValueError as exc:  # a Kiwoom host of the other environment
        raise CommandError(str(exc)) from None


def credentials_env(args: argparse.Namespace) -> str:
    """The environment a command will use, without reading any key."""
    env: str = args.env or os.environ.get("KIWOOM_ENV", "").strip().lower() or "mock"
    return env


def confirm_real_money(args: argparse.Namespace, what: str) -> bool:
    """Whether a command that places orders may go on: always on mock; on real only with
    ``--allow-real-orders`` and a typed confirmation (or ``--yes``). Nothing is sent before
    this returns True."""
    if credentials_env(args) != "real":
        return False
    if not args.allow_real_orders:
        raise CommandError(
            f"{what} places an order with real money (--env real): add --allow-real-orders "
            "to allow it. Nothing was sent."
        )
    if args.yes:
        return True
    sys.stderr.write(f"{what} on the REAL account (real money). Type 'yes' to send: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        raise CommandError("not confirmed: nothing was sent")
    return True
