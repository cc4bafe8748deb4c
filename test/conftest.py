"""Shared fixtures: an isolated ROS domain, a rclpy context per test, and the wire-test peer."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from node_harness import DetectorProcess

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parent

try:
    import rclpy  # noqa: F401  (its absence is an environment problem, said below)
except ImportError as error:  # pragma: no cover - environment problem, not a test failure
    pytest.exit(
        f"rclpy is not importable ({error}): run scripts/setup.sh, then "
        "`source install/setup.bash`, then scripts/test.sh.",
        returncode=3,
    )

from yolo_trt_ros.testing.ros_domain import isolate_ros_domain  # noqa: E402  (after rclpy's check)

# Each run gets its own DDS domain on localhost, so parallel runs and other ROS 2 processes on
# the machine never cross-talk with the tests (read at rclpy.init; child processes inherit it).
isolate_ros_domain()


def _messages_missing_reason() -> str | None:
    """Why yolo_trt_ros.msg cannot be imported (it is generated into install/ only), or None."""
    import importlib.util

    import yolo_trt_ros

    if importlib.util.find_spec("yolo_trt_ros.msg") is not None:
        return None
    where = Path(yolo_trt_ros.__file__).resolve().parent
    if where == REPO_ROOT / "yolo_trt_ros":
        return (
            f"yolo_trt_ros was imported from the source tree ({where}), which has no generated "
            "msg/ module: run `pytest ...`, not `python -m pytest ...` (that puts the current "
            "folder first on sys.path), and keep the repository off PYTHONPATH, after "
            "`source install/setup.bash`."
        )
    return (
        f"yolo_trt_ros (from {where}) has no generated msg/ module: run scripts/setup.sh, then "
        "`source install/setup.bash`."
    )


if (_reason := _messages_missing_reason()) is not None:  # pragma: no cover - environment problem
    pytest.exit(_reason, returncode=3)

from yolo_trt_ros.testing import node_harness  # noqa: E402  (after the checks above)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Fail loudly when a whole test folder would be skipped because one module skipped at import.

    launch_testing's pytest plugin imports every test module from its collection hook, so a
    module-level pytest.skip()/importorskip() raised there skips the folder, not the module: every
    other test would silently not run. Skip such modules with `pytestmark = pytest.mark.skipif(...)`.
    """
    report: pytest.CollectReport = yield
    if report.skipped and isinstance(collector, pytest.Dir | pytest.Package):
        where = report.longrepr
        if isinstance(where, tuple):  # (path, line, "Skipped: reason")
            where = f"{where[0]}:{where[1]}: {where[2]}"
        report.outcome = "failed"
        report.longrepr = (
            f"collecting {collector.nodeid or collector.path} was skipped as a whole by {where}: "
            "a test module skipped at import while launch_testing's pytest plugin was importing it, "
            "which hides every test in the folder. Use `pytestmark = pytest.mark.skipif(...)` there."
        )
    return report


class RosHarness(node_harness.RosHarness):
    """The package's harness (one rclpy context, node, executor); a timeout fails the test."""

    def timed_out(self, message: str) -> NoReturn:
        pytest.fail(message)


@pytest.fixture
def ros() -> Iterator[RosHarness]:
    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture
def ros_peer() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start test/ros_peer.py in its own process; wait until it says READY."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, timeout: float = 30.0) -> subprocess.Popen[str]:
        peer = subprocess.Popen(
            [sys.executable, str(TEST_DIR / "ros_peer.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(peer)
        assert peer.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(peer.stdout, selectors.EVENT_READ)
        output = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and selector.select(deadline - time.monotonic()):
            line = peer.stdout.readline()
            if not line:
                break
            if line.strip() == "READY":
                return peer
            output.append(line)
        pytest.fail(f"ros_peer.py {' '.join(args)} did not start:\n{''.join(output)}")

    yield start
    for peer in started:
        if peer.stdin:
            peer.stdin.close()
        try:
            peer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


@pytest.fixture
def detectors() -> Iterator[list[DetectorProcess]]:
    """Detector processes a test starts; every one must exit cleanly (code 0) on Ctrl-C."""
    started: list[DetectorProcess] = []
    yield started
    for process in started:
        code = process.stop()
        assert code == 0, f"{process.name} exited with {code}:\n{process.log[-3000:]}"
