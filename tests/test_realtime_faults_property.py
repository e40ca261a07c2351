"""A property test of RealtimeSession under random fault schedules, against the simulator.

Hypothesis draws a short schedule of subscribe/unsubscribe calls and server faults. A call is
awaited at once or left in flight while the next steps run. A fault opens a window and the
schedule goes on (or, with ``wait``, blocks until it closed and the session is back): its knob
goes off in the very step the server counts the ``count``-th close it caused, so windows
overlap each other and the calls but never outlive their count.

- Drop: ``drop_every`` closes connections, the new ones too, until ``count`` were closed;
- FrameLimit: ``drop_after_frames`` closes each connection after a few frames (the server's
  PINGs count, so an idle connection reaches the limit too);
- Refuse: ``reg_refuse_types`` refuses REGs naming a type (calls raise
  SubscriptionError; a resubscription after a drop reports the group in Resubscribed.failed);
- TokenRefusal: once the session is ready the server forgets its tokens and drops it, so the
  next LOGIN is refused with 8005 and the session retries once with a new token. Waiting for
  ``ready`` first keeps two refusals from ever meeting without a login between them, the one
  case the session rightly treats as fatal;
- SystemClose: ``system_close_after_login`` answers one LOGIN with SYSTEM R10004 and a close.

Once the schedule is over, every window has closed and every knob is off:

1. the server's registrations for the live connection equal the desired state the calls
   built (successful subscribes minus successful unsubscribes, in the order they returned),
   and so does ``rt.subscriptions``. A group the live connection's resubscription reported as
   failed (documented: refused during the window) may hold less; after one more clean
   reconnect every group must be exact;
2. every call ended: returned, or raised SubscriptionError / ConnectionClosedError; none hung
   (the ack timeout is far longer than the wait, so a lost answer shows as a hung call);
3. after ``aclose()`` no task the session created is left;
4. the session is alive (nothing in a schedule is fatal: no takeover, no second token
   refusal in a row) and its lifecycle stream reads Connected, Disconnected, ... in order.

Each example runs in its own event loop (``asyncio.run``) with its own Simulator on port 0.
There is no slow-ack fault: the simulator's ``latency`` knob delays REST only, not WebSocket
answers. Ticks are off, so the event stream holds lifecycle events only.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kiwoom_async.testing
from kiwoom_async import ConnectionClosedError, RealtimeSession, SubscriptionError, TokenManager
from kiwoom_async.models.lifecycle import (
    Connected,
    Disconnected,
    LifecycleEvent,
    Reconnecting,
    Resubscribed,
)
from kiwoom_async.models.realtime import RealtimeEvent
from kiwoom_async.retry import Backoff
from kiwoom_async.testing import Simulator
from kiwoom_async.testing._ws import WsStats
from tests.conftest import seconds

APPKEY = "faults-appkey-0123456789"
SECRETKEY = "faults-secretkey-0123456789"
ITEMS = ("005930", "000660", "035720")
MARKET_TYPES = ("0B", "0D")
ACCOUNT_TYPES = ("00", "04")
GROUPS = ("1", "2")
STEP_TIMEOUT = 10.0
"""Seconds (scaled) a fault may take to show, or a call to end once the faults stopped."""
POLL = 0.002
"""Server counters and session flags have nothing to await: they are polled this often."""

Pair = tuple[str, str]
"""(item, type), as the session keeps its desired state."""
Groups = dict[str, set[Pair]]

# --- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sub:
    """``subscribe(items, types, grp_no=grp, refresh=refresh)``; ``wait=False`` leaves the
    call in flight while the next steps run."""

    items: tuple[str, ...]
    types: tuple[str, ...]
    grp: str = "1"
    refresh: bool = True
    wait: bool = True


@dataclass(frozen=True)
class Unsub:
    items: tuple[str, ...]
    types: tuple[str, ...]
    grp: str = "1"
    wait: bool = True


@dataclass(frozen=True)
class Drop:
    """``drop_every`` until ``count`` connections were closed. A fault with ``wait`` blocks
    until its window closed and the session logged in (and resubscribed) again."""

    count: int = 1
    wait: bool = False


@dataclass(frozen=True)
class FrameLimit:
    """``drop_after_frames=frames`` until ``count`` connections were closed."""

    frames: int = 1
    count: int = 1
    wait: bool = False


@dataclass(frozen=True)
class Refuse:
    """``reg_refuse_types=types`` until the next Refuse or the end; empty: none refused."""

    types: frozenset[str] = frozenset({"0B"})


@dataclass(frozen=True)
class TokenRefusal:
    """Once ready: tokens forgotten server-side and one drop; ``wait``: until logged in again."""

    wait: bool = False


@dataclass(frozen=True)
class SystemClose:
    """``system_close_after_login`` until one LOGIN was answered with SYSTEM and a close."""

    wait: bool = False


@dataclass(frozen=True)
class Settle:
    """Wait for every call in flight and every open fault window."""


Step = Sub | Unsub | Drop | FrameLimit | Refuse | TokenRefusal | SystemClose | Settle


def _codes(pool: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True).map(tuple)


# Market types with items, or account types with no item (the server keeps those item-less).
_ENTRIES = st.one_of(
    st.tuples(_codes(ITEMS), _codes(MARKET_TYPES)),
    st.tuples(st.just(()), _codes(ACCOUNT_TYPES)),
)
_SUB = st.builds(
    lambda entry, grp, refresh, wait: Sub(entry[0], entry[1], grp, refresh, wait),
    _ENTRIES,
    st.sampled_from(GROUPS),
    st.sampled_from((True, True, False)),
    st.booleans(),
)
_UNSUB = st.builds(
    lambda entry, grp, wait: Unsub(entry[0], entry[1], grp, wait),
    _ENTRIES,
    st.sampled_from(GROUPS),
    st.booleans(),
)
_REFUSED = st.sampled_from(
    [frozenset({"0B"}), frozenset({"0D"}), frozenset({"00"}), frozenset("*"), frozenset()]
)
# Two subscribes to one unsubscribe (one_of ignores a branch given twice, a mapped copy counts).
_CALL: st.SearchStrategy[Step] = st.one_of(_SUB, _SUB.map(lambda s: s), _UNSUB)
_FAULT: st.SearchStrategy[Step] = st.one_of(
    st.builds(Refuse, _REFUSED),
    st.builds(Drop, st.integers(1, 2), st.booleans()),
    st.builds(FrameLimit, st.integers(1, 3), st.integers(1, 2), st.booleans()),
    st.builds(TokenRefusal, st.booleans()),
    st.builds(SystemClose, st.booleans()),
    st.just(Settle()),
)
_STEP = st.one_of(_CALL, _FAULT)
# One or two subscriptions first, so that most schedules have a desired state to lose.
SCHEDULES = st.builds(
    lambda first, rest: first + rest,
    st.lists(_SUB, min_size=1, max_size=2),
    st.lists(_STEP, min_size=1, max_size=6),
)

# --- running one schedule ----------------------------------------------------------------


@dataclass
class Call:
    step: Sub | Unsub
    task: asyncio.Task[None] | None = None
    outcome: BaseException | None = None
    """The SubscriptionError or ConnectionClosedError it raised, if any."""


@dataclass
class Window:
    """An open fault: its knob stays on until the server counted ``target`` closes for
    ``reason``, and goes off in the same step, so no later connection meets it."""

    reason: str
    target: int
    off: Callable[[], None]
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class Tally(Counter[str]):
    """``WsStats.disconnects_by_reason`` that reports each close as the server counts it."""

    def __init__(self, counts: Counter[str], on_count: Callable[[str], None]) -> None:
        self.on_count = on_count
        super().__init__(counts)

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        self.on_count(key)


@dataclass
class Run:
    sim: Simulator
    rt: RealtimeSession
    calls: list[Call] = field(default_factory=list)
    desired: Groups = field(default_factory=dict)
    """The model: successful calls applied in the order they returned."""
    windows: dict[str, Window] = field(default_factory=dict)
    events: list[RealtimeEvent | LifecycleEvent] = field(default_factory=list)

    @property
    def ws(self) -> WsStats:
        return self.sim.ws_stats

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(seconds(STEP_TIMEOUT)):
                while not condition():  # noqa: ASYNC110
                    await asyncio.sleep(POLL)
        except TimeoutError:
            raise AssertionError(f"{what}: not within {STEP_TIMEOUT} s; {self.state()}") from None

    def state(self) -> str:
        ws = self.ws
        return (
            f"ready={self.rt.ready} session={self.rt.stats} server: "
            f"connections={ws.connections} logins={ws.logins} failures={ws.login_failures} "
            f"disconnects={dict(ws.disconnects_by_reason)} registrations={ws.registrations}"
        )

    # --- calls ---

    def start_call(self, step: Sub | Unsub) -> Call:
        call = Call(step)
        call.task = asyncio.get_running_loop().create_task(self._call(call))
        self.calls.append(call)
        return call

    async def _call(self, call: Call) -> None:
        rt, step = self.rt, call.step
        try:
            if isinstance(step, Sub):
                await rt.subscribe(step.items, step.types, grp_no=step.grp, refresh=step.refresh)
            else:
                await rt.unsubscribe(step.items, step.types, grp_no=step.grp)
        except (SubscriptionError, ConnectionClosedError) as error:
            call.outcome = error
            return
        # No await between the session's own update and this one: the model sees the calls
        # in the order the session applied them.
        pairs = {(item, type_code) for item in step.items or ("",) for type_code in step.types}
        if isinstance(step, Sub):
            group = self.desired.setdefault(step.grp, set())
            if not step.refresh:
                group.clear()
            group |= pairs
        else:
            group = self.desired.get(step.grp, set())
            group -= pairs
            if not group:
                self.desired.pop(step.grp, None)

    async def wait_calls(self) -> None:
        """Invariant 2: every call returns or raises one of the two errors it may raise."""
        tasks = [call.task for call in self.calls if call.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=seconds(STEP_TIMEOUT))
        hung = [call.step for call in self.calls if call.task is None or not call.task.done()]
        assert not hung, f"calls still pending after {STEP_TIMEOUT} s: {hung}; {self.state()}"
        for call in self.calls:
            assert call.task is not None
            error = call.task.exception()
            assert error is None, f"{call.step} raised {error!r}"

    # --- faults ---

    def open_window(
        self, reason: str, count: int, on: Callable[[], None], off: Callable[[], None]
    ) -> Window:
        """Switch a fault on until the server counted ``count`` more ``reason`` closes."""
        seen = self.ws.disconnects_by_reason[reason]
        window = self.windows.get(reason)
        if window is None or window.closed.is_set():
            window = Window(reason, seen, off)
            self.windows[reason] = window
        window.target = max(window.target, seen) + count
        on()
        return window

    def on_count(self, reason: str) -> None:
        window = self.windows.get(reason)
        if window is not None and self.ws.disconnects_by_reason[reason] >= window.target:
            window.off()
            window.closed.set()

    def drop(self, count: int) -> Window:
        config = self.sim.config

        def on() -> None:
            config.drop_every = 1e-9

        def off() -> None:
            config.drop_every = None

        return self.open_window("drop_every", count, on, off)

    def frame_limit(self, frames: int, count: int) -> Window:
        config = self.sim.config

        def on() -> None:
            config.drop_after_frames = frames

        def off() -> None:
            config.drop_after_frames = None

        return self.open_window("drop_after_frames", count, on, off)

    def system_close(self) -> Window:
        config = self.sim.config

        def on() -> None:
            config.system_close_after_login = True

        def off() -> None:
            config.system_close_after_login = False

        # A drop makes sure another LOGIN comes (the session may be past its LOGIN without
        # being ready yet); if one is on its way, it is closed and the one after it dropped.
        self.drop(1)
        return self.open_window("system_close", 1, on, off)

    async def token_refusal(self, wait: bool) -> None:
        # Ready: no LOGIN is in flight and no token is waiting to be used, so every LOGIN
        # from here on carries a dead token until the session fetched a new one.
        await self.until(lambda: self.rt.ready, "ready before the token refusal")
        logins = self.rt.stats.connections
        self.sim.invalidate_tokens()
        self.drop(1)
        if wait:
            await self.until(
                lambda: self.rt.ready and self.rt.stats.connections > logins, "login, new token"
            )

    async def wait_window(self, window: Window) -> None:
        try:
            async with asyncio.timeout(seconds(STEP_TIMEOUT)):
                await window.closed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{window.reason} x{window.target}: not within {STEP_TIMEOUT} s; {self.state()}"
            ) from None

    async def close_windows(self) -> None:
        for window in list(self.windows.values()):
            await self.wait_window(window)

    def faults_off(self) -> None:
        config = self.sim.config
        config.drop_every = None
        config.drop_after_frames = None
        config.reg_refuse_types = frozenset()
        config.system_close_after_login = False

    async def play(self, step: Step) -> None:
        if isinstance(step, Sub | Unsub):
            call = self.start_call(step)
            if step.wait:
                assert call.task is not None
                await asyncio.wait([call.task], timeout=seconds(STEP_TIMEOUT))
        elif isinstance(step, Refuse):
            self.sim.config.reg_refuse_types = step.types
        elif isinstance(step, TokenRefusal):
            await self.token_refusal(step.wait)
        elif isinstance(step, Settle):
            await self.close_windows()
            await self.wait_calls()
        else:
            logins = self.rt.stats.connections
            if isinstance(step, Drop):
                window = self.drop(step.count)
            elif isinstance(step, FrameLimit):
                window = self.frame_limit(step.frames, step.count)
            else:
                window = self.system_close()
            if step.wait:
                # Closed, and logged in (and resubscribed) again since it opened.
                await self.wait_window(window)
                await self.until(
                    lambda: self.rt.ready and self.rt.stats.connections > logins, "back up"
                )

    # --- checks ---

    async def drain(self) -> None:
        """Move the queued events into ``events``; a failed session raises its error here."""
        while True:
            try:
                async with asyncio.timeout(0.01):
                    self.events.append(await anext(self.rt))
            except TimeoutError:
                return

    async def settle(self) -> tuple[int, set[str]]:
        """Wait until the session is ready on one server connection; return that connection's
        id and the groups its resubscription reported as failed."""
        rt, ws = self.rt, self.ws
        # Invariant 4: a failed session raises its error here (and from drain()).
        await rt.wait_ready(timeout=seconds(STEP_TIMEOUT))
        await self.until(lambda: rt.ready and len(ws.registrations) == 1, "one live connection")
        await self.drain()
        (live,) = ws.registrations
        assert rt.ready and live in ws.registrations, f"dropped while settling; {self.state()}"
        self.check_lifecycle()
        last = max(i for i, e in enumerate(self.events) if isinstance(e, Connected))
        failed = {
            grp for e in self.events[last:] if isinstance(e, Resubscribed) for grp in e.failed
        }
        return live, failed

    def check_lifecycle(self) -> None:
        """Connected(1), Disconnected, Connected(2), ...: one Disconnected per lost login, and
        one Reconnecting per reconnect counted."""
        kinds = [e for e in self.events if isinstance(e, Connected | Disconnected)]
        logins = self.rt.stats.connections
        expected = [Connected, Disconnected] * (logins - 1) + [Connected]
        assert [type(e) for e in kinds] == expected, kinds
        numbers = [e.connection for e in kinds if isinstance(e, Connected)]
        assert numbers == list(range(1, logins + 1)), numbers
        reconnecting = [e for e in self.events if isinstance(e, Reconnecting)]
        assert len(reconnecting) == self.rt.stats.reconnects, reconnecting

    def check_registrations(self, live: int, failed: set[str]) -> None:
        """Invariant 1: the live connection holds the desired state, group by group."""
        server: Groups = {
            grp: {(item, type_code) for type_code, item in pairs}
            for grp, pairs in self.ws.registrations[live].items()
            if pairs
        }
        client: Groups = {
            grp: {(i, t) for items, types in entries for i in items for t in types}
            for grp, entries in self.rt.subscriptions.items()
        }
        assert client == self.desired, f"session state {client} != model {self.desired}"
        for grp in sorted(server.keys() | self.desired.keys()):
            held, wanted = server.get(grp, set()), self.desired.get(grp, set())
            if grp in failed:
                assert held <= wanted, f"group {grp}: server {held} not within {wanted}"
            else:
                assert held == wanted, (
                    f"group {grp}: server holds {sorted(held)}, desired {sorted(wanted)}; "
                    f"resubscribe failed for {sorted(failed)}; {self.state()}"
                )


_SERVER_CODE = (
    str(Path(kiwoom_async.testing.__file__).parent),
    str(Path(aiohttp.__file__).parent / "web_"),  # web_protocol.py, web_ws.py, ...
)


def _server_owned(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` belongs to the simulator (aiohttp's server side and its handlers)."""
    code = getattr(task.get_coro(), "cr_code", None)
    filename = getattr(code, "co_filename", "")
    return any(filename.startswith(prefix) for prefix in _SERVER_CODE)


