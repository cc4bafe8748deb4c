"""What each Jetson board family offers that launch profiles depend on."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["DLA_CORES"]

# Deep-learning accelerator cores per board family; the smallest module of a family counts, so a
# profile that fits it fits the whole family (Orin NX 8 GB has one DLA core, 16 GB has two).
DLA_CORES: Final = MappingProxyType(
    {
        "AGX Orin": 2,
        "Orin NX": 1,
        "Orin Nano": 0,
        "AGX Thor": 0,  # Thor has no DLA
    }
)
