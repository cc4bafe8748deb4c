"""Which frame went out when, and what came back for it: the bookkeeping behind a replay report.

Frames are matched to the detector's answers by (input topic, header stamp): the detector copies
each image's header into its Detection2DArray and InferenceTiming. A stamp sent more than once
(a bag looped with its original stamps) belongs to the latest frame sent with it, which is the
only one the detector can still be working on.

At the end every frame gets one status:

* ``detected``: its detections arrived;
* ``dropped``: no answer, but a later frame of the same topic was answered, so the detector
  replaced it with a newer one (it keeps only the newest frame per camera);
* ``missing``: no answer, and none for any later frame of the topic either (lost on the way,
  or the detector stopped answering).

Thread-safe: the player, the ROS callbacks and the progress display use it from different
threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "DETECTED",
    "DROPPED",
    "MISSING",
    "STAGES",
    "FrameLedger",
    "FrameRecord",
    "StageTimes",
]

DETECTED, DROPPED, MISSING, PENDING = "detected", "dropped", "missing", "pending"

# The parts of a frame's end-to-end latency, in order; they add up to end_to_end (within the
# clamping of wait and transport_out at zero).
STAGES = (
    "transport_in",  # sent -> the detector's callback received it
    "wait",  # waiting in the detector's newest-frame slot for the model to be free
    "preprocess",
    "inference",
    "postprocess",
    "transport_out",  # detections published -> they arrived here
)


@dataclass(frozen=True)
class StageTimes:
    """One InferenceTiming message: where the detector spent a frame's time."""

    receive_ns: int
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    total_ms: float  # the detector's receive -> detections published
    frames_dropped: int  # drops the detector counted since its previous detected frame


@dataclass
class FrameRecord:
    """One frame sent (or seen on the image topic) and what came back for it."""

    index: int
    topic: str
    stamp_ns: int
    sent_ns: int
    loop: int = 0
    bag_time_ns: int | None = None
    answered_ns: int | None = None
    detections: int | None = None
    timing: StageTimes | None = None
    status: str = PENDING

    @property
    def answered(self) -> bool:
        """Whether the frame's detections arrived."""
        return self.answered_ns is not None

    def latencies_ms(self) -> dict[str, float | None]:
        """Return the frame's end-to-end latency and its stages, in ms (None where unknown)."""
        end_to_end = (
            (self.answered_ns - self.sent_ns) / 1e6 if self.answered_ns is not None else None
        )
        out: dict[str, float | None] = dict.fromkeys((*STAGES, "node_total", "end_to_end"))
        out["end_to_end"] = end_to_end
        times = self.timing
        if times is None:
            return out
        transport_in = (times.receive_ns - self.sent_ns) / 1e6
        work = times.preprocess_ms + times.inference_ms + times.postprocess_ms
        out.update(
            transport_in=transport_in,
            wait=max(0.0, times.total_ms - work),
            preprocess=times.preprocess_ms,
            inference=times.inference_ms,
            postprocess=times.postprocess_ms,
            node_total=times.total_ms,
        )
        if end_to_end is not None:
            # The detector takes total_ms just after publishing, so this can come out a fraction
            # of a millisecond below zero: the stages then add up to end_to_end only closely.
            out["transport_out"] = max(0.0, end_to_end - transport_in - times.total_ms)
        return out


@dataclass
class _Orphans:
    """Answers whose frame has not been seen (yet): the probe may see an image after its answer."""

    detections: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    timings: dict[tuple[str, int], StageTimes] = field(default_factory=dict)


