"""``doctor``: is everything in place to talk to Kiwoom? Keys, host, token, clock, env."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from .._credentials import CredentialsError, credentials_from_env
from .._env import check_env, rest_base_url, ws_url, ws_url_for
from ..errors import KiwoomError
from ._common import add_json_option, credentials_env, open_client
from ._output import print_json, print_table

__all__ = ["register"]

CLOCK_SKEW_ALLOWED = 30.0
"""Seconds of difference from the server's clock that reconciliation tolerates."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=parents,
        help="check keys, host, token, clock skew and environment",
    )
    add_json_option(doctor)
    doctor.set_defaults(handler=doctor_command)


async def doctor_command(args: argparse.Namespace) -> int:
    checks: list[Check] = []
    env = check_env(credentials_env(args))
    try:
        base = rest_base_url(env, args.base_url)
        socket = ws_url(env, args.ws_url or (ws_url_for(base) if args.base_url else None))
    except ValueError as exc:
        checks.append(Check("environment", False, str(exc)))
        return _report(args, env, checks)
    where = "real money (실전투자)" if env == "real" else "mock trading (모의투자)"
    checks.append(Check("environment", True, f"{env}: {where}; REST {base}; WebSocket {socket}"))
    keys = _keys(args, env)
    checks.append(keys)
    checks.extend(await _host(base))
    if keys.ok:
        checks.append(await _token(args))
    else:
        checks.append(Check("token", False, "not tried: no keys"))
    return _report(args, env, checks)


def _keys(args: argparse.Namespace, env: str) -> Check:
    try:
        credentials_from_env(args.env)
    except CredentialsError as exc:
        return Check("keys", False, str(exc))
    names: list[str] = []
    for name in ("APPKEY", "SECRETKEY"):
        mock_name = f"KIWOOM_{name}_MOCK"
        use_mock = env == "mock" and os.environ.get(mock_name, "").strip()
        names.append(mock_name if use_mock else f"KIWOOM_{name}")
    return Check("keys", True, f"{' and '.join(names)} are set (values not shown)")


async def _host(base: str) -> list[Check]:
    """Reachability and the clock: any HTTP answer proves the host is there, and its
    ``Date`` header tells the server's time."""
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            sent = time.time()
            async with session.get(base + "/") as resp:
                received = time.time()
                date = resp.headers.get("Date")
                status = resp.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
        return [
            Check("host", False, f"{base} unreachable ({reason})"),
            Check("clock", False, "not measured: host unreachable"),
        ]
    elapsed = (received - sent) * 1000
    host = Check("host", True, f"{base} answered HTTP {status} in {elapsed:.0f} ms")
    if date is None:
        return [host, Check("clock", False, "the server sent no Date header")]
    try:
        server = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return [host, Check("clock", False, f"unreadable Date header {date!r}")]
    skew = server - (sent + received) / 2  # the header has whole seconds: ±1 s
    ok = abs(skew) <= CLOCK_SKEW_ALLOWED
    detail = f"this machine is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} the server"
    if abs(skew) < 1.5:
        detail = "in step with the server (within the Date header's 1 s)"
    elif not ok:
        detail += f" (more than {CLOCK_SKEW_ALLOWED:.0f} s: fix the system clock)"
    return [host, Check("clock", ok, detail)]


async def _token(args: argparse.Namespace) -> Check:
    try:
        async with open_client(args) as kw:
            await kw.tokens.token()
            until = kw.tokens.expires_at
    except KiwoomError as exc:
        return Check("token", False, str(exc))
    shown = f"{until:%Y-%m-%d %H:%M} KST" if until else "unknown"
    return Check("token", True, f"issued (au10001), valid until {shown}; revoked on exit")


def _report(args: argparse.Namespace, env: str, checks: list[Check]) -> int:
    ok = all(check.ok for check in checks)
    if args.json:
        print_json({"ok": ok, "env": env, "checks": [asdict(check) for check in checks]})
    else:
        print_table(
            ("check", "result", "detail"),
            [(c.name, "ok" if c.ok else "FAIL", c.detail) for c in checks],
        )
    return 0 if ok else 1
