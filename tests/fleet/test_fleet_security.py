"""Redis with a password, an ACL user limited to the fleet's keys, and TLS (rediss://)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trustme

from kiwoom_async import Kiwoom, RateLimits
from kiwoom_async.fleet import FleetUnavailableError
from kiwoom_async.testing import Simulator

from ._redis_server import RedisServer, TLSFiles

APPKEY = "fleet-appkey-0123456789abcdef"
SECRETKEY = "fleet-secretkey-9876543210fedcba"
PASSWORD = "fleet-pass-7f3a9c"
# The fleet's user may touch only keys under kiwoom:, and nothing administrative.
ACL = ["--user", "default", "off"]
ACL += ["--user", "fleet", "on", f">{PASSWORD}", "~kiwoom:*", "+@all", "-@dangerous"]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=1, reissue_invalidates_old=True) as simulator:
        yield simulator


async def place_and_share(sim: Simulator, url: str, **options: object) -> None:
    for _ in range(2):  # two clients, as two processes would be
        kw = Kiwoom(
            APPKEY, SECRETKEY, base_url=sim.base_url, rate_limits=RateLimits(per_key=50.0),
            redis_url=url, redis_options=options or None,
        )  # fmt: skip
        async with kw:
            await kw.rest.call("ka10004", {"stk_cd": "005930"})
            await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="k")
    assert sim.stats.token_issues == 1
    assert len(sim.orders) == 1


async def test_an_acl_user_limited_to_the_fleets_keys_is_enough(
    sim: Simulator, new_redis: Callable[..., RedisServer]
) -> None:
    server = new_redis(extra=ACL)
    await place_and_share(sim, f"redis://fleet:{PASSWORD}@127.0.0.1:{server.port}/0")


async def test_a_wrong_password_is_refused_without_showing_it(
    sim: Simulator, new_redis: Callable[..., RedisServer]
) -> None:
    server = new_redis(extra=ACL)
    kw = Kiwoom(
        APPKEY, SECRETKEY, base_url=sim.base_url,
        redis_url=f"redis://fleet:wrong-{PASSWORD}@127.0.0.1:{server.port}/0",
    )  # fmt: skip
    async with kw:
        with pytest.raises(FleetUnavailableError) as caught:
            await kw.rest.call("ka10004", {"stk_cd": "005930"})
    message = str(caught.value)
    assert "credentials" in message and PASSWORD not in message and "fleet:" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert sim.stats.token_issues == 0


async def test_tls_with_the_servers_ca(
    sim: Simulator, new_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    files = TLSFiles(tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(files.cert)
    cert.private_key_pem.write_to_path(files.key)
    ca.cert_pem.write_to_path(files.ca)
    server = new_redis(tls=files)
    assert server.url.startswith("rediss://")
    await place_and_share(sim, server.url, ssl_ca_certs=str(files.ca))
