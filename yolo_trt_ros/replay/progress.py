"""A progress line for a running replay: on a terminal it updates in place, in a log it repeats."""

from __future__ import annotations

import statistics
import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Shows frames sent and answered, output rate and recent latency, at most every interval."""

    def __init__(self, total: int, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = self.stream.isatty()
        self.interval_s = 0.25 if self.live else 5.0
        self._started = time.monotonic()
        self._shown = 0.0

    def line(self, sent: int, answered: int, recent_ms: list[float]) -> str:
        """Return the text of one progress update."""
        elapsed = max(1e-9, time.monotonic() - self._started)
        share = f" ({100 * sent / self.total:.0f}%)" if self.total else ""
        latency = f", latency p50 {statistics.median(recent_ms):.0f} ms" if recent_ms else ""
        return (
            f"replay: {sent}/{self.total or '?'} frames sent{share}, {answered} answered, "
            f"{answered / elapsed:.1f} fps out{latency}"
        )

    def update(
        self, sent: int, answered: int, recent_ms: list[float], *, force: bool = False
    ) -> None:
        """Show the state if the interval has passed (or ``force``)."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self._shown < self.interval_s):
            return
        self._shown = now
        text = self.line(sent, answered, recent_ms)
        if self.live:
            self.stream.write(f"\r\x1b[K{text}")
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def done(self) -> None:
        """End the in-place line."""
        if self.enabled and self.live:
            self.stream.write("\n")
            self.stream.flush()