async def check_schedule(schedule: list[Step], *, around_login: bool) -> Run:
    sim = Simulator(
        seed=3,
        tick_interval=0,  # no market data: the stream holds lifecycle events only
        ping_interval=seconds(0.02),  # frames for drop_after_frames to count on idle links
        ping_misses_allowed=1_000_000,
        system_frames_around_login=around_login,
    )
    async with sim:
        tokens = TokenManager(APPKEY, SECRETKEY, base_url=sim.base_url, issue_budget=None)
        rt = RealtimeSession(
            tokens,
            url=sim.ws_url,
            backoff=Backoff(initial=0.01, maximum=0.04, rng=random.Random(5)),
            stability_window=0.1,
            ack_timeout=seconds(60),  # longer than STEP_TIMEOUT: a lost answer shows as hung
            login_timeout=seconds(5),
            open_timeout=seconds(5),
        )
        run = Run(sim, rt)
        sim.ws_stats.disconnects_by_reason = Tally(sim.ws_stats.disconnects_by_reason, run.on_count)
        try:
            before = asyncio.all_tasks()
            await rt.start()
            try:
                for step in schedule:
                    await run.play(step)
                await run.close_windows()
                run.faults_off()
                await run.wait_calls()
                live, failed = await run.settle()
                run.check_registrations(live, failed)
                # One clean reconnect replays the whole desired state, failed groups included.
                await run.wait_window(run.drop(1))
                live, _ = await run.settle()
                run.check_registrations(live, set())
            finally:
                await rt.aclose()
            left = [t for t in asyncio.all_tasks() - before if not _server_owned(t)]
            assert not left, f"invariant 3: tasks left after aclose(): {left}"
        finally:
            for call in run.calls:
                if call.task is not None:
                    call.task.cancel()
            await tokens.aclose()
    return run


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(schedule=SCHEDULES, around_login=st.booleans())
@example(  # a refused REG, then a resubscription refused after a drop, then the heal
    schedule=[
        Sub(("005930",), ("0B",)),
        Sub((), ("00",), grp="2"),
        Refuse(frozenset({"0B"})),
        Sub(("000660",), ("0B", "0D")),
        Drop(1, wait=True),  # the resubscription of group 1 is refused
        Refuse(frozenset()),
        Sub(("035720",), ("0D",)),
    ],
    around_login=False,
)
@example(  # calls in flight across frame-limit drops, a token refusal and a SYSTEM close
    schedule=[
        Sub(("005930", "000660"), ("0B", "0D"), wait=False),
        FrameLimit(frames=2, count=2),
        Sub(("035720",), ("0B",), grp="2", wait=False),
        Unsub(("000660",), ("0D",), wait=False),
        TokenRefusal(),
        SystemClose(),
        Sub((), ("00", "04"), grp="2", refresh=False, wait=False),
        Settle(),
    ],
    around_login=True,
)
@example(  # calls sent right after each resubscription, on connections about to close
    schedule=[
        Sub(("005930",), ("0B",)),
        FrameLimit(frames=2, count=3),
        Sub(("000660",), ("0D",), wait=False),
        Unsub(("005930",), ("0B",), wait=False),
        Sub(("035720",), ("0B", "0D"), grp="2", wait=False),
        Settle(),
        Drop(2),
        Sub(("005930",), ("0D",), grp="2", refresh=False, wait=False),
    ],
    around_login=False,
)
def test_the_session_keeps_its_invariants_under_random_faults(
    schedule: list[Step], around_login: bool
) -> None:
    asyncio.run(check_schedule(schedule, around_login=around_login))
