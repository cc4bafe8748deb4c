"""The whole job on one machine, no camera or GPU needed: images in, detections and latency out.

    ros2 run yolo_trt_ros demo                       # the bundled sample photo, 10 frames
    ros2 run yolo_trt_ros demo photos/ --frames 30 --rate 5 --out demo_out

It starts the detector node in its own process (ONNX Runtime and the bundled YOLO11n unless told
otherwise), publishes the images as a camera topic over real DDS, prints each frame's detections
and latency as they arrive, and writes the annotated images to ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rclpy.executors import SingleThreadedExecutor

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.ros.node_runner import ros_session
from yolo_trt_ros.ros_tools.detection_printer import DetectionPrinter
from yolo_trt_ros.ros_tools.image_source import ImageSourceNode, frames_from

__all__ = ["main"]

DETECTOR = "yolo_demo_detector"
TOPIC = "/yolo_demo/image"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=None,
        help="image, folder or video (default: the bundled sample photo)",
    )
    parser.add_argument(
        "--frames", type=int, default=10, help="stop after this many results (default: 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=2.0, help="camera frames per second (default: 2)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("yolo_demo_out"), help="folder for annotated images"
    )
    parser.add_argument(
        "--model", default="", help="model file (default: the bundled YOLO11n ONNX)"
    )
    parser.add_argument("--backend", default="auto", help="detector backend (default: auto)")
    parser.add_argument("--device", default="auto", help="detector device (default: auto)")
    parser.add_argument(
        "--compressed", action="store_true", help="send JPEG CompressedImage instead of raw Image"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up after this many seconds"
    )
    return parser


def _start_detector(args: argparse.Namespace) -> subprocess.Popen[str]:
    parameters = {
        "image_topics": f"['{TOPIC}']",
        "input_types": "['compressed']" if args.compressed else "['raw']",
        "autostart": "true",
        "publish_annotated": "true",
        "backend": args.backend,
        "device": args.device,
        "model": args.model or "''",
    }
    command = [
        sys.executable,
        "-m",
        "yolo_trt_ros.ros.detector_node",
        "--ros-args",
        "-r",
        f"__node:={DETECTOR}",
    ]
    for name, value in parameters.items():
        command += ["-p", f"{name}:={value}"]
    return subprocess.Popen(command, text=True)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit 0 once ``--frames`` results have arrived."""
    args = _parser().parse_args(argv)
    try:
        frames = frames_from(args.source)
        first = next(frames)  # a bad source fails here, before a detector is started
    except InvalidImageError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    detector = _start_detector(args)
    with ros_session(own_signals=False):
        return _show(args, detector, itertools.chain([first], frames))


def _show(
    args: argparse.Namespace,
    detector: subprocess.Popen[str],
    frames: Iterator[npt.NDArray[np.uint8]],
) -> int:
    """Publish, print and wait for the results; stop the detector."""
    camera = ImageSourceNode(
        frames,
        topic=TOPIC,
        rate_hz=args.rate,
        compressed=args.compressed,
        node_name="yolo_demo_camera",
    )
    printer = DetectionPrinter(f"/{DETECTOR}", args.out, args.frames)
    executor = SingleThreadedExecutor()
    executor.add_node(camera)
    executor.add_node(printer)
    deadline = time.monotonic() + args.timeout
    try:
        while (
            printer.results < args.frames
            and time.monotonic() < deadline
            and detector.poll() is None
        ):
            executor.spin_once(timeout_sec=0.1)
        camera.count = max(camera.sent, 1)  # no more frames
        settle = time.monotonic() + 1.0  # the last frame's timing and annotated image
        while printer.waiting and time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.1)
        printer.flush()
    except KeyboardInterrupt:
        pass
    finally:
        detector.send_signal(signal.SIGINT)
        try:
            detector.wait(timeout=15)
        except subprocess.TimeoutExpired:
            detector.kill()
        executor.shutdown()
        camera.destroy_node()
        printer.destroy_node()
    if printer.results < args.frames:
        print(
            f"demo: only {printer.results} of {args.frames} results arrived (see the detector's log above)",
            file=sys.stderr,
        )
        return 1
    print(f"demo: {printer.results} frames detected; annotated images in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
