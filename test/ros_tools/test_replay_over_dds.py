"""Replay end to end over real DDS: make a bag, replay it into the real detector process, and check
that every frame is accounted for and that the report agrees with the detector's own messages.

The test subscribes to the detector's InferenceTiming and detections itself, next to the replay's
probe, and compares what it received with the report; the detector's diagnostics counters are the
second, independent account of frames received, published and dropped.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bag_files import IMAGE_TOPIC, damage_middle, storage_file, write_bag
from conftest import REPO_ROOT, RosHarness
from node_harness import Collector, DetectorProcess
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.msg import InferenceTiming
from yolo_trt_ros.replay.bag import ImageBag
from yolo_trt_ros.replay.report import load_report
from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks

NODE = "replay_detector"
RAW_TOPIC, JPEG_TOPIC = "/replay_e2e/raw", "/replay_e2e/jpeg"
IMAGES = REPO_ROOT / ".cache" / "test_images"
Message = TypeVar("Message")
OUTPUT_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DetectorProcess]:
    """One detector for the module, watching a raw and a compressed camera."""
    process = DetectorProcess(
        NODE,
        tmp_path_factory.mktemp("replay_detector"),
        image_topics=[RAW_TOPIC, JPEG_TOPIC],
        input_types=["raw", "compressed"],
        camera_names=["raw", "jpeg"],
        autostart=True,
    )
    yield process
    code = process.stop()
    assert code == 0, f"detector exited with {code}:\n{process.log[-3000:]}"


def _collect(ros: RosHarness, message_type: type[Message], topic: str) -> Collector[Message]:
    """Collect a detector output, once the subscription has found its publisher."""
    collector: Collector[Message] = Collector(ros, message_type, topic, OUTPUT_QOS)
    ros.spin_until(
        lambda: collector.subscription.get_publisher_count() > 0, 30, f"a publisher on {topic}"
    )
    return collector


def _tool(name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(executables_where_ros2_run_looks()[name]), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _make_bag(out: Path, *args: str) -> Path:
    tool = executables_where_ros2_run_looks()["make_bag"]
    completed = subprocess.run(
        [str(tool), str(IMAGES), str(out), "--resize", "640x480", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return out


def _finish(
    ros: RosHarness, process: subprocess.Popen[str], what: str, timeout: float = 120
) -> str:
    """Spin the test node (collecting outputs) until the tool exits; return its output."""
    ros.spin_until(lambda: process.poll() is not None, timeout, what)
    stdout, stderr = process.communicate()
    assert process.returncode == 0, f"{what} exited with {process.returncode}:\n{stdout}\n{stderr}"
    return stdout


def _stamp(message: Detection2DArray | InferenceTiming) -> int:
    return int(message.header.stamp.sec) * 1_000_000_000 + int(message.header.stamp.nanosec)


def _check_against_detector(
    report: dict[str, Any], timings: list[InferenceTiming], detections: list[Detection2DArray]
) -> None:
    """The report's frames and numbers agree with the messages the test received itself."""
    frames = report["frames"]
    sent_stamps = {f["stamp_ns"] for f in frames}
    timing_by_stamp = {_stamp(m): m for m in timings if _stamp(m) in sent_stamps}
    detections_by_stamp = {_stamp(m): m for m in detections if _stamp(m) in sent_stamps}
    detected = [f for f in frames if f["status"] == "detected"]

    # every frame is accounted for, and "detected" means the detector answered that very frame
    assert {f["status"] for f in frames} <= {"detected", "dropped", "missing"}
    assert {f["stamp_ns"] for f in detected} == set(detections_by_stamp) == set(timing_by_stamp)
    for frame in detected:
        timing = timing_by_stamp[frame["stamp_ns"]]
        assert frame["inference_ms"] == float(timing.inference_ms)
        assert frame["preprocess_ms"] == float(timing.preprocess_ms)
        assert frame["node_total_ms"] == float(timing.total_ms)
        assert frame["detections"] == len(detections_by_stamp[frame["stamp_ns"]].detections)

    # the summary's per-stage numbers are those of the InferenceTiming messages
    latency = report["summary"]["latency_ms"]
    for stage, field in (
        ("inference", "inference_ms"),
        ("preprocess", "preprocess_ms"),
        ("postprocess", "postprocess_ms"),
        ("node_total", "total_ms"),
    ):
        values = [float(getattr(m, field)) for m in timing_by_stamp.values()]
        assert latency[stage]["p50"] == pytest.approx(statistics.median(values), abs=1e-9)
        assert latency[stage]["max"] == max(values)
    assert latency["end_to_end"]["count"] == len(detected)

    # the detector's own accounts: its InferenceTiming drop counts and its diagnostics counters
    summary = report["summary"]
    counts = summary["detector_counts"]
    assert counts is not None, "the detector's diagnostics were read before and after"
    assert counts["published"] == len(detected)
    assert summary["detector_reported_drops"] == sum(
        m.frames_dropped for m in timing_by_stamp.values()
    )
    not_answered = summary["frames"]["dropped"] + summary["frames"]["missing"]
    never_arrived = summary["frames"]["sent"] - counts["received"]
    assert not_answered == counts["dropped"] + never_arrived


