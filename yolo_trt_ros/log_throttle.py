"""Throttle for repeated warnings, one window per kind, that says how many it held back.

rclpy's ``throttle_duration_sec`` keys on the calling line, so every sort of bad frame logged
from one place shares one window: a flood of truncated JPEGs would hide the first oversized one.
Here each kind (``size``, ``corrupt``, ``decoder`` ...) has its own window, and the line that
gets through says how many of that kind were held back since the previous one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["KindThrottle"]


class KindThrottle:
    """Lets one message of each kind through per ``interval_s``; thread-safe."""

    def __init__(
        self, interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # kind -> when one last got through
        self._held: dict[str, int] = {}  # kind -> held back since then

    def admit(self, kind: str) -> int | None:
        """None to hold this one back; else how many of its kind were held back before it."""
        now = self._clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._held.pop(kind, 0)

    def message(self, kind: str, text: str) -> str | None:
        """``text`` with the held-back count appended, or None when it is to be held back."""
        held = self.admit(kind)
        if held is None:
            return None
        return f"{text} ({held} more of this kind not shown)" if held else text
