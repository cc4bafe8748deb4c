#!/usr/bin/env python3
r"""Soak the detector node with hostile input over real DDS; report crashes, accounting and memory.

One run starts the detector executable (yolo_trt_ros/testing/node_harness.py's ``DetectorProcess``, CPU backend,
one raw and one compressed camera, RELIABLE, subscription depth 100) in a private localhost ROS
domain, then, measuring the node process from ``/proc/<pid>/status``:

1. **normal**: ``--normal-seconds`` of good frames (the 1080p street composite of
   yolo_trt_ros/testing/sample_images.py, raw bgr8 and JPEG quality 90) at 10 Hz per camera. The normal working
   set is the largest resident size (VmRSS) sampled every 50 ms.
2. **hostile frames**: ``--frames`` malformed frames: yolo_trt_ros/testing/hostile_frames.py's hand-built cases
   (hidden 16000x16000 JPEG headers, bombs, other formats labelled jpeg, size/step/length
   mismatches ...) and random corruptions of good JPEGs and PNGs (``mutated``), a good 640x480
   frame after every ``--good-every``. The peak is the kernel's high-water mark (VmHWM, reset
   through ``/proc/<pid>/clear_refs`` before the phase). Reported: frames sent, good frames
   detected, the node's diagnostics counters and whether they add up.
3. **largest accepted**: valid uniform JPEGs as large as ``max_image_pixels`` lets through
   (baseline, 4:2:0 and 4:4:4 progressive: the most memory a frame may legitimately take), with
   their own VmHWM peak.
4. **requests**: ``--requests`` malformed service requests (parameters of random names, types and
   values, lifecycle transitions of random ids, lookups of unknown names).
5. **lifecycle**: ``--cycles`` of deactivate, cleanup, configure, activate, each followed by good
   frames until one is detected; VmRSS after each cycle, and its growth from cycle 10 (or the
   first, for shorter runs) to the last.

The JSON goes to stdout and ``--out``; progress and the node's log tail to stderr. On this CPU
machine::

    source install/setup.bash
    python scripts/soak_hostile.py --out soak.json                      # about 10 minutes
    python scripts/soak_hostile.py --frames 300 --requests 50 --cycles 3 --out soak.json
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.ros.diagnostics import FRAME_OUTCOMES
from yolo_trt_ros.testing.benchmarks import emit_report
from yolo_trt_ros.testing.hostile_frames import compressed_cases, encode, mutated, raw_cases
from yolo_trt_ros.testing.node_harness import (
    Collector,
    DetectorProcess,
    LifecycleClient,
    RosHarness,
    image_message,
    latest_statuses,
    spin_for,
)
from yolo_trt_ros.testing.ros_domain import isolate_ros_domain
from yolo_trt_ros.testing.sample_images import build_sample_images

# A private DDS domain on localhost for this run and the node it starts (they inherit it).
isolate_ros_domain()

NODE = "soak_hostile"
TOPICS = {"raw": "/soak/raw", "jpeg": "/soak/jpeg"}
DEPTH = 100
PARAMETER_NAMES = (
    "confidence_threshold",
    "iou_threshold",
    "max_detections",
    "image_topics",
    "max_image_pixels",
    "jpeg_decoder",
    "device",
    "image_size",
    "qos_depth",
    "no_such_parameter",
    "",
)


def proc_status_mb(pid: int, key: str) -> float:
    """One memory line of /proc/<pid>/status (VmRSS, VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Reset the process's VmHWM to its current VmRSS (Linux clear_refs, value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class RssSampler:
    """Samples a process's VmRSS every 50 ms in a thread; keeps the largest."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, proc_status_mb(self.pid, "VmRSS"))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"soak_hostile: {message}", file=sys.stderr, flush=True)


class Soak:
    """The node, the publishers and collectors a soak run talks to."""

    def __init__(self, ros: RosHarness, process: DetectorProcess, seed: int) -> None:
        self.ros, self.process = ros, process
        self.client = LifecycleClient(ros, NODE)
        self.rng = np.random.default_rng(seed)
        qos = QoSProfile(depth=DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers: dict[str, Any] = {
            "raw": ros.node.create_publisher(Image, TOPICS["raw"], qos),
            "jpeg": ros.node.create_publisher(CompressedImage, TOPICS["jpeg"], qos),
        }
        self.detections = {
            c: Collector(ros, Detection2DArray, f"/{NODE}/{c}/detections", DEPTH) for c in TOPICS
        }
        self.diagnostics = Collector(ros, DiagnosticArray, "/diagnostics", 10)
        street = build_sample_images()["street_1080p"]
        small = cv2.resize(street, (640, 480), interpolation=cv2.INTER_AREA)
        self.frames = {"1080p": street, "480p": small}
        self.jpeg = {
            k: encode(".jpg", v, cv2.IMWRITE_JPEG_QUALITY, 90) for k, v in self.frames.items()
        }
        self.png_480p = encode(".png", small)
        self.stamp = 0

    def good(self, camera: str, size: str) -> tuple[Image | CompressedImage, int]:
        """Build a good frame for a camera with a new stamp; return it and the stamp."""
        self.stamp += 1
        stamp = Time(sec=self.stamp)
        if camera == "raw":
            return image_message(self.frames[size], stamp, "soak"), self.stamp
        msg = CompressedImage(header=Header(stamp=stamp, frame_id="soak"), format="jpeg")
        msg.data = self.jpeg[size]
        return msg, self.stamp

    def detected(self, camera: str, stamp: int) -> bool:
        """Whether the node answered the frame of this stamp."""
        return any(m.header.stamp.sec == stamp for m in self.detections[camera].messages)

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Spin until condition() holds; False after timeout or when the node has exited."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.process.poll() is not None:
                return False
            self.ros.executor.spin_once(timeout_sec=0.02)
        return True

    def until_detected(self, size: str = "480p", timeout: float = 60.0) -> bool:
        """Send good frames to both cameras until one of each is detected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.process.poll() is None:
            stamps = {}
            for camera, publisher in self.publishers.items():
                msg, stamps[camera] = self.good(camera, size)
                publisher.publish(msg)
            if self.wait(functools.partial(self._all_detected, stamps), 1.0):
                return True
        return False

    def _all_detected(self, stamps: dict[str, int]) -> bool:
        return all(self.detected(c, stamps[c]) for c in TOPICS)

    def counters(self) -> dict[str, dict[str, str]]:
        """Each camera's newest diagnostics key-values."""
        statuses = latest_statuses(self.diagnostics, NODE)
        return {c: {kv.key: kv.value for kv in statuses[c].values} for c in TOPICS if c in statuses}

    def drain(self) -> None:
        """Spin until the node's diagnostics show nothing in flight and the counters stop moving."""
        keys = ("frames received", "frames published", "bad frames", "frames in flight")
        previous: list[str] = []
        for _ in range(60):
            spin_for(self.ros, 1.2)
            counters = self.counters()
            now = [v.get(k, "?") for v in counters.values() for k in keys]
            settled = all(v.get("frames in flight", "0") == "0" for v in counters.values())
            if counters and now == previous and settled:
                return
            previous = now

    def parameters(self, names: list[str]) -> list[ParameterMsg]:
        """Read the node's values of these parameters, as messages to set them back with."""
        getter = self.ros.node.create_client(GetParameters, f"/{NODE}/get_parameters")
        values = self.client._call(getter, GetParameters.Request(names=names)).values
        return [ParameterMsg(name=n, value=v) for n, v in zip(names, values, strict=True)]


def normal_phase(soak: Soak, seconds: float) -> dict[str, Any]:
    """Good 1080p frames; the largest VmRSS sampled is the normal working set."""
    log(f"normal: {seconds:.0f} s of 1080p frames at 10 Hz per camera")
    sent = 0
    stamps: list[tuple[str, int]] = []
    with RssSampler(soak.process.process.pid) as sampler:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for camera, publisher in soak.publishers.items():
                msg, stamp = soak.good(camera, "1080p")
                publisher.publish(msg)
                stamps.append((camera, stamp))
                sent += 1
            spin_for(soak.ros, 0.1)
        spin_for(soak.ros, 1.0)
    detected = sum(1 for camera, stamp in stamps if soak.detected(camera, stamp))
    return {
        "frames_sent": sent,
        "frames_detected": detected,
        "working_set_mb": round(sampler.peak_mb, 1),
        "rss_end_mb": round(proc_status_mb(soak.process.process.pid, "VmRSS"), 1),
    }


def _hostile_frame(soak: Soak, index: int, cases: dict[str, list[Any]]) -> tuple[str, Any]:
    """Pick a hand-built case (every third frame) or a random corruption of a good frame."""
    rng = soak.rng
    if index % 3 == 0:
        camera = "raw" if index % 2 else "jpeg"
        pool = cases[camera]
        return camera, pool[int(rng.integers(0, len(pool)))].msg
    source = soak.jpeg["480p"] if rng.random() < 0.8 else soak.png_480p
    msg = CompressedImage(header=Header(frame_id="soak"), format="jpeg")
    msg.data = mutated(source, rng)
    return "jpeg", msg


def hostile_phase(soak: Soak, frames: int, good_every: int) -> dict[str, Any]:
    """Malformed frames with good ones interleaved; the VmHWM peak and the counters after."""
    log(f"hostile frames: {frames} malformed, a good 480p frame after every {good_every}")
    pid = soak.process.process.pid
    cases = {"raw": raw_cases(), "jpeg": compressed_cases()}
    reset_peak(pid)
    good: list[tuple[str, int]] = []
    started = time.monotonic()
    for index in range(frames):
        camera, msg = _hostile_frame(soak, index, cases)
        soak.publishers[camera].publish(msg)
        if index % good_every == good_every - 1:
            for name, publisher in soak.publishers.items():
                good_msg, stamp = soak.good(name, "480p")
                publisher.publish(good_msg)
                good.append((name, stamp))
            spin_for(soak.ros, 0.05)  # paced: the node's queue (depth 100) is never overrun
        if soak.process.process.poll() is not None:
            break
    soak.drain()
    counters = soak.counters()
    return {
        "frames_sent": frames,
        "good_frames_sent": len(good),
        "good_frames_detected": sum(1 for c, s in good if soak.detected(c, s)),
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(proc_status_mb(pid, "VmHWM"), 1),
        "diagnostics": counters,
        "accounting_closes": {c: _closes(v) for c, v in counters.items()},
    }


def _closes(values: dict[str, str]) -> bool:
    """Received == published + dropped + skipped + bad + errors + discarded + in flight."""
    try:
        return int(values["frames received"]) == sum(
            int(values.get(p, "0")) for p in FRAME_OUTCOMES
        )
    except (KeyError, ValueError):
        return False


def largest_accepted_phase(soak: Soak, repeat: int) -> dict[str, Any]:
    """Send the largest valid JPEGs the node takes: the most memory a frame may legitimately take.

    Uniform frames (the smallest JPEGs of their size): baseline and 4:2:0 progressive at
    max_image_pixels, and 4:4:4 progressive at the size whose DCT coefficients fit the same budget.
    """
    full = [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    progressive = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    frames = {
        "baseline 8192x4096": (8192, 4096, []),
        "progressive 4:2:0 8192x4096": (8192, 4096, progressive),
        "progressive 4:4:4 6688x3344": (6688, 3344, [*progressive, *full]),
    }
    pid = soak.process.process.pid
    reset_peak(pid)
    sent: dict[str, int] = {}
    for name, (width, height, params) in frames.items() if repeat else ():
        data = encode(".jpg", np.full((height, width, 3), 90, np.uint8), *params)
        sent[name] = len(data)
        log(f"largest accepted: {repeat} x {name}, {len(data)} bytes")
        for _ in range(repeat):
            msg = CompressedImage(header=Header(frame_id="soak"), format="jpeg")
            msg.data = data
            soak.publishers["jpeg"].publish(msg)
            spin_for(soak.ros, 2.0)
    soak.drain()
    counters = soak.counters().get("jpeg", {})
    return {
        "jpeg_bytes": sent,
        "frames_sent": repeat * len(frames),
        "peak_rss_mb": round(proc_status_mb(pid, "VmHWM"), 1),
        "last_problem": counters.get("last problem", ""),
    }


def _random_value(rng: np.random.Generator) -> ParameterValue:
    kind = int(rng.integers(0, 12))
    value = ParameterValue(type=kind if kind < 10 else int(rng.integers(10, 256)))
    if kind == 2:
        value.integer_value = int(rng.integers(-(2**63), 2**63 - 1, dtype=np.int64))
    elif kind == 3:
        value.double_value = float(rng.choice([math.nan, math.inf, -1.0, 2.0, 0.5, 1e308]))
    elif kind == 4:
        value.string_value = "x" * int(rng.integers(0, 20_000))
    elif kind == 9:
        value.string_array_value = ["/t"] * int(rng.integers(0, 300))
    return value


def requests_phase(soak: Soak, requests: int) -> dict[str, Any]:
    """Malformed parameter, lifecycle and lookup requests; the parameters are restored after."""
    log(f"requests: {requests} malformed service requests")
    rng, node = soak.rng, soak.ros.node
    setter = node.create_client(SetParameters, f"/{NODE}/set_parameters")
    getter = node.create_client(GetParameters, f"/{NODE}/get_parameters")
    answered = refused = 0
    originals = soak.parameters([n for n in PARAMETER_NAMES if n and n != "no_such_parameter"])
    for index in range(requests):
        kind = index % 3
        if kind == 0:
            names = [str(rng.choice(PARAMETER_NAMES)) for _ in range(int(rng.integers(1, 5)))]
            request = SetParameters.Request(
                parameters=[ParameterMsg(name=n, value=_random_value(rng)) for n in names]
            )
            results = soak.client._call(setter, request).results
            refused += sum(1 for r in results if not r.successful)
        elif kind == 1:
            change = ChangeState.Request()  # any id but the shutdowns (5-8), which are valid
            change.transition.id = int(rng.choice([*range(5), *range(9, 256)]))
            change.transition.label = str(rng.choice(["", "activate", "deactivate", "bogus"]))
            soak.client._call(soak.client.change, change)
            _back_to_active(soak)
        else:
            names = [f"unknown_{i}" for i in range(int(rng.integers(0, 200)))]
            soak.client._call(getter, GetParameters.Request(names=names))
        answered += 1
    # some random values were valid (a new image_topics, say): put the start values back
    restored = soak.client._call(setter, SetParameters.Request(parameters=originals)).results
    if not all(r.successful for r in restored):
        raise RuntimeError(f"could not restore the parameters: {restored}")
    _back_to_active(soak, reconfigure=True)
    return {"sent": requests, "answered": answered, "parameters_refused": refused}


def _back_to_active(soak: Soak, *, reconfigure: bool = False) -> None:
    """Undo a transition a random request made (deactivate, cleanup), or apply restored values."""
    state = soak.client.state()
    if reconfigure and state == "active":
        soak.client.transition("deactivate")
        state = "inactive"
    if reconfigure and state == "inactive":
        soak.client.transition("cleanup")
        state = "unconfigured"
    if state == "unconfigured":
        soak.client.transition("configure")
        state = soak.client.state()
    if state == "inactive":
        soak.client.transition("activate")


def lifecycle_phase(soak: Soak, cycles: int) -> dict[str, Any]:
    """Full lifecycle cycles, each proven by a detection; VmRSS after each."""
    log(f"lifecycle: {cycles} deactivate/cleanup/configure/activate cycles")
    pid = soak.process.process.pid
    rss: list[float] = []
    failed = 0
    for cycle in range(cycles):
        ok = all(
            soak.client.transition(t) for t in ("deactivate", "cleanup", "configure", "activate")
        )
        ok = ok and soak.until_detected()
        failed += not ok
        rss.append(round(proc_status_mb(pid, "VmRSS"), 1))
        if cycle % 10 == 9:
            log(f"lifecycle: cycle {cycle + 1}, {rss[-1]} MiB")
    first = min(9, len(rss) - 1)
    growth = 100.0 * (rss[-1] - rss[first]) / rss[first] if rss else 0.0
    return {
        "cycles": cycles,
        "failed_cycles": failed,
        "rss_mb": rss,
        "growth_from_cycle": first + 1,
        "growth_percent": round(growth, 2),
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Start the node, run every phase, stop the node; the report."""
    ros = RosHarness()
    process = DetectorProcess(
        NODE,
        work,
        image_topics=list(TOPICS.values()),
        input_types=["raw", "compressed"],
        camera_names=list(TOPICS),
        qos_depth=DEPTH,
        backend="onnxruntime",
        jpeg_decoder="opencv",
        autostart=True,
        **dict(args.node_param),
    )
    report: dict[str, Any] = {"seed": args.seed}
    try:
        soak = Soak(ros, process, args.seed)
        if not soak.until_detected("1080p", timeout=args.ready_timeout):
            raise RuntimeError(f"the node never detected a frame:\n{process.log[-3000:]}")
        report["normal"] = normal_phase(soak, args.normal_seconds)
        report["hostile_frames"] = hostile_phase(soak, args.frames, args.good_every)
        report["largest_accepted"] = largest_accepted_phase(soak, args.largest)
        working_set = report["normal"]["working_set_mb"]
        for phase in ("hostile_frames", "largest_accepted"):
            peak = report[phase]["peak_rss_mb"]
            report[phase]["peak_vs_normal_working_set"] = round(peak / working_set, 2)
        report["requests"] = requests_phase(soak, args.requests)
        report["lifecycle"] = lifecycle_phase(soak, args.cycles)
        report["still_detecting"] = soak.until_detected()
    except Exception as error:  # noqa: BLE001 - report what failed, with what was measured
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        report["crashed"] = process.process.poll() is not None
        report["exit_code"] = process.stop()
        ros.close()
        log(f"node log tail:\n{process.log[-2000:]}")
    return report


def _node_param(text: str) -> tuple[str, Any]:
    name, separator, value = text.partition(":=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"a node parameter is NAME:=VALUE, not {text!r}")
    return name, yaml.safe_load(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=10_000, help="malformed frames to send")
    parser.add_argument("--good-every", type=int, default=20, help="a good frame after every N")
    parser.add_argument("--requests", type=int, default=1_000, help="malformed service requests")
    parser.add_argument("--cycles", type=int, default=100, help="lifecycle cycles")
    parser.add_argument("--normal-seconds", type=float, default=15.0)
    parser.add_argument("--largest", type=int, default=2, help="times to send each largest JPEG")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--node-param",
        type=_node_param,
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="another detector parameter (a YAML value), e.g. reuse_frame_memory:=false",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    return parser


def main() -> int:
    """Run the soak; exit 1 when the node crashed, did not stop cleanly or a phase failed."""
    args = _parser().parse_args()
    with tempfile.TemporaryDirectory(prefix="soak_hostile_") as work:
        report = run(args, Path(work))
    emit_report(report, args.out)
    failed = report["crashed"] or report["exit_code"] != 0 or "error" in report
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