def test_replay_at_the_recorded_rate_accounts_for_every_frame(
    ros: RosHarness, tmp_path: Path, detector: DetectorProcess
) -> None:
    bag = _make_bag(tmp_path / "street", "--frames", "16", "--rate", "15", "--topic", RAW_TOPIC)
    timings = _collect(ros, InferenceTiming, f"/{NODE}/raw/timing")
    detections = _collect(ros, Detection2DArray, f"/{NODE}/raw/detections")
    replay = _tool(
        "replay", str(bag), "--detector", NODE, "--out", str(tmp_path / "report"), "--label", "e2e"
    )
    output = _finish(ros, replay, "the replay")
    report = load_report(tmp_path / "report")

    assert "16 sent:" in output and "latency (ms)" in output
    assert report["run"]["mode"] == "recorded rate x1" and report["run"]["stamps"] == "original"
    frames = report["frames"]
    assert len(frames) == 16
    with ImageBag(bag) as recorded:  # the original stamps went out, in recorded order
        assert [f["stamp_ns"] for f in frames] == [
            f.stamp_ns for f in recorded.frames(recorded.image_topics())
        ]
    sent = [f["sent_s"] for f in frames]
    assert sent == sorted(sent) and sent[-1] >= 14 / 15 * 0.9, "paced at the recorded 15 Hz"
    _check_against_detector(report, timings.messages, detections.messages)
    assert {p.name for p in (tmp_path / "report").iterdir()} >= {
        "report.json",
        "frames.csv",
        "summary.txt",
        "latency_cdf.png",
        "latency_over_time.png",
        "stage_breakdown.png",
    }
    print(output)


def test_closed_loop_two_cameras_fresh_stamps_and_loops_answer_every_frame(
    ros: RosHarness, tmp_path: Path, detector: DetectorProcess
) -> None:
    """A raw and a compressed camera with equal stamps (a stereo pair), sqlite3, looped twice."""
    written = write_bag(tmp_path, "sqlite3", count=3, second_camera="/cam/compressed")
    outputs = [
        _collect(ros, message_type, f"/{NODE}/{camera}/{kind}")
        for camera in ("raw", "jpeg")
        for message_type, kind in ((InferenceTiming, "timing"), (Detection2DArray, "detections"))
    ]
    replay = _tool(
        "replay",
        str(written.path),
        "--detector",
        NODE,
        "--topics",
        IMAGE_TOPIC,
        "/cam/compressed",
        "--remap",
        f"{IMAGE_TOPIC}:={RAW_TOPIC}",
        "--remap",
        f"/cam/compressed:={JPEG_TOPIC}",
        "--closed-loop",
        "--fresh-stamps",
        "--loops",
        "2",
        "--out",
        str(tmp_path / "report"),
        "--no-plots",
    )
    _finish(ros, replay, "the closed-loop replay")
    report = load_report(tmp_path / "report")
    frames = report["frames"]
    assert [(f["loop"], f["topic"]) for f in frames] == [
        (loop, topic) for loop in (0, 1) for _ in range(3) for topic in (RAW_TOPIC, JPEG_TOPIC)
    ]
    # closed loop: the next frame waits for the answer, so the detector never has to drop one
    assert [f["status"] for f in frames] == ["detected"] * 12
    stamps = [f["stamp_ns"] for f in frames]
    assert len(set(stamps)) == 12 and stamps == sorted(stamps), "a fresh stamp per frame sent"
    assert abs(stamps[0] / 1e9 - time.time()) < 120
    per_topic = report["summary"]["per_topic"]
    assert {topic: counts["detected"] for topic, counts in per_topic.items()} == {
        RAW_TOPIC: 6,
        JPEG_TOPIC: 6,
    }
    timings = outputs[0].messages + outputs[2].messages
    detections = outputs[1].messages + outputs[3].messages
    _check_against_detector(report, timings, detections)


