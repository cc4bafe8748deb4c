"""Jetson facts without ROS: board capabilities and power modes (nvpmodel)."""

from yolo_trt_ros.jetson.boards import DLA_CORES
from yolo_trt_ros.jetson.nvpmodel import (
    Nvpmodel,
    PowerMode,
    PowerModeReading,
    PowerModeTable,
    parse_nvpmodel_conf,
    parse_nvpmodel_modes_listing,
    parse_nvpmodel_query,
    parse_nvpmodel_status,
)
from yolo_trt_ros.jetson.power_check import PowerModeCheck, check_power_mode

__all__ = [
    "DLA_CORES",
    "Nvpmodel",
    "PowerMode",
    "PowerModeCheck",
    "PowerModeReading",
    "PowerModeTable",
    "check_power_mode",
    "parse_nvpmodel_conf",
    "parse_nvpmodel_modes_listing",
    "parse_nvpmodel_query",
    "parse_nvpmodel_status",
]
