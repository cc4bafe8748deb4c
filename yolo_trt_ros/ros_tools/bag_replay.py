"""Replay a recorded bag into a running detector and report how it kept up: one command.

    ros2 run yolo_trt_ros replay drive_bag                          # recorded rate, all image topics
    ros2 run yolo_trt_ros replay drive.mcap --rate 2 --loops 3      # twice as fast, three times
    ros2 run yolo_trt_ros replay run.bag --closed-loop --fresh-stamps --out fp16_report/
    ros2 run yolo_trt_ros replay drive_bag --remap /cam/image_raw:=/camera/image_raw --label int8

Reads rosbag2 (sqlite3, MCAP) and ROS 1 bags. Publishes the chosen image topics (raw or
compressed, as recorded) at the recorded rate, a multiple of it (``--rate``), or each frame as soon
as the detector answered the previous one (``--closed-loop``), with the original or fresh stamps.
The built-in latency probe matches the detector's detections and InferenceTiming to each frame by
header stamp; the report (report.json, frames.csv, summary.txt, PNG plots) goes to ``--out``.

Exit status: 0 done; 1 the replay stopped early (damaged bag), report written for what was sent;
2 bad arguments or an unusable bag; 3 no detector answered; 130 Ctrl-C (report written).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy

from yolo_trt_ros.cdr import restamped
from yolo_trt_ros.errors import BagError, DetectorNotFoundError, TopicNotWatchedError
from yolo_trt_ros.replay.bag import ImageBag, ImageTopic
from yolo_trt_ros.replay.ledger import FrameLedger, FrameRecord
from yolo_trt_ros.replay.pacing import TimedFrame, timeline
from yolo_trt_ros.replay.prefetch import Prefetcher
from yolo_trt_ros.replay.progress import Progress
from yolo_trt_ros.replay.report import build_report, render_text, write_report
from yolo_trt_ros.ros.node_runner import ros_session
from yolo_trt_ros.ros_tools.bag_player import BagPlayer
from yolo_trt_ros.ros_tools.detector_discovery import DetectorCamera, find_detector_cameras
from yolo_trt_ros.ros_tools.latency_probe import LatencyProbe
from yolo_trt_ros.ros_tools.measurement import (
    Spinner,
    add_measurement_arguments,
    counter_delta,
    run_info,
    split_ros_args,
    wait_for,
)

__all__ = ["main"]

EXIT_OK, EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_NO_DETECTOR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_QOS_SETTLE_S = 3.0  # the detector's auto QoS re-checks its publishers every 2 s


@dataclass
class _Playback:
    """What the send loop did."""

    sent: int = 0
    max_lag_ms: float = 0.0
    aborted: str | None = None
    interrupted: bool = False
    timeouts: int = 0  # closed loop: frames whose answer did not come in time
    last: FrameRecord | None = field(default=None, repr=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "bag", type=Path, help="rosbag2 directory, .db3 or .mcap file, or ROS 1 .bag"
    )
    parser.add_argument(
        "--topics", nargs="+", default=(), help="image topics to replay (default: all)"
    )
    parser.add_argument(
        "--remap",
        action="append",
        default=[],
        metavar="FROM:=TO",
        help="publish the bag's topic FROM on TO (repeatable)",
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate", type=float, default=1.0, help="multiple of the recorded rate (default: 1)"
    )
    pace.add_argument(
        "--closed-loop",
        action="store_true",
        help="send each frame when the previous one was answered (or --answer-timeout passed)",
    )
    parser.add_argument(
        "--fresh-stamps",
        action="store_true",
        help="stamp each frame with the time it is sent (default: keep the recorded stamps)",
    )
    parser.add_argument(
        "--loops", type=int, default=1, help="play the bag this many times (default: 1)"
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for an answer before a frame counts as missing (default: 5)",
    )
    parser.add_argument(
        "--reliability",
        choices=("reliable", "best_effort"),
        default="reliable",
        help="publisher QoS reliability (default: reliable)",
    )
    add_measurement_arguments(parser, "replay_report")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    if not args.rate > 0:
        parser.error("--rate must be positive")
    if args.loops < 1:
        parser.error("--loops must be at least 1")
    if not args.answer_timeout > 0:
        parser.error("--answer-timeout must be positive")
    remap = {}
    for rule in args.remap:
        source, separator, target = rule.partition(":=")
        if not separator or not source or not target:
            parser.error(f"--remap takes FROM:=TO, not {rule!r}")
        remap[source] = target
    return remap


def _open_bag(
    path: Path, wanted: Sequence[str], remap: dict[str, str]
) -> tuple[ImageBag, list[ImageTopic]]:
    bag = ImageBag(path)
    bag.open()
    try:
        topics = bag.image_topics(wanted)
        unknown = [source for source in remap if source not in {t.name for t in topics}]
        if unknown:
            raise BagError(
                f"--remap names {', '.join(unknown)}, which is not among the replayed topics "
                f"({', '.join(t.name for t in topics)})"
            )
    except BagError:
        bag.close()
        raise
    return bag, topics


def _check_input_types(
    topics: Sequence[ImageTopic], streams: Sequence[DetectorCamera], detector: str
) -> None:
    for topic, stream in zip(topics, streams, strict=True):
        if topic.kind != stream.input_type:
            raise BagError(
                f"the bag's {topic.name} holds {topic.message_type}, but the detector {detector} "
                f"expects {stream.input_type} images on {stream.image_topic}: set its input_types "
                f"parameter to {topic.kind} for that topic"
            )


def _play(
    frames: Prefetcher[TimedFrame],
    player: BagPlayer,
    ledger: FrameLedger,
    args: argparse.Namespace,
    progress: Progress,
) -> _Playback:
    """Send every frame on time (or closed loop); stop early on a damaged bag or Ctrl-C."""
    playback = _Playback()
    start = time.monotonic()
    try:
        for timed in frames:
            if args.closed_loop:
                if playback.last is not None and not ledger.wait_for_answer(
                    playback.last, args.answer_timeout
                ):
                    playback.timeouts += 1
            else:
                due = start + timed.due_s(args.rate)
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                else:
                    playback.max_lag_ms = max(playback.max_lag_ms, -wait * 1e3)
            frame = timed.frame
            now_ns = time.time_ns()
            stamp = now_ns if args.fresh_stamps else frame.stamp_ns
            cdr = restamped(frame.cdr, stamp) if args.fresh_stamps else frame.cdr
            playback.last = ledger.sent(
                player.targets[frame.topic],
                stamp,
                now_ns,
                loop=timed.loop,
                bag_time_ns=frame.bag_time_ns,
            )
            player.publish(frame, cdr)
            playback.sent += 1
            sent, answered = ledger.counts
            progress.update(sent, answered, ledger.recent_latencies_ms())
    except BagError as error:
        playback.aborted = str(error)
    except KeyboardInterrupt:
        playback.aborted, playback.interrupted = "interrupted (Ctrl-C)", True
    return playback


def main(argv: Sequence[str] | None = None) -> int:
    """Replay, measure, write the report; see the module docstring for the exit status."""
    ours, ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(ours)
    remap = _check_args(parser, args)
    try:
        bag, topics = _open_bag(args.bag, args.topics, remap)
    except BagError as error:
        print(f"replay: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with ros_session(["replay", *ros_args]):  # SIGINT and SIGTERM: KeyboardInterrupt
        ledger = FrameLedger()
        node, probe = Node("bag_replay"), LatencyProbe(ledger, "bag_replay_probe")
        spinner = Spinner(node, probe)
        try:
            return _replay(args, bag, topics, remap, node, probe, ledger)
        except BagError as error:
            print(f"replay: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except DetectorNotFoundError as error:
            print(f"replay: {error}", file=sys.stderr)
            return EXIT_NO_DETECTOR
        except KeyboardInterrupt:
            print("replay: interrupted before any frame was sent", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            bag.close()
            spinner.stop()
            probe.destroy_node()
            node.destroy_node()


def _replay(  # noqa: PLR0917 - the parts main() has set up
    args: argparse.Namespace,
    bag: ImageBag,
    topics: list[ImageTopic],
    remap: dict[str, str],
    node: Node,
    probe: LatencyProbe,
    ledger: FrameLedger,
) -> int:
    reliability = (
        ReliabilityPolicy.BEST_EFFORT
        if args.reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE
    )
    player = BagPlayer(node, topics, remap, reliability)
    targets = [player.targets[t.name] for t in topics]
    try:
        streams = find_detector_cameras(probe, args.detector, args.wait_detector, targets)
    except TopicNotWatchedError as error:
        hint = f"; or replay the bag's {topics[0].name} on a topic it watches: --remap {topics[0].name}:=TOPIC"
        raise TopicNotWatchedError(f"{error}{hint}") from None
    _check_input_types(topics, streams, args.detector)
    probe.watch(args.detector, streams)
    if not wait_for(lambda: player.subscribed() and probe.outputs_connected(), args.wait_detector):
        raise DetectorNotFoundError(
            f"the detector {args.detector} answers, but is not subscribed to {', '.join(targets)} "
            f"after {args.wait_detector:.0f} s: is it active? (it subscribes on activate)"
        )
    if not wait_for(lambda: not player.reliability_mismatches(), _QOS_SETTLE_S):
        print(
            f"replay: the detector subscribes best_effort to {', '.join(player.reliability_mismatches())}: "
            "large frames may be lost on the way (set its qos_reliability to reliable or auto)",
            file=sys.stderr,
        )
    before = probe.counters(timeout_s=1.5)
    total = sum(t.count for t in topics) * args.loops
    progress = Progress(total, enabled=not args.quiet)
    frames = Prefetcher(timeline(lambda: bag.frames(topics), args.loops))
    try:
        playback = _play(frames, player, ledger, args, progress)
    finally:
        frames.close()
    progress.update(*ledger.counts, ledger.recent_latencies_ms(), force=True)
    if not playback.interrupted:
        ledger.wait_until_quiet(args.answer_timeout, limit_s=args.answer_timeout * 3)
    progress.done()
    after = probe.counters(newer_than=time.monotonic(), timeout_s=2.5) if before else None
    mode = "closed loop" if args.closed_loop else f"recorded rate x{args.rate:g}"
    report = build_report(
        ledger.finish(),
        run_info(
            "replay",
            str(args.bag),
            args.detector,
            format=bag.format,
            topics=[t.name for t in topics],
            remap=remap,
            mode=mode,
            stamps="fresh" if args.fresh_stamps else "original",
            loops=args.loops,
            answer_timeout_s=args.answer_timeout,
            reliability=args.reliability,
            label=args.label,
            max_send_lag_ms=round(playback.max_lag_ms, 3),
            closed_loop_timeouts=playback.timeouts,
            engine=probe.engine or None,
            aborted=playback.aborted,
        ),
        counter_delta(before, after),
        ledger.unmatched,
    )
    files = write_report(report, args.out, plots=not args.no_plots)
    print(render_text(report, files))
    if playback.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ABORTED if playback.aborted else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
