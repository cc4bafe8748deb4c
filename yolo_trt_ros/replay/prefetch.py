"""Read ahead in a background thread, so that reading a bag never delays a frame's send time."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar, cast

__all__ = ["Prefetcher"]

Item = TypeVar("Item")
_END = object()


class Prefetcher(Generic[Item]):
    """Iterate over ``source`` in a thread, keeping up to ``size`` items ready.

    An exception raised by the source is raised again, in order, by the consuming iteration.
    ``close()`` stops the reader early (it is a daemon thread, so it never blocks exit).
    """

    def __init__(self, source: Iterable[Item], size: int = 16) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=size)
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(source,), name="prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, source: Iterable[Item]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
        except Exception as error:  # noqa: BLE001 - handed to the consumer, who raises it
            self._put(error)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[Item]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield cast("Item", item)

    def close(self) -> None:
        """Stop reading ahead."""
        self._closed.set()
        self._thread.join(timeout=2.0)
