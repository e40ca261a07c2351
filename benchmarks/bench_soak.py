"""Soak: a bot-shaped workload against the in-process simulator while a seeded schedule of
faults comes and goes. It checks correctness over minutes, not speed, and is not part of
``run_all.py`` (nor of its smoke mode, nor of CI).

Concurrently, for ``--seconds``:

- quotes: four workers poll 20 codes (ka10004 / ka10001) through ``kw.rest.call`` as fast as
  the client's limiter allows (client ``requests_per_second`` = the simulator's
  ``rate_limit``);
- realtime: one session with 0B for four codes and the account events 00/04; after every
  ``Resubscribed`` it re-reads the executions through REST (ka10076), as the README advises;
- orders: every ~0.5 s a market, resting-limit or marketable-limit buy/sell with a unique
  idempotency key (and a unique quantity, so that every order can be told apart on the
  server), or a cancel of a resting order. ``OrderStatusUnknownError`` goes to a reconciler
  task (``kw.order.reconcile``); an order the server provably refused is sent again under the
  same key; some acknowledged orders are repeated to check that the ledger answers them;
- faults: every few seconds one knob is turned on for a short while, then off: REST 500s,
  malformed bodies, latency spikes, a stall longer than the client timeout, answers dropped
  after orders, malformed WebSocket frames, forced WebSocket drops, token invalidation.

Then it turns the faults off, lets the feed drain, reconciles what is still unknown and
compares what the simulator did with what the client saw: fills pushed vs fill events
delivered, orders the client believes placed vs orders on the server, duplicates (must be 0),
and the process's RSS, task count and open file descriptors at start, end and after close.
Client and simulator share one process and one event loop, so those figures cover both.

Run: ``python benchmarks/bench_soak.py --seconds 600 --seed 1`` (``--seconds 20``: a quick
check). Results: benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from _common import APPKEY, SECRETKEY, rss_bytes, table, write_result

from kiwoom_async import (
    APIError,
    Backoff,
    ConnectionClosedError,
    Kiwoom,
    KiwoomError,
    OrderAck,
    OrderRejectedError,
    OrderStatusUnknownError,
    RealtimeSession,
    TokenBudgetError,
    TransportError,
)
from kiwoom_async.models.lifecycle import Resubscribed, SystemMessage
from kiwoom_async.models.realtime import OrderFill
from kiwoom_async.testing import OrderRecord, Simulator

CODES = [
    "005930",
    "000660",
    "035420",
    "035720",
    "005380",
    "051910",
    "006400",
    "068270",
    "207940",
    "373220",
    "069500",
    "000270",
    "105560",
    "055550",
    "012330",
    "028260",
    "066570",
    "003550",
    "096770",
    "017670",
]
WS_CODES = CODES[:4]
RATE = 20.0
"""The simulator's rate_limit and the client's requests_per_second."""
QUOTE_WORKERS = 4
CLIENT_TIMEOUT = 5.0
STALL_LATENCY = 6.0
"""Latency of the "stall" fault: longer than CLIENT_TIMEOUT, so requests time out."""
RELEASE_AFTER = 30.0
"""Seconds after the send when a complete search that finds nothing releases the key: far
longer than any server-side delay here (STALL_LATENCY), so the order is known not placed."""
PROBE_EVERY = 10.0
PROGRESS_EVERY = 60.0
MB = 1024 * 1024

FAULT_WEIGHTS: dict[str, int] = {
    "http500": 3,
    "malformed": 3,
    "latency": 3,
    "stall": 1,
    "drop_after_order": 2,
    "ws_malformed": 3,
    "ws_drop": 2,
    "ws_frames": 2,
    "token": 1,
}
WS_FAULTS = frozenset({"ws_malformed", "ws_drop", "ws_frames"})
"""Faults that may cost a pushed frame: a lost fill near one of them is explained."""


# --- records ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Probe:
    t: float
    rss_mb: float
    tasks: int
    fds: int


def probe(t: float) -> Probe:
    tasks = len(asyncio.all_tasks())
    return Probe(round(t, 1), rss_bytes() / MB, tasks, len(os.listdir("/proc/self/fd")))


@dataclass(slots=True)
class FaultWindow:
    name: str
    detail: str
    start: float
    end: float
    rate_limited: int = 0
    """Server rate-limit rejections from this window's start to the next one's."""


@dataclass(slots=True)
class Intent:
    """One order the bot means to place, under its own idempotency key."""

    key: str
    kind: str
    """market, rest (limit away from the market), cross (marketable limit) or cancel."""
    stk_cd: str
    side: str
    qty: int
    price: int
    """0 for market orders."""
    orig: str = ""
    """The order a cancel cancels."""
    outcome: str = "pending"
    ord_no: str = ""
    attempts: int = 0

    @property
    def trde_tp(self) -> str:
        return "3" if self.kind == "market" else "0"

    def fields(self) -> tuple[str, str, int, int, str]:
        return (self.stk_cd, self.side, self.qty, self.price, self.trde_tp)


@dataclass(slots=True)
class ServerFill:
    ord_no: int
    cum_qty: int
    at: float
    pushed: bool
    """Whether the simulator queued a 00 frame for it (an open connection had 00 registered)."""


class FillRecorder:
    """An order listener of the simulator, called right after the WebSocket side's: whether
    ``order_frames_sent`` moved during the event tells if a 00 frame went out for it."""

    def __init__(self, sim: Simulator, clock: Callable[[], float]) -> None:
        self._ws = sim.ws_stats
        self._clock = clock
        self._mark = self._ws.order_frames_sent
        self.fills: list[ServerFill] = []

    def __call__(self, order: OrderRecord, event: str) -> None:
        sent = self._ws.order_frames_sent
        pushed, self._mark = sent > self._mark, sent
        if event == "filled":
            self.fills.append(
                ServerFill(int(order.ord_no), order.filled_qty, self._clock(), pushed)
            )


@dataclass
class Feed:
    """What the realtime consumer saw."""

    events: Counter[str] = field(default_factory=Counter)
    fills: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(order number, cumulative filled qty) of each 00 fill event delivered."""
    fill_nos: Counter[int] = field(default_factory=Counter)
    view: dict[int, int] = field(default_factory=dict)
    """Order number -> filled qty the bot knows of (from 00 events or the REST catch-up)."""
    sessions: list[RealtimeSession] = field(default_factory=list)
    session_ends: list[str] = field(default_factory=list)
    catchup: asyncio.Task[int] | None = None
    catchup_again: bool = False
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)


