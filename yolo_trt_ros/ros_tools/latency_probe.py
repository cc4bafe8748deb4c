"""Measure a running detector: match its detections and timing to the images it was sent.

    ros2 run yolo_trt_ros latency_probe --detector /yolo_detector --out probe_report/ &
    ros2 bag play drive_bag                      # or any camera driver, or image_publisher

The probe asks the detector (through its parameter service) which image topics it watches and
where it publishes, then subscribes to those images, the detections, the InferenceTiming and the
diagnostics, and matches them by header stamp. Latency is counted from when the probe saw the
image (``ros2 bag play`` cannot tell when it sent it; `replay` can, and uses this same probe).
It stops after ``--idle-timeout`` seconds without images (once some came), ``--duration``, or
Ctrl-C, and then writes the same report as `replay`.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.cdr import header_stamp_ns
from yolo_trt_ros.errors import DetectorNotFoundError
from yolo_trt_ros.msg import EngineInfo, InferenceTiming
from yolo_trt_ros.replay.ledger import FrameLedger, StageTimes
from yolo_trt_ros.replay.report import build_report, render_text, write_report
from yolo_trt_ros.ros.compat import publisher_count
from yolo_trt_ros.ros.node_runner import ros_session
from yolo_trt_ros.ros.qos import LATCHED
from yolo_trt_ros.ros_tools.detector_discovery import (
    COUNTER_KEYS,
    DetectorCamera,
    absolute_node_name,
    counters_from,
    find_detector_cameras,
)
from yolo_trt_ros.ros_tools.measurement import (
    Spinner,
    add_measurement_arguments,
    counter_delta,
    run_info,
    split_ros_args,
)

__all__ = ["LatencyProbe", "main"]

_OUTPUT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class LatencyProbe(Node):
    """Subscribes to a detector's outputs (and optionally its inputs) and feeds a FrameLedger."""

    def __init__(self, ledger: FrameLedger, node_name: str = "latency_probe") -> None:
        super().__init__(node_name)
        self.ledger = ledger
        self.detector = ""
        self.streams: list[DetectorCamera] = []
        self.engine: dict[str, Any] = {}
        self._outputs: list[Subscription] = []
        self._images: dict[str, Subscription] = {}
        self._image_reliability: dict[str, ReliabilityPolicy] = {}
        self._counters: dict[str, tuple[float, dict[str, int]]] = {}
        self._counters_lock = threading.Lock()
        self.last_image_monotonic: float | None = None

    def watch(self, detector: str, streams: Sequence[DetectorCamera]) -> None:
        """Subscribe to the detector's outputs, diagnostics and EngineInfo for these streams."""
        self.detector, self.streams = absolute_node_name(detector), list(streams)
        for stream in self.streams:
            topic = stream.image_topic
            self._outputs.append(
                self.create_subscription(
                    Detection2DArray,
                    f"{stream.outputs}/detections",
                    functools.partial(self._on_detections, topic),
                    _OUTPUT_QOS,
                )
            )
            self._outputs.append(
                self.create_subscription(
                    InferenceTiming,
                    f"{stream.outputs}/timing",
                    functools.partial(self._on_timing, topic),
                    _OUTPUT_QOS,
                )
            )
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.create_subscription(
            EngineInfo, f"{self.detector}/engine_info", self._on_engine, LATCHED
        )

    def watch_images(self) -> None:
        """Subscribe to the streams' images too: each one seen counts as a frame sent."""
        self._match_image_publishers()
        self.create_timer(0.5, self._match_image_publishers)

    # --- callbacks -------------------------------------------------------------------------------

    def _on_detections(self, topic: str, msg: Detection2DArray) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.ledger.detections(topic, stamp, len(msg.detections), time.time_ns())

    def _on_timing(self, topic: str, msg: InferenceTiming) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        receive = msg.receive_time.sec * 1_000_000_000 + msg.receive_time.nanosec
        times = StageTimes(
            receive_ns=receive,
            preprocess_ms=float(msg.preprocess_ms),
            inference_ms=float(msg.inference_ms),
            postprocess_ms=float(msg.postprocess_ms),
            total_ms=float(msg.total_ms),
            frames_dropped=int(msg.frames_dropped),
        )
        self.ledger.timing(topic, stamp, times)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        found = counters_from(msg, self.detector)
        if found:
            now = time.monotonic()
            with self._counters_lock:
                for camera, counts in found.items():
                    self._counters[camera] = (now, counts)

    def _on_engine(self, msg: EngineInfo) -> None:
        self.engine = {
            "backend": msg.backend,
            "backend_version": msg.backend_version,
            "device": msg.device,
            "precision": msg.precision,
            "model": msg.model,
            "input_shape": list(msg.input_shape),
        }

    def _on_image(self, topic: str, raw: bytes) -> None:
        seen_ns = time.time_ns()
        try:
            stamp = header_stamp_ns(raw)
        except ValueError:  # not little-endian CDR (a big-endian publisher): cannot match it
            self.get_logger().warn(f"cannot read the stamp of an image on {topic}", once=True)
            return
        self.ledger.sent(topic, stamp, seen_ns)
        self.last_image_monotonic = time.monotonic()

    def _match_image_publishers(self) -> None:
        """Subscribe to each image topic with a QoS its publishers accept (they may come later).

        RELIABLE unless a publisher is BEST_EFFORT: a best-effort subscription would match any
        publisher but lose large frames that the detector itself may well receive.
        """
        for stream in self.streams:
            topic = stream.image_topic
            found = [
                info.qos_profile.reliability for info in self.get_publishers_info_by_topic(topic)
            ]
            wanted = (
                ReliabilityPolicy.BEST_EFFORT
                if ReliabilityPolicy.BEST_EFFORT in found
                else ReliabilityPolicy.RELIABLE
            )
            if self._image_reliability.get(topic) == wanted:
                continue
            if topic in self._images:
                self.destroy_subscription(self._images.pop(topic))
            message_type = CompressedImage if stream.input_type == "compressed" else Image
            self._images[topic] = self.create_subscription(
                message_type,
                topic,
                functools.partial(self._on_image, topic),
                QoSProfile(depth=100, reliability=wanted),
                raw=True,  # only the stamp is needed: no need to decode megabytes
            )
            self._image_reliability[topic] = wanted

    # --- state -----------------------------------------------------------------------------------

    def outputs_connected(self) -> bool:
        """Whether every detections and timing subscription has found the detector's publisher."""
        return bool(self._outputs) and all(publisher_count(self, s) > 0 for s in self._outputs)

    def counters(
        self, newer_than: float | None = None, timeout_s: float = 0.0
    ) -> dict[str, int] | None:
        """Return the detector's frame counters summed over the watched cameras (diagnostics).

        Waits up to ``timeout_s`` for diagnostics that arrived after ``newer_than`` (monotonic
        seconds); None when there are none.
        """
        deadline = time.monotonic() + timeout_s
        cameras = [stream.camera for stream in self.streams]
        while True:
            with self._counters_lock:
                latest = {c: self._counters[c] for c in cameras if c in self._counters}
            fresh = len(latest) == len(cameras) and all(
                newer_than is None or at > newer_than for at, _ in latest.values()
            )
            if fresh:
                return {
                    key: sum(counts[key] for _, counts in latest.values())
                    for key in COUNTER_KEYS.values()
                }
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


