"""Lifecycle events of a realtime session. They share the event stream with market and
account events, so a consumer sees every gap in the data where it happened."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Connected",
    "Disconnected",
    "LifecycleEvent",
    "Reconnecting",
    "Resubscribed",
    "SystemMessage",
]


@dataclass(frozen=True, slots=True)
class Connected:
    """LOGIN succeeded on connection number ``connection`` (1 for the first)."""

    connection: int
    type: str = "connected"


@dataclass(frozen=True, slots=True)
class Resubscribed:
    """The desired groups were registered again after a (re)connect: ``groups`` were
    acknowledged, ``failed`` were refused or not answered (see the log). Data pushed while
    the session was down is not replayed: re-snapshot through REST if it matters."""

    groups: tuple[str, ...]
    failed: tuple[str, ...] = ()
    type: str = "resubscribed"


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection dropped (or was closed); ``cause`` says why."""

    cause: str
    type: str = "disconnected"


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """Attempt ``attempt`` will start after ``delay`` seconds."""

    attempt: int
    delay: float
    cause: str
    type: str = "reconnecting"


@dataclass(frozen=True, slots=True)
class SystemMessage:
    """A SYSTEM frame from the server (``R10001`` another session took over, ``R10002``
    missing heartbeat, ...)."""

    code: str
    message: str
    type: str = "system"


LifecycleEvent = Connected | Resubscribed | Disconnected | Reconnecting | SystemMessage