class CountingHandler(logging.Handler):
    """Counts WARNING+ log records by logger and message template; keeps a few samples."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}: {str(record.msg)[:70]}"
        self.counts[key] += 1
        if key not in self.samples and len(self.samples) < 60:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
            self.samples[key] = text[:300]


# --- faults ------------------------------------------------------------------------------------


def apply_fault(sim: Simulator, name: str, rng: random.Random) -> str:
    config = sim.config
    if name == "http500":
        config.http500_rate = round(rng.uniform(0.1, 0.4), 2)
        return f"http500_rate={config.http500_rate}"
    if name == "malformed":
        config.malformed_rate = round(rng.uniform(0.1, 0.4), 2)
        return f"malformed_rate={config.malformed_rate}"
    if name == "latency":
        config.latency = round(rng.uniform(0.2, 1.5), 2)
        return f"latency={config.latency}"
    if name == "stall":
        config.latency = STALL_LATENCY
        return f"latency={STALL_LATENCY}"
    if name == "drop_after_order":
        config.drop_after_order = True
        return "drop_after_order=True"
    if name == "ws_malformed":
        config.ws_malformed_rate = round(rng.uniform(0.05, 0.3), 2)
        return f"ws_malformed_rate={config.ws_malformed_rate}"
    if name == "ws_drop":
        config.drop_every = round(rng.uniform(0.5, 2.0), 2)
        return f"drop_every={config.drop_every}"
    if name == "ws_frames":
        config.drop_after_frames = rng.randint(20, 200)
        return f"drop_after_frames={config.drop_after_frames}"
    if name == "token":
        sim.invalidate_tokens()
        return "invalidate_tokens()"
    raise ValueError(f"unknown fault {name}")


def clear_faults(sim: Simulator) -> None:
    config = sim.config
    config.http500_rate = 0.0
    config.malformed_rate = 0.0
    config.latency = 0.0
    config.drop_after_order = False
    config.ws_malformed_rate = 0.0
    config.drop_every = None
    config.drop_after_frames = None


# --- helpers -----------------------------------------------------------------------------------


async def sleep_unless(event: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``event`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def finish(tasks: Iterable[asyncio.Task[Any]], timeout: float) -> list[str]:
    """Wait for ``tasks``, cancel what is left after ``timeout``; describe what went wrong."""
    tasks = list(tasks)
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    problems = [f"{task.get_name()}: still running after {timeout:g} s" for task in pending]
    for task in tasks:
        if task in pending or task.cancelled() or task.exception() is None:
            continue
        exc = task.exception()
        assert exc is not None
        traceback.print_exception(exc, file=sys.stderr)
        problems.append(f"{task.get_name()}: {type(exc).__name__}: {exc}")
    return problems


def order_fields(order: OrderRecord) -> tuple[str, str, int, int, str]:
    return (order.stk_cd, order.side, order.qty, order.price, order.trde_tp)


async def bounded(coro: Awaitable[Any], timeout: float, what: str, problems: list[str]) -> Any:
    """Await ``coro`` for at most ``timeout`` seconds; a timeout is recorded, not raised."""
    try:
        async with asyncio.timeout(timeout):
            return await coro
    except TimeoutError:
        problems.append(f"{what}: not done after {timeout:g} s")
        return None


def parse_price(value: object) -> int | None:
    text = str(value or "").strip().lstrip("+-")
    return int(text) if text.isdigit() and int(text) > 0 else None


def tick_size(price: int) -> int:
    """KRX tick size, for limit prices a real server would take."""
    for ceiling, step in ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100)):
        if price < ceiling:
            return step
    return 500 if price < 500_000 else 1_000


def on_tick(price: float, *, up: bool) -> int:
    step = tick_size(int(price))
    ticks = int(price) // step + (1 if up and int(price) % step else 0)
    return max(step, ticks * step)


# --- the bot -----------------------------------------------------------------------------------


class Soak:
    def __init__(self, sim: Simulator, kw: Kiwoom, seed: int) -> None:
        self.sim = sim
        self.kw = kw
        self.seed = seed
        self.t0 = time.monotonic()
        self.fault_rng = random.Random(f"faults:{seed}")
        self.order_rng = random.Random(f"orders:{seed}")
        self.stop_load = asyncio.Event()
        self.stop_feed = asyncio.Event()
        self.counts: Counter[str] = Counter()
        self.intents: dict[str, Intent] = {}
        self.unresolved: dict[str, OrderStatusUnknownError] = {}
        self.resting: deque[Intent] = deque()
        self.prices: dict[str, int] = {}
        self.feed = Feed()
        self.timeline: list[FaultWindow] = []
        self.samples: list[Probe] = []
        self.problems: list[str] = []
        self.recorder = FillRecorder(sim, self.now)
        self._seq = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    # --- (a) quotes ---

    async def quote_worker(self, index: int) -> None:
        i = index
        while not self.stop_load.is_set():
            code = CODES[i % len(CODES)]
            api_id = "ka10001" if (i // len(CODES)) % 2 else "ka10004"
            i += QUOTE_WORKERS
            try:
                response = await self.kw.rest.call(api_id, {"stk_cd": code})
            except KiwoomError as exc:
                self.counts[f"quote.err.{type(exc).__name__}"] += 1
                continue
            self.counts["quote.ok"] += 1
            price = parse_price(response.body.get("cur_prc"))
            if price is not None:
                self.prices[code] = price

    # --- (b) realtime ---

    async def realtime_loop(self) -> None:
        while not self.stop_feed.is_set():
            session = self.kw.realtime(
                backoff=Backoff(initial=0.2, maximum=3.0), stability_window=5.0
            )
            try:
                async with session as rt:
                    self.feed.sessions.append(rt)
                    await self._subscribe(rt)
                    await self._consume(rt)
            except KiwoomError as exc:
                self.feed.session_ends.append(f"{self.now():.1f} s: {type(exc).__name__}: {exc}")
                await sleep_unless(self.stop_feed, 1.0)
            else:
                if not self.stop_feed.is_set():
                    self.feed.session_ends.append(f"{self.now():.1f} s: stream ended")

    async def _subscribe(self, rt: RealtimeSession) -> None:
        for grp_no, items, types in (("1", WS_CODES, ["0B"]), ("2", [], ["00", "04"])):
            while True:
                try:
                    await rt.subscribe(items, types, grp_no=grp_no)
                    break
                except ConnectionClosedError:
                    self.counts["rt.subscribe_retry"] += 1
                    await asyncio.sleep(0.5)
        self.feed.subscribed.set()

    async def _consume(self, rt: RealtimeSession) -> None:
        feed = self.feed
        async for event in rt:
            feed.events[event.type] += 1
            if isinstance(event, OrderFill):
                self._on_order_event(event)
            elif isinstance(event, Resubscribed):
                if event.failed:
                    self.counts["rt.resubscribe_failed_groups"] += len(event.failed)
                self._catch_up_soon()
            elif isinstance(event, SystemMessage):
                self.counts[f"rt.system.{event.code}"] += 1
            if self.stop_feed.is_set():
                return

    def _on_order_event(self, event: OrderFill) -> None:
        feed = self.feed
        feed.events[f"00 {event.order_status}"] += 1
        if event.fill_no is None or event.order_no is None:
            return
        cum = event.fill_qty or 0
        feed.fills[(event.order_no, cum)] += 1
        feed.fill_nos[event.fill_no] += 1
        feed.view[event.order_no] = max(feed.view.get(event.order_no, 0), cum)

    def _catch_up_soon(self) -> None:
        feed = self.feed
        if feed.catchup is not None and not feed.catchup.done():
            feed.catchup_again = True
            return
        feed.catchup = asyncio.create_task(self.catch_up(max_pages=2), name="catch-up")

    async def catch_up(self, *, max_pages: int | None) -> int:
        """Re-read the executions (ka10076, newest first); how many orders' fill state it
        advanced beyond what the 00 events had said."""
        advanced = 0
        while True:
            self.feed.catchup_again = False
            self.counts["catchup.runs"] += 1
            try:
                async for page in self.kw.account.filled_orders(max_pages=max_pages):
                    for row in page.cntr:
                        if row.ord_no.isdigit() and row.cntr_qty:
                            number, view = int(row.ord_no), self.feed.view
                            if row.cntr_qty > view.get(number, 0):
                                view[number] = row.cntr_qty
                                advanced += 1
            except KiwoomError as exc:
                self.counts[f"catchup.err.{type(exc).__name__}"] += 1
            if not self.feed.catchup_again:
                self.counts["catchup.advanced"] += advanced
                return advanced

    # --- (c) orders ---

    async def order_loop(self) -> None:
        while not self.stop_load.is_set():
            await sleep_unless(self.stop_load, self.order_rng.uniform(0.3, 0.7))
            if self.stop_load.is_set():
                return
            intent = self._next_intent()
            self.intents[intent.key] = intent
            await self.place(intent)

    def _next_intent(self) -> Intent:
        rng = self.order_rng
        self._seq += 1
        key = f"soak-{self.seed}-{self._seq}"
        roll = rng.random()
        if roll < 0.2 and self.resting:
            target = self.resting.popleft()
            return Intent(key, "cancel", target.stk_cd, target.side, 0, 0, orig=target.ord_no)
        code = rng.choice(CODES)
        side = rng.choice(("buy", "sell"))
        market = self.prices.get(code)
        # The quantity is the sequence number: no two orders share their fields.
        if roll < 0.6 or market is None:
            return Intent(key, "market", code, side, self._seq, 0)
        if roll < 0.85:  # away from the market: rests until cancelled (or crossed by a tick)
            price = on_tick(market * (0.97 if side == "buy" else 1.03), up=side == "sell")
            return Intent(key, "rest", code, side, self._seq, price)
        price = on_tick(market * (1.02 if side == "buy" else 0.98), up=side == "buy")
        return Intent(key, "cross", code, side, self._seq, price)

    async def _send(self, intent: Intent) -> OrderAck:
        order = self.kw.order
        if intent.kind == "cancel":
            return await order.cancel(intent.orig, intent.stk_cd, idempotency_key=intent.key)
        place = order.buy if intent.side == "buy" else order.sell
        return await place(
            intent.stk_cd,
            qty=intent.qty,
            price=intent.price or None,
            trde_tp="3" if intent.kind == "market" else "0",
            idempotency_key=intent.key,
        )

    async def place(self, intent: Intent) -> None:
        for _ in range(2):  # a provably refused order may go again under the same key
            intent.attempts += 1
            self.counts["order.sends"] += 1
            try:
                ack = await self._send(intent)
            except OrderStatusUnknownError as lost:
                intent.outcome = "unknown"
                self.unresolved[intent.key] = lost
                self.counts[f"order.unknown.{lost.cause.split(':')[0][:40]}"] += 1
                return
            except OrderRejectedError:
                intent.outcome = "rejected"  # a business refusal: cancel of a filled order...
                self.counts[f"order.rejected.{intent.kind}"] += 1
                return
            except (APIError, TransportError, TokenBudgetError) as exc:
                intent.outcome = "refused"  # the server placed nothing
                self.counts[f"order.refused.{type(exc).__name__}"] += 1
                continue
            except KiwoomError as exc:  # IdempotencyError and the like: must not happen
                intent.outcome = f"error:{type(exc).__name__}"
                self.counts[f"order.error.{type(exc).__name__}"] += 1
                self.problems.append(f"order {intent.key}: {type(exc).__name__}: {exc}")
                return
            self._placed(intent, ack.ord_no, "acked")
            if ack.replayed:
                self.problems.append(f"order {intent.key}: first ack came from the ledger")
            if self.order_rng.random() < 0.1:
                await self._replay_check(intent)
            return

    def _placed(self, intent: Intent, ord_no: str, how: str) -> None:
        intent.outcome, intent.ord_no = how, ord_no
        self.counts[f"order.{how}.{'cancel' if intent.kind == 'cancel' else 'new'}"] += 1
        if intent.kind == "rest":  # a cross order fills at once: nothing left to cancel
            self.resting.append(intent)

    async def _replay_check(self, intent: Intent) -> None:
        """The same key and order again: the ledger must answer, with the same number."""
        self.counts["replay.checks"] += 1
        try:
            ack = await self._send(intent)
        except KiwoomError as exc:
            self.counts[f"replay.err.{type(exc).__name__}"] += 1
            self.problems.append(f"replay of {intent.key}: {type(exc).__name__}: {exc}")
            return
        if not ack.replayed or ack.ord_no != intent.ord_no:
            self.counts["replay.bad"] += 1
            self.problems.append(
                f"replay of {intent.key}: replayed={ack.replayed} ord_no {ack.ord_no} "
                f"(first {intent.ord_no})"
            )

    async def reconciler(self) -> None:
        while not self.stop_load.is_set():
            await sleep_unless(self.stop_load, 2.0)
            await self.reconcile_pending(final=False)

    async def reconcile_pending(self, *, final: bool) -> None:
        for key, lost in list(self.unresolved.items()):
            intent = self.intents[key]
            try:
                found = await self.kw.order.reconcile(lost)
            except KiwoomError as exc:
                self.counts[f"reconcile.err.{type(exc).__name__}"] += 1
                continue
            self.counts["reconcile.runs"] += 1
            if found.ord_no is not None and found.complete:
                del self.unresolved[key]
                self._placed(intent, found.ord_no, "reconciled")
                if self.order_rng.random() < 0.5:
                    await self._replay_check(intent)
            elif found.ambiguous:
                self.counts["reconcile.ambiguous"] += 1
            elif not found.complete:
                self.counts["reconcile.incomplete"] += 1
            elif time.time() - (lost.sent_at or time.time()) >= RELEASE_AFTER:
                await self._release(intent, resend=not final)
            elif final:
                intent.outcome = "not_found"  # too young to release: left unknown
                del self.unresolved[key]
                self.counts["reconcile.not_found_final"] += 1
            else:
                self.counts["reconcile.not_found_yet"] += 1

    async def _release(self, intent: Intent, *, resend: bool) -> None:
        """Nothing found, long after the send: free the key and (during the load) send the
        order again under it, as a bot would; a wrong release would show as a duplicate."""
        try:
            found = await self.kw.order.reconcile(intent.key, release_if_missing=True)
        except KiwoomError as exc:
            self.counts[f"reconcile.err.{type(exc).__name__}"] += 1
            return
        if found.found or not found.complete:
            return  # it turned up after all (or the search was cut short): next pass decides
        entry = self.kw.order.ledger.get(intent.key)
        if entry is None or entry.state != "released":
            self.problems.append(f"release of {intent.key}: ledger state {entry and entry.state}")
        intent.outcome = "released"
        del self.unresolved[intent.key]
        self.counts["reconcile.released"] += 1
        if resend:
            self.counts["order.resent_after_release"] += 1
            await self.place(intent)

    # --- faults and probes ---

    async def fault_loop(self) -> None:
        names, weights = list(FAULT_WEIGHTS), list(FAULT_WEIGHTS.values())
        rng, stats = self.fault_rng, self.sim.stats
        mark = stats.rate_limit_rejections
        try:
            while True:
                await sleep_unless(self.stop_load, rng.uniform(1.0, 4.0))
                if self.stop_load.is_set():
                    return
                if self.timeline:
                    self.timeline[-1].rate_limited = stats.rate_limit_rejections - mark
                    mark = stats.rate_limit_rejections
                name = rng.choices(names, weights)[0]
                window = FaultWindow(name, apply_fault(self.sim, name, rng), self.now(), 0.0)
                self.timeline.append(window)
                if name != "token":
                    await sleep_unless(self.stop_load, rng.uniform(1.0, 4.0))
                clear_faults(self.sim)
                window.end = self.now()
        finally:
            clear_faults(self.sim)
            if self.timeline:
                self.timeline[-1].rate_limited = stats.rate_limit_rejections - mark

    async def sampler(self) -> None:
        next_report = PROGRESS_EVERY
        while not self.stop_load.is_set():
            await sleep_unless(self.stop_load, PROBE_EVERY)
            sample = probe(self.now())
            self.samples.append(sample)
            if sample.t >= next_report:
                next_report += PROGRESS_EVERY
                print(self._progress(sample), flush=True)

    def _progress(self, sample: Probe) -> str:
        reconnects = sum(rt.stats.reconnects for rt in self.feed.sessions)
        return (
            f"[{sample.t:5.0f} s] quotes {self.counts['quote.ok']:,} · orders "
            f"{len(self.intents):,} ({len(self.unresolved)} unresolved) · faults "
            f"{len(self.timeline)} · fills {len(self.recorder.fills):,} · reconnects "
            f"{reconnects} · RSS {sample.rss_mb:.1f} MB · tasks {sample.tasks} · fds {sample.fds}"
        )

    # --- the run ---

    async def run(self, seconds: float) -> dict[str, Any]:
        feed_task = asyncio.create_task(self.realtime_loop(), name="realtime")
        await asyncio.wait_for(self.feed.subscribed.wait(), 15.0)
        start = probe(self.now())
        load = [
            asyncio.create_task(self.quote_worker(i), name=f"quotes-{i}")
            for i in range(QUOTE_WORKERS)
        ]
        jobs = {
            "orders": self.order_loop(),
            "reconciler": self.reconciler(),
            "faults": self.fault_loop(),
            "sampler": self.sampler(),
        }
        load += [asyncio.create_task(coro, name=name) for name, coro in jobs.items()]
        await asyncio.sleep(seconds)
        self.stop_load.set()
        load_end = self.now()
        self.problems += await finish(load, 3 * CLIENT_TIMEOUT * 4)
        # Drain: no faults, no new fills; what is on its way reaches the consumer.
        clear_faults(self.sim)
        self.sim.config.fill_orders = False
        await asyncio.sleep(3.0)
        await bounded(self.reconcile_pending(final=True), 60.0, "final reconcile", self.problems)
        stale = self.stale_orders()
        self.stop_feed.set()
        self.problems += await finish([feed_task], 10.0)
        if self.feed.catchup is not None:
            self.problems += await finish([self.feed.catchup], 30.0)
        final_catchup = await bounded(
            self.catch_up(max_pages=None), 60.0, "final catch-up", self.problems
        )
        end = probe(self.now())
        report = self.summarize(seconds, load_end)
        report["fills"] |= {
            "stale_before_final_catchup": stale,
            "advanced_by_final_catchup": final_catchup,
            "stale_after_final_catchup": self.stale_orders(),
        }
        report["probes"] = {"start": asdict(start), "end": asdict(end)}
        report["samples"] = [asdict(s) for s in self.samples]
        return report

    def stale_orders(self) -> int:
        """Orders whose filled quantity on the server is more than the bot knows of."""
        server: dict[int, int] = {}
        for fill in self.recorder.fills:
            server[fill.ord_no] = max(server.get(fill.ord_no, 0), fill.cum_qty)
        return sum(1 for number, qty in server.items() if self.feed.view.get(number, 0) < qty)

    # --- the figures ---

    def summarize(self, seconds: float, load_end: float) -> dict[str, Any]:
        faults = Counter(w.name for w in self.timeline)
        rate_limited: Counter[str] = Counter()
        for window in self.timeline:
            rate_limited[window.name] += window.rate_limited
        return {
            "seconds": seconds,
            "load_seconds": round(load_end, 1),
            "fills": self.fill_report(),
            "orders": self.order_report(),
            "realtime": self.realtime_report(),
            "rest": self.rest_report(seconds),
            "faults": {
                "applied": dict(faults),
                "rate_limited_after": {k: n for k, n in rate_limited.items() if n},
                "timeline": [asdict(w) for w in self.timeline],
            },
            "counts": dict(sorted(self.counts.items())),
            "problems": list(self.problems),
        }

    def _ws_fault_at(self, t: float) -> str | None:
        """The WebSocket fault active around ``t`` (0.5 s before to 2 s after), if any."""
        for w in self.timeline:
            if w.name in WS_FAULTS and w.start - 0.5 <= t <= (w.end or t) + 2.0:
                return w.name
        return None

    def fill_report(self) -> dict[str, Any]:
        server = self.recorder.fills
        pushed = [f for f in server if f.pushed]
        delivered = self.feed.fills
        known = {(f.ord_no, f.cum_qty) for f in server}
        lost = [f for f in pushed if (f.ord_no, f.cum_qty) not in delivered]
        unexplained = [f for f in lost if self._ws_fault_at(f.at) is None]
        lost_by_fault = Counter(self._ws_fault_at(f.at) or "none" for f in lost)
        return {
            "server_fills": len(server),
            "pushed": len(pushed),
            "not_pushed": len(server) - len(pushed),
            "delivered": len(delivered),
            "delivered_fill_numbers": len(self.feed.fill_nos),
            "lost": len(lost),
            "lost_near_ws_faults": len(lost) - len(unexplained),
            "lost_by_fault": dict(lost_by_fault),
            "lost_unexplained": [asdict(f) for f in unexplained],
            "phantom": sorted(k for k in delivered if k not in known),
            "duplicate_events": sum(n - 1 for n in delivered.values() if n > 1),
            "duplicate_fill_numbers": sum(n - 1 for n in self.feed.fill_nos.values() if n > 1),
            "orders_with_fills": len({f.ord_no for f in server}),
            "orders_with_fill_events": len({number for number, _ in delivered}),
        }

    def order_report(self) -> dict[str, Any]:
        mine = [o for o in self.sim.orders if o.appkey == APPKEY]
        new = [o for o in mine if o.action == "new"]
        cancels = [o for o in mine if o.action == "cancel"]
        intents = [i for i in self.intents.values() if i.kind != "cancel"]
        by_fields = {i.fields(): i for i in intents}
        server_fields = Counter(order_fields(o) for o in new)
        per_orig = Counter(o.orig_ord_no for o in cancels)
        known = {i.ord_no for i in intents if i.ord_no}
        on_server = {o.ord_no: o for o in new}
        wrong = [
            i.key
            for i in intents
            if i.ord_no in on_server and order_fields(on_server[i.ord_no]) != i.fields()
        ]
        unknown_to_client = []
        for o in new:
            if o.ord_no not in known:
                intent = by_fields.get(order_fields(o))
                what = f"{intent.key}: {intent.outcome}" if intent else "no intent"
                unknown_to_client.append(f"{o.ord_no} ({what})")
        cancel_intents = [i for i in self.intents.values() if i.kind == "cancel"]
        return {
            "intents_new": len(intents),
            "intents_cancel": len(cancel_intents),
            "outcomes_new": dict(Counter(i.outcome for i in intents)),
            "outcomes_cancel": dict(Counter(i.outcome for i in cancel_intents)),
            "client_placed_new": len(known),
            "client_acked_new": sum(1 for i in intents if i.outcome == "acked"),
            "client_reconciled_new": sum(1 for i in intents if i.outcome == "reconciled"),
            "server_new": len(new),
            "client_placed_cancel": sum(1 for i in cancel_intents if i.ord_no),
            "server_cancel": len(cancels),
            "duplicates_new": sum(n - 1 for n in server_fields.values() if n > 1),
            "duplicates_cancel": sum(n - 1 for n in per_orig.values() if n > 1),
            "server_orders_without_intent": sum(1 for k in server_fields if k not in by_fields),
            "on_server_unknown_to_client": unknown_to_client,
            "client_placed_not_on_server": sorted(known - set(on_server)),
            "reconciled_to_wrong_order": wrong,
            "still_unresolved": sorted(self.unresolved),
        }

    def realtime_report(self) -> dict[str, Any]:
        sessions = [rt.stats for rt in self.feed.sessions]
        ws = self.sim.ws_stats
        return {
            "sessions": len(sessions),
            "session_ends": list(self.feed.session_ends),
            "connections": sum(s.connections for s in sessions),
            "reconnects": sum(s.reconnects for s in sessions),
            "frames": sum(s.frames for s in sessions),
            "events": sum(s.events for s in sessions),
            "malformed_counted": sum(s.malformed for s in sessions),
            "malformed_sent": ws.malformed_sent,
            "pings": sum(s.pings for s in sessions),
            "resubscribe_failures": sum(s.resubscribe_failures for s in sessions),
            "queue_dropped": sum(s.queue.dropped for s in sessions),
            "events_by_type": dict(sorted(self.feed.events.items())),
            "server_connections": ws.connections,
            "server_logins": ws.logins,
            "server_login_failures": ws.login_failures,
            "server_disconnects": dict(ws.disconnects_by_reason),
            "server_order_frames": ws.order_frames_sent,
            "server_balance_frames": ws.balance_frames_sent,
        }

    def rest_report(self, seconds: float) -> dict[str, Any]:
        stats = self.sim.stats
        requests = sum(stats.requests_by_api_id.values())
        return {
            "quotes_ok": self.counts["quote.ok"],
            "quote_errors": {
                k.removeprefix("quote.err."): n
                for k, n in self.counts.items()
                if k.startswith("quote.err.")
            },
            "server_requests": requests,
            "server_requests_per_s": requests / seconds,
            "rate_limit_rejections": stats.rate_limit_rejections,
            "http500s": stats.http500s,
            "malformed_bodies": stats.malformed_bodies,
            "dropped_after_order": stats.dropped_connections,
            "token_issues": stats.token_issues,
            "tokens_obtained_by_client": self.kw.tokens.issued,
            "token_invalidations": sum(1 for w in self.timeline if w.name == "token"),
        }


# --- output ------------------------------------------------------------------------------------


def resource_table(probes: dict[str, dict[str, float]]) -> str:
    columns = ["before", "start", "end", "after close"]
    keys = ["before", "start", "end", "after_close"]
    rows: list[list[object]] = [
        ["RSS MB", *(probes[k]["rss_mb"] for k in keys)],
        ["asyncio tasks", *(int(probes[k]["tasks"]) for k in keys)],
        ["open fds", *(int(probes[k]["fds"]) for k in keys)],
    ]
    return table("Process (client and simulator share it)", ["", *columns], rows)


def order_rows(r: dict[str, Any]) -> list[list[object]]:
    o = r["orders"]
    return [
        [
            "duplicate orders (one key, >1 server order)",
            o["duplicates_new"] + o["duplicates_cancel"],
            "must be 0",
        ],
        [
            "new orders: client placed / on server",
            f"{o['client_placed_new']} / {o['server_new']}",
            f"acked {o['client_acked_new']}, reconciled {o['client_reconciled_new']}",
        ],
        [
            "cancels: client placed / on server",
            f"{o['client_placed_cancel']} / {o['server_cancel']}",
            "",
        ],
        ["on server, unknown to client", len(o["on_server_unknown_to_client"]), "expect 0"],
        ["client placed, not on server", len(o["client_placed_not_on_server"]), "must be 0"],
        ["reconciled to the wrong order", len(o["reconciled_to_wrong_order"]), "must be 0"],
        ["server orders matching no intent", o["server_orders_without_intent"], "must be 0"],
    ]


def feed_rows(r: dict[str, Any]) -> list[list[object]]:
    f, rt, rest = r["fills"], r["realtime"], r["rest"]
    return [
        [
            "fills: server / pushed / delivered",
            f"{f['server_fills']} / {f['pushed']} / {f['delivered']}",
            f"{f['not_pushed']} not pushed (no 00 registration open)",
        ],
        ["fills lost after push", f["lost"], f"near WS faults: {f['lost_by_fault'] or 0}"],
        ["fills lost, unexplained", len(f["lost_unexplained"]), "expect 0"],
        [
            "fill events: phantom / duplicate",
            f"{len(f['phantom'])} / {f['duplicate_events']}",
            "must be 0 / 0",
        ],
        [
            "orders with fills: server / seen in 00",
            f"{f['orders_with_fills']} / {f['orders_with_fill_events']}",
            "",
        ],
        [
            "stale fill state before / after final ka10076",
            f"{f['stale_before_final_catchup']} / {f['stale_after_final_catchup']}",
            "after must be 0",
        ],
        [
            "malformed WS frames: sent / counted",
            f"{rt['malformed_sent']} / {rt['malformed_counted']}",
            "rt.stats.malformed",
        ],
        [
            "realtime: sessions / reconnects / logins",
            f"{rt['sessions']} / {rt['reconnects']} / {rt['server_logins']}",
            f"{len(rt['session_ends'])} session ends",
        ],
        [
            "REST: quotes ok / server req/s",
            f"{rest['quotes_ok']} / {rest['server_requests_per_s']:.1f}",
            f"rate-limit rejections {rest['rate_limit_rejections']}",
        ],
        [
            "tokens: issued / invalidations",
            f"{rest['token_issues']} / {rest['token_invalidations']}",
            f"client obtained {rest['tokens_obtained_by_client']}",
        ],
        ["problems (crashes, bad replays...)", len(r["problems"]), "expect 0"],
    ]


def failures(r: dict[str, Any]) -> list[str]:
    """Hard failures: what a correct client must never show."""
    f, o, p = r["fills"], r["orders"], r["probes"]
    checks = {
        "duplicate orders": o["duplicates_new"] + o["duplicates_cancel"],
        "orders on the server the client does not know": len(o["on_server_unknown_to_client"]),
        "orders the client placed that the server lacks": len(o["client_placed_not_on_server"]),
        "wrong reconciliations": len(o["reconciled_to_wrong_order"]),
        "phantom fill events": len(f["phantom"]),
        "duplicate fill events": f["duplicate_events"],
        "unexplained lost fills": len(f["lost_unexplained"]),
        "stale fills after the final catch-up": f["stale_after_final_catchup"],
        "tasks left after close": int(p["after_close"]["tasks"]) - 1,
        "fds leaked after close": int(p["after_close"]["fds"]) - int(p["before"]["fds"]),
        "problems": len(r["problems"]),
    }
    return [f"{name}: {n}" for name, n in checks.items() if n > 0]


def render(r: dict[str, Any], log_counts: Counter[str]) -> None:
    print()
    print(resource_table(r["probes"]))
    print()
    title = f"Soak checks ({r['seconds']:g} s, seed {r['seed']})"
    print(table(title, ["check", "value", "note"], order_rows(r) + feed_rows(r)))
    faults = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"]["applied"].items()))
    print(f"\nfaults applied: {faults}")
    print(
        f"server rate-limit rejections by the fault window they fell in (or after): "
        f"{r['faults']['rate_limited_after']}"
    )
    orders = r["orders"]
    print(f"order outcomes: new {orders['outcomes_new']}, cancel {orders['outcomes_cancel']}")
    print(f"server disconnects: {r['realtime']['server_disconnects']}")
    for end in r["realtime"]["session_ends"]:
        print(f"session ended: {end}")
    for problem in r["problems"][:20]:
        print(f"problem: {problem}")
    for line, n in log_counts.most_common(12):
        print(f"log x{n}: {line}")


# --- main --------------------------------------------------------------------------------------


async def soak(seconds: float, seed: int) -> dict[str, Any]:
    """The whole run, bounded in time (no extra task, so that "after close" counts one)."""
    async with asyncio.timeout(seconds + 300):
        return await _soak(seconds, seed)


async def _soak(seconds: float, seed: int) -> dict[str, Any]:
    before = probe(0.0)
    sim = Simulator(
        seed=seed,
        rate_limit=RATE,
        partial_fills=True,
        ping_interval=5.0,
        holdings=dict.fromkeys(CODES, 1_000_000),  # sells need shares held
    )
    async with sim:
        kw = Kiwoom(
            APPKEY,
            SECRETKEY,
            base_url=sim.base_url,
            ws_url=sim.ws_url,
            requests_per_second=RATE,
            timeout=CLIENT_TIMEOUT,
        )
        async with kw:
            bot = Soak(sim, kw, seed)
            remove = sim.state.add_order_listener(bot.recorder)
            try:
                report = await bot.run(seconds)
            finally:
                remove()
    await asyncio.sleep(0.1)  # let closed transports run their last callbacks
    report["probes"] |= {"before": asdict(before), "after_close": asdict(probe(0.0))}
    report["seed"] = seed
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600.0, help="load duration (default 600)")
    p.add_argument("--seed", type=int, default=1, help="seeds the faults, orders and simulator")
    args = p.parse_args()
    handler = CountingHandler()
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    print(f"soak: {args.seconds:g} s, seed {args.seed}, 127.0.0.1 simulator in process", flush=True)
    started = time.monotonic()
    report = asyncio.run(soak(args.seconds, args.seed))
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["log_counts"] = dict(handler.counts.most_common())
    report["log_samples"] = handler.samples
    bad = failures(report)
    report["failures"] = bad
    render(report, handler.counts)
    path = write_result("soak", {"params": vars(args), **report})
    print(f"\nwrote {path}")
    for line in bad:
        print(f"FAIL {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
