"""The package's exceptions: one root type, and messages that say what to do next."""

from __future__ import annotations

__all__ = [
    "BackendNotAvailableError",
    "BagError",
    "BuildCancelledError",
    "CudaError",
    "DetectorNotFoundError",
    "ExportUnavailableError",
    "InferenceError",
    "InterfaceNotFoundError",
    "InvalidImageError",
    "InvalidProfileError",
    "InvalidSettingError",
    "ModelLoadError",
    "ModelNotFoundError",
    "PowerModeError",
    "ReportError",
    "StaleEngineError",
    "TopicNotWatchedError",
    "UnsupportedModelError",
    "YoloTrtRosError",
]


class YoloTrtRosError(Exception):
    """Root of every error this package raises on purpose."""


class ModelNotFoundError(YoloTrtRosError, FileNotFoundError):
    """A model file (or the bundled default model) is not where it was expected."""


class ModelLoadError(YoloTrtRosError):
    """A model file exists but the backend cannot load it (corrupt, wrong format, wrong device)."""


class UnsupportedModelError(YoloTrtRosError):
    """A loaded model's inputs or outputs are not those of a YOLO detection model."""


class BackendNotAvailableError(YoloTrtRosError):
    """The requested inference backend or device is not installed or not usable here."""


class InvalidSettingError(YoloTrtRosError, ValueError):
    """A detection setting (threshold, size, class filter, ...) is out of its valid range.

    ``parameter`` names the node parameter at fault when one is ("" otherwise), so a caller that
    merges settings from several sources can say which source set it without reading the message.
    """

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter

    @classmethod
    def of(cls, parameter: str, problem: str) -> InvalidSettingError:
        """Make the error for one parameter: "parameter <name>: <problem>"."""
        return cls(f"parameter {parameter}: {problem}", parameter)


class InvalidImageError(YoloTrtRosError, ValueError):
    """An input image has a shape, type or pixel format the detector cannot use.

    ``kind`` names the sort of problem (``encoding``, ``size``, ``layout``, ``format``,
    ``corrupt``), so that warnings can be throttled per sort and one does not hide another.
    """

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


class BuildCancelledError(YoloTrtRosError):
    """An engine build was cancelled (the node was cleaned up or shut down while it ran)."""


class InferenceError(YoloTrtRosError):
    """A loaded model failed while running (the runtime refused to execute it)."""


class CudaError(YoloTrtRosError):
    """A CUDA driver or NVRTC call failed, or no usable CUDA device exists."""


class BagError(YoloTrtRosError):
    """A bag cannot be replayed: missing, unreadable, truncated, or without the wanted image topic."""


class ReportError(YoloTrtRosError):
    """A replay report file is missing, unreadable or not a report this package wrote."""


class InvalidProfileError(InvalidSettingError):
    """A power-mode profile (config/power_modes/<mode>.yaml) is missing, malformed or inconsistent."""


class PowerModeError(YoloTrtRosError):
    """The Jetson power mode cannot be read or switched (nvpmodel missing, unknown mode, no root)."""


class ExportUnavailableError(BackendNotAvailableError):
    """Ultralytics (and with it torch) is not installed, so a .pt model cannot be exported here."""


class StaleEngineError(YoloTrtRosError):
    """A cached engine does not match this device, TensorRT or its own recorded hash."""


class InterfaceNotFoundError(YoloTrtRosError):
    """An interface package or type is not installed in any prefix of AMENT_PREFIX_PATH."""


class DetectorNotFoundError(YoloTrtRosError):
    """The detector node does not answer, or does not watch the topics to be measured."""


class TopicNotWatchedError(DetectorNotFoundError):
    """The detector answers, but does not watch a topic to be measured."""
