from __future__ import annotations

import asyncio

import pytest

from kiwoom_async import EventQueueOverflowError
from kiwoom_async._queue import EventQueue


def tick(n: int, item: str = "005930") -> tuple[str, str, int]:
    return ("0B", item, n)


async def drain(queue: EventQueue[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [await queue.get() for _ in range(len(queue))]


async def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(3, "drop_oldest", priority_maxsize=10)
    for n in range(5):
        queue.put_market(tick(n), ("0B", "005930"))
    assert [e[2] for e in await drain(queue)] == [2, 3, 4]
    assert queue.stats.dropped_oldest == 2 and queue.stats.dropped == 2


async def test_drop_newest_keeps_the_oldest_and_counts() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(3, "drop_newest", priority_maxsize=10)
    for n in range(5):
        queue.put_market(tick(n), ("0B", "005930"))
    assert [e[2] for e in await drain(queue)] == [0, 1, 2]
    assert queue.stats.dropped_newest == 2


async def test_latest_keeps_one_event_per_type_and_item() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(2, "latest", priority_maxsize=10)
    queue.put_market(tick(0, "A"), ("0B", "A"))
    queue.put_market(tick(1, "B"), ("0B", "B"))
    queue.put_market(tick(2, "A"), ("0B", "A"))  # replaces 0 in place
    queue.put_market(tick(3, "C"), ("0B", "C"))  # full: the oldest key (A) goes
    assert await drain(queue) == [tick(1, "B"), tick(3, "C")]
    assert (queue.stats.replaced, queue.stats.dropped_oldest) == (1, 1)


async def test_raise_policy_fails_the_stream_after_the_queued_events() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(2, "raise", priority_maxsize=10)
    queue.put_market(tick(0), ("0B", "005930"))
    queue.put_market(tick(1), ("0B", "005930"))
    with pytest.raises(EventQueueOverflowError):
        queue.put_market(tick(2), ("0B", "005930"))
    assert [(await queue.get())[2], (await queue.get())[2]] == [0, 1]
    with pytest.raises(EventQueueOverflowError):
        await queue.get()


async def test_account_events_are_never_dropped_and_come_first() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(1, "drop_newest", priority_maxsize=100)
    queue.put_market(tick(0), ("0B", "005930"))
    fills = [("00", "", n) for n in range(50)]
    for fill in fills:
        queue.put_priority(fill)
    queue.put_market(tick(1), ("0B", "005930"))  # dropped: market lane full
    assert await drain(queue) == [*fills, tick(0)]
    assert queue.stats.dropped_newest == 1


async def test_an_account_overflow_fails_loudly_instead_of_dropping() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(10, "drop_oldest", priority_maxsize=2)
    queue.put_priority(("00", "", 1))
    queue.put_priority(("00", "", 2))
    with pytest.raises(EventQueueOverflowError):
        queue.put_priority(("00", "", 3))
    assert [(await queue.get())[2], (await queue.get())[2]] == [1, 2]
    with pytest.raises(EventQueueOverflowError):
        await queue.get()


async def test_a_waiting_consumer_is_woken_by_a_put() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(5, "drop_oldest", priority_maxsize=5)
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put_market(tick(7), ("0B", "005930"))
    assert (await asyncio.wait_for(getter, 1))[2] == 7


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        EventQueue(0, "drop_oldest", priority_maxsize=1)
    with pytest.raises(ValueError):
        EventQueue(1, "block", priority_maxsize=1)  # type: ignore[arg-type]


async def test_lifecycle_events_keep_their_place_among_market_data() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(10, "drop_oldest", priority_maxsize=10)
    queue.put_market(tick(1), ("0B", "005930"))
    queue.put_lifecycle(("disconnected", "", 0))
    queue.put_market(tick(2), ("0B", "005930"))
    queue.put_priority(("00", "", 9))  # a fill still goes first
    assert await drain(queue) == [("00", "", 9), tick(1), ("disconnected", "", 0), tick(2)]


async def test_latest_policy_keeps_the_place_of_the_first_event_of_a_key() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(10, "latest", priority_maxsize=10)
    queue.put_market(tick(1, "A"), ("0B", "A"))
    queue.put_lifecycle(("resubscribed", "", 0))
    queue.put_market(tick(2, "A"), ("0B", "A"))  # replaces 1, ahead of the lifecycle event
    assert await drain(queue) == [tick(2, "A"), ("resubscribed", "", 0)]


async def test_every_waiting_consumer_is_woken_and_sees_the_end() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(5, "drop_oldest", priority_maxsize=5)
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_market(tick(1), ("0B", "005930"))
    await asyncio.sleep(0)
    queue.fail(EventQueueOverflowError("end"))
    done, _ = await asyncio.wait({first, second}, timeout=1)
    assert done == {first, second}
    results = {f.result()[2] if not f.exception() else "error" for f in (first, second)}
    assert results == {1, "error"}


async def test_lifecycle_order_holds_when_older_market_events_were_dropped() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(2, "drop_oldest", priority_maxsize=10)
    for n in range(3):
        queue.put_market(tick(n), ("0B", "005930"))  # 0 is dropped
    queue.put_lifecycle(("disconnected", "", 0))
    for n in range(3, 5):
        queue.put_market(tick(n), ("0B", "005930"))  # 1 and 2 are dropped
    assert await drain(queue) == [("disconnected", "", 0), tick(3), tick(4)]
    assert queue.stats.dropped_oldest == 3


def test_get_nowait_and_the_key_the_latest_policy_needs() -> None:
    queue: EventQueue[tuple[str, str, int]] = EventQueue(2, "drop_oldest", priority_maxsize=2)
    with pytest.raises(LookupError):
        queue.get_nowait()
    queue.put_market(tick(1))
    assert queue.get_nowait() == tick(1)
    latest: EventQueue[tuple[str, str, int]] = EventQueue(2, "latest", priority_maxsize=2)
    with pytest.raises(ValueError):
        latest.put_market(tick(1))
