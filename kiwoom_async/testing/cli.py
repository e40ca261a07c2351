"""``python -m kiwoom_async sim``: run the simulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ._config import SimConfig
from ._server import Simulator

__all__ = ["build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiwoom-async sim",
        description="Run a local Kiwoom-compatible fake server (REST + WebSocket).",
    )
    defaults = SimConfig()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=8000, help="port to bind, 0 for any (default: %(default)s)")
    add("--seed", type=int, default=defaults.seed, help="RNG seed for market and faults")
    add("--rate-limit", type=float, default=None, help="requests per second per app key")
    add("--rate-limit-per-api-id", type=float, default=None, help="requests per second per TR")
    add("--pages", type=int, default=defaults.pages, help="pages served by paginating TRs")
    add("--latency", type=float, default=defaults.latency, help="seconds added to each request")
    add("--token-lifetime", type=float, default=defaults.token_lifetime, help="token seconds")
    add("--token-error-style", choices=("rc3", "top", "http401"), default="rc3")
    add("--http500-rate", type=float, default=0.0, help="probability of an HTTP 500")
    add("--malformed-rate", type=float, default=0.0, help="probability of a truncated body")
    add("--real", action="store_true", help="real-server rules (NXT/SOR orders allowed)")
    add("--no-fill", action="store_true", help="never fill orders")
    add("--partial-fills", action="store_true", help="fill marketable orders in two steps")
    add("--tick-interval", type=float, default=defaults.tick_interval, help="seconds per tick")
    add("--ping-interval", type=float, default=defaults.ping_interval, help="seconds per PING")
    add("--blast-frames", type=int, default=0, help="REAL frames sent at once after a REG")
    add("--login-refuse-code", type=int, default=None, help="refuse every LOGIN with this code")
    add(
        "--login-refuse-style",
        choices=("rc1", "top"),
        default=defaults.login_refuse_style,
        help="rc1: return_code 1, CODE= inside; top: return_code the code, [CODE=..., MESSAGE=...]",
    )
    add(
        "--reg-refuse-types",
        type=_type_set,
        default=defaults.reg_refuse_types,
        metavar="TYPES",
        help="refuse REGs naming these realtime types, comma separated ('*': every REG)",
    )
    add(
        "--system-close-after-login",
        action="store_true",
        help="answer LOGIN with a SYSTEM frame and a close",
    )
    add(
        "--system-close-code",
        default=defaults.system_close_code,
        help="the SYSTEM code of --system-close-after-login (default: %(default)s)",
    )
    add(
        "--account",
        action="append",
        default=[],
        metavar="APPKEY:SECRETKEY",
        help="accept only these credentials (repeatable); default: any",
    )
    return parser


def _type_set(text: str) -> frozenset[str]:
    return frozenset(t for t in (part.strip() for part in text.split(",")) if t)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        seed=args.seed,
        rate_limit=args.rate_limit,
        rate_limit_per_api_id=args.rate_limit_per_api_id,
        pages=args.pages,
        latency=args.latency,
        token_lifetime=args.token_lifetime,
        token_error_style=args.token_error_style,
        http500_rate=args.http500_rate,
        malformed_rate=args.malformed_rate,
        mock=not args.real,
        fill_orders=not args.no_fill,
        partial_fills=args.partial_fills,
        tick_interval=args.tick_interval,
        ping_interval=args.ping_interval,
        blast_frames=args.blast_frames,
        login_refuse_code=args.login_refuse_code,
        login_refuse_style=args.login_refuse_style,
        reg_refuse_types=args.reg_refuse_types,
        system_close_after_login=args.system_close_after_login,
        system_close_code=args.system_close_code,
        strict_credentials=bool(args.account),
    )


async def _serve(args: argparse.Namespace) -> None:
    sim = Simulator(config_from_args(args), host=args.host, port=args.port)
    for pair in args.account:
        appkey, sep, secretkey = pair.partition(":")
        if not sep or not appkey or not secretkey:
            raise SystemExit(f"--account expects APPKEY:SECRETKEY, got {pair!r}")
        sim.add_account(appkey, secretkey)
    async with sim:
        print(f"base_url {sim.base_url}", flush=True)
        print(f"ws_url   {sim.ws_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
