"""RedisLedger: FileLedger's states and guarantees, for processes on several hosts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import redis

from kiwoom_async import IdempotencyError, LedgerCorruptError, OrderAck
from kiwoom_async.fleet import LedgerUnavailableError
from kiwoom_async.fleet.ledger import RedisLedger
from kiwoom_async.ledger import LedgerEntry

from ._redis_server import RedisServer, free_port

BODY = {"stk_cd": "005930", "ord_qty": "1", "trde_tp": "3", "dmst_stex_tp": "KRX"}
ACK = OrderAck(api_id="kt10000", ord_no="0000042")


@pytest.fixture
def ledgers(redis_url: str) -> Iterator[Callable[..., RedisLedger]]:
    made: list[RedisLedger] = []

    def make(url: str = redis_url, **options: object) -> RedisLedger:
        ledger = RedisLedger(url, scope="account", **options)  # type: ignore[arg-type]
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger._client.close()


def test_a_key_claimed_on_one_host_is_refused_on_another(
    ledgers: Callable[..., RedisLedger],
) -> None:
    here, there = ledgers(), ledgers()
    assert here.begin("k", "kt10000", BODY) is None  # send it
    with pytest.raises(IdempotencyError, match="in flight"):
        there.begin("k", "kt10000", BODY)
    here.finish("k", ACK)
    replayed = there.begin("k", "kt10000", BODY)
    assert replayed is not None and replayed.ord_no == "0000042" and replayed.replayed
    with pytest.raises(IdempotencyError, match="different order"):
        there.begin("k", "kt10000", {**BODY, "ord_qty": "2"})
    assert there.known_order_numbers() == {"0000042"}
    assert [e.state for e in there.entries()] == ["done"]


def test_a_refused_order_frees_the_key_for_every_host(
    ledgers: Callable[..., RedisLedger],
) -> None:
    here, there = ledgers(), ledgers()
    here.begin("k", "kt10000", BODY)
    here.reject("k", "return_code 20")
    assert there.begin("k", "kt10000", BODY) is None
    there.mark_unknown("k", "timed out")
    with pytest.raises(IdempotencyError, match="unknown"):
        here.begin("k", "kt10000", BODY)
    entry = here.get("k")
    assert entry is not None and entry.state == "unknown" and entry.reason == "timed out"


def test_redis_down_refuses_the_key_and_says_where_without_the_password() -> None:
    ledger = RedisLedger(f"redis://app:pw-s3cret@127.0.0.1:{free_port()}/0", scope="a")
    with pytest.raises(LedgerUnavailableError) as caught:
        ledger.begin("k", "kt10000", BODY)
    assert isinstance(caught.value, IdempotencyError)  # the order API sends nothing
    assert "127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)
    ledger._client.close()


def test_an_outcome_written_while_redis_restarts_is_kept_and_the_key_stays_blocked(
    new_redis: Callable[..., RedisServer],
) -> None:
    server = new_redis(persistent=True)
    here = RedisLedger(server.url, scope="a", record_retry_for=0.2)
    there = RedisLedger(server.url, scope="a")
    try:
        assert here.begin("k", "kt10000", BODY) is None
        server.kill()
        here.finish("k", ACK)  # the order was placed: its caller is not made to fail
        assert here.pending == 1
        server.start()
        with pytest.raises(IdempotencyError, match="in flight"):
            there.begin("k", "kt10000", BODY)  # survived the crash, still blocks
        here.flush()
        assert here.pending == 0
        replayed = there.begin("k", "kt10000", BODY)
        assert replayed is not None and replayed.ord_no == "0000042"
    finally:
        here._client.close()
        there._client.close()


def test_redis_that_lost_its_data_is_noticed_by_a_process_that_saw_it(
    new_redis: Callable[..., RedisServer],
) -> None:
    server = new_redis()  # no persistence: a restart empties it
    ledger = RedisLedger(server.url, scope="a")
    try:
        ledger.begin("k", "kt10000", BODY)
        ledger.finish("k", ACK)
        server.kill()
        server.start()
        with pytest.raises(LedgerCorruptError, match="lost the ledger"):
            ledger.begin("k", "kt10000", BODY)  # would otherwise be sent a second time
    finally:
        ledger._client.close()


def test_a_writer_whose_lease_ran_out_cannot_write(ledgers: Callable[..., RedisLedger]) -> None:
    ledger = ledgers()
    entry = LedgerEntry(
        key="k", fingerprint="f", api_id="kt10000", body={}, state="inflight",
        sent_at=0.0, updated_at=0.0,
    )  # fmt: skip
    with ledger._transaction():
        ledger._client.set(ledger._lock_key, "another process, after our lease ran out")
        with pytest.raises(LedgerUnavailableError, match="lease"):
            ledger._write(entry)
    assert ledger._client.hget(ledger.hash_key, "k") is None


def test_redis_without_fsync_always_is_named_once(
    ledgers: Callable[..., RedisLedger], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = ledgers()
    with caplog.at_level(logging.WARNING, logger="kiwoom_async.ledger"):
        ledger.begin("a", "kt10000", BODY)
        ledger.begin("b", "kt10000", BODY)
    warnings = [r for r in caplog.records if "appendfsync" in r.getMessage()]
    assert len(warnings) == 1


def test_nothing_secret_or_per_order_in_key_names(
    ledgers: Callable[..., RedisLedger], redis_url: str
) -> None:
    ledgers().begin("rebalance-005930", "kt10000", BODY)
    with redis.Redis.from_url(redis_url) as client:
        names = sorted(name.decode() for name in client.scan_iter())
    assert names == ["kiwoom:account:ledger", "kiwoom:account:ledger:epoch"]
