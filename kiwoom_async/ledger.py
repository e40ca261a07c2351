"""The order ledger: what became of each idempotency key, so that an order is never sent twice.

Each key moves through these states:

- ``inflight``: written (durably, for :class:`FileLedger`) *before* the request leaves. A
  repeat of the key raises :class:`~kiwoom_async.errors.IdempotencyError`.
- ``done``: the server acknowledged the order; the entry keeps the :class:`OrderAck`. A repeat
  with the same body returns that ack without sending anything.
- ``rejected``: the request provably placed nothing (the server refused it, the rate limit
  refused it, or the connection failed before the request left). A repeat with the same body
  is sent again: there is nothing to duplicate.
- ``unknown``: the request may have reached the server but the answer was lost
  (:class:`~kiwoom_async.errors.OrderStatusUnknownError`, or the caller's task was cancelled
  mid-send). A repeat raises ``IdempotencyError`` until the entry is resolved, by
  ``kw.order.reconcile(...)`` or by :meth:`OrderLedger.resolve`.
- ``released``: the caller resolved an unknown entry as "never placed"; the key may be used
  again with the same body.

Order numbers are unique per trading day only: the broker numbers each day's orders afresh.
Every entry keeps the KST date it was sent on (``trade_date``), and an order number counts as
taken only for that date.

A key is bound to the first body it was used with: the same key with a different body always
raises ``IdempotencyError``. The body fingerprint is the sha256 of the TR id and the body as
canonical JSON (sorted keys, no spaces).

The ledger holds order fields, order numbers and server messages; orders carry no account
number or password, and the ledger never sees the app key, secret key or token.
"""

from __future__ import annotations

import abc
import contextlib
import datetime
import hashlib
import logging
import os
import threading
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import filelock
import msgspec

from ._kst import KST
from .errors import IdempotencyError, KiwoomValidationError, LedgerCorruptError

__all__ = [
    "INFLIGHT_TIMEOUT",
    "FileLedger",
    "LedgerCorruptError",
    "LedgerEntry",
    "LedgerState",
    "MemoryLedger",
    "OrderAck",
    "OrderLedger",
    "fingerprint",
]

log = logging.getLogger("kiwoom_async.ledger")


LedgerState = Literal["inflight", "done", "rejected", "unknown", "released"]

INFLIGHT_TIMEOUT = 300.0
"""Seconds after which an ``inflight`` entry may be resolved (by hand or by reconciliation).
A younger one may still be on its way to the server in some task or process, and settling it
would race the real answer. Far above any sane HTTP timeout: a send cannot outlive it."""


def trade_date(timestamp: float) -> str:
    """The KST calendar date (YYYYMMDD) of a ``time.time()`` value: the date the broker files
    an order under."""
    return datetime.datetime.fromtimestamp(timestamp, KST).strftime("%Y%m%d")


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """The server's acknowledgement of an order request (new, modify or cancel)."""

    api_id: str
    ord_no: str
    """The order number exactly as the server sent it (leading zeros kept)."""
    dmst_stex_tp: str = ""
    """The exchange the server reports (KRX/NXT/SOR); empty for gold and cancel answers."""
    base_orig_ord_no: str = ""
    """Modify/cancel: the root order of the chain."""
    return_msg: str = ""
    raw: dict[str, Any] = msgspec.field(default_factory=dict)  # pyright: ignore[reportUnknownVariableType]
    """The answer body as received; empty when the ack was rebuilt by reconciliation."""
    replayed: bool = False
    """True when this ack came from the ledger for a repeated idempotency key: nothing was
    sent this time."""
    reconciled: bool = False
    """True when the order number was found by reconciliation, not read from an answer."""


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    fingerprint: str
    api_id: str
    body: dict[str, str]
    """The order fields as sent: reconciliation of an entry left by a crash reads them."""
    state: LedgerState
    sent_at: float
    """time.time() when the inflight record was written, just before the send."""
    updated_at: float
    ack: OrderAck | None = None
    reason: str = ""
    """Why the entry is rejected or unknown (the error message)."""
    trade_date: str = ""
    """KST date (YYYYMMDD) of the send; empty in records written before it was kept."""

    @property
    def order_date(self) -> str:
        """The date the entry's order number belongs to. Records without ``trade_date`` fall
        back to the date of ``sent_at``, which every record carries and which is the send date
        to within the send itself (no market takes orders around midnight KST). Both blanket
        alternatives fail: "taken on every date" hides today's order behind yesterday's
        number (and lets a retry duplicate it), "taken on no date" lets two keys share one."""
        return self.trade_date or trade_date(self.sent_at)


