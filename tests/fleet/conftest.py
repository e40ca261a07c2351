"""Fleet tests run against a real redis-server that this session starts on a free loopback
port. Without redis-server (or the redis package) they are skipped, with the reason in the
summary; with the CI environment variable set they fail instead."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._redis_server import REDIS_SERVER, RedisServer

HOW_TO_ENABLE = (
    "the fleet tests need redis-server 7 (apt-get install redis-server) and the redis "
    "package (pip install -e '.[dev]')"
)
_MISSING = [
    what
    for what, present in (
        ("redis-server is not on PATH", REDIS_SERVER is not None),
        ("the redis package is not installed", importlib.util.find_spec("redis") is not None),
    )
    if not present
]
_skipped: list[str] = []


def require_redis() -> None:
    if not _MISSING:
        return
    reason = f"{'; '.join(_MISSING)}: {HOW_TO_ENABLE}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}", pytrace=False)
    _skipped.append(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def new_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start Redis servers of this test's own (to stop, kill or restart them)."""
    require_redis()
    servers: list[RedisServer] = []

    def start(**options: Any) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", **options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"fleet: {len(_skipped)} tests not run: {_skipped[0]}", yellow=True
        )
