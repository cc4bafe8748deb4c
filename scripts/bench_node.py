#!/usr/bin/env python3
r"""Benchmark the detector node end to end over real ROS 2: latency, stage times and drops per case.

One run starts the detector node in its own process (``python -m yolo_trt_ros.ros.detector_node``
with ``autostart``, one image topic per format and camera, the ``--backend``/``--precision``/
``--device``/``--model`` given, any ``--node-param name:=value``, and the shipped Fast DDS profile
applied as the launch files do, ``yolo_trt_ros.dds.dds_environment``), in a private localhost ROS
domain. It waits up to ``--ready-timeout`` s (an engine build can take minutes) for the node's latched
``~/engine_info``, its subscriptions and outputs, and, when the node first runs a quick TensorRT
engine (``optimization_level`` 0), for the optimised one (``--accept-quick-engine`` measures the
quick one). Then this process is the camera and the latency probe at once:

* for every size (``--sizes``, the street photo of yolo_trt_ros/testing/sample_images.py, INTER_AREA) and format
  (``--formats``: ``raw`` sensor_msgs/Image rgb8, ``jpeg`` CompressedImage quality 90, encoded
  once), it publishes ``--warmup`` frames (not counted), then ``--frames`` frames at ``--rate``
  Hz (RELIABLE, depth 1), each stamped with the wall clock just before ``publish()``; with
  ``--cameras N`` it is N cameras of that format, each on its own topic at ``--rate`` Hz, their
  frames spread evenly over each period (one node serving several cameras);
* ``yolo_trt_ros.ros_tools.latency_probe.LatencyProbe`` matches the node's ``~/detections`` and
  ``~/timing`` (InferenceTiming) to each frame by stamp (same clock, one machine).

Per case: frames sent, received by the node (its diagnostics), answered with detections, dropped
(the node kept a newer frame) or missing; end-to-end latency (stamp -> Detection2DArray here)
p50/p95/min/max; the node's stage p50s (preprocess, inference, postprocess, total) and the
transport and wait around them; objects per frame.

Optional legs, each in its own process after the node has stopped, so that a missing library only
skips that leg with the reason in the JSON:

* ``--pipeline-bench``: ``GpuDetector`` on the node's engine (its EngineInfo ``engine_path``; the
  torch backend on ``--model`` when the node ran no device backend), per size: the bare engine
  binding (``backend.binding(shape).enqueue(stream)``, CUDA events; a CUDA graph replay where the
  backend captured one) and the same engine loaded without CUDA graphs (plain
  ``execute_async_v3``, the target's "bare execute") against the pipeline's wall time (host rgb8
  frame -> host detections), interleaved;
* ``--ultralytics-python PATH``: Ultralytics ``predict(half=True)`` on the GPU, run by that
  interpreter (it needs torch, ultralytics and onnx; the model is yolo11n.yaml with the ONNX file's
  weights, yolo_trt_ros/testing/ultralytics_torch.py), median wall time per frame at each size.

The summary holds the ratios where both sides were measured, against the targets: pipeline <= 1.3 x
bare execute; node processing (InferenceTiming total, raw frames) <= pipeline + 1 ms (the pipeline
timed at the rate the node sees frames, ``--rate`` times ``--cameras``; back to back reported
beside it); end to end >= 10 x faster than Ultralytics predict. The targets are for one camera:
with several, the ratios are reported and not judged (frames then also wait for each other).
JSON to stdout and ``--out``, a PNG with ``--plot``; progress and the node's log to stderr. Every
child is stopped with SIGINT, then killed.

On this CPU machine (ONNX Runtime)::

    source install/setup.bash
    python scripts/bench_node.py --sizes 640x480 --formats raw --frames 30 --rate 5 --out node.json

On a GPU machine with TensorRT (the first run builds the optimised engine, 10 minutes or more on
TensorRT 8.6: allow for it with ``--ready-timeout``; later runs load it from the engine cache)::

    python scripts/bench_node.py --backend tensorrt --precision fp16 --device cuda:0 \
        --ready-timeout 1800 --pipeline-bench --ultralytics-python /opt/py312/bin/python \
        --out bench_node.json --plot bench_node.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

# Only the standard library at module level: the Ultralytics leg runs this file under another
# interpreter, where neither this package nor ROS can be imported.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from rclpy.node import Node
    from rclpy.publisher import Publisher

    from yolo_trt_ros.backends.device import DeviceBackend
    from yolo_trt_ros.gpu.pipeline import GpuDetector
    from yolo_trt_ros.replay.ledger import FrameLedger
    from yolo_trt_ros.ros_tools.detector_discovery import DetectorCamera
    from yolo_trt_ros.ros_tools.latency_probe import LatencyProbe

    Frame = npt.NDArray[np.uint8]

SIZES: Final = ("640x480", "1280x720", "1920x1080")
FORMATS: Final = {"raw": "raw", "jpeg": "compressed"}  # benchmark format -> node input_types
DETECTOR: Final = "bench_node_detector"
TOPIC_PREFIX: Final = "/bench_node"
JPEG_QUALITY: Final = 90
QUICK_OPTIMIZATION_LEVEL: Final = 0  # EngineInfo.optimization_level of a quick first engine


def _asked_for_quick_engine(node_params: list[str] | None) -> bool:
    """Whether the node was told to run a level-0 engine or to build nothing in the background."""
    given = dict(param.split(":=", 1) for param in node_params or () if ":=" in param)
    return (
        given.get("optimization_level", "").strip() == str(QUICK_OPTIMIZATION_LEVEL)
        or given.get("optimize_in_background", "").strip().lower() == "false"
    )


GOAL_PIPELINE_OVER_BARE: Final = 1.3
GOAL_NODE_MINUS_PIPELINE_MS: Final = 1.0
GOAL_SPEEDUP_OVER_ULTRALYTICS: Final = 10.0
ENGINE_FIELDS: Final = (
    "backend",
    "backend_version",
    "precision",
    "device",
    "pipeline",  # newer EngineInfo only (getattr)
    "optimization_level",  # newer EngineInfo only (getattr)
    "model",
    "engine_path",
    "build_seconds",
    "from_cache",
    "input_shape",
)


def _size(label: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT."""
    width, _, height = label.partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT, not {label!r}")
    return int(width), int(height)


