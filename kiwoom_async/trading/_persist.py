"""Trades kept in a file across restarts: the book's plain state as one JSON document,
replaced atomically (written beside it, fsynced, renamed over it)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import msgspec

from .model import Position, TradeState

__all__ = ["SavedState", "TradeStore"]

log = logging.getLogger("kiwoom_async.trading")

FORMAT_VERSION = 1


class SavedState(msgspec.Struct, kw_only=True):
    version: int = FORMAT_VERSION
    saved_at: float = 0.0
    trades: list[TradeState] = msgspec.field(default_factory=list[TradeState])
    positions: dict[str, Position] = msgspec.field(default_factory=dict[str, Position])


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(SavedState).decode


class TradeStore:
    """One file per account, like the order ledger (keep it beside the ledger's file). It
    holds order fields, numbers and fills; never a key or a token."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<TradeStore path={str(self.path)!r}>"

    def load(self) -> SavedState | None:
        """The saved state, or None when there is none. An unreadable file is set aside (the
        server's lists rebuild what it held) rather than trusted or lost."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            state = _decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.error("%s is unreadable (%s); moved to %s", self.path, exc, aside.name)
            os.replace(self.path, aside)
            return None
        if state.version != FORMAT_VERSION:
            log.error("%s has format %d, not %d; ignored", self.path, state.version, FORMAT_VERSION)
            return None
        return state

    @staticmethod
    def encode(trades: list[TradeState], positions: dict[str, Position]) -> bytes:
        return _encode(SavedState(saved_at=time.time(), trades=trades, positions=positions))

    def save(self, data: bytes) -> None:
        """Replace the file with ``data`` (blocking: run it off the event loop)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
