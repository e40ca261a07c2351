"""Hosts of the two Kiwoom environments (spec.json ``hosts``)."""

from __future__ import annotations

from typing import Literal

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
        raise ValueError(f'env must be "real" or "mock", not {env!r}')
    return env  # type: ignore[return-value]


def rest_base_url(env: Env, override: str | None) -> str:
    return (override or REST_HOSTS[env]).rstrip("/")


def ws_url(env: Env, override: str | None) -> str:
    return override or WS_URLS[env]


def ws_url_for(base_url: str) -> str:
    """The WebSocket URL on the same host and port as a REST base URL:
    ``http://host:port`` -> ``ws://host:port/api/dostk/websocket`` (https -> wss)."""
    root = base_url.rstrip("/")
    if root.startswith("https://"):
        root = "wss://" + root.removeprefix("https://")
    elif root.startswith("http://"):
        root = "ws://" + root.removeprefix("http://")
    return root + WS_PATH
