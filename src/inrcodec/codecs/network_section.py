"""The HiNeRV network configuration as the HiNeRV and NVRC payloads both write it, its limits,
and the parameter layout it implies (docs/bitstream.md 5.1, and 6.1 "network").

Both model sections start with the preset name (`NAME`) and the network's colour space
(`SPACE`); further on, `NETWORK` holds every numeric field of `HiNeRVConfig`, so a later change
of the preset tables never changes how an old file decodes. The decoder then lays the network
out on the meta device (`checked_parameter_specs`: no allocation) and refuses it if it is
unusable, too large or finer than the video, before it builds anything. A network with a
module of width 0 is refused while the section is read (`NETWORK`'s checks).
"""

from __future__ import annotations

import math

import torch

from inrcodec.coding import BitstreamError, VideoHeader
from inrcodec.coding.container import MAX_DIMENSION, MAX_FRAMES
from inrcodec.coding.fields import Ascii, Check, Choice, Counted, Fixed, Flags, Table, Tuple, UInt
from inrcodec.nets.hinerv import HiNeRV, HiNeRVConfig

SPACES = ("rgb", "yuv")  # what the network outputs: R'G'B' or normalised Y'CbCr 4:4:4 codes
ACTIVATIONS = ("sigmoid", "none")

# Sane limits, checked before the decoder allocates anything.
MAX_NAME_BYTES = 64
MAX_STAGES = 8
MAX_CHANNELS = 4096
MAX_DEPTH = 32
MAX_STRIDE = 16
MAX_KERNEL = 15
MAX_GRID_LEVELS = 8
MAX_EXPANSION = 64  # MLP width and grid ratios, in units of 1
MAX_PARAMETERS = 2**28
MAX_TOTAL_STRIDE = 256  # the network runs on the frame padded to this multiple (papers: 24, 60)

NAME = Ascii("name", MAX_NAME_BYTES)  # informative only
SPACE = Choice("space", SPACES)


def _ratio(key: str) -> Fixed:
    return Fixed(key, 1 / 16, MAX_EXPANSION)


def _total_stride(values) -> str | None:
    total = math.prod(values["strides"])
    if total > MAX_TOTAL_STRIDE:
        return f"model: total stride {total} above {MAX_TOTAL_STRIDE}"
    return None


def _mlp_widths(values) -> str | None:
    """Every block's MLP has a width of 1 at least (`HiNeRVConfig`: ``int(c x expansion)``)."""
    for stage, (channels, expansion) in enumerate(
        zip(values["channels"], values["expansions"], strict=True)
    ):
        if int(channels * expansion) < 1:
            return f"model: stage {stage} has an MLP of width int({channels} x {expansion}) = 0"
    return None


NETWORK = Table(
    Counted(
        UInt("stages", 1, MAX_STAGES),
        UInt("channels", 1, MAX_CHANNELS),
        UInt("depths", 1, MAX_DEPTH),
        _ratio("expansions"),
        UInt("strides", 1, MAX_STRIDE),
    ),
    UInt("kernel", 1, MAX_KERNEL),
    Tuple("stem_kernel", *(UInt(axis, 1, MAX_KERNEL) for axis in "thw")),
    Flags("flags", ("stem_on_grids", (False, True), 1), ("output_activation", ACTIVATIONS, 1)),
    Tuple(
        "grid_size",
        UInt("T", 1, MAX_FRAMES),
        UInt("H", 1, MAX_DIMENSION),
        UInt("W", 1, MAX_DIMENSION),
        UInt("C", 1, MAX_CHANNELS),
    ),
    UInt("grid_levels", 1, MAX_GRID_LEVELS),
    Tuple("grid_ratios", *(_ratio(axis) for axis in "THWC")),
    Tuple("local_grid_size", UInt("T", 1, MAX_FRAMES), UInt("C", 1, MAX_CHANNELS)),
    UInt("local_grid_levels", 1, MAX_GRID_LEVELS),
    Tuple("local_grid_ratios", *(_ratio(axis) for axis in "TC")),
    _ratio("local_grid_stage_ratio"),
    checks=(
        Check(_total_stride, "strides"),
        Check(_mlp_widths, "channels", "expansions"),
    ),
)


def network_values(config: HiNeRVConfig) -> dict:
    """The `NAME` and `NETWORK` values of ``config``."""
    return {"name": config.name, **NETWORK.values_of(config)}


def network_config(values) -> HiNeRVConfig:
    """The configuration of read `NAME` and `NETWORK` values; `BitstreamError` if
    `HiNeRVConfig` refuses it."""
    try:
        return HiNeRVConfig(**{key: values[key] for key in ("name", *NETWORK.keys)})
    except ValueError as error:
        raise BitstreamError(f"model: invalid configuration ({error})") from None


def parameter_specs(config: HiNeRVConfig, frames: int, height: int, width: int):
    """``[(name, shape)]`` of every parameter of the network, in the canonical file order.

    Built on the meta device: nothing is allocated, so it is safe on untrusted configs.
    """
    with torch.device("meta"):
        model = HiNeRV(config, frames, height, width)
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def finer_than_video(config: HiNeRVConfig, header: VideoHeader) -> str | None:
    """Why a grid level of ``config`` is finer than the video of ``header`` (more slices than
    frames, more rows or columns than the frame padded to the total stride), or None.

    The presets take a slice per 3 or 4 frames (input grids) or per frame (local grids) and a
    row per total stride; a finer grid holds entries that no frame needs, so bounding the
    grids, the part of the network that grows with the video, by the video the header
    declares refuses nothing an encoder writes (docs/bitstream.md 5.1)."""
    stride = config.total_stride
    frames = header.frame_count
    rows, cols = (-(-size // stride) * stride for size in (header.height, header.width))
    for level, (t, h, w, _) in enumerate(config.grid_level_sizes()):
        if t > frames or h > rows or w > cols:
            return f"grid level {level} ({t}x{h}x{w}) finer than the {frames}x{rows}x{cols} video"
    for stage in range(len(config.strides)):
        for level, (t, _) in enumerate(config.local_grid_level_sizes(stage)):
            if t > frames:
                return f"stage {stage} local grid level {level}: {t} slices for {frames} frames"
    return None


def checked_parameter_specs(config: HiNeRVConfig, header: VideoHeader):
    """`parameter_specs` for the video of ``header``; `BitstreamError` if a grid is finer than
    the video (`finer_than_video`), or the network cannot be built for it or has more than
    `MAX_PARAMETERS` parameters."""
    if problem := finer_than_video(config, header):
        raise BitstreamError(f"model: {problem}")
    try:
        specs = parameter_specs(config, header.frame_count, header.height, header.width)
    except (ValueError, RuntimeError) as error:  # e.g. a grid that the geometry cannot use
        raise BitstreamError(f"model: unusable configuration ({error})") from None
    total = sum(math.prod(shape) for _, shape in specs)
    if total > MAX_PARAMETERS:
        raise BitstreamError(f"model: {total} parameters, more than {MAX_PARAMETERS}")
    return specs
