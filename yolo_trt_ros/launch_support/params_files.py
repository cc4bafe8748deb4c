"""Read the parameters a ROS 2 params file gives one node, the way rcl matches node names.

Launch passes the file itself to the node; reading it here as well lets the launch check values
before the node starts and warn about names the node does not have (ROS ignores those silently).
Sections are node names, absolute or not, nested or written out (``robot: {yolo: ...}`` is
``/robot/yolo``), with ``*`` matching one name token and ``**`` any number of them. Sections that
match are applied in file order, later ones winning, as rcl does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from yolo_trt_ros.errors import InvalidSettingError

__all__ = ["flatten_parameters", "node_name_matches", "read_node_parameters"]

_PARAMETERS_KEY = "ros__parameters"


def node_name_matches(section: str, node_fqn: str) -> bool:
    """Return whether a params-file section name (/robot/*, /**, yolo) applies to a node."""
    tokens = [token for token in section.strip("/").split("/") if token]
    pattern = ""
    for token in tokens:
        if token == "**":
            pattern += r"(?:/[^/]+)*"
        elif token == "*":
            pattern += r"/[^/]+"
        else:
            pattern += "/" + re.escape(token)
    return re.fullmatch(pattern or "/", node_fqn) is not None


def flatten_parameters(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn nested parameter mappings into dotted names (qos_overrides./x.reliability)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_parameters(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _sections(data: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        name = f"{path}/{str(key).strip('/')}"
        if _PARAMETERS_KEY in value:
            parameters = value[_PARAMETERS_KEY]
            if not isinstance(parameters, dict):
                raise InvalidSettingError(f"{name}: {_PARAMETERS_KEY} must be a mapping")
            yield name, parameters
        else:
            yield from _sections(value, name)


def read_node_parameters(path: Path, node_fqn: str) -> dict[str, Any]:
    """Return the parameters a params file sets for the node `node_fqn` (like /robot/yolo)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidSettingError(f"params_file {path}: cannot read it: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InvalidSettingError(f"params_file {path}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidSettingError(
            f"params_file {path}: expected '<node name>: {{ros__parameters: ...}}' sections"
        )
    try:
        sections = list(_sections(data))
    except InvalidSettingError as error:
        raise InvalidSettingError(f"params_file {path}: {error}") from None
    if not sections:
        raise InvalidSettingError(
            f"params_file {path}: no section has {_PARAMETERS_KEY}; write "
            f"'/**:\\n  {_PARAMETERS_KEY}:\\n    model: ...' (see config/detector.yaml)"
        )
    merged: dict[str, Any] = {}
    for name, parameters in sections:
        if node_name_matches(name, node_fqn):
            merged.update(flatten_parameters(parameters))
    return merged