def test_the_probe_alone_measures_frames_from_another_player(
    ros: RosHarness, tmp_path: Path, detector: DetectorProcess
) -> None:
    """Like `ros2 bag play` next to `latency_probe`: the test publishes the bag's messages itself."""
    bag = _make_bag(tmp_path / "played", "--frames", "8", "--topic", RAW_TOPIC)
    with ImageBag(bag) as recorded:
        messages = [
            deserialize_message(f.cdr, Image) for f in recorded.frames(recorded.image_topics())
        ]
    timings = _collect(ros, InferenceTiming, f"/{NODE}/raw/timing")
    detections = _collect(ros, Detection2DArray, f"/{NODE}/raw/detections")
    probe = _tool(
        "latency_probe",
        "--detector",
        NODE,
        "--topics",
        RAW_TOPIC,
        "--idle-timeout",
        "1",
        "--out",
        str(tmp_path / "report"),
        "--no-plots",
    )
    player = ros.node.create_publisher(
        Image, RAW_TOPIC, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )

    def settled() -> bool:  # the detector and the probe subscribed, both reliable
        infos = ros.node.get_subscriptions_info_by_topic(RAW_TOPIC)
        return len(infos) >= 2 and all(
            i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos
        )

    ros.spin_until(settled, 60, "the detector and the probe subscribing to the images")
    for message in messages:  # 8 Hz, slower than the model here: nothing needs dropping
        player.publish(message)
        deadline = time.monotonic() + 0.125
        while time.monotonic() < deadline:
            ros.executor.spin_once(timeout_sec=0.01)
    _finish(ros, probe, "the latency probe")
    report = load_report(tmp_path / "report")
    assert report["run"]["tool"] == "latency_probe"
    assert [f["stamp_ns"] for f in report["frames"]] == [_stamp(m) for m in messages]
    _check_against_detector(report, timings.messages, detections.messages)


def test_a_bag_damaged_mid_way_ends_the_replay_with_a_report_of_what_was_sent(
    ros: RosHarness, tmp_path: Path, detector: DetectorProcess
) -> None:
    written = write_bag(tmp_path, "ros1", count=30)
    damage_middle(storage_file(written))
    replay = _tool(
        "replay",
        str(written.path),
        "--detector",
        NODE,
        "--remap",
        f"{IMAGE_TOPIC}:={RAW_TOPIC}",
        "--rate",
        "4",
        "--out",
        str(tmp_path / "report"),
        "--no-plots",
        "--quiet",
    )
    ros.spin_until(lambda: replay.poll() is not None, 60, "the replay of a damaged bag")
    stdout, stderr = replay.communicate()
    assert replay.returncode == 1, f"{stdout}\n{stderr}"
    assert "ABORTED: cannot read ROS 1 bag" in stdout
    report = load_report(tmp_path / "report")
    assert "damaged or truncated" in report["run"]["aborted"]
    frames = report["frames"]
    assert 0 < len(frames) < 30
    assert [f["stamp_ns"] for f in frames] == written.stamps_ns[: len(frames)]
    assert {f["status"] for f in frames} <= {"detected", "dropped", "missing"}
    assert frames[-1]["status"] == "detected", "the newest frame sent is always answered"


def test_a_topic_the_detector_does_not_watch_is_refused(
    ros: RosHarness, tmp_path: Path, detector: DetectorProcess
) -> None:
    bag = _make_bag(tmp_path / "elsewhere", "--frames", "1", "--topic", "/somewhere/else")
    replay = _tool("replay", str(bag), "--detector", NODE, "--out", str(tmp_path / "report"))
    _, stderr = replay.communicate(timeout=60)
    assert replay.returncode == 3, stderr
    assert f"watches {RAW_TOPIC}, {JPEG_TOPIC}, not /somewhere/else" in stderr
    assert "--remap /somewhere/else:=TOPIC" in stderr
