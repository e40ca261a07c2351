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


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # imported as None: blocked on purpose
        return False


_HAS_REDIS_PACKAGE = _has("redis")
_MISSING = [
    what
    for what, present in (
        ("redis-server is not on PATH", REDIS_SERVER is not None),
        ("the redis package is not installed", _HAS_REDIS_PACKAGE),
    )
    if not present
]
_REASON = f"{'; '.join(_MISSING)}: {HOW_TO_ENABLE}"
_not_collected: list[str] = []


def require_redis() -> None:
    if not _MISSING:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {_REASON}", pytrace=False)
    pytest.skip(_REASON)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Without the redis package the test modules cannot even be imported: leave them out
    (and say so), unless CI is set, where their import errors must fail the run."""
    if (
        not _HAS_REDIS_PACKAGE
        and not os.environ.get("CI")
        and collection_path.name.startswith("test_")
    ):
        _not_collected.append(collection_path.name)
        return True
    return None


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
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if HOW_TO_ENABLE in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(f"fleet: {len(skipped)} tests not run: {_REASON}", yellow=True)
    if _not_collected:
        terminalreporter.write_line(
            f"fleet: {len(_not_collected)} test modules not run: {_REASON}", yellow=True
        )
