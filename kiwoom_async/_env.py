"""Hosts of the two Kiwoom environments (spec.json ``hosts``)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from .errors import KiwoomValidationError

Env = Literal["real", "mock"]

REST_HOSTS: dict[str, str] = {
    "real": "https://api.kiwoom.com",
    "mock": "https://mockapi.kiwoom.com",
}
WS_PATH = "/api/dostk/websocket"
WS_URLS: dict[str, str] = {
    "real": "wss://api.kiwoom.com:10000/api/dostk/websocket",
    "mock": "wss://mockapi.kiwoom.com:10000/api/dostk/websocket",
}


def check_env(env: str) -> Env:
    if env not in ("real", "mock"):
        raise KiwoomValidationError(f'env must be "real" or "mock", not {env!r}')
    return env  # type: ignore[return-value]


KIWOOM_HOSTS: dict[str, Env] = {"api.kiwoom.com": "real", "mockapi.kiwoom.com": "mock"}
"""Kiwoom's own hosts and the environment each one is."""


def rest_base_url(env: Env, override: str | None) -> str:
    url = (override or REST_HOSTS[env]).rstrip("/")
    check_host(env, url)
    return url


def ws_url(env: Env, override: str | None) -> str:
    url = override or WS_URLS[env]
    check_host(env, url)
    return url


def check_host(env: Env, url: str) -> None:
    """Refuse a Kiwoom host of the other environment: ``env`` decides the real-money guard
    and the limits, so it must say what the host is (a mock-labelled client pointed at the
    real host would place real orders with no opt-in)."""
    host_env = KIWOOM_HOSTS.get((urlsplit(url).hostname or "").lower())
    if host_env is not None and host_env != env:
        raise ValueError(f'{url} is Kiwoom\'s {host_env} host: use env="{host_env}" for it')


def ws_url_for(base_url: str) -> str:
    """The WebSocket URL on the same host and port as a REST base URL:
    ``http://host:port`` -> ``ws://host:port/api/dostk/websocket`` (https -> wss)."""
    root = base_url.rstrip("/")
    if root.startswith("https://"):
        root = "wss://" + root.removeprefix("https://")
    elif root.startswith("http://"):
        root = "ws://" + root.removeprefix("http://")
    return root + WS_PATH