def _stats(values: Sequence[float]) -> dict[str, float | int]:
    """Return the replay report's statistics (count, mean, min, p50, p90, p99, max) and p95."""
    import numpy as np  # noqa: PLC0415

    from yolo_trt_ros.replay.report import summary_stats  # noqa: PLC0415

    stats = summary_stats(values)
    if values:
        stats["p95"] = float(np.percentile(np.asarray(values, np.float64), 95))
    order = ("count", "mean", "min", "p50", "p90", "p95", "p99", "max")
    return {
        key: round(value, 3) if isinstance(value, float) else value
        for key in order
        if (value := stats.get(key)) is not None
    }


def _p50(stats: Mapping[str, Any] | None) -> float | None:
    return None if not stats else stats.get("p50")


# --- child processes ------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[Any], timeout_s: float) -> int:
    """Ctrl-C a child, kill it if it has not exited after ``timeout_s``; return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def run_leg(
    name: str,
    python: str,
    job: dict[str, Any],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    work: Path,
) -> dict[str, Any]:
    """Run one optional leg in a child process; return its result, or why it was skipped."""
    job_path, result_path = work / f"{name}_job.json", work / f"{name}_result.json"
    job_path.write_text(json.dumps({**job, "result": str(result_path)}))
    command = [python, str(Path(__file__).resolve()), "--role", name, "--job", str(job_path)]
    print(f"bench_node: {name} leg: {' '.join(command)}", file=sys.stderr, flush=True)
    process = subprocess.Popen(
        command,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop the child
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        stop_process(process, 10.0)
        output, _ = process.communicate()
        timed_out = True
    except BaseException:
        stop_process(process, 10.0)
        raise
    tail = "\n".join((output or "").strip().splitlines()[-15:])
    if result_path.is_file():
        result: dict[str, Any] = json.loads(result_path.read_text())
        if "error" not in result:
            return result
        reason = result["error"]
    elif timed_out:
        reason = f"timed out after {timeout_s:.0f} s"
    else:
        reason = f"exited with status {process.returncode} without a result"
    print(f"bench_node: {name} leg skipped: {reason}\n{tail}", file=sys.stderr, flush=True)
    return {"skipped": reason, "output_tail": tail}


def _interleaved(
    runs: Mapping[str, Callable[[], float]], iterations: int, warmup: int
) -> dict[str, list[float]]:
    """Call each run once per iteration, alternating the order; return the ms each reported."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for iteration in range(iterations):
        for name in names if iteration % 2 == 0 else names[::-1]:
            samples[name].append(runs[name]())
    return samples


def _time_pipeline(
    detector: GpuDetector,
    plain: DeviceBackend,
    rgb: Frame,
    *,
    iterations: int,
    warmup: int,
    rate: float,
) -> dict[str, Any]:
    """Interleave the bare engine execute (CUDA events) and the pipeline (wall) on one frame.

    The bare execute is the pipeline's own binding (a CUDA graph replay where the backend
    captured one) and, as ``bare_execute_plain_device``, the same model loaded without CUDA
    graphs (``plain``): one launch per kernel, as a plain TensorRT ``execute_async_v3``.

    Then the pipeline once more at the camera's pace (``rate`` Hz, as the node sees frames):
    back to back, the GPU keeps its clocks up; at 30 Hz it may lower them between frames.
    """
    from yolo_trt_ros.cuda.runtime import CudaEvent  # noqa: PLC0415

    stream = detector.stream
    geometry = detector.preprocessor.geometry((rgb.shape[0], rgb.shape[1]))
    shape = (1, 3, *geometry.input_hw)
    found = detector(rgb, "rgb8")  # also leaves this frame's tensor in the binding's input
    binding = detector.backend.binding(shape)
    plain_binding = plain.binding(shape)
    start, end = CudaEvent(timing=True), CudaEvent(timing=True)
    stages: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    bare_wall: list[float] = []

    def bare() -> float:
        began = time.perf_counter()
        start.record(stream)
        binding.enqueue(stream)
        end.record(stream)
        end.synchronize()
        bare_wall.append((time.perf_counter() - began) * 1e3)
        return float(start.elapsed_ms(end))

    def bare_plain() -> float:
        start.record(stream)
        plain_binding.enqueue(stream)
        end.record(stream)
        end.synchronize()
        return float(start.elapsed_ms(end))

    def pipeline() -> float:
        began = time.perf_counter()
        detector(rgb, "rgb8")
        wall = (time.perf_counter() - began) * 1e3
        times = detector.last_times
        stages["preprocess"].append(times.preprocess_ms)
        stages["inference"].append(times.inference_ms)
        stages["postprocess"].append(times.postprocess_ms)
        return wall

    try:
        samples = _interleaved(
            {
                "bare_execute_device": bare,
                "bare_execute_plain_device": bare_plain,
                "pipeline_wall": pipeline,
            },
            iterations,
            warmup,
        )
    finally:
        start.close()
        end.close()
    samples["bare_execute_wall"] = bare_wall[warmup:]
    samples["pipeline_wall_paced"] = []
    tick = time.perf_counter()
    for _ in range(min(iterations, 90)):
        tick += 1.0 / rate
        time.sleep(max(0.0, tick - time.perf_counter()))
        samples["pipeline_wall_paced"].append(pipeline())
    for values in stages.values():
        del values[len(values) - len(samples["pipeline_wall_paced"]) :]  # stages: interleaved only
    return {
        "model_input_shape": list(shape),
        "detections": len(found),
        "samples_ms": samples,
        "pipeline_stage_samples_ms": {name: v[warmup:] for name, v in stages.items()},
    }


