"""The rclpy APIs that differ between ROS 2 Humble and Jazzy, in one place.

Compared: rclpy 3.3.15 (Humble, ros2/rclpy commit b488272) with rclpy 7.1.6 (Jazzy). Of what this
package calls, four things differ:

* Subscription event callbacks live in ``rclpy.qos_event`` on Humble and in
  ``rclpy.event_handler`` from Iron on (where ``rclpy.qos_event`` is a deprecated alias that warns
  on import). Both ``SubscriptionEventCallbacks`` take ``message_lost=``. A middleware without the
  event makes ``create_subscription`` raise ``UnsupportedEventTypeError`` on either distribution.
* Type hashes (REP 2011: ``rclpy.type_hash``, ``TopicEndpointInfo.topic_type_hash``) start with
  Iron; Humble has none.
* ``Subscription.get_publisher_count()`` starts with Iron; ``Node.count_publishers()`` is on both.
* A subscription callback taking two arguments gets the message info from Iron on
  (``Subscription.CallbackType``), with ``publication_sequence_number`` where the middleware
  fills it (rmw_fastrtps does; rmw_cyclonedds_cpp gives None). Humble's executor passes the
  message only, and its message info has timestamps only. Newer rclpy also adds ``publisher_gid``.

Lifecycle nodes and publishers, executors, signal options, parameters, actions, raw subscriptions
and serialization have the same signatures on both. The choice is made by ``select_features``, a
pure function of what the installed rclpy offers, so it can be checked against either release.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rclpy.subscription

if TYPE_CHECKING:  # mypy reads the Jazzy rclpy; at run time the names come from _events below
    from rclpy.event_handler import (
        QoSMessageLostInfo,
        SubscriptionEventCallbacks,
        UnsupportedEventTypeError,
    )
    from rclpy.node import Node
    from rclpy.subscription import Subscription

__all__ = [
    "FEATURES",
    "HAS_MESSAGE_LOST_EVENTS",
    "HAS_TYPE_HASHES",
    "MESSAGE_LOST_UNAVAILABLE",
    "QoSMessageLostInfo",
    "RclpyFeatures",
    "SubscriptionEventCallbacks",
    "UnsupportedEventTypeError",
    "create_subscription_counting_losses",
    "describe",
    "message_lost_callbacks",
    "publication_of",
    "publisher_count",
    "select_features",
    "with_message_info",
]

#: Where SubscriptionEventCallbacks lives, newest first (the old name warns on Iron and later).
EVENT_MODULES = ("rclpy.event_handler", "rclpy.qos_event")
TYPE_HASH_MODULE = "rclpy.type_hash"
MESSAGE_LOST_UNAVAILABLE = "message-lost events are not available on this ROS distribution"


@dataclass(frozen=True)
class RclpyFeatures:
    """What the installed rclpy offers, where Humble and later distributions differ."""

    event_module: str | None
    """The module holding SubscriptionEventCallbacks; None if there is none."""
    message_lost_events: bool
    """SubscriptionEventCallbacks takes ``message_lost=``."""
    type_hashes: bool
    """REP 2011 type hashes (Iron and later)."""
    subscription_publisher_count: bool
    """``Subscription.get_publisher_count()`` exists (Iron and later)."""
    message_info_callbacks: bool = False
    """A two-argument subscription callback receives the message info (Iron and later)."""


def select_features(
    modules: Collection[str],
    event_callback_parameters: Collection[str],
    subscription_attributes: Collection[str],
) -> RclpyFeatures:
    """Decide what to use from what rclpy has.

    ``modules``: the importable ``rclpy.*`` module names among EVENT_MODULES and TYPE_HASH_MODULE;
    ``event_callback_parameters``: the parameters of the chosen ``SubscriptionEventCallbacks``;
    ``subscription_attributes``: the attributes of ``rclpy.subscription.Subscription``.
    """
    event_module = next((name for name in EVENT_MODULES if name in modules), None)
    return RclpyFeatures(
        event_module=event_module,
        message_lost_events=event_module is not None
        and "message_lost" in event_callback_parameters,
        type_hashes=TYPE_HASH_MODULE in modules,
        subscription_publisher_count="get_publisher_count" in subscription_attributes,
        message_info_callbacks="CallbackType" in subscription_attributes,
    )


def _installed_features() -> tuple[RclpyFeatures, Any]:
    modules = {
        name
        for name in (*EVENT_MODULES, TYPE_HASH_MODULE)
        if importlib.util.find_spec(name) is not None
    }
    events_name = next((name for name in EVENT_MODULES if name in modules), None)
    events = importlib.import_module(events_name) if events_name else None
    callbacks = getattr(events, "SubscriptionEventCallbacks", None)
    parameters = inspect.signature(callbacks).parameters if callbacks else {}
    features = select_features(modules, parameters, dir(rclpy.subscription.Subscription))
    return features, events


FEATURES, _events = _installed_features()
HAS_TYPE_HASHES = FEATURES.type_hashes
HAS_MESSAGE_LOST_EVENTS = FEATURES.message_lost_events

if not TYPE_CHECKING:
    SubscriptionEventCallbacks = getattr(_events, "SubscriptionEventCallbacks", None)
    QoSMessageLostInfo = getattr(_events, "QoSMessageLostInfo", Any)
    UnsupportedEventTypeError = getattr(_events, "UnsupportedEventTypeError", RuntimeError)


def describe(features: RclpyFeatures = FEATURES) -> str:
    """Say in a few words which of the differing features this rclpy has."""
    return ", ".join(
        f"{'' if present else 'no '}{what}"
        for what, present in (
            ("message-lost events", features.message_lost_events),
            ("type hashes", features.type_hashes),
            ("message info in callbacks", features.message_info_callbacks),
        )
    )


def message_lost_callbacks(
    callback: Callable[[QoSMessageLostInfo], None], features: RclpyFeatures = FEATURES
) -> SubscriptionEventCallbacks | None:
    """Event callbacks that deliver a subscription's message-lost events; None where none exist."""
    if not features.message_lost_events:
        return None
    return SubscriptionEventCallbacks(message_lost=callback)


