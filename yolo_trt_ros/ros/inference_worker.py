"""The detector node's inference thread: takes the newest frame of each camera and processes it.

The executor thread puts frames into the mailbox (yolo_trt_ros.ros.cameras.arrive); this thread
takes them, so lifecycle and parameter services are answered while the model runs. A frame taken
or left in the mailbox while stopping is counted as discarded: every frame lands in one counter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from yolo_trt_ros.ros.cameras import Camera, Frame
from yolo_trt_ros.stream import NewestFrameMailbox

__all__ = ["InferenceWorker"]


class InferenceWorker:
    """Runs ``process(camera, frame)`` on a thread for each frame taken from the mailbox."""

    def __init__(
        self,
        mailbox: NewestFrameMailbox[Frame],
        camera: Callable[[str], Camera | None],
        process: Callable[[Camera, Frame], None],
    ) -> None:
        self._mailbox = mailbox
        self._camera = camera  # by name; None once released (with its counters)
        self._process = process
        self.stopping = threading.Event()  # set from stop() until the next start()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the mailbox and start the thread."""
        self.stopping.clear()
        self._mailbox.reopen()
        self._thread = threading.Thread(target=self._loop, name="yolo_inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after the frame it is processing); count the frames left as discarded."""
        self.stopping.set()
        self._mailbox.close()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
        for camera_name, _ in self._mailbox.take(timeout=0):  # closed: returns at once
            if (camera := self._camera(camera_name)) is not None:
                camera.stats.discarded()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            for camera_name, frame in self._mailbox.take(timeout=0.2):
                camera = self._camera(camera_name)
                if camera is None:
                    continue  # released, with its counters
                if self.stopping.is_set():
                    camera.stats.discarded()
                else:
                    self._process(camera, frame)