# --- the standalone probe ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latency_probe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_measurement_arguments(parser, "probe_report")
    parser.add_argument(
        "--topics",
        nargs="+",
        default=(),
        help="image topics to measure (default: all the detector watches)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=5.0,
        help="stop this many seconds after the last image (default: 5; 0: only on Ctrl-C or --duration)",
    )
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: no limit)"
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=2.0,
        help="at the end, wait this long for outstanding answers (default: 2)",
    )
    return parser


def _run_until_done(probe: LatencyProbe, args: argparse.Namespace) -> None:
    """Return at the first stop condition: --duration, --idle-timeout after images, or Ctrl-C."""
    started = time.monotonic()
    try:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            if args.duration and now - started >= args.duration:
                return
            last = probe.last_image_monotonic
            if args.idle_timeout and last is not None and now - last >= args.idle_timeout:
                return
    except KeyboardInterrupt:
        return  # Ctrl-C is the normal way to end an open-ended probe


def main(argv: Sequence[str] | None = None) -> int:
    """Probe until a stop condition, then write and print the report. Exit 3: no detector."""
    ours, ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(ours)
    with ros_session(["latency_probe", *ros_args]):  # SIGINT and SIGTERM: KeyboardInterrupt
        ledger = FrameLedger()
        probe = LatencyProbe(ledger)
        spinner = Spinner(probe)
        try:
            try:
                streams = find_detector_cameras(
                    probe, args.detector, args.wait_detector, args.topics
                )
            except DetectorNotFoundError as error:
                print(f"latency_probe: {error}", file=sys.stderr)
                return 3
            probe.watch(args.detector, streams)
            before = probe.counters(timeout_s=1.5)  # before any image is counted
            probe.watch_images()
            print(
                f"latency_probe: measuring {args.detector} on {', '.join(s.image_topic for s in streams)}; "
                "waiting for images (Ctrl-C to stop)",
                file=sys.stderr,
            )
            _run_until_done(probe, args)
            ledger.wait_until_quiet(args.answer_timeout, limit_s=args.answer_timeout * 5)
            after = probe.counters(newer_than=time.monotonic(), timeout_s=2.5) if before else None
            report = build_report(
                ledger.finish(),
                run_info(
                    "latency_probe",
                    ", ".join(s.image_topic for s in streams),
                    args.detector,
                    topics=[s.image_topic for s in streams],
                    mode="observed (latency from when the probe saw each image)",
                    stamps="publisher's",
                    label=args.label,
                    answer_timeout_s=args.answer_timeout,
                    engine=probe.engine or None,
                ),
                counter_delta(before, after),
                ledger.unmatched,
            )
            files = write_report(report, args.out, plots=not args.no_plots)
            print(render_text(report, files))
            return 0
        finally:
            spinner.stop()
            probe.destroy_node()


if __name__ == "__main__":
    sys.exit(main())
