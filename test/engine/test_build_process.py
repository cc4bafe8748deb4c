"""Builds in their own process (yolo_trt_ros.engine.build_process), with real spawned processes.

The stand-in for a TensorRT 8.6 build is a C-level loop that holds the child's GIL the whole time,
as the real builder does; the parent must still report the elapsed time, pass on what the child
reports, return its result, and turn its errors, its death and a cancel into our errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from yolo_trt_ros.engine.build_process import GUARD_MAIN, run_in_build_process
from yolo_trt_ros.errors import BuildCancelledError, ModelLoadError

Report = Callable[[str, float, str], None]
Events = list[tuple[float, str, float, str]]


def hold_the_gil(seconds: float, report: Report) -> str:
    report("build", 10.0, "parsing")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(5_000_000))  # one C call at a time: the GIL is never given up inside
    report("build", 90.0, "serializing")
    return "plan bytes"


def fail(message: str, report: Report) -> None:
    raise ModelLoadError(message)


def die(code: int, report: Report) -> None:
    os._exit(code)


def _recorder(events: Events) -> Callable[[str, float, str], None]:
    started = time.monotonic()
    return lambda stage, percent, message: events.append(
        (time.monotonic() - started, stage, percent, message)
    )


def test_progress_reaches_the_caller_while_the_build_holds_its_gil() -> None:
    events: Events = []
    result = run_in_build_process(hold_the_gil, (3.0,), _recorder(events), every_s=0.5)
    assert result == "plan bytes"
    messages = [message for *_, message in events]
    assert messages[-1] == "serializing" and "parsing" in messages, messages
    # a slow start of the child (a loaded machine) is reported too, before its own first report
    starting = messages[: messages.index("parsing")]
    assert all("elapsed; starting the build process" in m for m in starting), messages
    elapsed = [event for event in events if "elapsed; parsing" in event[3]]
    assert len(elapsed) >= 3, messages  # the clock kept going while the child was busy
    assert all(percent == 10.0 for _, _, percent, _ in elapsed)


def test_errors_and_death_of_the_build_become_model_load_errors() -> None:
    with pytest.raises(ModelLoadError, match=r"cannot parse model\.onnx"):
        run_in_build_process(fail, ("TensorRT cannot parse model.onnx",), lambda *_: None)
    with pytest.raises(ModelLoadError, match="exit code 3"):
        run_in_build_process(die, (3,), lambda *_: None)


def test_a_cancel_ends_the_build_process() -> None:
    cancel = threading.Event()
    events: Events = []

    def progress(stage: str, percent: float, message: str) -> None:
        events.append((0.0, stage, percent, message))
        cancel.set()  # cancel as soon as the build has said something

    started = time.monotonic()
    with pytest.raises(BuildCancelledError):
        run_in_build_process(hold_the_gil, (60.0,), progress, cancel=cancel)
    assert time.monotonic() - started < 30, "the 60 s build was ended, not waited for"
    assert events and events[0][3] == "parsing"


UNGUARDED_SCRIPT = """
# A user's script without `if __name__ == "__main__":`: it builds at import time. The build process
# is spawned and imports this script first, so without the refusal it would wait forever for the
# build lock this process holds.
import sys
from pathlib import Path

from engine_stand_in import StandInBuilder, fingerprint

from yolo_trt_ros.engine.build_process import GUARD_MAIN, run_in_build_process
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest
from yolo_trt_ros.models import bundled_model_path


def build_bytes(onnx, spec, timing_cache, report):
    return StandInBuilder().build(onnx, spec, timing_cache, report)


class BuildsInItsOwnProcess(StandInBuilder):
    def build(self, onnx, spec, timing_cache, progress, calibration=None):
        return run_in_build_process(build_bytes, (onnx, spec, timing_cache), progress)


manager = EngineManager(
    EngineCache(Path(sys.argv[1])), builder_factory=BuildsInItsOwnProcess, fingerprint=fingerprint
)
manager.prepare(ExportRequest(bundled_model_path(), precision="fp16", backend="tensorrt"))
"""


def test_a_script_that_builds_at_import_time_gets_an_error_not_a_hang(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT)
    test_dir = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(test_dir), *sys.path])}
    done = subprocess.run(  # a hang is what this guards against: it fails the test
        [sys.executable, str(script), str(tmp_path / "cache")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    child_error, parent_error = done.stderr.split("ModelLoadError: ")[1:]
    assert child_error.startswith(GUARD_MAIN)  # the build process: what to change
    assert parent_error.startswith("the build process died (exit code 1) without a result")
    assert 'needs `if __name__ == "__main__":`' in parent_error
