"""Run the package's nodes: rclpy init, SIGINT/SIGTERM, executor, spin and a clean shutdown.

Two ways to take the signals, chosen per command:

- ``own_signals=True``: rclpy's handlers stay off and both SIGINT and SIGTERM raise
  KeyboardInterrupt in the main thread, so the command leaves its spin while ROS is still up and
  can stop its nodes (the detector stops its inference thread and transitions to finalized; the
  measurement tools still write their report). They also set ``stop_requested``: Python drops an
  exception raised while a finalizer (``__del__``) runs, and rclpy's loggers have one, so the spins
  here wake every 0.1 s and end on the flag too.
- ``own_signals=False``: rclpy's handlers shut the context down on a signal, which also wakes an
  executor blocked without a timeout; the spin ends with KeyboardInterrupt or
  ExternalShutdownException.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final, TypeVar

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

__all__ = [
    "ros_session",
    "run_node",
    "spin_forever",
    "spin_until",
    "stop_on_sigterm",
    "stop_requested",
]

NodeT = TypeVar("NodeT", bound=Node)


_WAKE_S: Final = 0.1  # how often a spin looks at stop_requested
stop_requested = threading.Event()  # set by SIGINT and SIGTERM (with own_signals)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    stop_requested.set()  # kept even if the exception below lands in a __del__ and is dropped
    raise KeyboardInterrupt  # leave the spin the same way Ctrl-C does, while ROS is still up


def stop_on_sigterm() -> None:
    """Let SIGTERM stop the process the way Ctrl-C does (KeyboardInterrupt in the main thread)."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def spin_until(executor: Executor, done: Callable[[], bool]) -> None:
    """Spin until ``done()`` or a stop signal (``stop_requested``), waking every 0.1 s.

    A callback that raises does not end the spin: its message is lost, one error line is logged,
    and the node goes on. The package's own callbacks refuse bad input themselves; this is for
    rclpy's, which a message can break (its ``/clock`` time source raises on a negative time).
    """
    while not done() and not stop_requested.is_set():
        try:
            executor.spin_once(timeout_sec=_WAKE_S)
        except ExternalShutdownException:
            raise
        except Exception as error:  # no message may end the node
            if not executor.context.ok():
                raise
            _log_callback_error(executor, error)


def _log_callback_error(executor: Executor, error: Exception) -> None:
    nodes = executor.get_nodes()
    logger = nodes[0].get_logger() if nodes else get_logger("yolo_trt_ros")
    logger.error(
        f"a callback raised {type(error).__name__}: {error}; its message was dropped and the "
        "node keeps running (rclpy's own callbacks raise on some messages, e.g. a /clock time "
        "below zero under use_sim_time: check that message's publisher)",
        throttle_duration_sec=5.0,
    )


@contextmanager
def ros_session(args: Sequence[str] | None = None, *, own_signals: bool = True) -> Iterator[None]:
    """Initialise rclpy for the ``with`` block and shut it down after it (see the module doc)."""
    arguments = None if args is None else list(args)
    stop_requested.clear()  # a new session: an earlier one's stop is not this one's
    if own_signals:
        rclpy.init(args=arguments, signal_handler_options=SignalHandlerOptions.NO)
        stop_on_sigterm()
        # A shell starts background jobs with SIGINT ignored, and Python then never raises
        # KeyboardInterrupt; ros2 launch and users stop nodes with SIGINT, so always take it.
        signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    else:
        rclpy.init(args=arguments)
    try:
        yield
    finally:
        rclpy.try_shutdown()


def spin_forever(node: Node, executor: Executor) -> None:
    """Spin until Ctrl-C, SIGTERM or an external shutdown (the default for `run_node`)."""
    spin_until(executor, lambda: not executor.context.ok())


def run_node(
    make_node: Callable[[], NodeT],
    args: Sequence[str] | None = None,
    *,
    spin: Callable[[NodeT, Executor], int | None] = spin_forever,
    stop: Callable[[NodeT], None] | None = None,
    executor: Callable[[], Executor] = SingleThreadedExecutor,
    own_signals: bool = True,
) -> int:
    """Run one node from rclpy init to shutdown; return the exit status.

    ``spin`` runs the node (its return value is the exit status, None meaning 0); Ctrl-C, SIGTERM
    and an external shutdown end it with status 0. Then, whatever happened: ``stop(node)``, the
    executor's shutdown, the node's destruction and rclpy's shutdown, in that order.
    """
    with ros_session(args, own_signals=own_signals):
        node = make_node()
        spinner = executor()
        spinner.add_node(node)
        status: int | None = 0
        try:
            status = spin(node, spinner)
        except (KeyboardInterrupt, ExternalShutdownException):
            status = 0
        finally:
            if stop is not None:
                stop(node)
            spinner.shutdown(timeout_sec=5.0)  # stop worker threads, or the process lingers
            node.destroy_node()
    return status or 0