def fingerprint(api_id: str, body: Mapping[str, Any]) -> str:
    canonical = msgspec.json.encode(dict(body), order="sorted")
    return hashlib.sha256(api_id.encode() + b"\n" + canonical).hexdigest()


class OrderLedger(abc.ABC):
    """Base of the ledgers: the state machine lives here, storage in the subclasses.

    ``blocking`` tells the order API to run ledger calls in a worker thread (file I/O and a
    cross-process lock must not stall the event loop).
    """

    blocking: ClassVar[bool] = False

    def __init__(self) -> None:
        self._entries: dict[str, LedgerEntry] = {}

    # --- storage hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """Hold the ledger exclusively (a thread lock; a file lock across processes)."""

    def _write(self, entry: LedgerEntry) -> None:
        self._entries[entry.key] = entry

    def _lookup(self, key: str) -> LedgerEntry | None:
        """The latest entry of ``key`` (called inside a transaction)."""
        return self._entries.get(key)

    def _all(self) -> list[LedgerEntry]:
        """The latest entry of every key (called inside a transaction)."""
        return list(self._entries.values())

    def _check_readable(self) -> None:
        """Raise when the stored state cannot be trusted to hold every key."""
        return

    # --- the state machine -----------------------------------------------------------------

    def begin(self, key: str, api_id: str, body: Mapping[str, str]) -> OrderAck | None:
        """Claim ``key`` for this order. Returns None when the caller must send it (the
        inflight record is already written), or the first ack when it was already placed.
        Raises :class:`IdempotencyError` for a different body or an unresolved first use."""
        if not isinstance(key, str) or not key:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KiwoomValidationError("idempotency_key must be a non-empty string")
        digest = fingerprint(api_id, body)
        with self._transaction():
            self._check_readable()
            entry = self._lookup(key)
            if entry is not None:
                if entry.fingerprint != digest:
                    raise IdempotencyError(
                        f"idempotency key {key!r} was first used for a different order "
                        f"({entry.api_id}); nothing was sent"
                    )
                if entry.state == "done":
                    assert entry.ack is not None
                    return msgspec.structs.replace(entry.ack, replayed=True)
                if entry.state == "inflight":
                    raise IdempotencyError(
                        f"idempotency key {key!r}: the first order with this key is still in "
                        "flight (or its process died mid-send): reconcile it before retrying"
                    )
                if entry.state == "unknown":
                    raise IdempotencyError(
                        f"idempotency key {key!r}: the first order's state is unknown "
                        f"({entry.reason}); reconcile it (kw.order.reconcile) or resolve it "
                        "(ledger.resolve) before retrying"
                    )
            now = time.time()
            self._write(
                LedgerEntry(
                    key=key,
                    fingerprint=digest,
                    api_id=api_id,
                    body=dict(body),
                    state="inflight",
                    sent_at=now,
                    updated_at=now,
                    trade_date=trade_date(now),
                )
            )
            return None

    def finish(self, key: str, ack: OrderAck) -> None:
        """The server acknowledged the order."""
        self._move(key, "done", ack=ack)

    def reject(self, key: str, reason: str) -> None:
        """The request placed nothing; the key may be retried with the same body."""
        self._move(key, "rejected", reason=reason)

    def mark_unknown(self, key: str, reason: str) -> None:
        """The request may have been placed; the key is blocked until resolved."""
        self._move(key, "unknown", reason=reason)

    def resolve(self, key: str, ord_no: str | None) -> LedgerEntry:
        """Settle an unknown entry by hand: ``ord_no`` is the order number found for it (the
        entry becomes ``done`` and repeats return that number), or None when the order was
        never placed (the entry becomes ``released`` and the key may be used again with the
        same body).

        An ``inflight`` entry may be settled only once it is older than
        :data:`INFLIGHT_TIMEOUT` (its sender died). A ``done`` entry is returned unchanged
        when ``ord_no`` is its own number or None; ``rejected``, ``released``, a younger
        inflight entry or another order number for a ``done`` entry raise
        :class:`IdempotencyError`: none of them is waiting for an answer."""
        with self._transaction():
            entry = self._lookup(key)
            if entry is None:
                raise KeyError(key)
            if entry.state == "done":
                assert entry.ack is not None
                if ord_no is None or ord_no == entry.ack.ord_no:
                    return entry
                raise IdempotencyError(
                    f"idempotency key {key!r} is already done as order {entry.ack.ord_no}; "
                    f"not rebinding it to {ord_no}"
                )
            if entry.state in ("rejected", "released"):
                raise IdempotencyError(
                    f"idempotency key {key!r} is {entry.state}: its order provably was not "
                    "placed, there is nothing to resolve"
                )
            if entry.state == "inflight" and time.time() - entry.sent_at < INFLIGHT_TIMEOUT:
                raise IdempotencyError(
                    f"idempotency key {key!r} is still in flight (sent "
                    f"{time.time() - entry.sent_at:.0f}s ago); it may be resolved after "
                    f"{INFLIGHT_TIMEOUT:.0f}s"
                )
            if ord_no is None:
                return self._store(entry, "released", reason="resolved as never placed")
            ack = OrderAck(
                api_id=entry.api_id,
                ord_no=ord_no,
                dmst_stex_tp=entry.body.get("dmst_stex_tp", ""),
                reconciled=True,
            )
            return self._store(entry, "done", ack=ack, reason="")

    def get(self, key: str) -> LedgerEntry | None:
        with self._transaction():
            return self._lookup(key)

    def entries(self) -> list[LedgerEntry]:
        """The latest state of every key."""
        with self._transaction():
            return self._all()

    def known_order_numbers(self, date: str | None = None) -> set[str]:
        """Order numbers already tied to a key: reconciliation never hands them to another.
        ``date`` (YYYYMMDD, KST) keeps those of that trading day only; the broker reuses
        numbers on other days."""
        with self._transaction():
            return {
                e.ack.ord_no
                for e in self._all()
                if e.ack is not None and (date is None or e.order_date == date)
            }

    def _move(
        self, key: str, state: LedgerState, *, ack: OrderAck | None = None, reason: str = ""
    ) -> None:
        with self._transaction():
            entry = self._lookup(key)
            if entry is None:
                # The inflight record vanished (a replaced or truncated file). Keep the outcome:
                # the empty fingerprint matches no body, so the key stays blocked rather than
                # free to send the order again.
                log.warning("ledger has no entry for key %r; recording %s anyway", key, state)
                now = time.time()
                entry = LedgerEntry(
                    key=key,
                    fingerprint="",
                    api_id=ack.api_id if ack is not None else "",
                    body={},
                    state=state,
                    sent_at=now,
                    updated_at=now,
                    trade_date=trade_date(now),
                )
            self._store(entry, state, ack=ack, reason=reason)

    def _store(
        self,
        entry: LedgerEntry,
        state: LedgerState,
        *,
        ack: OrderAck | None = None,
        reason: str = "",
    ) -> LedgerEntry:
        updated = msgspec.structs.replace(
            entry, state=state, ack=ack, reason=reason, updated_at=time.time()
        )
        self._write(updated)
        return updated


