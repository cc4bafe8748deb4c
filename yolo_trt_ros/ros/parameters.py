"""The parameter table (``yolo_trt_ros.settings.table``) in ROS terms: descriptors and requests.

A spec's description, allowed values and range become its ``ParameterDescriptor``, so
``ros2 param describe`` explains each parameter; validation stays in ``yolo_trt_ros.settings``,
and a ``set_parameters`` request is checked against it before the node takes it. A start-up
override the table refuses does not end the process: it is reported, and configure fails until
the parameter is set to a valid value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings import (
    APPLIED_AT_ONCE,
    LIVE_PARAMETERS,
    PARAMETERS,
    DetectorConfig,
    check_parameter_value,
)
from yolo_trt_ros.settings.table import SPECS, ParameterSpec

if TYPE_CHECKING:  # the export node uses this module too, without loading a detector
    from yolo_trt_ros.detector import Detector

__all__ = [
    "answer_request",
    "applies_later",
    "check_request",
    "check_topic_names",
    "declare_all",
    "deletion_refused",
    "descriptor_for",
    "refuse_startup_errors",
]


def descriptor_for(spec: ParameterSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor (description, allowed values, range) for a spec."""
    notes = f" One of: {', '.join(spec.choices)}." if spec.choices else ""
    descriptor = ParameterDescriptor(
        description=spec.description + notes, dynamic_typing=spec.dynamic_typing
    )
    if spec.int_range:
        descriptor.integer_range = [
            IntegerRange(from_value=spec.int_range[0], to_value=spec.int_range[1], step=0)
        ]
    if spec.float_range:
        descriptor.floating_point_range = [
            FloatingPointRange(
                from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0
            )
        ]
    return descriptor


def deletion_refused(parameters: Sequence[Parameter]) -> str:
    """Return why a request deleting parameters is refused ('' when it deletes none)."""
    deleted = [p.name for p in parameters if p.type_ == Parameter.Type.NOT_SET]
    if not deleted:  # else rclpy would undeclare them, and every later configure would fail
        return ""
    return f"parameters of this node cannot be deleted ({', '.join(deleted)}); set a value instead"


def check_request(
    parameters: Sequence[Parameter],
    current: Mapping[str, Any],
    resolve_topic: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Check each value, then the whole configuration as it would be; return the live values set.

    Raises InvalidSettingError naming the parameter: what configure would refuse (lists, device,
    image size, topics) is refused now. ``current``: every parameter's value before the request;
    ``resolve_topic``: the node's ``resolve_topic_name``, to refuse topic names ROS cannot use.
    """
    for parameter in parameters:
        check_parameter_value(parameter.name, parameter.value)
    values = dict(current)
    values.update({p.name: p.value for p in parameters if p.name in values})
    config = DetectorConfig.from_values(values)
    if resolve_topic is not None and any(p.name == "image_topics" for p in parameters):
        check_topic_names(config.image_topics, resolve_topic)
    return {p.name: p.value for p in parameters if p.name in LIVE_PARAMETERS}


def check_topic_names(topics: Iterable[str], resolve_topic: Callable[[str], str]) -> None:
    """Raise InvalidSettingError (image_topics) for the first topic name ROS cannot resolve.

    ``resolve_topic`` is the node's ``resolve_topic_name``: rcl's own expansion and validation
    (characters, ``{substitutions}``, a leading digit, ``//``), with the node's namespace.
    """
    for topic in topics:
        try:
            resolve_topic(topic)
        except Exception as error:  # noqa: BLE001 - rclpy raises RCLError or ValueError here
            reason = str(error).split(", at ")[0].removeprefix("failed to resolve name: ")
            raise InvalidSettingError.of(
                "image_topics", f"{topic!r} is not a valid ROS topic name: {reason}"
            ) from None


def declare_all(
    node: Node, specs: Iterable[ParameterSpec] = PARAMETERS, fails: str = "configure"
) -> dict[str, str]:
    """Declare every parameter; return why each refused start-up override was refused.

    A bad override (wrong type, out of range, NaN) must not crash start-up: the parameter keeps
    its default, the reason is logged, and ``fails`` (configure, export) fails until it is set to
    a valid value.
    """
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            node.declare_parameter(spec.name, spec.default, descriptor_for(spec))
        except (InvalidParameterValueException, InvalidParameterTypeException) as error:
            node.declare_parameter(
                spec.name, spec.default, descriptor_for(spec), ignore_override=True
            )
            reason = f"parameter {spec.name}: {error}"
            errors[spec.name] = reason
            node.get_logger().error(f"{reason}; {fails} will fail until it is set to a valid value")
    return errors


def refuse_startup_errors(errors: Mapping[str, str]) -> None:
    """Raise InvalidSettingError, naming the first parameter, while a start-up value is refused."""
    if errors:
        first = next(iter(errors))
        raise InvalidSettingError("; ".join(errors.values()), first)


def answer_request(
    parameters: Sequence[Parameter],
    current: Mapping[str, Any],
    detector: Detector | None,
    startup_errors: dict[str, str],
    logger: Any,
    *,
    on_threshold: Callable[[Detector], None],
    on_diagnostics_period: Callable[[float], None],
    resolve_topic: Callable[[str], str] | None = None,
) -> SetParametersResult:
    """Answer a ``set_parameters`` request; apply live values to ``detector`` (None: unconfigured).

    ``on_threshold`` follows a new confidence threshold (LabelInfo), ``on_diagnostics_period`` a
    new period; a start-up error of a parameter set now is forgotten (``startup_errors``);
    ``resolve_topic`` checks new image topics as check_request does.
    """
    refused = deletion_refused(parameters)
    if refused:
        return SetParametersResult(successful=False, reason=refused)
    try:
        live = check_request(parameters, current, resolve_topic)
        if live and detector is not None:
            detector.update_settings(
                **{LIVE_PARAMETERS[name]: value for name, value in live.items()}
            )
            logger.info(f"applied {', '.join(f'{k}={v}' for k, v in live.items())}")
            if "confidence_threshold" in live:  # LabelInfo.threshold follows it
                on_threshold(detector)
    except InvalidSettingError as error:
        return SetParametersResult(successful=False, reason=str(error))
    for parameter in parameters:
        if parameter.name == "diagnostics_period":
            on_diagnostics_period(float(parameter.value))
    for parameter in parameters:  # a value refused at start-up is corrected now
        if startup_errors.pop(parameter.name, None):
            logger.info(f"parameter {parameter.name} is valid again")
    later = [p.name for p in parameters if _read_on_configure(p.name) and detector is not None]
    if later:
        logger.info(f"{', '.join(later)} will take effect on the next configure")
    return SetParametersResult(successful=True)


def _read_on_configure(name: str) -> bool:
    """Whether a change waits for the next configure.

    The node's own parameters do, except the live ones; rclpy's own (``use_sim_time``) do not, since
    rclpy applies them at once.
    """
    return name in SPECS and name not in APPLIED_AT_ONCE


def applies_later(parameters: Sequence[Parameter], configured: bool) -> str:
    """Return the reason to answer for values set while configured that only configure reads."""
    if configured and any(_read_on_configure(p.name) for p in parameters):
        return "stored; applies at the next configure (cleanup + configure)"
    return ""