def pipeline_leg(job: Mapping[str, Any]) -> dict[str, Any]:
    """Time the GPU pipeline alone on the node's engine: bare execute vs pipeline, per size."""
    import numpy as np  # noqa: PLC0415

    from yolo_trt_ros.backends.device import DeviceBackend  # noqa: PLC0415
    from yolo_trt_ros.backends.registry import load_backend  # noqa: PLC0415
    from yolo_trt_ros.gpu.pipeline import GpuDetector  # noqa: PLC0415

    engine = job["engine"]
    device = engine["device"] if str(engine["device"]).startswith("cuda") else "auto"
    if engine["backend"] in ("tensorrt", "torch"):  # the node's own engine or model file
        model, backend = engine["engine_path"] or engine["model"], engine["backend"]
    else:  # the node ran on the host (ONNX Runtime): the torch backend on the model file
        model, backend = job["model"], "torch"
    precision = engine["precision"] if engine["precision"] in ("fp16", "fp32") else "fp16"
    options = {"precision": precision} if backend == "torch" else {}  # as RuntimePlan does
    result: dict[str, Any] = {"model": model, "backend": backend, "sizes": {}}
    detector = GpuDetector.from_model(
        model, backend=backend, device=device, backend_options=options
    )
    try:
        plain = load_backend(model, backend, device, **options, cuda_graph=False)
    except BaseException:
        detector.close()
        raise
    assert isinstance(plain, DeviceBackend)
    with detector, plain:
        result["device"] = detector.backend.device
        for label, path in job["frames"].items():
            rgb = np.ascontiguousarray(np.load(path)[:, :, ::-1])  # what the node gets: rgb8
            result["sizes"][label] = _time_pipeline(
                detector,
                plain,
                rgb,
                iterations=job["iterations"],
                warmup=job["warmup"],
                rate=job["rate"],
            )
        result["backend_version"] = detector.backend.version  # after the frames: graph or not
    return result


def _time_ultralytics(
    yolo: Any, frame: Frame, *, device: str, imgsz: int, iterations: int, warmup: int
) -> dict[str, Any]:
    """Time Ultralytics predict(half=True) on one BGR frame: wall ms and its own speed dict."""

    def predict() -> Any:
        return yolo.predict(frame, half=True, device=device, imgsz=imgsz, verbose=False)[0]

    for _ in range(warmup):
        predict()
    walls: list[float] = []
    own: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    found = None
    for _ in range(iterations):
        began = time.perf_counter()
        found = predict()
        walls.append((time.perf_counter() - began) * 1e3)
        for key, values in own.items():
            values.append(float(found.speed[key]))
    return {
        "detections": None if found is None else len(found.boxes),
        "samples_ms": {"predict_wall": walls},
        "own_speed_samples_ms": own,
    }


def ultralytics_leg(job: Mapping[str, Any]) -> dict[str, Any]:
    """Ultralytics predict(half=True) on the GPU, per size (run by another Python interpreter)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    import ultralytics  # noqa: PLC0415

    from yolo_trt_ros.testing.ultralytics_torch import ultralytics_from_onnx  # noqa: PLC0415

    yolo = ultralytics_from_onnx(Path(job["onnx"]), dict(enumerate(job["names"])))
    device, imgsz = job["device"], job["imgsz"]
    result: dict[str, Any] = {
        "model": f"yolo11n.yaml with the weights of {job['onnx']} (BatchNorm as identity)",
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(torch.device(device)),
        "python": platform.python_version(),
        "imgsz": imgsz,
        "sizes": {},
    }
    for label, path in job["frames"].items():
        frame = np.load(path)  # BGR, as Ultralytics takes NumPy images
        result["sizes"][label] = _time_ultralytics(
            yolo,
            frame,
            device=device,
            imgsz=imgsz,
            iterations=job["iterations"],
            warmup=job["warmup"],
        )
    return result


def run_role(role: str, job_path: Path) -> int:
    """Run one leg as a child: read the job, write the result (or the error) where it says."""
    job = json.loads(job_path.read_text())
    legs: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
        "pipeline": pipeline_leg,
        "ultralytics": ultralytics_leg,
    }
    try:
        result = legs[role](job)
    except Exception as error:  # noqa: BLE001 - any failure only skips this leg, with the reason
        result = {"error": f"{type(error).__name__}: {error}"}
    Path(job["result"]).write_text(json.dumps(result))
    return 0


def summarize_leg(leg: dict[str, Any]) -> dict[str, Any]:
    """Replace a leg's raw samples by their statistics."""
    if "sizes" not in leg:
        return leg
    for report in leg["sizes"].values():
        for key in [k for k in report if k.endswith("samples_ms")]:
            named = key.removesuffix("samples_ms").removesuffix("_")
            report[f"{named}_ms" if named else "ms"] = {
                name: _stats(values) for name, values in report.pop(key).items()
            }
    return leg


# --- frames ---------------------------------------------------------------------------------------


def frame_message(frame: Frame, fmt: str) -> Any:
    """Build the message a camera would send: rgb8 Image, or a JPEG CompressedImage."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    from sensor_msgs.msg import CompressedImage  # noqa: PLC0415
    from std_msgs.msg import Header  # noqa: PLC0415

    from yolo_trt_ros.ros.image_conversion import array_to_image_msg  # noqa: PLC0415

    if fmt == "raw":
        msg = array_to_image_msg(np.ascontiguousarray(frame[:, :, ::-1]), Header())
        msg.encoding = "rgb8"  # the bytes are copied as they are: RGB order
        return msg
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return CompressedImage(header=Header(), format="jpeg", data=jpeg.tobytes())


# --- the node and the ROS side --------------------------------------------------------------------


def camera_topics(formats: Sequence[str], cameras: int) -> dict[str, list[str]]:
    """Return each format's camera topics, one per camera.

    One camera: ``/bench_node/raw``; several: ``/bench_node/camera0/raw``, ``camera1/raw``, ...
    """
    if cameras == 1:
        return {fmt: [f"{TOPIC_PREFIX}/{fmt}"] for fmt in formats}
    return {fmt: [f"{TOPIC_PREFIX}/camera{i}/{fmt}" for i in range(cameras)] for fmt in formats}


def node_command(args: argparse.Namespace, topics: Mapping[str, Sequence[str]]) -> list[str]:
    """Return the detector node's command line (``topics``: format -> its camera topics)."""
    watched = [(topic, fmt) for fmt, names in topics.items() for topic in names]
    parameters = {
        "autostart": "true",
        "image_topics": "[" + ", ".join(f"'{topic}'" for topic, _ in watched) + "]",
        "input_types": "[" + ", ".join(f"'{FORMATS[fmt]}'" for _, fmt in watched) + "]",
        "backend": args.backend,
        "precision": args.precision,
        "device": args.device,
        "model": str(Path(args.model).expanduser().resolve()) if args.model else "''",
    }
    command = [sys.executable, "-m", "yolo_trt_ros.ros.detector_node", "--ros-args"]
    command += ["-r", f"__node:={DETECTOR}"]
    for name, value in parameters.items():
        command += ["-p", f"{name}:={value}"]
    for extra in args.node_param:  # after ours: a later -p for the same name wins
        command += ["-p", extra]
    return command


