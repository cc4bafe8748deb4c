"""Newest frame wins: one slot per camera, so a slow model never works on stale frames.

Producers (subscription callbacks) ``put`` a frame into its camera's slot; a frame still waiting
there is replaced and counted as dropped. The consumer (the inference thread) ``take``s every
waiting frame at once, oldest-waiting camera first, so busy cameras cannot starve quiet ones.

A frame that wakes an idle consumer is handed over: ``put`` waits, at most ``handoff_s``, until
the consumer is back in ``take`` (done with that frame) or the mailbox is cleared or closed. The
producer's thread, a ROS executor, then runs its own Python (taking the next message, building
its wait set) after the frame's detections are out, not against the consumer for Python's GIL
while the frame is processed. On the H200 (``scripts/bench_node.py``, TensorRT FP16, docs/
tensorrt.md) the node's processing fell from 2.35-2.64 to 1.61-2.02 ms a frame against waiting
only until the frame was taken. A consumer idle for less than ``saturated_gap_s`` came straight
from its previous frame: the camera outpaces it, and ``put`` waits only until the frame is taken,
so the producer keeps reading frames and the newest one still wins here, where drops are counted
(a producer kept waiting would leave them in the DDS queue, served oldest first). A model slower
than ``handoff_s`` lets the producer go on then; a busy consumer makes no producer wait. One
consumer is assumed (the node's inference thread).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["NewestFrameMailbox"]

Frame = TypeVar("Frame")


class NewestFrameMailbox(Generic[Frame]):
    """Thread-safe newest-frame slots keyed by camera name."""

    def __init__(self, handoff_s: float = 0.010, saturated_gap_s: float = 0.002) -> None:
        self._slots: OrderedDict[str, Frame] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False
        self._handoff_s = handoff_s
        self._idle_consumers = 0  # consumers waiting in take()
        self._idle_since = 0.0  # when the consumer came back from its last frames (time.monotonic)
        self._took_frames = False  # whether the consumer's last take() returned frames
        self._saturated_gap_s = saturated_gap_s
        self._takes = 0  # take() calls begun: the next one means the consumer is done with a frame
        self._clears = 0  # clear() calls: a cleared frame is never taken

    def put(self, camera: str, frame: Frame) -> bool:
        """Store a camera's newest frame; return True if it replaced one not yet taken (a drop).

        If a consumer is idle, wait up to ``handoff_s`` until it is done with the frame (back in
        ``take``), or, if it has just become idle, until it has taken the frame; either ends when
        the mailbox is cleared or closed.
        """
        with self._ready:
            replaced = camera in self._slots
            self._slots[camera] = frame  # a replaced frame keeps its place in the queue order
            self._ready.notify_all()  # all: a producer handing over waits on the same condition
            if self._idle_consumers and self._handoff_s > 0:
                # the idle consumer is in take() call number `takes`; done when it makes another
                takes, clears = self._takes, self._clears
                saturated = time.monotonic() - self._idle_since < self._saturated_gap_s
                self._ready.wait_for(
                    lambda: (
                        (self._slots.get(camera) is not frame if saturated else self._takes > takes)
                        or self._clears > clears
                        or self._closed
                    ),
                    self._handoff_s,
                )
            return replaced

    def take(self, timeout: float | None = None) -> list[tuple[str, Frame]]:
        """Wait up to ``timeout`` seconds for frames; return and clear every waiting one."""
        with self._ready:
            self._takes += 1
            self._ready.notify_all()  # a producer waiting for the frame taken before this call
            if not self._slots and not self._closed:
                if self._took_frames:  # back from processing; not a take() after a timeout
                    self._idle_since = time.monotonic()
                self._idle_consumers += 1
                try:
                    self._ready.wait(timeout)
                finally:
                    self._idle_consumers -= 1
            frames = list(self._slots.items())
            self._slots.clear()
            self._took_frames = bool(frames)
            if frames:
                self._ready.notify_all()  # a producer waiting until its frame is taken
            return frames

    def clear(self) -> int:
        """Drop every waiting frame; return how many there were."""
        with self._ready:
            count = len(self._slots)
            self._slots.clear()
            self._clears += 1
            self._ready.notify_all()  # a producer handing over need not wait for its timeout
            return count

    def close(self) -> None:
        """Wake any waiting consumer for good (used when the node stops processing)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def reopen(self) -> None:
        """Allow waiting again after ``close``."""
        with self._ready:
            self._closed = False
