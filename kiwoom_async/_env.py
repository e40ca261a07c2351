"""Hosts of the two Kiwoom environments (spec.json ``hosts``)."""

from __future__ import annotations

from typing import Literal

Env = Literal["real", "mock"]

REST_HOSTS: dict[str, str] = {
    "real": "https://api.kiwoom.com",
    "mock": "https://mockapi.kiwoom.com",
}
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