def create_subscription_counting_losses(
    node: Node,
    msg_type: Any,
    topic: str,
    callback: Callable[[Any], None],
    qos_profile: Any,
    *,
    on_message_lost: Callable[[QoSMessageLostInfo], None],
    features: RclpyFeatures = FEATURES,
    **kwargs: Any,
) -> tuple[Subscription, str]:
    """Create a subscription whose message-lost events go to ``on_message_lost``.

    Returns the subscription and '', or why it reports no losses: this distribution has no
    message-lost events, or its middleware refused them (the subscription is then created without).
    """
    events = message_lost_callbacks(on_message_lost, features)
    if events is None:
        reason = MESSAGE_LOST_UNAVAILABLE
    else:
        try:
            subscription = node.create_subscription(
                msg_type, topic, callback, qos_profile, event_callbacks=events, **kwargs
            )
        except UnsupportedEventTypeError:
            rmw = importlib.import_module("rclpy.utilities").get_rmw_implementation_identifier()
            reason = f"message-lost events are not supported by {rmw}"
        else:
            return subscription, ""
    return node.create_subscription(msg_type, topic, callback, qos_profile, **kwargs), reason


def publisher_count(
    node: Node, subscription: Subscription, features: RclpyFeatures = FEATURES
) -> int:
    """Return how many publishers a subscription has.

    Iron and later count the publishers matched to the subscription; Humble has only the ROS graph's
    count of publishers on its topic, which includes any whose QoS does not match.
    """
    if features.subscription_publisher_count:
        return subscription.get_publisher_count()
    return node.count_publishers(subscription.topic_name)


def with_message_info(
    callback: Callable[[Any, Mapping[str, Any] | None], None],
    features: RclpyFeatures = FEATURES,
) -> Callable[..., None]:
    """Wrap ``callback`` to be given the message and its info (None where rclpy gives none)."""
    if features.message_info_callbacks:

        def message_and_info(msg: Any, info: Mapping[str, Any]) -> None:
            callback(msg, info)

        return message_and_info

    def message_only(msg: Any) -> None:
        callback(msg, None)

    return message_only


def publication_of(info: Mapping[str, Any] | None) -> tuple[int | None, bytes | None]:
    """Return a sample's publication sequence number and publisher GID, None where not given."""
    if info is None:
        return None, None
    sequence = info.get("publication_sequence_number")
    gid = info.get("publisher_gid")  # {"implementation_identifier": ..., "data": bytes} or None
    return (
        int(sequence) if sequence is not None else None,
        bytes(gid["data"]) if isinstance(gid, Mapping) and "data" in gid else None,
    )
