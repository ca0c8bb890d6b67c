"""The wall-time cap of a testgen run: exploration stops early enough for the phases after it to fit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

# runs per kept case after exploration: 3 recordings, 2 clock probes, 3 imitations of the validity gate and
# 1 coverage replay, counted as 7 (the imitations start faster than the reference; measured on figlet, bc, jq)
RUNS_AFTER_EXPLORATION_PER_CASE = 7
RESERVE_MARGIN = 1.1
FIXED_RESERVE_S = 3.0
END_MARGIN = 0.02  # of the cap, kept back once only recording, the gate and coverage remain


@dataclass
class WallClock:
    """Seconds since the run started, against an optional cap (None: only the run budget counts)."""

    cap_s: float | None
    started: float = field(default_factory=time.monotonic)
    reserved_s: float = 0.0  # kept back from exploring for a later phase that has no per-case cost (mutants)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left under the cap (infinite without one)."""
        return math.inf if self.cap_s is None else self.cap_s - self.elapsed()

    def left_for_phase(self, seconds_after: float) -> float:
        """Seconds a phase may still spend when `seconds_after` must remain for what follows it."""
        return self.remaining() - self._fixed_reserve() - seconds_after

    def left_at_the_end(self, seconds_after: float) -> float:
        """Seconds left when `seconds_after` must remain, for a phase after exploring: the fixed reserve was
        for the clock probe and the phases' start-up, spent by then. What follows is estimated from measured
        paces, so only 2% of the cap is kept back (a 15 s margin at 300 s dropped 378 cases that fitted)."""
        return self.remaining() - self.reserved_s - END_MARGIN * (self.cap_s or 0.0) - seconds_after

    def exploration_over(self, seconds_per_run: float, cases: int) -> bool:
        """True once the time left is what recording, the gate and coverage of `cases` cases will take."""
        if self.cap_s is None:
            return False
        per_case = seconds_per_run * RUNS_AFTER_EXPLORATION_PER_CASE * RESERVE_MARGIN
        reserve = self._fixed_reserve() + self.reserved_s + per_case * cases
        return self.remaining() <= min(reserve, self.cap_s * 0.6 + self.reserved_s)

    def affordable_cases(self, seconds_per_run: float, wanted: int) -> int:
        """How many of `wanted` cases can still be recorded, gated and replayed for coverage in time."""
        if self.cap_s is None or seconds_per_run <= 0:
            return wanted
        per_case = seconds_per_run * RUNS_AFTER_EXPLORATION_PER_CASE * RESERVE_MARGIN
        return max(1, min(wanted, int((self.remaining() - self._fixed_reserve() - self.reserved_s) / per_case)))

    def _fixed_reserve(self) -> float:
        # aim at 95% of the cap: run times after exploring vary with the machine's load, the cap allows 5% more
        return FIXED_RESERVE_S + 0.05 * (self.cap_s or 0.0)
