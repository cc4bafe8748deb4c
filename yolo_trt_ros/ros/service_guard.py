"""Lifecycle and parameter requests that would end the process are answered with a refusal instead.

rclpy raises out of two standard services, and the executor re-raises the error in ``spin()``, so
one request from anyone on the network ends the node:

* ``change_state`` with a transition that does not exist in the current state (``activate`` while
  unconfigured): ``RCLError: Transition is not registered`` (fixed upstream after the pinned Jazzy
  wheel; Humble has the same code);
* ``set_parameters`` / ``set_parameters_atomically`` with a ``ParameterValue.type`` that is not a
  parameter type (e.g. 99): ``ValueError: 99 is not a valid Parameter.Type``.

``guard_services`` wraps those services' callbacks: a bad request gets ``success: false`` (or a
failed ``SetParametersResult`` naming the problem) and one log line, and the node runs on.

rclpy also drops the reason of a successful ``on_set_parameters`` callback; ``note`` puts one back
(``ros2 param set`` prints it after "Set parameter successful: ").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.exceptions import ParameterNotDeclaredException
from rclpy.node import Node
from rclpy.parameter import Parameter

__all__ = ["guard_services"]

Log = Callable[[str], None]
Note = Callable[[list[Parameter]], str]  # the reason to give with a successful set, or ""


def _parameter_or_reason(message: Any) -> Parameter | str:
    try:
        parameter: Parameter = Parameter.from_parameter_msg(message)
    except (ValueError, TypeError) as error:
        return f"parameter {message.name}: not a valid parameter value ({error})"
    return parameter


def _noted(result: SetParametersResult, parameters: list[Parameter], note: Note) -> Any:
    if result.successful and not result.reason:
        result.reason = note(parameters)
    return result


def _set_parameters(node: Node, log: Log, note: Note) -> Callable[[Any, Any], Any]:
    def callback(request: Any, response: Any) -> Any:
        for message in request.parameters:
            parameter = _parameter_or_reason(message)
            if isinstance(parameter, str):
                log(f"refused a set_parameters request: {parameter}")
                response.results.append(SetParametersResult(successful=False, reason=parameter))
                continue
            try:
                result = _noted(node.set_parameters_atomically([parameter]), [parameter], note)
            except ParameterNotDeclaredException as error:
                result = SetParametersResult(successful=False, reason=str(error))
            response.results.append(result)
        return response

    return callback


def _set_parameters_atomically(node: Node, log: Log, note: Note) -> Callable[[Any, Any], Any]:
    def callback(request: Any, response: Any) -> Any:
        parameters = [_parameter_or_reason(message) for message in request.parameters]
        reasons = [p for p in parameters if isinstance(p, str)]
        if reasons:
            log(f"refused a set_parameters_atomically request: {'; '.join(reasons)}")
            response.result = SetParametersResult(successful=False, reason="; ".join(reasons))
            return response
        valid = [p for p in parameters if isinstance(p, Parameter)]
        try:
            response.result = _noted(node.set_parameters_atomically(valid), valid, note)
        except ParameterNotDeclaredException as error:
            response.result = SetParametersResult(successful=False, reason=str(error))
        return response

    return callback


def _change_state(original: Callable[[Any, Any], Any], log: Log) -> Callable[[Any, Any], Any]:
    def callback(request: Any, response: Any) -> Any:
        try:
            return original(request, response)
        except Exception as error:  # noqa: BLE001 - rclpy's RCLError has no public import
            what = request.transition.label or f"id {request.transition.id}"
            log(
                f"refused lifecycle transition {what}: {str(error).splitlines()[0]} "
                "(ros2 lifecycle list <node> shows the transitions available now)"
            )
            response.success = False
            return response

    return callback


def guard_services(node: Node, log: Log, note: Note = lambda parameters: "") -> None:
    """Replace the callbacks of the node's change_state and set_parameters* services (see above)."""
    for service in node.services:
        if service.srv_type is ChangeState:
            service.callback = _change_state(service.callback, log)
        elif service.srv_type is SetParameters:
            service.callback = _set_parameters(node, log, note)
        elif service.srv_type is SetParametersAtomically:
            service.callback = _set_parameters_atomically(node, log, note)
