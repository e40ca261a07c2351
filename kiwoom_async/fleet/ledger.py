"""The order ledger in Redis, shared by every process and host on an account.

Same states and guarantees as :class:`~kiwoom_async.ledger.FileLedger` (the state machine is
:class:`~kiwoom_async.ledger.OrderLedger`'s): the ``inflight`` record is in Redis before the
order leaves, and anything that keeps the ledger from being read or written refuses the key
(:class:`LedgerUnavailableError`, nothing sent).

Storage: one hash, ``{prefix}:{scope}:ledger``, idempotency key -> entry as JSON. Every
operation holds ``{prefix}:{scope}:ledger:lock`` (a random value with a lease) and every write
is fenced by it: a Lua script writes only while the writer still holds the lock, so a process
that stalled past its lease cannot overwrite what another decided since.

Redis faults:

- down or refusing when an order is claimed: ``begin`` raises, nothing is sent;
- down when the outcome of a sent order is recorded (``finish``, ``reject``,
  ``mark_unknown``): retried for ``record_retry_for`` seconds, then kept in memory and written
  on the next ledger operation. The stored entry stays ``inflight`` meanwhile, which blocks
  the key everywhere; the order's caller gets its answer all the same;
- a write whose reply was lost may or may not have happened: the key then stays ``inflight``
  (blocked) until it is resolved, never free;
- Redis restarted without its data: a process that saw the ledger before notices (the
  ledger's epoch marker changed) and refuses every key, as for a damaged file
  (:class:`~kiwoom_async.errors.LedgerCorruptError`). A process started afterwards cannot
  tell, so run Redis with ``appendonly yes`` and ``appendfsync always`` (the equivalent of the
  file ledger's fsync); the ledger warns once when it can see that Redis runs otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
import redis
import redis.exceptions

from ..errors import LedgerCorruptError
from ..ledger import LedgerEntry, LedgerState, OrderAck, OrderLedger
from ._connect import DEFAULT_PREFIX, REDIS_ERRORS, fleet_scope, redis_location, sync_client
from ._connect import unavailable as _unavailable
from ._errors import LedgerUnavailableError

__all__ = ["RedisLedger"]

log = logging.getLogger("kiwoom_async.ledger")

_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return {0, ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
return {1, epoch}
"""
"""KEYS: lock, epoch marker; ARGV: holder, lease ms, a new epoch. {acquired, epoch}."""
_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(LedgerEntry).decode


@dataclass(frozen=True, slots=True)
class _Pending:
    """An outcome not yet written because Redis could not be reached."""

    key: str
    state: LedgerState
    ack: OrderAck | None
    reason: str


