"""When each recorded frame goes out: the recorded spacing, loop after loop, scaled by a rate.

Frame times are the bag's receive times. Loop ``k`` starts one average frame gap after loop
``k - 1`` ended, so a looped bag plays like one longer recording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from yolo_trt_ros.replay.bag import BagFrame

__all__ = ["TimedFrame", "loop_span_ns", "timeline"]

_FALLBACK_GAP_NS = 100_000_000  # a bag of one frame (or one instant) loops at 10 Hz


@dataclass(frozen=True)
class TimedFrame:
    """A frame, which pass over the bag it belongs to, and when it is due in recorded time."""

    loop: int
    offset_ns: int  # recorded time since the first frame of the first pass
    frame: BagFrame

    def due_s(self, rate: float) -> float:
        """Seconds after the start of the replay at which to send it, at ``rate`` x recorded."""
        return self.offset_ns / 1e9 / rate


def loop_span_ns(first_ns: int, last_ns: int, count: int) -> int:
    """How long one pass lasts in recorded time, including one average frame gap."""
    duration = last_ns - first_ns
    if count < 2 or duration <= 0:
        return _FALLBACK_GAP_NS
    return duration + duration // (count - 1)


def timeline(one_pass: Callable[[], Iterable[BagFrame]], loops: int) -> Iterator[TimedFrame]:
    """Yield ``loops`` passes over the frames that ``one_pass()`` reads, with their due times."""
    first: int | None = None
    span = 0
    for loop in range(loops):
        last, count = first, 0
        for frame in one_pass():
            if first is None:
                first = last = frame.bag_time_ns
            last = frame.bag_time_ns
            count += 1
            yield TimedFrame(loop, frame.bag_time_ns - first + loop * span, frame)
        if first is None or last is None:
            return  # nothing to play
        if loop == 0:
            span = loop_span_ns(first, last, count)
