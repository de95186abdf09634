"""Neural representations: HiNeRV (and NVRC's variant of it), TeCoNeRV's HypoNeRV and the
hypernetwork that predicts its weights."""

from inrcodec.nets.hinerv import (
    PRESETS,
    HiNeRV,
    HiNeRVConfig,
    count_parameters,
    macs_per_frame,
    macs_per_pixel,
    preset,
)
from inrcodec.nets.hypernet import HypernetConfig, Hypernetwork, TransformerConfig
from inrcodec.nets.hyponerv import HypoNeRV, HypoNeRVConfig, NetworkConfigError

__all__ = [
    "PRESETS",
    "HiNeRV",
    "HiNeRVConfig",
    "HypernetConfig",
    "Hypernetwork",
    "HypoNeRV",
    "HypoNeRVConfig",
    "NetworkConfigError",
    "TransformerConfig",
    "count_parameters",
    "macs_per_frame",
    "macs_per_pixel",
    "preset",
]
