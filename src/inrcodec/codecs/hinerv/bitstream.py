"""The HiNeRV payload: a network configuration and its quantised parameters (docs/bitstream.md
section 5, "HiNeRV payload").

Two sections in the shared container (`inrcodec.coding.Container`, codec id HINERV):

* tag 1, *model* (`MODEL_FIELDS`): the preset name, the training colour space, the bit width
  and the network configuration (`inrcodec.codecs.network_section`);
* tag 2, *parameters*: every parameter of the network, in the order of a freshly built
  `HiNeRV` (`parameter_specs`). Weights and grids (2-D and up) are per-channel symmetric
  quantised integers, entropy-coded with whichever model is smallest for that tensor; 1-D
  tensors (biases) are float16.

Tensor shapes are not written: they follow from the configuration, which the decoder lays
out on the meta device (no allocation) and checks against sane limits before anything else.
Pruned weights are the symbol 0 (no separate mask, see `docs/hinerv-codec.md`).

Nothing here trains or runs a network; the decoder path never uses pickle or torch.load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from inrcodec.codecs.info import describe_container
from inrcodec.codecs.network_section import (
    NAME,
    NETWORK,
    SPACE,
    checked_parameter_specs,
    network_config,
    network_values,
    parameter_specs,
)
from inrcodec.codecs.synthesis import network_memory
from inrcodec.coding import (
    BitstreamError,
    CodecId,
    Container,
    VideoHeader,
    decode_smallest,
    encode_smallest,
)
from inrcodec.coding.fields import Table, UInt
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.nets.hinerv import HiNeRV, HiNeRVConfig

MODEL_TAG = 1
PARAMETERS_TAG = 2

MIN_BITS, MAX_BITS = 2, 16

#: The model section (docs/bitstream.md 5.1).
MODEL_FIELDS = Table(NAME, SPACE, UInt("bits", MIN_BITS, MAX_BITS), NETWORK)


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


def _step_count(shape: tuple[int, ...]) -> int:
    """How many quantisation steps a 2-D+ parameter has: one per index of `quant_axis`."""
    axis = quant_axis(shape)
    return 1 if axis is None else shape[axis]


def _minimum_bytes(specs) -> int:
    """The fewest bytes a parameters section of these shapes can take (5.2): a binary16 per
    1-D entry; per other tensor its binary16 steps, a length and a model code."""
    return sum(
        2 * shape[0] if len(shape) == 1 else 2 * _step_count(shape) + 2 for _, shape in specs
    )


# ----------------------------------------------------------------------------------- writer


def write_payload(payload: HiNeRVPayload, header: VideoHeader) -> bytes:
    """The complete file: container with the model and parameters sections."""
    model = _model_bytes(payload)
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
        channels = _step_count(shape)
        scales = np.asarray(tensor.scales)
        if scales.dtype != np.float16 or scales.shape != (channels,):
            raise ValueError(f"{name}: expected {channels} float16 scales")
        low, high = -(2 ** (payload.bits - 1)), 2 ** (payload.bits - 1) - 1
        if tensor.symbols.size and not low <= tensor.symbols.min() <= tensor.symbols.max() <= high:
            raise ValueError(f"{name}: symbols outside the {payload.bits}-bit range")
        parts.append(scales.astype("<f2").tobytes())
        coded = encode_smallest(tensor.symbols)
        parts.append(encode_uvarint(len(coded)) + coded)
    sections = [(MODEL_TAG, model), (PARAMETERS_TAG, b"".join(parts))]
    return Container(CodecId.HINERV, header, sections).to_bytes()


def _model_bytes(payload: HiNeRVPayload) -> bytes:
    values = {**network_values(payload.config), "space": payload.space, "bits": payload.bits}
    return MODEL_FIELDS.write(values)


# ----------------------------------------------------------------------------------- reader


def read_payload(data: bytes) -> tuple[VideoHeader, HiNeRVPayload]:
    """Parse a HiNeRV file. Any malformed input raises `BitstreamError`."""
    container = _container(data)
    header = container.header
    config, space, bits = _read_model(container.section(MODEL_TAG))
    specs = checked_parameter_specs(config, header)
    reader = ByteReader(container.section(PARAMETERS_TAG))
    reader.need(_minimum_bytes(specs), "parameters section")  # before any tensor is decoded
    tensors: dict[str, QuantizedTensor | np.ndarray] = {}
    for name, shape in specs:
        if len(shape) == 1:
            raw = reader.take(2 * shape[0], f"{name} (float16)")
            values = np.frombuffer(raw, dtype="<f2").astype(np.float16)
            if not np.isfinite(values).all():
                raise BitstreamError(f"{name}: non-finite value")
            tensors[name] = values
            continue
        channels = _step_count(shape)
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
    values = MODEL_FIELDS.parse(data, "model section")
    return network_config(values), values["space"], values["bits"]


def _container(data: bytes) -> Container:
    return Container.of_codec(data, CodecId.HINERV, (MODEL_TAG, PARAMETERS_TAG), "HiNeRV")


def part_bytes(data: bytes) -> dict[str, int]:
    """The file's bytes by part: the container's framing, the model and the parameters."""
    container = _container(data)
    sizes = {"model": len(container.section(MODEL_TAG))}
    sizes["parameters"] = len(container.section(PARAMETERS_TAG))
    return {"header": len(data) - sum(sizes.values()), **sizes}


def decode_memory(data: bytes) -> int:
    """About the bytes the decoder needs at once (`network_memory`), from the header and the
    model section alone; a network the decoder would refuse raises `BitstreamError` here."""
    container = _container(data)
    header = container.header
    config, _, _ = _read_model(container.section(MODEL_TAG))
    checked_parameter_specs(config, header)
    with torch.device("meta"):
        net = HiNeRV(config, header.frame_count, header.height, header.width)
    return network_memory(net, header)


def describe(data: bytes) -> dict:
    """What ``inrcodec info`` shows of a HiNeRV file: `describe_container`, then ``model``,
    the fields of the model section (`MODEL_FIELDS`: preset name, space, bits, network)."""
    model = MODEL_FIELDS.parse(_container(data).section(MODEL_TAG), "model section")
    return {**describe_container(data), "model": model}
