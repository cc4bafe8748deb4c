"""The node's current detector, and the optimised engine built in the background to replace it.

With optimize_in_background, configure loads a quick engine and the optimised one is built in a
thread (the TensorRT build itself in its own process: yolo_trt_ros.engine.build_process). When it
is ready it replaces the quick engine under the slot's lock, so a frame never sees half a swap, and
keeps the live settings changed meanwhile. A release voids a build still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import PreparedModel
from yolo_trt_ros.errors import BuildCancelledError

__all__ = ["DetectorSlot", "EngineSwap"]


class DetectorSlot:
    """The detector in use, replaced under a lock; each release starts a new generation."""

    def __init__(self) -> None:
        self.detector: Detector | None = None
        self.lock = threading.Lock()  # the inference thread vs an engine swap or release
        self.generation = 0  # bumped on release: a background build of an older configure is void

    def put(self, detector: Detector) -> None:
        """Start using a detector (configure)."""
        with self.lock:
            self.detector = detector

    def void(self) -> None:
        """Make builds started so far unable to swap in their engine."""
        with self.lock:
            self.generation += 1

    def take(self) -> Detector | None:
        """Empty the slot; return the detector it held, for the caller to close."""
        with self.lock:
            detector, self.detector = self.detector, None
        return detector

    def swap(self, detector: Detector, generation: int) -> Detector | None:
        """Replace the detector with one built in ``generation``; return the old one, or None if not swapped."""
        with self.lock:
            old = self.detector
            if generation != self.generation or old is None:
                return None
            detector.settings = old.settings  # live parameter changes made meanwhile
            self.detector = detector
        return old


class EngineSwap:
    """Builds the optimised engine in a thread and swaps it into the slot when it is ready."""

    def __init__(self, slot: DetectorSlot, logger: Any) -> None:
        self._slot = slot
        self._logger = logger
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()  # ends the background build process on stop

    def start(
        self,
        build: Callable[[threading.Event], PreparedModel],
        open_detector: Callable[[Path], Detector],
        on_swapped: Callable[[PreparedModel, Detector], None],
    ) -> None:
        """Build (``build(cancel)``) and open the optimised model in a thread; swap it in when ready."""
        generation = self._slot.generation
        self._cancel = threading.Event()
        self._logger.info(
            "detecting with the quick engine; the optimised engine is being built in the background "
            "(it can take 10 minutes or more on TensorRT 8.6) and replaces it when ready"
        )
        self._thread = threading.Thread(
            target=self._build_and_swap,
            args=(build, open_detector, on_swapped, generation, self._cancel),
            name="yolo_optimise",
            daemon=True,
        )
        self._thread.start()

    def _build_and_swap(
        self,
        build: Callable[[threading.Event], PreparedModel],
        open_detector: Callable[[Path], Detector],
        on_swapped: Callable[[PreparedModel, Detector], None],
        generation: int,
        cancel: threading.Event,
    ) -> None:
        started = time.monotonic()
        try:
            # The TensorRT build itself runs in its own process (it holds the GIL for minutes);
            # this thread only waits, reports progress and loads the result.
            prepared = build(cancel)
            if generation != self._slot.generation:
                return  # cleaned up meanwhile; a finished engine stays cached for the next configure
            detector = open_detector(prepared.path)
        except BuildCancelledError:
            return
        except Exception as error:  # noqa: BLE001 - the quick engine keeps running
            self._logger.warn(
                f"optimising in the background failed ({type(error).__name__}: {error}); "
                "the node keeps the quick engine"
            )
            return
        old = self._slot.swap(detector, generation)
        if old is None:
            detector.close()
            return
        old.close()
        self._logger.info(
            f"switched to the optimised engine after {time.monotonic() - started:.0f} s: {prepared.path}"
        )
        on_swapped(prepared, detector)

    def stop(self) -> None:
        """End a running optimised build (TensorRT cannot cancel one: its process is ended)."""
        if self._thread is not None and self._thread.is_alive():
            self._logger.info(
                "stopping the background engine build; the next configure starts it again"
            )
            self._cancel.set()
            self._thread.join(timeout=10.0)
        self._thread = None

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running build to end (swapped in, voided or failed)."""
        if self._thread is not None:
            self._thread.join(timeout)
