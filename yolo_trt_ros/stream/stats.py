"""Per-camera counters for diagnostics: rates, latency percentiles, and a ledger of every frame.

The ledger closes at every moment: each frame that reaches the callback is counted as received
together with where it went (skipped by the rate cap, refused on arrival, or in flight: waiting in
the mailbox or being processed), and an in-flight frame leaves with exactly one outcome (published,
dropped for a newer one, bad, a processing error, or discarded when processing stopped), all under
one lock. So received == published + dropped + bad + skipped + errors + discarded + in flight.
Frames that never reached the callback are counted apart, as ``missed`` (an estimate).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["StatsSnapshot", "StreamStats"]


@dataclass(frozen=True)
class StatsSnapshot:
    """What a camera stream looked like over the recent window (rates in Hz, latency in ms)."""

    input_hz: float
    output_hz: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    received: int
    published: int
    dropped: int
    bad_frames: int
    errors: int
    published_recently: int
    dropped_recently: int
    bad_recently: int
    errors_recently: int
    seconds_since_input: float | None
    last_problem: str
    skipped: int = 0  # frames left out by the frame-rate cap (max_rate_hz), not lost
    in_flight: int = 0  # frames waiting in the mailbox or being processed
    discarded: int = 0  # frames still in flight when processing stopped (deactivate, shutdown)
    missed: int = 0  # frames sent that never reached the callback (from sequence numbers)

    @property
    def accounted(self) -> int:
        """Received frames whose outcome is known or pending; equals ``received`` by construction."""
        return (
            self.published
            + self.dropped
            + self.bad_frames
            + self.skipped
            + self.errors
            + self.discarded
            + self.in_flight
        )


class StreamStats:
    """Thread-safe event log of one camera stream, summarised over a sliding time window."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._now = clock
        self._lock = threading.Lock()
        self._received: deque[float] = deque()
        self._published: deque[tuple[float, float]] = deque()  # (time, latency ms)
        self._dropped: deque[float] = deque()
        self._bad: deque[float] = deque()
        self._errors: deque[float] = deque()
        self._totals = {
            "received": 0,
            "published": 0,
            "dropped": 0,
            "bad": 0,
            "errors": 0,
            "skipped": 0,
            "discarded": 0,
            "missed": 0,
        }
        self._in_flight = 0
        self._last_input: float | None = None
        self.last_problem = ""

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        for events in (self._received, self._dropped, self._bad, self._errors):
            while events and events[0] < horizon:
                events.popleft()
        while self._published and self._published[0][0] < horizon:
            self._published.popleft()

    def _arrived(self) -> float:
        now = self._now()
        self._received.append(now)
        self._last_input = now
        self._totals["received"] += 1
        self._trim(now)
        return now

    def received(self) -> None:
        """Count a frame arriving and going to the model (in flight until its outcome is counted)."""
        with self._lock:
            self._arrived()
            self._in_flight += 1

    def skipped(self) -> None:
        """Count a frame arriving and left out on purpose by the frame-rate cap."""
        with self._lock:
            self._arrived()
            self._totals["skipped"] += 1

    def refused(self, reason: str) -> None:
        """Count a frame arriving and refused at once as invalid input (a bad frame)."""
        with self._lock:
            self._bad.append(self._arrived())
            self._totals["bad"] += 1
            self.last_problem = reason

    def published(self, latency_ms: float) -> None:
        """Count an in-flight frame's detections going out, with its receive-to-publish latency."""
        with self._lock:
            now = self._now()
            self._published.append((now, latency_ms))
            self._totals["published"] += 1
            self._in_flight -= 1
            self._trim(now)

    def dropped(self, count: int = 1) -> None:
        """Count in-flight frames replaced by newer ones before the model got to them."""
        with self._lock:
            now = self._now()
            self._dropped.extend([now] * count)
            self._totals["dropped"] += count
            self._in_flight -= count

    def bad_frame(self, reason: str) -> None:
        """Count an in-flight frame refused as invalid input when it was processed."""
        with self._lock:
            self._bad.append(self._now())
            self._totals["bad"] += 1
            self._in_flight -= 1
            self.last_problem = reason

    def error(self, reason: str) -> None:
        """Count an in-flight frame lost to an unexpected processing error."""
        with self._lock:
            self._errors.append(self._now())
            self._totals["errors"] += 1
            self._in_flight -= 1
            self.last_problem = reason

    def discarded(self, count: int = 1) -> None:
        """Count in-flight frames left unprocessed because processing stopped."""
        with self._lock:
            self._totals["discarded"] += count
            self._in_flight -= count

    def missed(self, count: int) -> None:
        """Count frames sent that never reached the callback (not part of ``received``)."""
        with self._lock:
            self._totals["missed"] += count

    def snapshot(self) -> StatsSnapshot:
        """Summarise the current window."""
        with self._lock:
            now = self._now()
            self._trim(now)
            span = min(self.window_s, now - self._first_event_time(now)) or self.window_s
            latencies = np.array([latency for _, latency in self._published], np.float64)
            p50, p95, worst = (
                (
                    float(np.percentile(latencies, 50)),
                    float(np.percentile(latencies, 95)),
                    float(latencies.max()),
                )
                if latencies.size
                else (0.0, 0.0, 0.0)
            )
            return StatsSnapshot(
                input_hz=len(self._received) / span,
                output_hz=len(self._published) / span,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                latency_max_ms=worst,
                received=self._totals["received"],
                published=self._totals["published"],
                dropped=self._totals["dropped"],
                bad_frames=self._totals["bad"],
                errors=self._totals["errors"],
                published_recently=len(self._published),
                dropped_recently=len(self._dropped),
                bad_recently=len(self._bad),
                errors_recently=len(self._errors),
                seconds_since_input=None if self._last_input is None else now - self._last_input,
                last_problem=self.last_problem,
                skipped=self._totals["skipped"],
                in_flight=self._in_flight,
                discarded=self._totals["discarded"],
                missed=self._totals["missed"],
            )

    def _first_event_time(self, now: float) -> float:
        # Before a full window has passed, rates are over the time since the first event.
        starts = [events[0] for events in (self._received, self._dropped) if events]
        if self._published:
            starts.append(self._published[0][0])
        return min(starts, default=now - self.window_s)