class FrameLedger:
    """Frames sent and answers received, matched by (topic, stamp); see the module docstring."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._records: list[FrameRecord] = []
        self._latest: dict[tuple[str, int], FrameRecord] = {}
        self._orphans = _Orphans()
        self._answered = 0
        self._last_event_ns = 0
        self._changed = threading.Condition()

    # --- events ----------------------------------------------------------------------------------

    def sent(
        self,
        topic: str,
        stamp_ns: int,
        sent_ns: int | None = None,
        *,
        loop: int = 0,
        bag_time_ns: int | None = None,
    ) -> FrameRecord:
        """Record a frame going out (call it just before publishing, so no answer can beat it)."""
        with self._changed:
            now = self._clock() if sent_ns is None else sent_ns
            record = FrameRecord(len(self._records), topic, stamp_ns, now, loop, bag_time_ns)
            self._records.append(record)
            key = (topic, stamp_ns)
            self._latest[key] = record
            if key in self._orphans.detections:
                self._answer(record, *self._orphans.detections.pop(key))
            if key in self._orphans.timings:
                record.timing = self._orphans.timings.pop(key)
            self._touch()
            return record

    def detections(
        self, topic: str, stamp_ns: int, count: int, arrival_ns: int | None = None
    ) -> None:
        """Record the detections for (topic, stamp) arriving."""
        with self._changed:
            now = self._clock() if arrival_ns is None else arrival_ns
            record = self._latest.get((topic, stamp_ns))
            if record is None or record.answered:
                self._orphans.detections[(topic, stamp_ns)] = (now, count)
            else:
                self._answer(record, now, count)
            self._touch()

    def timing(self, topic: str, stamp_ns: int, times: StageTimes) -> None:
        """Record the InferenceTiming for (topic, stamp)."""
        with self._changed:
            record = self._latest.get((topic, stamp_ns))
            if record is None or record.timing is not None:
                self._orphans.timings[(topic, stamp_ns)] = times
            else:
                record.timing = times
            self._touch()

    def _answer(self, record: FrameRecord, arrival_ns: int, count: int) -> None:
        record.answered_ns, record.detections = arrival_ns, count
        self._answered += 1

    def _touch(self) -> None:
        self._last_event_ns = self._clock()
        self._changed.notify_all()

    # --- waiting and progress --------------------------------------------------------------------

    def wait_for_answer(self, record: FrameRecord, timeout_s: float) -> bool:
        """Block until the record's detections arrived, or timeout; return whether they did."""
        with self._changed:
            return self._changed.wait_for(lambda: record.answered, timeout=timeout_s)

    def wait_until_quiet(self, quiet_s: float, limit_s: float | None = None) -> bool:
        """Block until every frame is answered (True), or nothing arrived for ``quiet_s`` seconds.

        ``limit_s`` caps the whole wait. Returns whether every frame was answered.
        """
        deadline = None if limit_s is None else time.monotonic() + limit_s
        with self._changed:
            while self._answered < len(self._records):
                idle_s = (self._clock() - self._last_event_ns) / 1e9
                left = quiet_s - idle_s
                if deadline is not None:
                    left = min(left, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._changed.wait(timeout=left)
            return True

    @property
    def counts(self) -> tuple[int, int]:
        """(frames sent, frames answered) so far."""
        with self._changed:
            return len(self._records), self._answered

    def recent_latencies_ms(self, last: int = 50) -> list[float]:
        """End-to-end latencies of the last ``last`` answered frames."""
        with self._changed:
            found: list[float] = []
            for record in reversed(self._records):
                if record.answered_ns is not None:
                    found.append((record.answered_ns - record.sent_ns) / 1e6)
                    if len(found) >= last:
                        break
            return found

    # --- the end ---------------------------------------------------------------------------------

    @property
    def unmatched(self) -> dict[str, int]:
        """Answers that matched no frame (e.g. to frames sent before the replay began)."""
        with self._changed:
            return {
                "detections": len(self._orphans.detections),
                "timings": len(self._orphans.timings),
            }

    def finish(self) -> list[FrameRecord]:
        """Give every frame its final status (see the module docstring) and return them all."""
        with self._changed:
            for topic_records in _by_topic(self._records).values():
                later_answer = False
                for record in reversed(topic_records):
                    if record.answered:
                        record.status, later_answer = DETECTED, True
                    else:
                        record.status = DROPPED if later_answer else MISSING
            return list(self._records)


def _by_topic(records: Iterable[FrameRecord]) -> dict[str, list[FrameRecord]]:
    grouped: dict[str, list[FrameRecord]] = {}
    for record in records:
        grouped.setdefault(record.topic, []).append(record)
    return grouped