def _plain(value: Any) -> Any:
    """Return a message field as JSON: numbers, strings and lists as they are, else text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    try:
        return [_plain(item) for item in value]
    except TypeError:
        return str(value)


@dataclass
class _Watch:
    """What the client node has heard from the detector (written by the spin thread)."""

    engine: dict[str, Any] | None = None
    engines_seen: int = 0
    class_names: list[str] = field(default_factory=list)
    configure_error: str = ""


class BenchClient:
    """The benchmark's ROS side: camera publishers, EngineInfo and diagnostics, and the probe."""

    def __init__(self, topics: Mapping[str, Sequence[str]]) -> None:
        from diagnostic_msgs.msg import DiagnosticArray  # noqa: PLC0415
        from rclpy.node import Node  # noqa: PLC0415
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: PLC0415
        from sensor_msgs.msg import CompressedImage, Image  # noqa: PLC0415

        from yolo_trt_ros.msg import EngineInfo  # noqa: PLC0415
        from yolo_trt_ros.replay.ledger import FrameLedger  # noqa: PLC0415
        from yolo_trt_ros.ros.qos import LATCHED  # noqa: PLC0415
        from yolo_trt_ros.ros_tools.latency_probe import LatencyProbe  # noqa: PLC0415
        from yolo_trt_ros.ros_tools.measurement import Spinner  # noqa: PLC0415

        self.node: Node = Node("bench_node_camera")
        self.probe: LatencyProbe = LatencyProbe(FrameLedger(), "bench_node_probe")
        self.watch = _Watch()
        self.topics = {fmt: list(names) for fmt, names in topics.items()}
        camera_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE
        )
        self.publishers: dict[str, Publisher] = {  # topic -> its camera's publisher
            topic: self.node.create_publisher(
                Image if fmt == "raw" else CompressedImage, topic, camera_qos
            )
            for fmt, names in self.topics.items()
            for topic in names
        }
        self.node.create_subscription(
            EngineInfo, f"/{DETECTOR}/engine_info", self._on_engine, LATCHED
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.spinner = Spinner(self.node, self.probe)

    def _on_engine(self, msg: Any) -> None:
        self.watch.engine = {name: _plain(getattr(msg, name, None)) for name in ENGINE_FIELDS}
        self.watch.class_names = [str(name) for name in msg.class_names]
        self.watch.engines_seen += 1

    def _on_diagnostics(self, msg: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticStatus  # noqa: PLC0415

        for status in msg.status:
            if (
                status.name == f"/{DETECTOR}: detector"
                and status.level == DiagnosticStatus.ERROR
                and status.message.startswith("configure failed")
            ):
                self.watch.configure_error = str(status.message)

    def subscribed(self) -> bool:
        """Whether the node subscribes to every camera topic (it does once active)."""
        return all(p.get_subscription_count() > 0 for p in self.publishers.values())

    def image_qos(self) -> dict[str, list[str]]:
        """Return the reliability of the node's subscriptions on each camera topic."""
        return {
            topic: [
                info.qos_profile.reliability.name.lower()
                for info in self.node.get_subscriptions_info_by_topic(topic)
            ]
            for topic in self.publishers
        }

    def close(self) -> None:
        """Stop spinning and destroy the nodes."""
        self.spinner.stop()
        self.probe.destroy_node()
        self.node.destroy_node()


def wait_until_ready(
    client: BenchClient, detector: subprocess.Popen[Any], args: argparse.Namespace
) -> tuple[list[DetectorCamera], float]:
    """Wait for the node's EngineInfo (the optimised engine), subscriptions and outputs.

    Returns the node's streams and the seconds it took; RuntimeError when the node exits, fails to
    configure, or is not ready within ``--ready-timeout``.
    """
    from yolo_trt_ros.errors import DetectorNotFoundError, TopicNotWatchedError  # noqa: PLC0415
    from yolo_trt_ros.ros_tools.detector_discovery import find_detector_cameras  # noqa: PLC0415
    from yolo_trt_ros.ros_tools.measurement import wait_for  # noqa: PLC0415

    started = time.monotonic()
    deadline = started + args.ready_timeout
    exited = "the detector node exited with status {} (its log is above)"
    while True:  # its parameters answer as soon as the process is up, before configure
        try:
            streams = find_detector_cameras(client.probe, DETECTOR, 5.0, list(client.publishers))
            break
        except TopicNotWatchedError as error:  # e.g. a --node-param image_topics
            raise RuntimeError(str(error)) from None
        except DetectorNotFoundError as error:
            if detector.poll() is not None:
                raise RuntimeError(exited.format(detector.returncode)) from None
            if time.monotonic() > deadline:
                raise RuntimeError(str(error)) from None
    client.probe.watch(DETECTOR, streams)
    said_quick = False

    def state() -> str:
        nonlocal said_quick
        if detector.poll() is not None:
            return exited.format(detector.returncode)
        if client.watch.configure_error:
            return f"the detector node could not be configured: {client.watch.configure_error}"
        engine = client.watch.engine
        if engine is None or not client.subscribed() or not client.probe.outputs_connected():
            return ""
        if (
            engine.get("optimization_level") == QUICK_OPTIMIZATION_LEVEL
            and not args.accept_quick_engine
            and not _asked_for_quick_engine(args.node_param)
        ):
            if not said_quick:
                said_quick = True
                print(
                    "bench_node: the node detects with a quick engine (optimisation level 0) while "
                    "it builds the optimised one; waiting for that (--accept-quick-engine: measure "
                    "the quick one)",
                    file=sys.stderr,
                    flush=True,
                )
            return ""
        return "ready"

    while not (outcome := state()):
        if time.monotonic() > deadline:
            if said_quick:
                raise RuntimeError(
                    f"the detector node still ran its quick engine after {args.ready_timeout:.0f} s "
                    "(the optimised build goes on in the node): raise --ready-timeout, or measure "
                    "the quick engine with --accept-quick-engine"
                )
            raise RuntimeError(
                f"the detector node was not ready after {args.ready_timeout:.0f} s "
                f"(EngineInfo {'received' if client.watch.engine else 'not received'}, "
                f"camera topics {'subscribed' if client.subscribed() else 'not subscribed'})"
            )
        time.sleep(0.1)
    if outcome != "ready":
        raise RuntimeError(outcome)
    # qos_reliability auto: the node re-checks every 2 s and moves to RELIABLE like the publishers
    wait_for(lambda: all(q == ["reliable"] for q in client.image_qos().values()), 5.0)
    return streams, time.monotonic() - started


def send_frames(
    client: BenchClient, fmt: str, msg: Any, ledger: FrameLedger, *, count: int, rate_hz: float
) -> dict[str, float | None]:
    """Publish ``count`` frames at ``rate_hz`` on each camera topic of ``fmt``.

    Each frame is stamped (and recorded) just before publish(); several cameras take turns, spread
    evenly over each period.
    """
    topics = client.topics[fmt]
    publish_ms: list[float] = []
    max_lag_s = 0.0
    start = time.monotonic()
    for index in range(count):
        for turn, topic in enumerate(topics):
            wait = start + (index + turn / len(topics)) / rate_hz - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                max_lag_s = max(max_lag_s, -wait)
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            msg.header.frame_id = str(index)
            ledger.sent(topic, stamp, stamp)
            before = time.perf_counter()
            client.publishers[topic].publish(msg)
            publish_ms.append((time.perf_counter() - before) * 1e3)
    return {
        "publish_ms_p50": _p50(_stats(publish_ms)),
        "max_send_lag_ms": round(max_lag_s * 1e3, 3),
    }


def measure_case(
    client: BenchClient, size: str, fmt: str, frame: Frame, args: argparse.Namespace
) -> dict[str, Any]:
    """Warm up, then send ``--frames`` frames of one size and format; return the case's record."""
    from yolo_trt_ros.replay.ledger import FrameLedger  # noqa: PLC0415
    from yolo_trt_ros.replay.report import LATENCY_KEYS, build_report  # noqa: PLC0415
    from yolo_trt_ros.ros_tools.measurement import counter_delta  # noqa: PLC0415

    msg = frame_message(frame, fmt)
    probe = client.probe
    engine_before = client.watch.engines_seen
    probe.ledger = FrameLedger()  # warm-up frames: answered, never counted
    send_frames(client, fmt, msg, probe.ledger, count=args.warmup, rate_hz=args.rate)
    probe.ledger.wait_until_quiet(args.answer_timeout, limit_s=args.answer_timeout * 3)
    # diagnostics sent after the warm-up's last answer: else its frames count as the case's
    before = probe.counters(newer_than=time.monotonic(), timeout_s=2.5)
    ledger = probe.ledger = FrameLedger()
    sending = send_frames(client, fmt, msg, ledger, count=args.frames, rate_hz=args.rate)
    ledger.wait_until_quiet(args.answer_timeout, limit_s=args.answer_timeout * 3)
    after = probe.counters(newer_than=time.monotonic(), timeout_s=2.5) if before else None
    records = ledger.finish()
    counts = counter_delta(before, after)
    summary = build_report(records, {}, counts, ledger.unmatched)["summary"]
    latencies = [record.latencies_ms() for record in records if record.answered]
    per_key = {
        key: _stats([v for entry in latencies if (v := entry[key]) is not None])
        for key in LATENCY_KEYS
    }
    frames = summary["frames"]
    topics = client.topics[fmt]
    return {
        "size": size,
        "format": fmt,
        "topics": topics,
        "cameras": len(topics),
        "bytes_per_frame": len(msg.data),
        "frames_sent": frames["sent"],
        "frames_received_by_node": None if counts is None else counts["received"],
        "detections_received": frames["detected"],
        "timings_received": frames["with_timing"],
        "frames_dropped": frames["dropped"],
        "frames_missing": frames["missing"],
        "drops": frames["without_output"],
        "node_reported_drops": summary["detector_reported_drops"],
        "node_counters": counts,
        "latency_ms": per_key["end_to_end"],
        "node_stage_ms_p50": {
            "preprocess": _p50(per_key["preprocess"]),
            "inference": _p50(per_key["inference"]),
            "postprocess": _p50(per_key["postprocess"]),
            "total": _p50(per_key["node_total"]),
        },
        "around_node_ms_p50": {
            "transport_in": _p50(per_key["transport_in"]),
            "wait_for_model": _p50(per_key["wait"]),
            "transport_out": _p50(per_key["transport_out"]),
        },
        "node_total_ms": per_key["node_total"],
        "objects_per_frame": summary["detections_per_frame"],
        "throughput": {k: round(v, 3) for k, v in summary["throughput"].items()},
        "unmatched_answers": summary["unmatched_answers"],
        # with several cameras: each one's answers and latency (is any camera starved?)
        "per_camera": _rounded(summary["per_topic"]) if len(topics) > 1 else None,
        "engine_changed": client.watch.engines_seen != engine_before,
        **sending,
    }


def _rounded(value: Any) -> Any:
    """Return the value with every float in it rounded to 3 decimals (microseconds, in ms)."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


# --- the report -----------------------------------------------------------------------------------


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _all_met(flags: Sequence[bool | None]) -> bool | None:
    known = [flag for flag in flags if flag is not None]
    return all(known) if known else None


def _leg_median(leg: Mapping[str, Any], size: str, key: str) -> float | None:
    found = leg.get("sizes", {}).get(size, {}).get("ms", {}).get(key)
    return None if not found else found.get("p50")


def _answered(case: Mapping[str, Any]) -> bool:
    """Whether the case got answers, from every camera where there were several."""
    cameras = (case.get("per_camera") or {}).values()
    return case["detections_received"] > 0 and all(camera["detected"] > 0 for camera in cameras)


def summarize(
    cases: Sequence[Mapping[str, Any]], legs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Per case the headline numbers; per size the ratios against the pipeline and Ultralytics."""
    pipeline, ultralytics = legs.get("pipeline", {}), legs.get("ultralytics", {})
    comparisons = []
    for case in cases:
        size = case["size"]
        bare = _leg_median(pipeline, size, "bare_execute_device")
        plain = _leg_median(pipeline, size, "bare_execute_plain_device")
        wall = _leg_median(pipeline, size, "pipeline_wall")
        paced = _leg_median(pipeline, size, "pipeline_wall_paced")
        theirs = _leg_median(ultralytics, size, "predict_wall")
        node_total = case["node_stage_ms_p50"]["total"]
        end_to_end = _p50(case["latency_ms"])
        # the target's "bare TensorRT execute": plain execute_async_v3, as trtexec times it
        over_bare = _ratio(wall, plain if plain is not None else bare)
        minus = None if node_total is None or wall is None else round(node_total - wall, 3)
        paced_minus = None if node_total is None or paced is None else round(node_total - paced, 3)
        judged = paced_minus if paced_minus is not None else minus
        speedup = _ratio(theirs, end_to_end)
        # The node and end-to-end targets are for one camera: with several, frames also wait for
        # each other's, so their ratios are reported and not judged.
        one_camera = case.get("cameras", 1) == 1
        comparisons.append(
            {
                "case": f"{size}/{case['format']}",
                "bare_execute_ms_p50": plain if plain is not None else bare,
                "bare_execute_as_pipeline_runs_it_ms_p50": bare,
                "pipeline_ms_p50": wall,
                "pipeline_over_bare_execute": over_bare,
                "pipeline_over_bare_execute_as_pipeline_runs_it": _ratio(wall, bare),
                "pipeline_over_bare_execute_met": None
                if over_bare is None
                else over_bare <= GOAL_PIPELINE_OVER_BARE,
                "pipeline_at_camera_rate_ms_p50": paced,
                "node_total_ms_p50": node_total,
                "node_processing_minus_pipeline_ms": minus,
                "node_processing_minus_pipeline_at_camera_rate_ms": paced_minus,
                # Judged like for like: the node sees frames at the camera's rate, so against the
                # pipeline at that rate (the GPU lowers its clocks between frames for both);
                # back to back only where the paced leg is missing. The JPEG decode is the node's
                # and not the pipeline's: the target is for raw frames.
                "node_processing_minus_pipeline_met": None
                if judged is None or case["format"] != "raw" or not one_camera
                else judged <= GOAL_NODE_MINUS_PIPELINE_MS,
                "node_processing_minus_pipeline_back_to_back_met": None
                if minus is None or case["format"] != "raw" or not one_camera
                else minus <= GOAL_NODE_MINUS_PIPELINE_MS,
                "end_to_end_ms_p50": end_to_end,
                "ultralytics_ms_p50": theirs,
                "ultralytics_over_end_to_end": speedup,
                "ultralytics_over_end_to_end_met": None
                if speedup is None or not one_camera
                else speedup >= GOAL_SPEEDUP_OVER_ULTRALYTICS,
            }
        )
    sent = sum(case["frames_sent"] for case in cases)
    answered = sum(case["detections_received"] for case in cases)
    return {
        "cases": [
            {
                "case": f"{case['size']}/{case['format']}",
                "answered_of_sent": f"{case['detections_received']}/{case['frames_sent']}",
                "latency_ms_p50": _p50(case["latency_ms"]),
                "latency_ms_p95": case["latency_ms"].get("p95"),
                "node_total_ms_p50": case["node_stage_ms_p50"]["total"],
                "inference_ms_p50": case["node_stage_ms_p50"]["inference"],
                "objects_per_frame_p50": _p50(case["objects_per_frame"]),
            }
            for case in cases
        ],
        "frames_sent": sent,
        "frames_answered": answered,
        "every_case_answered": bool(cases) and all(_answered(c) for c in cases),
        "comparisons": comparisons,
        "targets": {
            "pipeline_over_bare_execute_max": GOAL_PIPELINE_OVER_BARE,
            "node_processing_minus_pipeline_ms_max": GOAL_NODE_MINUS_PIPELINE_MS,
            "ultralytics_over_end_to_end_min": GOAL_SPEEDUP_OVER_ULTRALYTICS,
        },
        "targets_met": {
            name: _all_met([c[f"{name}_met"] for c in comparisons])
            for name in (
                "pipeline_over_bare_execute",
                "node_processing_minus_pipeline",
                "ultralytics_over_end_to_end",
            )
        },
        "legs": {
            name: "measured" if "sizes" in leg else leg.get("skipped") for name, leg in legs.items()
        },
    }


def _cameras_label(settings: Mapping[str, Any]) -> str:
    cameras = settings.get("cameras_per_format", 1)
    rate = f"{settings['rate_hz']:g} Hz"
    return rate if cameras == 1 else f"{cameras} cameras per format at {rate} each"


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Draw end-to-end latency and the node's stages per case, and per size the side-by-side legs."""
    import matplotlib  # noqa: PLC0415 - plotting is optional

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    cases = report["cases"]
    comparisons = report["summary"]["comparisons"]
    with_legs = any(c["bare_execute_ms_p50"] or c["ultralytics_ms_p50"] for c in comparisons)
    figure, axes = plt.subplots(2 if with_legs else 1, 1, figsize=(11, 9 if with_legs else 5))
    axes = np.atleast_1d(axes)
    axis = axes[0]
    x = np.arange(len(cases))
    end_to_end = [_p50(c["latency_ms"]) or 0.0 for c in cases]
    p95 = [c["latency_ms"].get("p95", 0.0) for c in cases]
    axis.bar(x - 0.2, p95, 0.4, color="tab:blue", alpha=0.3, label="end to end p95")
    axis.bar(x - 0.2, end_to_end, 0.4, color="tab:blue", label="end to end p50")
    bottom = np.zeros(len(cases))
    for stage, color in (
        ("preprocess", "tab:orange"),
        ("inference", "tab:red"),
        ("postprocess", "tab:green"),
    ):
        values = np.asarray([c["node_stage_ms_p50"][stage] or 0.0 for c in cases])
        axis.bar(x + 0.2, values, 0.4, bottom=bottom, color=color, label=f"node {stage} p50")
        bottom += values
    for index, case in enumerate(cases):
        axis.text(
            index - 0.2,
            p95[index],
            f"{case['detections_received']}/{case['frames_sent']}",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axis.set_xticks(x, [f"{c['size']}\n{c['format']}" for c in cases])
    axis.set_xlim(-0.8, len(cases) - 0.2)
    axis.set_ylabel("ms")
    engine = report.get("engine") or {}
    axis.set_title(
        f"detector node over ROS 2 ({engine.get('backend')} {engine.get('precision')} on "
        f"{engine.get('device')}), {_cameras_label(report['settings'])}; numbers: answered/sent"
    )
    axis.legend(fontsize=8)
    if with_legs:
        axis = axes[1]
        series = (
            ("bare_execute_ms_p50", "bare engine execute (CUDA events)"),
            ("pipeline_ms_p50", "GPU pipeline (wall)"),
            ("node_total_ms_p50", "node total (InferenceTiming)"),
            ("end_to_end_ms_p50", "end to end over ROS 2"),
            ("ultralytics_ms_p50", "Ultralytics predict(half=True)"),
        )
        width = 0.8 / len(series)
        for index, (key, label) in enumerate(series):
            measured = [c[key] for c in comparisons]  # None: that leg did not run
            offset = (index - (len(series) - 1) / 2) * width
            heights = [np.nan if value is None else value for value in measured]
            bars = axis.bar(x + offset, heights, width, label=label)
            texts = ["" if value is None else f"{value:.2f}" for value in measured]
            axis.bar_label(bars, labels=texts, fontsize=6, padding=1)
        axis.set_yscale("log")
        present = [c[key] for c in comparisons for key, _ in series if c[key]]
        axis.set_ylim(bottom=min(present) / 2)  # bars start below the smallest value
        axis.set_xticks(x, [c["case"] for c in comparisons])
        axis.set_ylabel("ms per frame, p50 (log scale)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- the orchestrator -----------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    from yolo_trt_ros.testing.benchmarks import git_commit  # noqa: PLC0415

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rmw": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)"),
        "git_commit": os.environ.get("YOLO_TRT_ROS_GIT_COMMIT") or git_commit(),
    }


def _legs(
    args: argparse.Namespace,
    engine: Mapping[str, Any],
    names: list[str],
    frames: Mapping[str, str],
    work: Path,
) -> dict[str, dict[str, Any]]:
    """Run the optional legs that were asked for; the node has stopped, so the GPU is theirs."""
    from yolo_trt_ros.models import bundled_model_path  # noqa: PLC0415

    model = (
        str(Path(args.model).expanduser().resolve()) if args.model else str(bundled_model_path())
    )
    common = {
        "frames": frames,
        "iterations": args.leg_iterations,
        "warmup": args.leg_warmup,
        "rate": args.rate * args.cameras,  # the pipeline paced as the node sees frames
    }
    legs: dict[str, dict[str, Any]] = {}
    if args.pipeline_bench:
        job = {**common, "engine": dict(engine), "model": model}
        legs["pipeline"] = summarize_leg(
            run_leg(
                "pipeline",
                sys.executable,
                job,
                env=os.environ,
                timeout_s=args.leg_timeout,
                work=work,
            )
        )
    if args.ultralytics_python:
        if Path(model).suffix.lower() != ".onnx":
            legs["ultralytics"] = {
                "skipped": f"Ultralytics is built from an ONNX model, not {model}"
            }
        else:
            device = engine["device"] if str(engine["device"]).startswith("cuda") else "cuda:0"
            shape = engine.get("input_shape") or [1, 3, 640, 640]
            job = {
                **common,
                "onnx": model,
                "names": names,
                "device": device,
                "imgsz": max(shape[2:]),
            }
            # another interpreter: none of this environment's Python paths; never the network
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
            env["YOLO_OFFLINE"] = "1"
            legs["ultralytics"] = summarize_leg(
                run_leg(
                    "ultralytics",
                    args.ultralytics_python,
                    job,
                    env=env,
                    timeout_s=args.leg_timeout,
                    work=work,
                )
            )
    return legs


def _report_head(
    args: argparse.Namespace, command: list[str], dds: str, origin: str
) -> dict[str, Any]:
    """Return the report's facts about the run, before anything is measured."""
    return {
        "benchmark": "detector_node",
        "description": (
            "the detector node in its own process over ROS 2 (one machine): publish -> "
            "Detection2DArray latency and the node's InferenceTiming, per frame size and format"
        ),
        "machine": _machine(),
        "settings": {
            "sizes": args.sizes,
            "formats": args.formats,
            "frames": args.frames,
            "warmup_frames": args.warmup,
            "rate_hz": args.rate,
            "cameras_per_format": args.cameras,
            "answer_timeout_s": args.answer_timeout,
            "frames_from": origin,
            "camera_qos": "reliable, keep last 1",
        },
        "node": {"command": command, "dds": dds},
        "engine": None,
        "cases": [],
    }


def measure_node(
    args: argparse.Namespace,
    detector: subprocess.Popen[Any],
    frames: Mapping[str, Frame],
    report: dict[str, Any],
) -> list[str]:
    """Wait for the started node, measure every case into the report; return its class names."""
    from yolo_trt_ros.ros.node_runner import ros_session  # noqa: PLC0415

    with ros_session(["bench_node"]):  # SIGINT and SIGTERM: KeyboardInterrupt
        client = BenchClient(camera_topics(args.formats, args.cameras))
        try:
            _, ready_s = wait_until_ready(client, detector, args)
            report["node"] |= {"ready_s": round(ready_s, 2), "image_qos": client.image_qos()}
            report["engine"] = dict(client.watch.engine or {})
            print(f"bench_node: node ready after {ready_s:.1f} s", file=sys.stderr, flush=True)
            for size in args.sizes:
                for fmt in args.formats:
                    began = time.monotonic()
                    case = measure_case(client, size, fmt, frames[size], args)
                    report["cases"].append(case)
                    print(
                        f"bench_node: {size} {fmt}: {case['detections_received']}/{case['frames_sent']} "
                        f"answered, end to end p50 {_p50(case['latency_ms'])} ms, node total p50 "
                        f"{case['node_stage_ms_p50']['total']} ms ({time.monotonic() - began:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
            report["engine_at_end"] = dict(client.watch.engine or {})
            return list(client.watch.class_names)
        finally:
            client.close()


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], int]:
    """Start the node, measure every case, stop it, run the legs; return the report and exit status."""
    import numpy as np  # noqa: PLC0415

    from yolo_trt_ros.testing.benchmarks import (  # noqa: PLC0415
        private_ros_environment,
        street_frames_or_sample,
    )

    variables, dds = private_ros_environment()
    os.environ.update(variables)  # for the node and for us, before rclpy starts: DDS reads it then
    from yolo_trt_ros.ros.node_runner import stop_on_sigterm  # noqa: PLC0415

    stop_on_sigterm()  # SIGTERM, like Ctrl-C: stop the node, report what was measured
    frames, origin = street_frames_or_sample(args.sizes)
    frame_files = {label: str(work / f"frame_{label}.npy") for label in frames}
    for label, frame in frames.items():
        np.save(frame_files[label], frame)
    command = node_command(args, camera_topics(args.formats, args.cameras))
    report = _report_head(args, command, dds, origin)
    print(f"bench_node: starting {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    # Its log goes to our stderr (stdout is the JSON's); its own session, so that we alone stop
    # it; run from the work folder, since `-m` from the source tree would shadow the installed
    # package (whose msg/ exists only in install/).
    detector = subprocess.Popen(
        command, stdout=sys.stderr, stderr=sys.stderr, start_new_session=True, cwd=work
    )
    status, names = 0, []
    try:
        names = measure_node(args, detector, frames, report)
    except RuntimeError as error:
        report["error"] = str(error)
        status = 1
    except KeyboardInterrupt:
        report["error"] = "interrupted"
        status = 130
    finally:
        report["node"]["exit_status"] = stop_process(detector, args.stop_timeout)
        report["node"]["ran_s"] = round(time.monotonic() - started, 1)
    if status:
        print(f"bench_node: {report['error']}", file=sys.stderr, flush=True)
    legs: dict[str, dict[str, Any]] = {}
    try:
        legs = {} if status else _legs(args, report["engine"], names, frame_files, work)
    except KeyboardInterrupt:
        report["error"], status = "interrupted during the legs", 130
    report["legs"] = legs
    report["summary"] = summarize(report["cases"], legs)
    if (report["engine"] or {}).get(
        "optimization_level"
    ) == QUICK_OPTIMIZATION_LEVEL and not _asked_for_quick_engine(args.node_param):
        report["summary"]["note"] = (
            "measured on the quick engine (optimisation level 0) while the node built the "
            "optimised one in the background: not steady-state numbers"
        )
    elif any(case["engine_changed"] for case in report["cases"]):
        report["summary"]["note"] = "the node changed its engine during a case (engine_changed)"
    return report, status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes", default=",".join(SIZES), help="WIDTHxHEIGHT,... (default: %(default)s)"
    )
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="raw,jpeg (default: %(default)s)"
    )
    parser.add_argument(
        "--frames", type=int, default=150, help="measured frames per case (default: 150)"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="uncounted frames first, per case (default: 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=30.0, help="frames per second per camera (default: 30)"
    )
    parser.add_argument(
        "--cameras",
        type=int,
        default=1,
        help="cameras per format, each on its own topic, all served by the one node (default: 1)",
    )
    parser.add_argument("--backend", default="auto", help="node parameter backend (default: auto)")
    parser.add_argument(
        "--precision", default="auto", help="node parameter precision (default: auto)"
    )
    parser.add_argument("--device", default="auto", help="node parameter device (default: auto)")
    parser.add_argument(
        "--model", default="", help="node parameter model (default: the bundled YOLO11n ONNX)"
    )
    parser.add_argument(
        "--node-param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="another node parameter (repeatable; paths absolute: the node runs in a temporary folder)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the node, engine build included (default: 600)",
    )
    parser.add_argument(
        "--accept-quick-engine",
        action="store_true",
        help="measure a quick first TensorRT engine instead of waiting for the optimised one",
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=3.0,
        help="seconds without answers that end a case (default: 3)",
    )
    parser.add_argument(
        "--stop-timeout", type=float, default=20.0, help="seconds from SIGINT to kill (default: 20)"
    )
    parser.add_argument(
        "--pipeline-bench", action="store_true", help="also time the GPU pipeline alone"
    )
    parser.add_argument(
        "--ultralytics-python",
        default="",
        metavar="PATH",
        help="also time Ultralytics predict with this interpreter",
    )
    parser.add_argument(
        "--leg-iterations",
        type=int,
        default=200,
        help="timed runs per size in a leg (default: 200)",
    )
    parser.add_argument(
        "--leg-warmup", type=int, default=20, help="warm-up runs per size in a leg (default: 20)"
    )
    parser.add_argument(
        "--leg-timeout", type=float, default=900.0, help="seconds a leg may take (default: 900)"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--plot", type=Path, help="write a PNG plot here")
    parser.add_argument("--role", choices=("pipeline", "ultralytics"), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one leg as a child) and print the JSON."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.role:
        return run_role(args.role, args.job)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C (or kill -INT) must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.formats = [f for f in args.formats.split(",") if f]
    for label in args.sizes:
        try:
            _size(label)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    unknown = [f for f in args.formats if f not in FORMATS]
    if unknown or not args.formats or not args.sizes:
        parser.error(
            f"--formats takes {', '.join(FORMATS)}; --sizes and --formats may not be empty"
        )
    if args.frames < 1 or args.warmup < 0 or not args.rate > 0 or args.cameras < 1:
        parser.error(
            "--frames and --cameras must be at least 1, --warmup at least 0 and --rate positive"
        )
    if any(":=" not in p for p in args.node_param):
        parser.error("--node-param takes NAME:=VALUE")
    with tempfile.TemporaryDirectory(prefix="bench_node_") as work:
        report, status = run(args, Path(work))
    from yolo_trt_ros.testing.benchmarks import emit_report  # noqa: PLC0415

    emit_report(report, args.out)
    if args.plot and report["cases"]:
        try:
            plot(report, args.plot)
        except ImportError as error:
            print(f"bench_node: no plot ({error}): pip install matplotlib", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
