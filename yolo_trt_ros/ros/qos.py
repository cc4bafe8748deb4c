"""Image subscription QoS: match the reliability of the publishers actually on the topic.

A BEST_EFFORT subscription receives from every publisher, but gives up the retransmissions that
keep large frames from being lost; a RELIABLE one only matches RELIABLE publishers. So ``auto``
subscribes RELIABLE when every publisher found is RELIABLE and BEST_EFFORT otherwise, and the node
re-checks while active, because camera drivers often start after the detector (and a node can be
active before discovery has shown it a camera that was already there): every
``RECHECK_WAITING_S`` while a topic has no publisher, so a best_effort subscription is not kept
while large frames are lost, then every ``RECHECK_S``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

__all__ = ["LATCHED", "RECHECK_S", "RECHECK_WAITING_S", "choose_reliability", "image_qos"]

RECHECK_WAITING_S = 0.1  # while a camera topic has no publisher: a graph query, microseconds
RECHECK_S = 2.0  # once every topic has one: publishers joining later

# EngineInfo and LabelInfo: published once on configure, kept for late subscribers
LATCHED = QoSProfile(
    depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
)

_BY_NAME = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


def choose_reliability(
    setting: str, publishers: Sequence[ReliabilityPolicy]
) -> tuple[ReliabilityPolicy, str]:
    """Return the subscription reliability for a setting and the publishers' policies, and why."""
    if setting in _BY_NAME:
        policy = _BY_NAME[setting]
        incompatible = (
            policy == ReliabilityPolicy.RELIABLE and ReliabilityPolicy.BEST_EFFORT in publishers
        )
        note = (
            " (a BEST_EFFORT publisher on the topic will not be received: use auto or best_effort)"
            if incompatible
            else ""
        )
        return policy, f"{setting} as configured{note}"
    if not publishers:
        return (
            ReliabilityPolicy.BEST_EFFORT,
            "best_effort: no publisher yet, and best_effort matches any",
        )
    if all(p == ReliabilityPolicy.RELIABLE for p in publishers):
        return (
            ReliabilityPolicy.RELIABLE,
            f"reliable, matching {len(publishers)} reliable publisher(s)",
        )
    return ReliabilityPolicy.BEST_EFFORT, "best_effort, because a publisher is best_effort"


def image_qos(reliability: ReliabilityPolicy, depth: int) -> QoSProfile:
    """Sensor-style QoS: keep only the newest ``depth`` frames, volatile."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability)
