"""Newest frame wins: one slot per camera, so a slow model never works on stale frames.

Producers (subscription callbacks) ``put`` a frame into its camera's slot; a frame still waiting
there is replaced and counted as dropped. The consumer (the inference thread) ``take``s every
waiting frame at once, oldest-waiting camera first, so busy cameras cannot starve quiet ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["NewestFrameMailbox"]

Frame = TypeVar("Frame")


class NewestFrameMailbox(Generic[Frame]):
    """Thread-safe newest-frame slots keyed by camera name."""

    def __init__(self) -> None:
        self._slots: OrderedDict[str, Frame] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, camera: str, frame: Frame) -> bool:
        """Store a camera's newest frame; return True if it replaced one not yet taken (a drop)."""
        with self._ready:
            replaced = camera in self._slots
            self._slots[camera] = frame  # a replaced frame keeps its place in the queue order
            self._ready.notify()
            return replaced

    def take(self, timeout: float | None = None) -> list[tuple[str, Frame]]:
        """Wait up to ``timeout`` seconds for frames; return and clear every waiting one."""
        with self._ready:
            if not self._slots and not self._closed:
                self._ready.wait(timeout)
            frames = list(self._slots.items())
            self._slots.clear()
            return frames

    def clear(self) -> int:
        """Drop every waiting frame; return how many there were."""
        with self._ready:
            count = len(self._slots)
            self._slots.clear()
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
