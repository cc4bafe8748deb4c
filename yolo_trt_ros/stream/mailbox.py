"""Newest frame wins: one slot per camera, so a slow model never works on stale frames.

Producers (subscription callbacks) ``put`` a frame into its camera's slot; a frame still waiting
there is replaced and counted as dropped. The consumer (the inference thread) ``take``s every
waiting frame at once, oldest-waiting camera first, so busy cameras cannot starve quiet ones.

A frame that wakes an idle consumer is handed over: ``put`` waits (at most ``handoff_s``) until the
consumer has taken it. Without that, the woken consumer waits for the producer's thread to let go
of Python's GIL as it goes back to its executor (``wait_for_model`` in ``scripts/bench_node.py``:
0.42-0.53 -> 0.15-0.19 ms on the 2-core development machine; part of the executor's work then
overlaps the consumer's preprocess instead, 0.1-0.2 ms net). A busy consumer makes no producer wait.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["NewestFrameMailbox"]

Frame = TypeVar("Frame")


class NewestFrameMailbox(Generic[Frame]):
    """Thread-safe newest-frame slots keyed by camera name."""

    def __init__(self, handoff_s: float = 0.002) -> None:
        self._slots: OrderedDict[str, Frame] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False
        self._handoff_s = handoff_s
        self._idle_consumers = 0  # consumers waiting in take()

    def put(self, camera: str, frame: Frame) -> bool:
        """Store a camera's newest frame; return True if it replaced one not yet taken (a drop).

        If a consumer is idle, wait up to ``handoff_s`` until it has taken the frame.
        """
        with self._ready:
            replaced = camera in self._slots
            self._slots[camera] = frame  # a replaced frame keeps its place in the queue order
            self._ready.notify_all()  # all: a producer handing over waits on the same condition
            if self._idle_consumers and self._handoff_s > 0:
                self._ready.wait_for(lambda: self._slots.get(camera) is not frame, self._handoff_s)
            return replaced

    def take(self, timeout: float | None = None) -> list[tuple[str, Frame]]:
        """Wait up to ``timeout`` seconds for frames; return and clear every waiting one."""
        with self._ready:
            if not self._slots and not self._closed:
                self._idle_consumers += 1
                try:
                    self._ready.wait(timeout)
                finally:
                    self._idle_consumers -= 1
            frames = list(self._slots.items())
            self._slots.clear()
            if frames:
                self._ready.notify_all()  # a producer handing a frame over
            return frames

    def clear(self) -> int:
        """Drop every waiting frame; return how many there were."""
        with self._ready:
            count = len(self._slots)
            self._slots.clear()
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
