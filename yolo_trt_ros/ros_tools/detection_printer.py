"""Print a detector's results as they arrive, and save its annotated images.

    ros2 run yolo_trt_ros detection_printer /yolo_detector --out annotated/

Each line joins a frame's detections with its InferenceTiming (same header stamp): classes,
scores and the latency split into preprocess, inference and postprocess.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.msg import InferenceTiming
from yolo_trt_ros.ros.image_conversion import image_to_array
from yolo_trt_ros.ros.node_runner import run_node

__all__ = ["DetectionPrinter", "main"]


class DetectionPrinter(Node):
    """Prints each frame's detections with its timing, and saves the annotated frames."""

    def __init__(
        self, detector: str, out: Path | None, limit: int = 0, node_name: str = "detection_printer"
    ) -> None:
        super().__init__(node_name)
        self.out, self.limit, self.results, self.saved = out, limit, 0, 0
        self.waiting: dict[tuple[int, int], Detection2DArray] = {}
        prefix = detector.rstrip("/")
        self.create_subscription(Detection2DArray, f"{prefix}/detections", self.on_detections, 10)
        self.create_subscription(InferenceTiming, f"{prefix}/timing", self.on_timing, 10)
        if out is not None:
            self.create_subscription(Image, f"{prefix}/annotated", self.on_annotated, 2)

    def on_detections(self, msg: Detection2DArray) -> None:
        """Hold a frame's detections until its timing arrives."""
        # The timing of a frame is published right after its detections: print when it comes.
        if self.limit and self.results >= self.limit:
            return  # frames that were already in flight when the demo reached its count
        self.results += 1
        for stale in list(self.waiting)[:-4]:
            self.report(self.waiting.pop(stale), None)
        self.waiting[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg

    def on_timing(self, msg: InferenceTiming) -> None:
        """Print the frame this timing belongs to."""
        detections = self.waiting.pop((msg.header.stamp.sec, msg.header.stamp.nanosec), None)
        if detections is not None:
            self.report(detections, msg)

    def report(self, msg: Detection2DArray, timing: InferenceTiming | None) -> None:
        """Print one frame's line."""
        labels = ", ".join(
            f"{d.results[0].hypothesis.class_id} {d.results[0].hypothesis.score:.2f}"
            for d in msg.detections
            if d.results
        )
        latency = (
            f"latency {timing.total_ms:.1f} ms (pre {timing.preprocess_ms:.1f}, infer {timing.inference_ms:.1f}, "
            f"post {timing.postprocess_ms:.1f})"
            if timing
            else "(no timing: subscribed late)"
        )
        print(f"{len(msg.detections)} detections [{labels}] {latency}", flush=True)

    def flush(self) -> None:
        """Print frames whose timing never came."""
        for msg in self.waiting.values():
            self.report(msg, None)
        self.waiting.clear()

    def on_annotated(self, msg: Image) -> None:
        """Save an annotated frame as PNG."""
        try:
            image, _ = image_to_array(msg)
        except InvalidImageError as error:
            print(f"demo: annotated image unusable: {error}", file=sys.stderr)
            return
        assert self.out is not None  # subscribed only when out is set
        self.out.mkdir(parents=True, exist_ok=True)
        self.saved += 1
        cv2.imwrite(str(self.out / f"annotated_{self.saved:04d}.png"), image)


def main(argv: list[str] | None = None) -> int:
    """Print until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="detection_printer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "detector",
        nargs="?",
        default="/yolo_detector",
        help="the detector's topic prefix (default: /yolo_detector)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="save annotated images here (needs publish_annotated)",
    )
    args_and_ros = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(
        rclpy.utilities.remove_ros_args(["detection_printer", *args_and_ros])[1:]
    )
    return run_node(
        lambda: DetectionPrinter(args.detector, args.out),
        ["detection_printer", *args_and_ros],
        stop=DetectionPrinter.flush,
        own_signals=False,
    )


if __name__ == "__main__":
    sys.exit(main())
