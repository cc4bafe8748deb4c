"""run_node: rclpy from init to shutdown around one node, and SIGTERM ending the spin like Ctrl-C."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from yolo_trt_ros.ros.node_runner import run_node, spin_forever, spin_until, stop_requested


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_the_spin_sets_the_status_and_everything_is_stopped_after_it() -> None:
    stopped: list[str] = []
    seen: list[tuple[bool, type[Executor]]] = []

    def spin(node: Node, executor: Executor) -> int:
        seen.append((rclpy.ok(), type(executor)))
        return 3

    status = run_node(
        lambda: Node("runner_status"),
        ["runner"],
        spin=spin,
        stop=lambda node: stopped.append(node.get_name()),
        executor=MultiThreadedExecutor,
    )
    assert status == 3
    assert seen == [(True, MultiThreadedExecutor)]
    assert stopped == ["runner_status"]
    assert not rclpy.ok()  # shut down after the run


def test_sigterm_ends_the_spin_like_ctrl_c_while_ros_is_still_up() -> None:
    stopped: list[bool] = []

    def spin(node: Node, executor: Executor) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler raises KeyboardInterrupt between two waits
            executor.spin_once(timeout_sec=0.05)
        return 5  # not reached when SIGTERM stopped the spin

    status = run_node(
        lambda: Node("runner_sigterm"), spin=spin, stop=lambda node: stopped.append(rclpy.ok())
    )
    assert status == 0
    assert stopped == [True]  # stop(node) ran before rclpy shut down
    assert not rclpy.ok()


class _SignalsWhenCollected:
    """Sends SIGTERM from its finalizer: the handler's KeyboardInterrupt is raised inside
    ``__del__``, where Python drops it ("Exception ignored in ..."), as it happens with rclpy's
    loggers when a stop signal arrives at the wrong moment."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0)  # the handler runs here, inside __del__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop itself
def test_a_stop_signal_whose_exception_python_dropped_still_ends_the_spin() -> None:
    fallback: list[bool] = []

    def spin(node: Node, executor: Executor) -> int:
        def give_up() -> None:  # only if the flag did not end the spin: fail, do not hang
            fallback.append(True)
            executor.context.shutdown()

        node.create_timer(3.0, give_up)
        _SignalsWhenCollected()  # collected at once: the exception is dropped, the flag stays
        spin_forever(node, executor)
        return 7  # reached: the KeyboardInterrupt really was dropped

    status = run_node(lambda: Node("runner_dropped_signal"), spin=spin)
    assert status == 7
    assert stop_requested.is_set() and not fallback


def test_a_message_that_breaks_an_rclpy_callback_does_not_end_the_spin() -> None:
    """rclpy's own /clock subscription (use_sim_time) raises ValueError on a negative time, out
    of the executor; the spin must log it and go on: the next /clock message still arrives."""
    gave_up: list[bool] = []

    def spin(node: Node, executor: Executor) -> int:
        clock = node.create_publisher(Clock, "/clock", 10)
        node.create_timer(10.0, lambda: gave_up.append(True))  # fail, do not hang
        while clock.get_subscription_count() == 0 and not gave_up:  # rclpy's /clock subscription
            executor.spin_once(timeout_sec=0.05)
        clock.publish(Clock(clock=Time(sec=-1)))  # ValueError in rclpy's callback
        bad_taken = time.monotonic() + 0.5  # its depth-1 queue: the next message would replace it
        spin_until(executor, lambda: time.monotonic() > bad_taken)
        clock.publish(Clock(clock=Time(sec=7)))
        spin_until(executor, lambda: node.get_clock().now().nanoseconds > 0 or bool(gave_up))
        return node.get_clock().now().nanoseconds // 1_000_000_000

    status = run_node(
        lambda: Node("runner_clock", parameter_overrides=[Parameter("use_sim_time", value=True)]),
        spin=spin,
    )
    assert not gave_up
    assert status == 7  # the spin went on after the bad message and took the good one
