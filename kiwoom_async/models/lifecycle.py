"""Lifecycle events of a realtime session. They share the event stream with market and
account events, so a consumer sees every gap in the data where it happened."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccountFrameLost",
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


@dataclass(frozen=True, slots=True)
class AccountFrameLost:
    """A frame that could not be read looked like it carried account events (``00`` fills,
    ``04`` balance): its fills are missing from the stream. Re-read them through REST, as
    after :class:`Resubscribed`. It travels in the account lane, in order with the fills.
    The frame is judged from its raw bytes, so a damaged market frame that mentions the type
    code may raise this too: a needless re-read, never a missed one."""

    reason: str
    type: str = "account_frame_lost"


LifecycleEvent = (
    Connected | Resubscribed | Disconnected | Reconnecting | SystemMessage | AccountFrameLost
)
