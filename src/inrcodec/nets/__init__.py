"""Neural representations (the INRs themselves): HiNeRV and NVRC's variant of it."""

from inrcodec.nets.hinerv import (
    PRESETS,
    HiNeRV,
    HiNeRVConfig,
    count_parameters,
    macs_per_frame,
    macs_per_pixel,
    preset,
)

__all__ = [
    "PRESETS",
    "HiNeRV",
    "HiNeRVConfig",
    "count_parameters",
    "macs_per_frame",
    "macs_per_pixel",
    "preset",
]
