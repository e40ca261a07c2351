"""The rules of the adaptive budget: what the rate should be, given what was granted and what
the server answered.

Pure: time comes in as arguments and randomness from the ``random.Random`` given, so every
rule is tested without a clock or a server (tests/test_ratelimit.py).

The anchor is the AWS SDKs' "adaptive" retry mode: a token bucket whose rate follows CUBIC,
cut to 0.7 of the measured send rate on a throttling answer and grown back along a cubic
curve that passes the last maximum and keeps rising until the next throttle. Against a
per-second window that costs a throttle every few seconds and averages about 0.85 of the
limit. Here the server's answers are read more closely:

- A rate-limit answer to a request granted at ``t`` says the server's window before ``t`` was
  full; the requests of this client the server accepted in the window before ``t`` are then
  the limit (the client's share of it, if other clients use the key). The budget becomes
  that count: one rejection finds the limit, without a sawtooth.
- Until the first rate-limit answer the budget doubles whenever the requests at the current
  one were accepted and callers had to wait for grants (slow start); a client that calls
  rarely never inflates it.
- Once the limit is known the budget stays there and probes one request per window above it
  only after ``quiet_calls`` accepted requests and ``quiet_seconds`` (jittered), so probes
  cost about one rejection per few hundred calls; a probe that holds doubles the next step,
  so a limit that rose is reached in a few windows.
- A rejection of a request granted before the last cut is old news and changes nothing; when
  none of this client's requests got into the window (another client filled it), the budget
  halves, at most once per window.
"""

from __future__ import annotations

import bisect
import random

__all__ = ["RateControl"]


class RateControl:
    """The budget in requests per second (``rate``) and the evidence behind it."""

    def __init__(
        self,
        start: float,
        *,
        window: float = 1.0,
        floor: float = 0.2,
        most: float = 1000.0,
        quiet_calls: int = 150,
        quiet_seconds: float = 10.0,
        rng: random.Random,
    ) -> None:
        if not 0 < floor <= start <= most:
            raise ValueError("need 0 < floor <= start <= most")
        self.rate = start
        self.window = window
        self.floor = floor
        self.most = most
        self.quiet_calls = quiet_calls
        self.quiet_seconds = quiet_seconds
        self._rng = rng
        self.limit_known = False
        """A rate-limit answer has been seen: ``rate`` is the learned limit (or a probe)."""
        self.rejections = 0
        self.changes = 0
        self._grants: list[float] = []
        """Grant times of the last few windows, in order."""
        self._rejected: list[float] = []
        """Grant times of the requests refused for the rate, in the same span."""
        self._level_start: float | None = None
        self._level_grants = 0
        self._level_waited = 0
        self._level_ok = 0
        self._cut_at = float("-inf")
        self._probe_step = 1.0
        self._probing = False
        self._quiet = self._jittered_quiet()

    def __repr__(self) -> str:
        state = "known" if self.limit_known else "searching"
        return f"<RateControl {self.rate:g}/s {state}>"

    # --- events --------------------------------------------------------------------------

    def granted(self, now: float, waited: bool) -> float:
        """A grant was made at ``now``; ``waited``: the caller had to wait for it."""
        self._grants.append(now)
        self._forget_before(now - 3 * self.window)
        if self._level_start is None:
            self._level_start = now
        self._level_grants += 1
        self._level_waited += waited
        return self.rate

    def answered(self, granted_at: float, limited: bool, now: float) -> float:
        """The server answered the request granted at ``granted_at``; returns the budget."""
        if limited:
            self.rejections += 1
            bisect.insort(self._rejected, granted_at)
            if granted_at >= self._cut_at:
                self._cut(granted_at, now)
            return self.rate
        level_start = self._level_start
        if level_start is None or granted_at < level_start:
            return self.rate  # evidence about an earlier budget
        self._level_ok += 1
        if not self.limit_known:
            self._slow_start(now)
        else:
            self._probe(now)
        return self.rate

    # --- rules ---------------------------------------------------------------------------

    def accepted_before(self, moment: float) -> int:
        """Requests granted in the window before ``moment`` and not refused for the rate (the
        ones not answered yet included: sent before a refused one, they were admitted)."""
        start = moment - self.window
        granted = bisect.bisect_left(self._grants, moment) - bisect.bisect_right(
            self._grants, start
        )
        refused = bisect.bisect_left(self._rejected, moment) - bisect.bisect_right(
            self._rejected, start
        )
        return granted - refused

    def _cut(self, granted_at: float, now: float) -> None:
        accepted = self.accepted_before(granted_at)
        if accepted < 1 and now - self._cut_at < self.window:
            # The window is full of requests that are not ours (another client on the key,
            # or an earlier run): halving once per window is enough, not once per refusal.
            return
        # Nothing of ours got in: the limit is below one per window, halve.
        rate = accepted / self.window if accepted >= 1 else self.rate / 2
        self.limit_known = True
        self._probing = False
        self._probe_step = 1.0
        self._quiet = self._jittered_quiet()
        self._cut_at = now
        self._change(max(self.floor, min(rate, self.most)))

    def _saturated(self) -> bool:
        """Callers waited for most grants at this budget: the budget is the bottleneck."""
        return self._level_waited * 2 >= self._level_grants >= 2

    def _slow_start(self, now: float) -> None:
        assert self._level_start is not None
        enough = max(2.0, self.rate * self.window / 4)
        if (
            self._level_ok >= enough
            and now - self._level_start >= self.window / 4
            and self._saturated()
        ):
            self._change(min(self.most, self.rate * 2))

    def _probe(self, now: float) -> None:
        assert self._level_start is not None
        held = now - self._level_start
        if self._probing:
            # The probe held for two windows: the limit is at least this; step up faster.
            if held >= 2 * self.window and self._level_ok >= self.rate * self.window:
                self._probing = False
                self._probe_step *= 2
                self._step_up()
            return
        calls, seconds = self._quiet
        if self._level_ok >= calls and held >= seconds and self._saturated():
            self._step_up()

    def _step_up(self) -> None:
        if self.rate >= self.most:
            return
        self._probing = True
        self._change(min(self.most, self.rate + self._probe_step / self.window))

    def _change(self, rate: float) -> None:
        if rate != self.rate:
            self.changes += 1
        self.rate = rate
        self._level_start = None
        self._level_grants = self._level_waited = self._level_ok = 0

    def _jittered_quiet(self) -> tuple[float, float]:
        # Jittered so that clients sharing a key do not probe in step.
        factor = self._rng.uniform(0.75, 1.25)
        return self.quiet_calls * factor, self.quiet_seconds * factor

    def _forget_before(self, horizon: float) -> None:
        grants = self._grants
        if grants and grants[0] < horizon:
            del grants[: bisect.bisect_left(grants, horizon)]
        rejected = self._rejected
        if rejected and rejected[0] < horizon:
            del rejected[: bisect.bisect_left(rejected, horizon)]
