"""The package's exceptions: one root type, and messages that say what to do next."""

__all__ = ["ModelNotFoundError", "YoloTrtRosError"]


class YoloTrtRosError(Exception):
    """Root of every error this package raises on purpose."""


class ModelNotFoundError(YoloTrtRosError, FileNotFoundError):
    """A model file (or the bundled default model) is not where it was expected."""
