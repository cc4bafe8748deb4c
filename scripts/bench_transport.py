#!/usr/bin/env python3
"""Benchmark moving camera frames into a Python node: delivery latency and loss, side by side.

For every combination of

* configuration: ``default`` (Fast DDS and glibc as installed), ``profile`` (the shipped
  config/dds/fastdds_camera_frames.xml, applied through ``yolo_trt_ros.dds.dds_environment``),
  ``heap`` (the detector's ``reuse_frame_memory`` heap settings in the subscriber,
  ``yolo_trt_ros.heap.keep_frame_buffers``, with default Fast DDS) and ``shipped`` (both: what
  the package's launch files and node give you); ``--configs ...,large_data`` adds Fast DDS's
  FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (``large_data_8mb``: with 8 MB messages); ``--formats``
  and ``--paths`` narrow the run;
* frame: 640x480 and 1920x1080, the test street scene, sent as rgb8 ``Image`` (``raw``) or as a
  JPEG ``CompressedImage`` (``compressed``, quality 90, encoded once before timing);
* reliability: RELIABLE and BEST_EFFORT (depth 1, KEEP_LAST, both sides);
* subscriber path: ``message`` (rclpy builds the Python message; ``image_to_array`` /
  ``compressed_to_array``) or ``serialized`` (``raw=True`` subscription, ``image_from_cdr``:
  the pixels are viewed in the CDR bytes, no Python message),

a publisher and a subscriber process are started (fresh processes per case, in a private
localhost ROS domain); the publisher sends ``--frames`` frames at ``--rate`` Hz, stamping each
with the wall clock just before ``publish()``. The subscriber records, per frame, the delivery
latency (stamp -> callback entry) and the pixel latency (stamp -> pixels in a NumPy array,
JPEG decode included), and counts the frames that never arrived and the DDS message-lost events.
Cases run config-innermost so machine noise hits both configurations alike.

    source install/setup.bash
    python scripts/bench_transport.py --out bench_transport.json --plot bench_transport.png

JSON (one record per case and a summary of the goals) goes to stdout and ``--out``; the plot
shows p50 and p95 pixel latency per case with the frames received. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

SIZES: Final = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
CONFIGS: Final = ("default", "profile", "heap", "shipped")
PROFILE_CONFIGS: Final = frozenset({"profile", "shipped"})  # the shipped Fast DDS profile
HEAP_CONFIGS: Final = frozenset({"heap", "shipped"})  # the detector's heap settings
# Fast DDS's own large-data mode (SHM + TCP for data, UDP for discovery), for comparison only;
# large_data_8mb also lifts the 64 KB message size so a 1080p frame is not fragmented
EXTRA_CONFIGS: Final = {
    "large_data": {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"},
    "large_data_8mb": {
        "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA?max_msg_size=8MB&sockets_size=16MB"
    },
}
RELIABILITIES: Final = ("reliable", "best_effort")
FORMATS: Final = ("raw", "compressed")
PATHS: Final = ("message", "serialized")
GOAL_SIZE: Final = "1920x1080"
TOPIC: Final = "bench_image"


@dataclass(frozen=True)
class Case:
    """One publisher/subscriber pairing."""

    config: str
    size: str
    format: str
    reliability: str
    path: str

    @property
    def label(self) -> str:
        """Short name for tables and plots."""
        return f"{self.config}/{self.reliability}/{self.format}/{self.path}"


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


# --- the two child roles ------------------------------------------------------------------------


def _frame_pixels(size: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
    import cv2  # noqa: PLC0415 - children only

    from yolo_trt_ros.testing.sample_images import build_sample_images  # noqa: PLC0415

    width, height = SIZES[size]
    street = build_sample_images()["street_1080p"]
    bgr = cv2.resize(street, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])  # rgb8


def _qos(reliability: str) -> Any:
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: PLC0415

    policy = (
        ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
    )
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=policy)


def run_publisher(case: Case, frames: int, rate: float) -> dict[str, Any]:
    """Publish ``frames`` stamped frames at ``rate`` Hz once a subscriber has matched."""
    import cv2  # noqa: PLC0415
    import rclpy  # noqa: PLC0415
    from sensor_msgs.msg import CompressedImage, Image  # noqa: PLC0415

    from yolo_trt_ros.ros.image_conversion import array_to_image_msg  # noqa: PLC0415

    rgb = _frame_pixels(case.size)
    rclpy.init()
    node = rclpy.create_node("bench_transport_publisher")
    msg: Image | CompressedImage
    if case.format == "raw":
        msg = array_to_image_msg(rgb, Image().header)  # copies the bytes as they are
        msg.encoding = "rgb8"
        publisher = node.create_publisher(Image, TOPIC, _qos(case.reliability))
    else:
        ok, jpeg = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        msg = CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes())
        publisher = node.create_publisher(CompressedImage, TOPIC, _qos(case.reliability))
    deadline = time.monotonic() + 20.0
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # let the reader's locators settle (a RELIABLE match completes after discovery)
    publish_ms = []
    period = 1.0 / rate
    start = time.monotonic()
    for index in range(frames):
        time.sleep(max(0.0, start + index * period - time.monotonic()))
        stamp = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        msg.header.frame_id = str(index)
        before = time.perf_counter()
        publisher.publish(msg)
        publish_ms.append((time.perf_counter() - before) * 1e3)
    time.sleep(0.5)
    node.destroy_node()
    rclpy.try_shutdown()
    return {
        "sent": frames,
        "bytes_per_frame": len(msg.data),
        "publish_ms_p50": _percentile(publish_ms, 50),
    }


def run_subscriber(case: Case, frames: int) -> dict[str, Any]:
    """Receive until told to stop on stdin; return latencies and loss."""
    import rclpy  # noqa: PLC0415
    from sensor_msgs.msg import CompressedImage, Image  # noqa: PLC0415

    from yolo_trt_ros.ros.compat import message_lost_callbacks  # noqa: PLC0415
    from yolo_trt_ros.ros.image_conversion import (  # noqa: PLC0415
        compressed_to_array,
        image_to_array,
    )
    from yolo_trt_ros.ros.transport import (  # noqa: PLC0415
        compressed_image_from_cdr,
        image_from_cdr,
    )

    rclpy.init()
    node = rclpy.create_node("bench_transport_subscriber")
    if case.config in HEAP_CONFIGS:  # as the detector does on configure (reuse_frame_memory)
        from yolo_trt_ros.heap import keep_frame_buffers  # noqa: PLC0415

        if not keep_frame_buffers().applied:
            raise RuntimeError("the heap settings could not be applied (not glibc?)")
    delivery: dict[int, float] = {}
    pixels: dict[int, float] = {}
    checksum = 0
    lost_events = [0]

    def on_frame(msg: Any) -> None:
        nonlocal checksum
        arrived = time.time_ns()
        if case.path == "serialized":
            msg = image_from_cdr(msg) if case.format == "raw" else compressed_image_from_cdr(msg)
        image, _ = image_to_array(msg) if case.format == "raw" else compressed_to_array(msg)
        checksum += int(image[-1, -1, 0])  # touch the pixels
        done = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        index = int(msg.header.frame_id)
        delivery[index] = (arrived - stamp) / 1e6
        pixels[index] = (done - stamp) / 1e6

    def on_lost(info: Any) -> None:
        lost_events[0] = int(info.total_count)

    node.create_subscription(
        Image if case.format == "raw" else CompressedImage,
        TOPIC,
        on_frame,
        _qos(case.reliability),
        raw=case.path == "serialized",
        event_callbacks=message_lost_callbacks(on_lost),
    )
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.read()  # the orchestrator closes stdin when the publisher is done
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    print("READY", flush=True)
    while not stop.is_set():
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()
    delivered = list(delivery.values())
    ready = list(pixels.values())
    return {
        "received": len(delivery),
        "lost": frames - len(delivery),
        "dds_message_lost_events": lost_events[0],
        "delivery_ms_p50": _percentile(delivered, 50),
        "delivery_ms_p95": _percentile(delivered, 95),
        "delivery_ms_max": _percentile(delivered, 100),
        "pixels_ms_p50": _percentile(ready, 50),
        "pixels_ms_p95": _percentile(ready, 95),
        "conversion_ms_p50": _percentile([pixels[i] - delivery[i] for i in pixels], 50),
    }


# --- the orchestrator -----------------------------------------------------------------------------


def cases(
    sizes: Sequence[str],
    configs: Sequence[str],
    formats: Sequence[str] = FORMATS,
    paths: Sequence[str] = PATHS,
) -> Iterator[Case]:
    """Every case, configuration innermost."""
    for size in sizes:
        for fmt in formats:
            for reliability in RELIABILITIES:
                for path in paths:
                    for config in configs:
                        yield Case(config, size, fmt, reliability, path)


def _environment(config: str, domain: int) -> dict[str, str]:
    from yolo_trt_ros.dds import dds_environment  # noqa: PLC0415

    env = dict(os.environ)
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        env.pop(name, None)
    if config in PROFILE_CONFIGS:
        env.update(dds_environment("rmw_fastrtps_cpp", environ=env).variables)
    env.update(EXTRA_CONFIGS.get(config, {}))
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    if env.get("ROS_DISTRO") == "humble":  # Humble's name for it (deprecated from Jazzy on)
        env["ROS_LOCALHOST_ONLY"] = "1"
    env.update(RMW_IMPLEMENTATION="rmw_fastrtps_cpp")
    return env


def _child(role: str, case: Case, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--role",
        role,
        "--case",
        json.dumps(asdict(case)),
        "--frames",
        str(args.frames),
        "--rate",
        str(args.rate),
    ]


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"no result from the child process; its output:\n{text[-2000:]}")


def measure(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Run one case in two fresh processes and return its record."""
    env = _environment(case.config, random.randint(100, 200))
    subscriber = subprocess.Popen(
        _child("subscriber", case, args),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert subscriber.stdout is not None and subscriber.stdin is not None
    selector = selectors.DefaultSelector()
    selector.register(subscriber.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=60.0) or subscriber.stdout.readline().strip() != "READY":
        subscriber.kill()
        raise RuntimeError(f"the subscriber of {case.label} did not start")
    published = subprocess.run(
        _child("publisher", case, args),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    time.sleep(0.5)
    received, _ = subscriber.communicate(input="stop\n", timeout=60)
    if published.returncode:
        raise RuntimeError(f"the publisher of {case.label} failed:\n{published.stderr[-2000:]}")
    return {**asdict(case), **_last_json(published.stdout), **_last_json(received)}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Check the goals at GOAL_SIZE raw: zero loss shipped; p50 3x below default RELIABLE.

    The comparison uses the ``shipped`` configuration (``profile`` when only that was run), and
    splits its best case's median into the publisher's ``publish()`` call, the time from
    ``publish()`` returning to the subscriber's callback, and the bytes -> pixels step.
    """

    def pick(**match: str) -> list[dict[str, Any]]:
        return [r for r in records if all(r[k] == v for k, v in match.items())]

    raw = {"size": GOAL_SIZE, "format": "raw"}
    shipped = "shipped" if pick(config="shipped", **raw) else "profile"
    baseline = pick(config="default", reliability="reliable", path="message", **raw)
    losses = {f"{r['reliability']}/{r['path']}": r["lost"] for r in pick(config=shipped, **raw)}
    best = min(
        (r for r in pick(config=shipped, **raw) if r["pixels_ms_p50"] is not None),
        key=lambda r: r["pixels_ms_p50"],
        default=None,
    )
    summary: dict[str, Any] = {"compared_config": shipped, f"{shipped}_lost_frames": losses}
    summary["zero_loss_goal_met"] = bool(losses) and not any(losses.values())
    if baseline and baseline[0]["pixels_ms_p50"] and best:
        ratio = baseline[0]["pixels_ms_p50"] / best["pixels_ms_p50"]
        summary |= {
            "default_reliable_message_pixels_ms_p50": baseline[0]["pixels_ms_p50"],
            "best_case": f"{best['reliability']}/{best['path']}",
            "best_pixels_ms_p50": best["pixels_ms_p50"],
            "speedup_vs_default_reliable": round(ratio, 2),
            "latency_goal_met": ratio >= 3.0,
            "best_case_breakdown_ms_p50": {
                "publish_call": best["publish_ms_p50"],
                "publish_return_to_callback": round(
                    best["delivery_ms_p50"] - best["publish_ms_p50"], 3
                ),
                "bytes_to_pixels": best["conversion_ms_p50"],
            },
        }
    return summary


def plot(records: list[dict[str, Any]], sizes: Sequence[str], path: Path) -> None:
    """Draw p50 (solid) and p95 (pale) pixel latency per case, one colour per configuration."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    palette = {"default": "tab:gray", "profile": "tab:blue", "heap": "tab:purple"}
    palette |= {"shipped": "tab:green"}
    configs = list(dict.fromkeys(r["config"] for r in records))
    figure, axes = plt.subplots(len(sizes), 1, figsize=(14, 5 * len(sizes)), squeeze=False)
    for axis, size in zip(axes[:, 0], sizes, strict=True):
        rows = [r for r in records if r["size"] == size]
        groups = list(dict.fromkeys((r["reliability"], r["format"], r["path"]) for r in rows))
        width = 0.85 / len(configs)
        for g, group in enumerate(groups):
            for c, config in enumerate(configs):
                found = [r for r in rows if (r["reliability"], r["format"], r["path"]) == group]
                row = next((r for r in found if r["config"] == config), None)
                if row is None:
                    continue
                x = g + (c - (len(configs) - 1) / 2) * width
                color = palette.get(config, "tab:orange")
                axis.bar(x, row["pixels_ms_p95"] or 0.0, width, color=color, alpha=0.35)
                axis.bar(x, row["pixels_ms_p50"] or 0.0, width, color=color)
                axis.text(
                    x,
                    row["pixels_ms_p95"] or 0.0,
                    f"{row['received']}",
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                )
        axis.set_xticks(range(len(groups)), ["\n".join(group) for group in groups], fontsize=8)
        axis.set_ylabel("stamp -> pixels, ms (p50 solid, p95 pale)")
        axis.set_title(f"{size}: delivery to pixels; numbers: frames received of {rows[0]['sent']}")
        axis.legend(
            handles=[Patch(color=palette.get(c, "tab:orange"), label=c) for c in configs],
            title="configuration",
        )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one child role) and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"also: {', '.join(EXTRA_CONFIGS)}"
    )
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--role", choices=("publisher", "subscriber"), help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        case = Case(**json.loads(args.case))
        if args.role == "publisher":
            result = run_publisher(case, args.frames, args.rate)
        else:
            result = run_subscriber(case, args.frames)
        print(json.dumps(result), flush=True)
        return 0
    sizes = args.sizes.split(",")
    records = []
    for case in cases(
        sizes, args.configs.split(","), args.formats.split(","), args.paths.split(",")
    ):
        started = time.monotonic()
        record = measure(case, args)
        records.append(record)
        print(
            f"{case.size} {case.label}: {record['received']}/{record['sent']} frames, "
            f"pixels p50 {record['pixels_ms_p50']} ms ({time.monotonic() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "frames": args.frames,
        "rate_hz": args.rate,
        "cases": records,
        "summary": summarize(records),
    }
    from yolo_trt_ros.testing.benchmarks import emit_report  # noqa: PLC0415

    emit_report(report, args.out)
    if args.plot:
        plot(records, sizes, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
