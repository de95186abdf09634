"""The HiNeRV payload: a network configuration and its quantised parameters (docs/bitstream.md
section 4, "HiNeRV payload").

Two sections in the shared container (`inrcodec.coding.Container`, codec id HINERV):

* tag 1, *model*: the preset name, every numeric field of `HiNeRVConfig` (so a later change of
  the preset tables never breaks an old file), the training colour space and the bit width;
* tag 2, *parameters*: every parameter of the network, in the order of a freshly built
  `HiNeRV` (`parameter_specs`). Weights and grids (2-D and up) are per-channel symmetric
  quantised integers, entropy-coded with whichever model is smallest for that tensor; 1-D
  tensors (biases) are float16.

Tensor shapes are not written: they follow from the configuration, which the decoder builds
on the meta device (no allocation) and checks against sane limits before anything else.
Pruned weights are the symbol 0 (no separate mask, see `docs/hinerv-codec.md`).

Nothing here trains or runs a network; the decoder path never uses pickle or torch.load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from inrcodec.coding import (
    BitstreamError,
    CodecId,
    Container,
    VideoHeader,
    decode_smallest,
    encode_smallest,
)
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.nets.hinerv import HiNeRV, HiNeRVConfig

MODEL_TAG = 1
PARAMETERS_TAG = 2

SPACES = ("rgb", "yuv")
MIN_BITS, MAX_BITS = 2, 16

# Fractional config fields are written as multiples of 1/16 (every value in our presets is).
_FIXED_POINT = 16
_ACTIVATIONS = ("sigmoid", "none")
# Sane limits, checked before the decoder allocates anything (DESIGN.md section 2).
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


@dataclass(frozen=True)
class QuantizedTensor:
    """One parameter as the bitstream holds it.

    ``symbols`` are int32 of the parameter's shape, ``scales`` the float16 step of each
    channel along ``quant_axis(shape)`` (one scale when the axis is None); the value is
    ``symbols * scales`` (in float32).
    """

    symbols: np.ndarray
    scales: np.ndarray  # float16, 1-D


@dataclass(frozen=True)
class HiNeRVPayload:
    """Everything a HiNeRV decoder needs besides the video header."""

    config: HiNeRVConfig
    space: str  # what the network outputs: "rgb" or "yuv" (normalised 4:4:4 codes)
    bits: int
    tensors: dict[str, QuantizedTensor | np.ndarray]  # name -> quantised, or float16 (1-D)


# --------------------------------------------------------------------------- parameter layout


def quant_axis(shape: tuple[int, ...], threshold: float = 0.05) -> int | None:
    """The axis that gets one quantisation step per index (HiNeRV's reference rule, after
    HNeRV): the longest axis among those with more than 1/threshold entries; None (one step
    for the tensor) if no axis is that long."""
    best, best_size = None, 0
    numel = math.prod(shape)
    for axis, size in enumerate(shape):
        if numel / size >= numel * threshold:
            continue
        if size > best_size:
            best, best_size = axis, size
    return best


def parameter_specs(config: HiNeRVConfig, frames: int, height: int, width: int):
    """``[(name, shape)]`` of every parameter of the network, in the canonical file order.

    Built on the meta device: nothing is allocated, so it is safe on untrusted configs.
    """
    with torch.device("meta"):
        model = HiNeRV(config, frames, height, width)
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


# ----------------------------------------------------------------------------------- writer


def write_payload(payload: HiNeRVPayload, header: VideoHeader) -> bytes:
    """The complete file: container with the model and parameters sections."""
    _check_writable(payload)
    specs = parameter_specs(payload.config, header.frame_count, header.height, header.width)
    if set(payload.tensors) != {name for name, _ in specs}:
        raise ValueError("the tensors do not match the network's parameters")
    parts = []
    for name, shape in specs:
        tensor = payload.tensors[name]
        if len(shape) == 1:
            values = np.asarray(tensor)
            if values.dtype != np.float16 or values.shape != shape:
                raise ValueError(f"{name}: expected float16 of shape {shape}")
            parts.append(values.astype("<f2").tobytes())
            continue
        if tensor.symbols.shape != shape:
            raise ValueError(f"{name}: symbols of shape {tensor.symbols.shape}, expected {shape}")
        axis = quant_axis(shape)
        channels = 1 if axis is None else shape[axis]
        scales = np.asarray(tensor.scales)
        if scales.dtype != np.float16 or scales.shape != (channels,):
            raise ValueError(f"{name}: expected {channels} float16 scales")
        low, high = -(2 ** (payload.bits - 1)), 2 ** (payload.bits - 1) - 1
        if tensor.symbols.size and not low <= tensor.symbols.min() <= tensor.symbols.max() <= high:
            raise ValueError(f"{name}: symbols outside the {payload.bits}-bit range")
        parts.append(scales.astype("<f2").tobytes())
        coded = encode_smallest(tensor.symbols)
        parts.append(encode_uvarint(len(coded)) + coded)
    sections = [(MODEL_TAG, _model_bytes(payload)), (PARAMETERS_TAG, b"".join(parts))]
    return Container(CodecId.HINERV, header, sections).to_bytes()


def _model_bytes(payload: HiNeRVPayload) -> bytes:
    name = payload.config.name.encode("ascii")
    out = [encode_uvarint(len(name)), name]
    out.append(encode_uvarint(SPACES.index(payload.space)))
    out.append(encode_uvarint(payload.bits))
    return b"".join(out) + network_bytes(payload.config)


def network_bytes(config: HiNeRVConfig) -> bytes:
    """Every numeric field of a `HiNeRVConfig` (docs/bitstream.md, "HiNeRV payload")."""
    out = [encode_uvarint(len(config.strides))]
    for i in range(len(config.strides)):
        out.append(encode_uvarint(config.channels[i]))
        out.append(encode_uvarint(config.depths[i]))
        out.append(_fixed(config.expansions[i]))
        out.append(encode_uvarint(config.strides[i]))
    out.append(encode_uvarint(config.kernel))
    out += [encode_uvarint(k) for k in config.stem_kernel]
    flags = int(config.stem_on_grids) | (_ACTIVATIONS.index(config.output_activation) << 1)
    out.append(encode_uvarint(flags))
    out += [encode_uvarint(v) for v in config.grid_size]
    out.append(encode_uvarint(config.grid_levels))
    out += [_fixed(r) for r in config.grid_ratios]
    out += [encode_uvarint(v) for v in config.local_grid_size]
    out.append(encode_uvarint(config.local_grid_levels))
    out += [_fixed(r) for r in config.local_grid_ratios]
    out.append(_fixed(config.local_grid_stage_ratio))
    return b"".join(out)


def _fixed(value: float) -> bytes:
    scaled = value * _FIXED_POINT
    if scaled != int(scaled) or scaled <= 0:
        raise ValueError(f"config value {value} is not a positive multiple of 1/{_FIXED_POINT}")
    return encode_uvarint(int(scaled))


def _check_writable(payload: HiNeRVPayload) -> None:
    if payload.space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}")
    if not MIN_BITS <= payload.bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [{MIN_BITS}, {MAX_BITS}]")
    name = payload.config.name
    if not name.isascii() or len(name) > MAX_NAME_BYTES:
        raise ValueError(f"preset name must be ASCII of at most {MAX_NAME_BYTES} bytes")


# ----------------------------------------------------------------------------------- reader


def read_payload(data: bytes) -> tuple[VideoHeader, HiNeRVPayload]:
    """Parse a HiNeRV file. Any malformed input raises `BitstreamError`."""
    container = Container.of_codec(data, CodecId.HINERV, (MODEL_TAG, PARAMETERS_TAG), "HiNeRV")
    header = container.header
    config, space, bits = _read_model(container.section(MODEL_TAG))
    try:
        specs = parameter_specs(config, header.frame_count, header.height, header.width)
    except (ValueError, RuntimeError) as error:  # e.g. a grid that the geometry cannot use
        raise BitstreamError(f"model: unusable configuration ({error})") from None
    total = sum(math.prod(shape) for _, shape in specs)
    if total > MAX_PARAMETERS:
        raise BitstreamError(f"model: {total} parameters, more than {MAX_PARAMETERS}")
    reader = ByteReader(container.section(PARAMETERS_TAG))
    tensors: dict[str, QuantizedTensor | np.ndarray] = {}
    for name, shape in specs:
        if len(shape) == 1:
            raw = reader.take(2 * shape[0], f"{name} (float16)")
            values = np.frombuffer(raw, dtype="<f2").astype(np.float16)
            if not np.isfinite(values).all():
                raise BitstreamError(f"{name}: non-finite value")
            tensors[name] = values
            continue
        axis = quant_axis(shape)
        channels = 1 if axis is None else shape[axis]
        scales = np.frombuffer(reader.take(2 * channels, f"{name} scales"), dtype="<f2")
        scales = scales.astype(np.float16)
        if not (np.isfinite(scales).all() and (scales > 0).all()):
            raise BitstreamError(f"{name}: quantisation steps must be finite and positive")
        length = reader.uvarint(f"{name} length", reader.remaining)
        symbols = decode_smallest(bytes(reader.take(length, f"{name} symbols")), shape, name)
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if symbols.size and not low <= symbols.min() <= symbols.max() <= high:
            raise BitstreamError(f"{name}: symbols outside the {bits}-bit range")
        tensors[name] = QuantizedTensor(symbols, scales)
    reader.expect_end("parameters section")
    return header, HiNeRVPayload(config, space, bits, tensors)


def _read_model(data: bytes) -> tuple[HiNeRVConfig, str, int]:
    r = ByteReader(data)
    name = read_name(r)
    space = SPACES[r.uvarint("colour space", len(SPACES) - 1)]
    bits = r.uvarint("quantisation bits", MAX_BITS, min_value=MIN_BITS)
    config = read_network(r, name)
    r.expect_end("model section")
    return config, space, bits


def read_name(r: ByteReader) -> str:
    """A preset name: length, then ASCII bytes."""
    length = r.uvarint("preset name length", MAX_NAME_BYTES)
    raw = bytes(r.take(length, "preset name"))
    if not raw.isascii():
        raise BitstreamError("preset name: not ASCII")
    return raw.decode("ascii")


def read_network(r: ByteReader, name: str) -> HiNeRVConfig:
    """Inverse of `network_bytes`, checked against sane limits (`BitstreamError`)."""
    stages = r.uvarint("stage count", MAX_STAGES, min_value=1)
    channels, depths, expansions, strides = [], [], [], []
    for i in range(stages):
        channels.append(r.uvarint(f"stage {i} channels", MAX_CHANNELS, min_value=1))
        depths.append(r.uvarint(f"stage {i} depth", MAX_DEPTH, min_value=1))
        expansions.append(_read_fixed(r, f"stage {i} expansion"))
        strides.append(r.uvarint(f"stage {i} stride", MAX_STRIDE, min_value=1))
    if math.prod(strides) > MAX_TOTAL_STRIDE:
        raise BitstreamError(f"model: total stride {math.prod(strides)} above {MAX_TOTAL_STRIDE}")
    kernel = r.uvarint("kernel", MAX_KERNEL, min_value=1)
    stem_kernel = tuple(r.uvarint("stem kernel", MAX_KERNEL, min_value=1) for _ in range(3))
    flags = r.uvarint("flags", 3)
    grid_size = tuple(
        r.uvarint(f"grid size {axis}", limit, min_value=1)
        for axis, limit in zip("THWC", (2**20, 16384, 16384, MAX_CHANNELS), strict=True)
    )
    grid_levels = r.uvarint("grid levels", MAX_GRID_LEVELS, min_value=1)
    grid_ratios = tuple(_read_fixed(r, "grid ratio") for _ in range(4))
    local_grid_size = (
        r.uvarint("local grid frames", 2**20, min_value=1),
        r.uvarint("local grid channels", MAX_CHANNELS, min_value=1),
    )
    local_levels = r.uvarint("local grid levels", MAX_GRID_LEVELS, min_value=1)
    local_ratios = tuple(_read_fixed(r, "local grid ratio") for _ in range(2))
    stage_ratio = _read_fixed(r, "local grid stage ratio")
    try:
        return HiNeRVConfig(
            name=name,
            channels=tuple(channels),
            depths=tuple(depths),
            expansions=tuple(expansions),
            strides=tuple(strides),
            kernel=kernel,
            stem_kernel=stem_kernel,
            stem_on_grids=bool(flags & 1),
            grid_size=grid_size,
            grid_levels=grid_levels,
            grid_ratios=grid_ratios,
            local_grid_size=local_grid_size,
            local_grid_levels=local_levels,
            local_grid_ratios=local_ratios,
            local_grid_stage_ratio=stage_ratio,
            output_activation=_ACTIVATIONS[flags >> 1],
        )
    except ValueError as error:
        raise BitstreamError(f"model: invalid configuration ({error})") from None


def _read_fixed(reader: ByteReader, what: str) -> float:
    return reader.uvarint(what, MAX_EXPANSION * _FIXED_POINT, min_value=1) / _FIXED_POINT
