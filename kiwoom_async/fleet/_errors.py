"""Errors of the fleet mode: Redis could not be reached or did not answer in time."""

from __future__ import annotations

from ..errors import IdempotencyError, KiwoomError

__all__ = ["FleetUnavailableError", "LedgerUnavailableError"]


class FleetUnavailableError(KiwoomError):
    """Redis, which the processes of the fleet share, could not be reached or did not answer.
    The message names the server (host, port, database), never a password, key or token.
    Raised for an order or a ledger claim, it means nothing was sent."""


class LedgerUnavailableError(FleetUnavailableError, IdempotencyError):
    """The Redis ledger could not be read or written: the key is refused and nothing was
    sent (the ledger fails closed)."""
