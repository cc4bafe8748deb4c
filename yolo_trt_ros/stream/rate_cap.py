"""A per-camera frame-rate cap that decides when a frame arrives: process it now, or skip it.

Deciding at arrival keeps latency low (a frame is processed at once or not at all; nothing waits
for a time slot). A plain "at least 1/rate since the last one" rule undershoots when the camera
rate is not a multiple of the cap (a 30 Hz camera capped at 20 Hz would give 15 Hz), so the cap
keeps a schedule instead: each admitted frame moves the next due time one period on, and up to
half a period of lateness is carried over. The long-run rate stays at or below the cap, admitted
frames are never closer than half a period, and a camera that pauses gets no catch-up burst.
"""

from __future__ import annotations

import math

__all__ = ["RateCap"]


class RateCap:
    """Admit at most `rate_hz` frames per second on average; 0 admits every frame."""

    def __init__(self, rate_hz: float) -> None:
        if not math.isfinite(rate_hz) or rate_hz < 0:
            raise ValueError(f"rate cap must be a finite number >= 0, not {rate_hz}")
        self.rate_hz = rate_hz
        self._period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._next_due = -math.inf

    def admit(self, now: float) -> bool:
        """Return whether a frame arriving at `now` (seconds, monotonic) should be processed."""
        if self._period == 0.0:
            return True
        if now < self._next_due:
            return False
        self._next_due = max(self._next_due, now - self._period / 2) + self._period
        return True
