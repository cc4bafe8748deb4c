#!/usr/bin/env python3
"""Measure the shipped Cyclone DDS settings for camera frames, through Cyclone's Python binding.

No ``rmw_cyclonedds_cpp`` wheel exists for this package's dev setup, so ``bench_transport.py``
cannot run ROS 2 over Cyclone here. This proxy sends frame-sized samples between two processes
with Cyclone DDS itself (the ``cyclonedds`` Python package, which bundles the C library; not a
dependency of yolo_trt_ros: ``pip install cyclonedds`` into any environment) and compares
Cyclone's defaults with ``config/dds/cyclonedds_camera_frames.xml`` (``CYCLONEDDS_URI``), for
RELIABLE and BEST_EFFORT, depth 1, at ``--rate`` Hz. What it shows is Cyclone's UDP transport
with and without the larger socket receive buffer. Absolute latencies include the Python
binding's serialization (``write()`` took 5-8 ms p50 per 1080p frame here), which rclpy does not
pay, so compare the two configurations with each other, not with bench_transport.py's numbers.

The binding is Cyclone DDS 11; ROS 2 Humble and Jazzy ship 0.10, which reads the same elements
this configuration uses.

    python scripts/bench_cyclone_proxy.py --out cyclone.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import numpy as np

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
CONFIG: Final = REPO_ROOT / "config" / "dds" / "cyclonedds_camera_frames.xml"
SIZES: Final = {"640x480": 640 * 480 * 3, "1920x1080": 1920 * 1080 * 3}
RELIABILITIES: Final = ("reliable", "best_effort")


def _frame_type(nbytes: int) -> Any:
    """Make a struct of an index, a stamp and ``nbytes`` of pixels (a fixed array: the fast path)."""
    from dataclasses import make_dataclass  # noqa: PLC0415

    from cyclonedds.idl import IdlStruct  # noqa: PLC0415
    from cyclonedds.idl.types import array, int64, uint8  # noqa: PLC0415

    fields = [("index", int64), ("stamp", int64), ("data", array[uint8, nbytes])]
    return make_dataclass(f"Frame{nbytes}", fields, bases=(IdlStruct,), namespace={}, kw_only=False)


def _endpoint_qos(reliability: str) -> Any:
    from cyclonedds.core import Policy, Qos  # noqa: PLC0415
    from cyclonedds.util import duration  # noqa: PLC0415

    policy = (
        Policy.Reliability.Reliable(duration(seconds=1))
        if reliability == "reliable"
        else Policy.Reliability.BestEffort
    )
    return Qos(policy, Policy.History.KeepLast(1))


def run_role(role: str, size: str, reliability: str, frames: int, rate: float) -> dict[str, Any]:
    """Publish ``frames`` stamped samples, or take them until the publisher's run is over."""
    from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet  # noqa: PLC0415
    from cyclonedds.domain import DomainParticipant  # noqa: PLC0415
    from cyclonedds.pub import DataWriter  # noqa: PLC0415
    from cyclonedds.sub import DataReader  # noqa: PLC0415
    from cyclonedds.topic import Topic  # noqa: PLC0415
    from cyclonedds.util import duration  # noqa: PLC0415

    frame_type = _frame_type(SIZES[size])
    participant = DomainParticipant(int(os.environ["BENCH_DOMAIN"]))
    topic = Topic(participant, "camera_frames", frame_type)
    qos = _endpoint_qos(reliability)
    if role == "publisher":
        writer = DataWriter(participant, topic, qos=qos)
        pixels = np.random.default_rng(0).integers(0, 255, SIZES[size], np.uint8).tobytes()
        time.sleep(2.0)  # discovery
        write_ms = []
        start = time.monotonic()
        for index in range(frames):
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            stamp = time.time_ns()
            writer.write(frame_type(index=index, stamp=stamp, data=pixels))
            write_ms.append((time.time_ns() - stamp) / 1e6)
        time.sleep(1.0)
        return {"sent": frames, "write_ms_p50": round(float(np.median(write_ms)), 3)}
    reader = DataReader(participant, topic, qos=qos)
    waitset = WaitSet(participant)
    waitset.attach(ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Any))
    latency: dict[int, float] = {}
    deadline = time.monotonic() + 3.0 + frames / rate + 2.0
    while time.monotonic() < deadline:
        waitset.wait(duration(milliseconds=50))
        for sample in reader.take(N=4):
            if isinstance(sample, frame_type):  # not the writer's unregister at its exit
                latency[sample.index] = (time.time_ns() - sample.stamp) / 1e6
    values = list(latency.values())
    return {
        "received": len(values),
        "latency_ms_p50": round(float(np.median(values)), 3) if values else None,
        "latency_ms_p95": round(float(np.percentile(values, 95)), 3) if values else None,
    }


def measure(config: str, size: str, reliability: str, args: argparse.Namespace) -> dict[str, Any]:
    """One case: a subscriber and a publisher process in a private domain."""
    env = dict(os.environ, BENCH_DOMAIN=str(random.randint(20, 200)))
    env.pop("CYCLONEDDS_URI", None)
    if config == "shipped":
        env["CYCLONEDDS_URI"] = CONFIG.as_uri()
    command = [sys.executable, __file__, "--size", size, "--reliability", reliability]
    command += ["--frames", str(args.frames), "--rate", str(args.rate), "--role"]
    subscriber = subprocess.Popen(
        [*command, "subscriber"], env=env, stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)
    publisher = subprocess.run(
        [*command, "publisher"], env=env, capture_output=True, text=True, check=False
    )
    received, _ = subscriber.communicate(timeout=120)
    if publisher.returncode or subscriber.returncode:
        raise RuntimeError(f"{config}/{size}/{reliability} failed:\n{publisher.stderr[-2000:]}")
    record: dict[str, Any] = {"config": config, "size": size, "reliability": reliability}
    record |= json.loads(publisher.stdout) | json.loads(received)
    return record


def main(argv: list[str] | None = None) -> int:
    """Run every case (or one role) and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--role", choices=("publisher", "subscriber"), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--reliability", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        result = run_role(args.role, args.size, args.reliability, args.frames, args.rate)
        print(json.dumps(result), flush=True)
        return 0
    from importlib.metadata import version  # noqa: PLC0415

    cyclonedds_version = version("cyclonedds")  # fails early where the binding is missing

    records = []
    for size in args.sizes.split(","):
        for reliability in RELIABILITIES:
            for config in ("default", "shipped"):
                record = measure(config, size, reliability, args)
                records.append(record)
                print(
                    f"{size} {config}/{reliability}: {record['received']}/{record['sent']}, "
                    f"p50 {record['latency_ms_p50']} ms",
                    file=sys.stderr,
                    flush=True,
                )
    report = {
        "cyclonedds": cyclonedds_version,
        "rmem_max": Path("/proc/sys/net/core/rmem_max").read_text().strip()
        if Path("/proc/sys/net/core/rmem_max").exists()
        else "n/a",
        "frames": args.frames,
        "rate_hz": args.rate,
        "cases": records,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
