"""Run a long build in its own process and report on it from this one, at least every few seconds.

TensorRT 8.6's builder holds Python's GIL for most of a build (measured on an H200: a detector node
building in a thread answered 1-8 of 60 frames, and a timer thread beside the build never ran).
So the build runs in a spawned process; its progress comes back through a queue, and this process,
whose GIL stays free, turns it into progress lines with the elapsed time, at least every
``every_s`` seconds, and can end the build (``cancel``) where TensorRT has no way to cancel one.

A spawned process first imports the main script of the process that started it. A script that
builds at import time (no ``if __name__ == "__main__":``) would build again in there and wait
forever for the build lock its parent holds: ``refuse_while_importing_main`` turns that into an
error that says what to change.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from yolo_trt_ros.errors import BuildCancelledError, ModelLoadError

__all__ = ["ProgressCallback", "refuse_while_importing_main", "run_in_build_process"]

ProgressCallback = Callable[[str, float, str], None]  # stage, percent 0..100, message
_POLL_S: Final = 0.5


GUARD_MAIN: Final = (
    "an engine build started while a build process was importing the script that started it: "
    'put the script\'s code under `if __name__ == "__main__":` (the build runs in a spawned '
    "process, which imports the script first)"
)


def refuse_while_importing_main() -> None:
    """Raise if this is a spawned process still importing its parent's main script.

    Raises:
        ModelLoadError: with ``GUARD_MAIN``, where a build would otherwise wait forever.

    """
    # multiprocessing's own flag for that phase (its spawn module checks it the same way)
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ModelLoadError(GUARD_MAIN)


def _child(function: Callable[..., Any], args: tuple[Any, ...], channel: Any) -> None:
    """In the build process: run ``function(*args, report)``; send its progress, result or error."""

    def report(stage: str, percent: float, message: str) -> None:
        channel.put(("progress", (stage, percent, message)))

    try:
        channel.put(("result", function(*args, report)))
    except BaseException as error:  # noqa: BLE001 - everything must reach the parent as data
        channel.put(("error", (type(error).__name__, str(error))))


def run_in_build_process(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    progress: ProgressCallback,
    *,
    every_s: float = 10.0,
    cancel: threading.Event | None = None,
    stage: str = "build",
) -> Any:
    """Call ``function(*args, report)`` in a spawned process and return its result.

    ``function`` must be importable by name (a module-level function) and its arguments and result
    picklable. Its ``report(stage, percent, message)`` calls are passed on to ``progress``; between
    them this process reports ``<n> s elapsed; <latest step>`` at least every ``every_s`` seconds.

    Raises:
        BuildCancelledError: ``cancel`` was set; the build process was ended.
        ModelLoadError: the function raised (its type and message are kept), or the process died.

    """
    context = multiprocessing.get_context("spawn")
    channel = context.Queue()
    process = context.Process(
        target=_child, args=(function, args, channel), name="yolo_trt_ros_build", daemon=True
    )
    started = last_report = time.monotonic()
    latest, percent = "starting the build process", 0.0
    outcome: tuple[str, Any] | None = None
    process.start()
    try:
        while outcome is None:
            try:
                kind, value = channel.get(timeout=_POLL_S)
            except queue.Empty:
                kind, value = "", None
            now = time.monotonic()
            if kind == "progress":
                stage_name, percent, latest = value
                progress(stage_name, percent, latest)
                last_report = now
            elif kind in ("result", "error"):
                outcome = (kind, value)
            elif not process.is_alive():
                outcome = ("died", process.exitcode)
            if cancel is not None and cancel.is_set():
                raise BuildCancelledError("the engine build was cancelled")
            if outcome is None and now - last_report >= every_s:
                progress(stage, percent, f"{now - started:.0f} s elapsed; {latest}")
                last_report = now
    finally:
        if process.is_alive() and (outcome is None or outcome[0] != "result"):
            process.terminate()
        process.join(timeout=30.0)
        channel.close()
    kind, value = outcome
    if kind == "result":
        return value
    if kind == "error":
        name, message = value
        if name == "ModelLoadError":
            raise ModelLoadError(message)
        raise ModelLoadError(f"the build failed with {name}: {message}")
    raise ModelLoadError(
        f"the build process died (exit code {value}) without a result: its own error, if any, is "
        'printed above (a script that builds engines needs `if __name__ == "__main__":`); '
        "else out of memory, or killed?"
    )