class RedisLedger(OrderLedger):
    """Idempotency keys kept in Redis, for every process on the account (one ledger per
    account: ``scope`` names it; :meth:`for_key` derives it from the app key).

    ``lock_lease``: seconds a dead process's lock keeps others out; ``lock_wait``: how long an
    operation waits for the lock before refusing; ``record_retry_for``: how long an outcome is
    retried before it is kept in memory for later.
    """

    blocking: ClassVar[bool] = True

    def __init__(
        self,
        redis_url: str,
        *,
        scope: str,
        prefix: str = DEFAULT_PREFIX,
        redis_options: Mapping[str, Any] | None = None,
        lock_lease: float = 5.0,
        lock_wait: float = 10.0,
        record_retry_for: float = 5.0,
    ) -> None:
        super().__init__()
        self.location = redis_location(redis_url)
        self.hash_key = f"{prefix}:{scope}:ledger"
        self._lock_key = f"{self.hash_key}:lock"
        self._epoch_key = f"{self.hash_key}:epoch"
        self._client = sync_client(redis_url, redis_options)
        self.lock_lease = lock_lease
        self.lock_wait = lock_wait
        self.record_retry_for = record_retry_for
        self._thread_lock = threading.RLock()
        self._holder: str | None = None
        self._epoch: str | None = None
        self._lost = ""
        self._durability_checked = False
        self._outbox: list[_Pending] = []

    @classmethod
    def for_key(cls, redis_url: str, *, env: str, appkey: str, **options: Any) -> RedisLedger:
        """The ledger of the account behind ``appkey`` in ``env``."""
        return cls(redis_url, scope=fleet_scope(env, appkey), **options)

    def __repr__(self) -> str:
        return f"<RedisLedger {self.location} key={self.hash_key!r}>"

    @property
    def pending(self) -> int:
        """Outcomes waiting for Redis to come back (their keys are blocked meanwhile)."""
        with self._thread_lock:
            return len(self._outbox)

    def flush(self) -> None:
        """Write the outcomes kept while Redis was away; raises if it still is."""
        with self._transaction():
            pass

    def close(self) -> None:
        """Write what is pending, if Redis lets us, and close the connections."""
        if self.pending:
            try:
                self.flush()
            except LedgerUnavailableError as exc:
                log.error(
                    "%s; %d outcome(s) not written, their keys stay inflight", exc, self.pending
                )
        self._client.close()

    # --- storage hooks ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Generator[None, None, None]:
        with self._thread_lock:
            if self._holder is not None:  # nested: the outbox replays through _move
                yield
                return
            self._check_durability()
            holder = secrets.token_hex(16)
            self._acquire(holder)
            self._holder = holder
            try:
                self._flush_outbox()
                yield
            finally:
                self._holder = None
                with contextlib.suppress(*REDIS_ERRORS):
                    self._client.eval(_RELEASE, 1, self._lock_key, holder)

    def _check_readable(self) -> None:
        if self._lost:
            raise LedgerCorruptError(
                f"ledger at {self.location}: {self._lost}; refusing every key until it is "
                "restored (or the process restarted on purpose). Nothing was sent"
            )

    def _lookup(self, key: str) -> LedgerEntry | None:
        try:
            raw = self._client.hget(self.hash_key, key)
        except REDIS_ERRORS as exc:
            raise self._unavailable("reading the ledger", exc) from None
        return None if raw is None else self._decoded(key, _bytes(raw))

    def _all(self) -> list[LedgerEntry]:
        try:
            rows = self._client.hgetall(self.hash_key)
        except REDIS_ERRORS as exc:
            raise self._unavailable("reading the ledger", exc) from None
        return [self._decoded(_text(key), _bytes(raw)) for key, raw in rows.items()]

    def _write(self, entry: LedgerEntry) -> None:
        assert self._holder is not None, "ledger writes happen inside a transaction"
        keys = (self._lock_key, self.hash_key)
        try:
            written = self._client.eval(_WRITE, 2, *keys, self._holder, entry.key, _encode(entry))
        except REDIS_ERRORS as exc:
            raise self._unavailable("writing the ledger", exc) from None
        if not written:
            raise LedgerUnavailableError(
                f"ledger at {self.location}: the lock's lease ran out before the write "
                f"({self.lock_lease:.0f} s); nothing was written"
            )

    def _move(
        self, key: str, state: LedgerState, *, ack: OrderAck | None = None, reason: str = ""
    ) -> None:
        """Record the outcome of a sent order; an outage delays the write, never loses it."""
        deadline = time.monotonic() + self.record_retry_for
        delay = 0.05
        while True:
            try:
                super()._move(key, state, ack=ack, reason=reason)
                return
            except LedgerUnavailableError as exc:
                if self._holder is not None:
                    raise  # a replay of the outbox: it stays there
                if time.monotonic() + delay > deadline:
                    self._keep(_Pending(key, state, ack, reason), exc)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    # --- internals -------------------------------------------------------------------------

    def _keep(self, pending: _Pending, exc: LedgerUnavailableError) -> None:
        with self._thread_lock:
            self._outbox.append(pending)
        log.error(
            "%s; %s for key %r kept in memory and written once Redis is back (the key "
            "stays inflight, so blocked, until then)",
            exc,
            pending.state,
            pending.key,
        )

    def _flush_outbox(self) -> None:
        while self._outbox:
            pending = self._outbox[0]
            entry = self._lookup(pending.key)
            if entry is None or entry.state == "inflight":
                self._move(pending.key, pending.state, ack=pending.ack, reason=pending.reason)
                log.warning("ledger: the %s of key %r is written now", pending.state, pending.key)
            self._outbox.pop(0)

    def _acquire(self, holder: str) -> None:
        deadline = time.monotonic() + self.lock_wait
        lease_ms = max(1, int(self.lock_lease * 1000))
        delay = 0.002
        while True:
            try:
                acquired, epoch = self._client.eval(
                    _ACQUIRE, 2, self._lock_key, self._epoch_key, holder, lease_ms,
                    secrets.token_hex(8),
                )  # fmt: skip
            except REDIS_ERRORS as exc:
                raise self._unavailable("taking the ledger lock", exc) from None
            if acquired:
                self._note_epoch(epoch.decode())
                return
            if time.monotonic() > deadline:
                raise LedgerUnavailableError(
                    f"ledger at {self.location}: another process has held the lock for over "
                    f"{self.lock_wait:.0f} s; nothing was sent"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _note_epoch(self, epoch: str) -> None:
        if self._epoch is None:
            self._epoch = epoch
        elif epoch != self._epoch and not self._lost:
            self._lost = "Redis lost the ledger (restarted without its data?)"
            log.error("ledger at %s: %s", self.location, self._lost)

    def _decoded(self, key: str, raw: bytes) -> LedgerEntry:
        try:
            return _decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise LedgerCorruptError(
                f"ledger at {self.location}: the entry of key {key!r} is unreadable ({exc}); "
                "nothing was sent"
            ) from None

    def _check_durability(self) -> None:
        if self._durability_checked:
            return
        self._durability_checked = True
        try:
            config = self._client.config_get("append*")  # pyright: ignore[reportUnknownMemberType]  # pyright: ignore[reportUnknownMemberType]
        except redis.exceptions.ResponseError:
            return  # CONFIG is off limits to this user (ACL): nothing to tell
        except REDIS_ERRORS:
            self._durability_checked = False
            return
        settings = {_text(k): _text(v) for k, v in config.items()}
        if settings.get("appendonly") != "yes" or settings.get("appendfsync") != "always":
            log.warning(
                "ledger at %s: Redis runs with appendonly=%s appendfsync=%s; a crash of Redis "
                "can lose acknowledged ledger writes (use appendonly yes, appendfsync always)",
                self.location,
                settings.get("appendonly"),
                settings.get("appendfsync"),
            )

    def _unavailable(self, what: str, exc: BaseException) -> LedgerUnavailableError:
        error = _unavailable(self.location, f"ledger: {what}", exc, LedgerUnavailableError)
        assert isinstance(error, LedgerUnavailableError)
        return error


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
