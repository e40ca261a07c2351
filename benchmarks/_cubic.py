"""The AWS SDKs' "adaptive" retry mode, restated as a baseline for the adaptive budget.

botocore (``retries/adaptive.py``, ``retries/throttling.py``, ``retries/bucket.py``): no
client-side limit until the first throttling answer; from then a token bucket (capacity the
rate, at least one token; rate at least 0.5/s) whose rate follows CUBIC. On a throttle the
last maximum becomes the rate in use (the measured send rate, or the bucket's if lower) and
the rate drops to 0.7 of it; after that ``rate(t) = 0.4 (t - K)^3 + w_max`` with
``K = cbrt(w_max (1 - 0.7) / 0.4)``, t seconds since the throttle, and never more than twice
the measured send rate (smoothed 0.8, in half-second buckets). Written here from that
description, with the same interface as kiwoom_async's limiters.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

_BETA = 0.7
_SCALE = 0.4
_MIN_RATE = 0.5
_SMOOTHING = 0.8
_BUCKET_SECONDS = 0.5


class CubicLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.enabled = False
        self.rate = 0.0
        self._tokens = 0.0
        self._refilled = clock()
        self._lock: asyncio.Lock | None = None
        # CUBIC state
        self._w_max = 0.0
        self._k = 0.0
        self._last_throttle = clock()
        # measured send rate
        self._measured = 0.0
        self._bucket = math.floor(clock() / _BUCKET_SECONDS) * _BUCKET_SECONDS
        self._count = 0

    async def acquire(self) -> None:
        if not self.enabled:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def _refill(self) -> None:
        now = self._clock()
        capacity = max(self.rate, 1.0)
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    def _record_send_rate(self) -> float:
        now = self._clock()
        bucket = math.floor(now / _BUCKET_SECONDS) * _BUCKET_SECONDS
        self._count += 1
        if bucket > self._bucket:
            current = self._count / (bucket - self._bucket)
            self._measured = current * _SMOOTHING + self._measured * (1 - _SMOOTHING)
            self._count = 0
            self._bucket = bucket
        return self._measured

    def observe(self, limited: bool) -> None:
        measured = self._record_send_rate()
        now = self._clock()
        if not limited:
            rate = _SCALE * (now - self._last_throttle - self._k) ** 3 + self._w_max
        else:
            in_use = min(measured, self.rate) if self.enabled else measured
            self._w_max = in_use
            self._k = (in_use * (1 - _BETA) / _SCALE) ** (1 / 3)
            self._last_throttle = now
            rate = in_use * _BETA
            self.enabled = True
        if self.enabled:
            self._refill()
            self.rate = max(_MIN_RATE, min(rate, 2 * measured))