class MemoryLedger(OrderLedger):
    """Keys remembered for the life of the process (the default)."""

    def __init__(self) -> None:
        super().__init__()
        # Ledger calls from worker threads (a user may share one ledger) must not interleave.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryLedger keys={len(self._entries)}>"

    @contextlib.contextmanager
    def _transaction(self) -> Generator[None, None, None]:
        with self._lock:
            yield


_encode = msgspec.json.Encoder().encode
_decode_entry = msgspec.json.Decoder(LedgerEntry).decode

# Windows opens descriptors in text mode unless told otherwise; the ledger's offsets count bytes.
_BINARY = getattr(os, "O_BINARY", 0)


class FileLedger(OrderLedger):
    """Keys kept in an append-only JSON-lines file, shared safely by processes on one machine.

    Every operation takes an exclusive lock on ``<path>.lock`` (``filelock``: ``flock`` on
    POSIX, ``LockFileEx`` on Windows; released by the OS if the holder dies), reads the records
    other processes appended since, decides, appends its own record and fsyncs it before the
    lock is released, so the inflight record is on disk before the order leaves. The last
    record of a key is its state. A torn last line (a writer died mid-write, before its fsync
    returned, so nothing was sent on it) is dropped by the next writer. Any other unreadable
    line makes :meth:`begin` raise :class:`LedgerCorruptError` for every key until the file is
    repaired; write the repaired file under a new name and rename it over the old one (a
    changed inode or a shorter file makes every ledger reread it from the start).
    Use one file per account: keys are not scoped by account.
    """

    blocking: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._offset = 0
        self._torn_tail = False
        self._identity: tuple[int, int] | None = None
        self._corrupt = ""
        self._thread_lock = threading.Lock()
        # Not thread-local: any worker thread may run a transaction; _thread_lock orders them.
        self._file_lock = filelock.FileLock(self.lock_path, mode=0o600, thread_local=False)

    def __repr__(self) -> str:
        return f"<FileLedger path={str(self.path)!r}>"

    @contextlib.contextmanager
    def _transaction(self) -> Generator[None, None, None]:
        with self._thread_lock, self._file_lock:
            self._refresh()
            yield

    def _check_readable(self) -> None:
        if self._corrupt:
            raise LedgerCorruptError(
                f"{self.path}: {self._corrupt}; refusing every key until the file is "
                "repaired. Nothing was sent"
            )

    def _refresh(self) -> None:
        try:
            with open(self.path, "rb") as file:
                stat = os.fstat(file.fileno())
                identity = (stat.st_dev, stat.st_ino)
                if self._identity is not None and (
                    identity != self._identity or stat.st_size < self._offset
                ):
                    # Replaced or truncated under us: what we hold may no longer be on disk.
                    log.warning("%s: the ledger file was replaced; rereading it", self.path)
                    self._entries.clear()
                    self._offset = 0
                    self._corrupt = ""
                self._identity = identity
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            if self._identity is not None:
                log.warning("%s: the ledger file is gone; starting empty", self.path)
                self._entries.clear()
                self._identity = None
                self._offset = 0
                self._corrupt = ""
            return
        *lines, tail = data.split(b"\n")
        position = self._offset
        for line in lines:
            start, position = position, position + len(line) + 1
            if not line.strip():
                continue
            try:
                entry = _decode_entry(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                if not self._corrupt:
                    self._corrupt = f"unreadable record at byte {start} ({exc})"
                    log.error("%s: %s", self.path, self._corrupt)
                continue
            self._entries[entry.key] = entry
        self._offset += len(data) - len(tail)
        self._torn_tail = bool(tail)

    def _write(self, entry: LedgerEntry) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o600)
        try:
            if self._torn_tail:
                # Its writer died before its fsync returned (it held the lock we hold now), so
                # nothing was sent on it. Cutting it off keeps every unreadable line a sign of
                # real damage.
                log.warning("%s: dropping a torn last record", self.path)
                os.ftruncate(fd, self._offset)
            os.write(fd, _encode(entry) + b"\n")
            os.fsync(fd)
            self._offset = os.lseek(fd, 0, os.SEEK_END)
            self._torn_tail = False
            stat = os.fstat(fd)
            self._identity = (stat.st_dev, stat.st_ino)
        finally:
            os.close(fd)
        if created and os.name != "nt":
            # The new file's directory entry must be durable too, or a crash could lose it.
            # (Windows cannot open a directory; NTFS journals the entry itself.)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        super()._write(entry)
