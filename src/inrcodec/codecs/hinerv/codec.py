"""The HiNeRV codec: a video in, an inrcodec file out, and back (HiNeRV's original pipeline).

Encoding (`encode`), as the reference's ``hinerv_compress.py`` (github.com/hmkx/HiNeRV):

1. fit a `HiNeRV` to the video (`fit`, stage "train");
2. prune 15 % by magnitude and fine-tune with the masks kept (stage "prune");
3. fine-tune with Quant-Noise at the target bit width, learning rate x0.1 (stage "quant");
4. quantise per channel (`compress.quantize`) and entropy-code every tensor
   (`bitstream.write_payload`);
5. parse the bytes just written and require the decoded parameters to equal the encoder's
   quantised ones, bit for bit (configuration, integers and scales); the result carries the
   frames synthesised from the decoded parameters, so every metric is that of what a decoder
   produces.

Stage lengths follow the reference's 300 + 60 + 30 epochs: a ``steps`` budget is split in that
ratio; without one, paper presets train those epochs and the CPU presets a budget sized for
`make demo` (`presets.DEFAULT_STEPS`, with the stages' other settings).

Decoding (`decode_frames`; `decode` collects its frames): parse, dequantise, load into a fresh
`HiNeRV`, then synthesise frame by frame as the frames are read (`synthesis.video_chunks`),
under ``torch.inference_mode()``, in the source's pixel format: RGB-trained networks through
`rgb_to_video`, YUV-trained ones by rounding the planes (4:2:0 chroma downsampled at the
source's siting first).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from inrcodec.codecs.header import format_of, header_of
from inrcodec.codecs.network_section import parameter_specs
from inrcodec.coding import VideoHeader
from inrcodec.io import Video, VideoChunks
from inrcodec.nets.hinerv import PRESETS, HiNeRV, size_class
from inrcodec.nets.hinerv import preset as network_preset

from ..base import CodecError, EncodeResult, FileCodec
from ..progress import stage
from ..synthesis import video_chunks
from . import compress
from .bitstream import (
    MAX_BITS,
    MIN_BITS,
    HiNeRVPayload,
    QuantizedTensor,
    part_bytes,
    read_payload,
    write_payload,
)
from .presets import (
    DEFAULT_BITS,
    DEFAULT_PRESET,
    DEFAULT_STEPS,
    PRUNE_LAYER_WEIGHT,
    PRUNE_RATIO,
    QUANT_LR_SCALE,
    QUANT_NOISE,
    RATE_POINTS,
    STAGE_EPOCHS,
)


class HiNeRVCodecError(CodecError):
    """The HiNeRV codec cannot run as asked (unknown preset, bits out of range, ...)."""


def stage_steps(total: int) -> dict[str, int]:
    """Split a step budget over the stages in the reference's 300 : 60 : 30 ratio (each >= 1)."""
    if total < len(STAGE_EPOCHS):
        raise HiNeRVCodecError(f"steps must be at least {len(STAGE_EPOCHS)}, got {total}")
    weights = sum(STAGE_EPOCHS.values())
    prune = max(round(total * STAGE_EPOCHS["prune"] / weights), 1)
    quant = max(round(total * STAGE_EPOCHS["quant"] / weights), 1)
    return {"train": total - prune - quant, "prune": prune, "quant": quant}


def encode(
    video: Video,
    preset: str = DEFAULT_PRESET,
    *,
    bits: int = DEFAULT_BITS,
    steps: int | None = None,
    space: str = "rgb",
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str = "auto",
    seed: int = 0,
    **train_options: Any,
) -> EncodeResult:
    """Compress ``video`` with HiNeRV (module docstring). ``preset``: see
    `inrcodec.nets.hinerv.PRESETS`; ``bits``: 2-16 (the papers use 6-8); ``steps``: total
    optimiser steps of the three stages; ``space``: train on "rgb" (HiNeRV) or "yuv" 4:4:4
    (NVRC eq. 11); ``train_options``: more `TrainConfig` fields (``lr``, ``patch_size``, ...).
    ``run_dir`` keeps each stage's checkpoint; with ``resume`` an interrupted encode continues.
    """
    from ..training.fitting import TrainConfig, VideoTarget, fit, preset_training

    check_options(preset, bits, space)
    if space == "yuv" and video.format.chroma == "rgb":
        raise HiNeRVCodecError("space='yuv' needs a Y'CbCr video; this one is RGB")
    started = time.perf_counter()
    frames, height, width = video.num_frames, video.height, video.width
    config = network_preset(preset, frames, height, width)
    if steps is None:
        steps = DEFAULT_STEPS.get(size_class(preset))
    plan = stage_steps(steps) if steps is not None else None
    target = VideoTarget.from_video(video, space=space)
    options = {**preset_training(size_class(preset)), **train_options}
    base = dict(device=device, seed=seed, loss=space, **options)
    try:
        configs = {
            name: TrainConfig(
                steps=plan[name] if plan else None,
                epochs=STAGE_EPOCHS[name],
                lr_scale=QUANT_LR_SCALE if name == "quant" else 1.0,
                **base,
            )
            for name in STAGE_EPOCHS
        }
    except (TypeError, ValueError) as error:
        raise HiNeRVCodecError(f"bad training options: {error}") from None
    run = Path(run_dir) if run_dir is not None else None

    torch.manual_seed(seed)  # the initial weights (fit seeds only its own sampling)
    model = HiNeRV(config, frames, height, width)
    kwargs = dict(run_dir=run, resume=resume, progress=progress)
    results = {"train": fit(model, target, configs["train"], stage="train", **kwargs)}
    compress.prune(model, PRUNE_RATIO, PRUNE_LAYER_WEIGHT)
    results["prune"] = fit(model, target, configs["prune"], stage="prune", **kwargs)
    compress.add_quant_noise(model, bits, QUANT_NOISE)
    results["quant"] = fit(model, target, configs["quant"], stage="quant", **kwargs)
    model = model.cpu()
    compress.strip(model)
    stage("coding the network, then decoding the file to check it", progress)

    names = [name for name, _ in parameter_specs(config, frames, height, width)]
    tensors = compress.quantize_per_channel(model, bits, names)
    payload = HiNeRVPayload(config, space, bits, tensors)
    data = write_payload(payload, header_of(video))

    # Self-check (docs/design.md, "The bitstream"): the decoder must get back exactly the
    # parameters the encoder quantised; the reported reconstruction is then the decoder's own.
    decode_started = time.perf_counter()
    header, decoded_payload = read_payload(data)
    if not _same_payload(payload, decoded_payload):
        raise RuntimeError(
            "HiNeRV encoder self-check failed: the bitstream does not decode to the encoder's "
            "quantised parameters (a bug; the file would decode differently)"
        )
    decoded = synthesize(header, decoded_payload).collect()
    decode_seconds = time.perf_counter() - decode_started
    return EncodeResult(
        bitstream=data,
        reconstruction=decoded,
        source=video,
        encode_seconds=time.perf_counter() - started,
        decode_seconds=decode_seconds,
        preset=preset,
        settings={
            "bits": bits,
            "stage_steps": {name: result.steps for name, result in results.items()},
            "num_parameters": compress.num_parameters(model),
            "sparsity": compress.sparsity(tensors),
        },
        parts=part_bytes(data),
        training=results,
    )


def decode(data: bytes, *, device: str = "cpu") -> Video:
    """Decode a HiNeRV file to a `Video` in the source's format. Raises `BitstreamError` on
    any malformed input."""
    return decode_frames(data, device=device).collect()


def decode_frames(data: bytes, *, device: str = "cpu") -> VideoChunks:
    """Decode a HiNeRV file to its frames, synthesised as they are read. The payload is
    parsed and the network built first: malformed input raises `BitstreamError` here."""
    header, payload = read_payload(bytes(data))
    return synthesize(header, payload, device=device)


def synthesize(header: VideoHeader, payload: HiNeRVPayload, *, device: str = "cpu") -> VideoChunks:
    """The video of a decoded file: the dequantised parameters loaded into a fresh network,
    whose frames are synthesised in the header's format as they are read."""
    fmt, frames = format_of(header), header.frame_count
    state = compress.dequantized_state(payload.tensors)
    with torch.device("meta"):
        model = HiNeRV(payload.config, frames, fmt.height, fmt.width)
    model = model.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return video_chunks(model, frames, fmt, payload.space)


def _same_payload(a: HiNeRVPayload, b: HiNeRVPayload) -> bool:
    """Whether two payloads hold the same configuration and the same integers and scales."""
    same_settings = (a.config, a.space, a.bits) == (b.config, b.space, b.bits)
    if not same_settings or a.tensors.keys() != b.tensors.keys():
        return False
    return all(_same_tensor(a.tensors[name], b.tensors[name]) for name in a.tensors)


def _same_tensor(a: QuantizedTensor | np.ndarray, b: QuantizedTensor | np.ndarray) -> bool:
    if isinstance(a, QuantizedTensor) or isinstance(b, QuantizedTensor):
        return (
            isinstance(a, QuantizedTensor)
            and isinstance(b, QuantizedTensor)
            and np.array_equal(a.symbols, b.symbols)
            and np.array_equal(a.scales, b.scales)
        )
    return np.array_equal(a, b)


def check_options(preset_name: str, bits: int, space: str) -> None:
    """Refuse an unknown preset, a bit width out of range or an unknown training space (the
    command line calls this before it reads the video)."""
    if preset_name not in PRESETS:
        raise HiNeRVCodecError(f"unknown preset {preset_name!r}; choose from {', '.join(PRESETS)}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise HiNeRVCodecError(f"bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    if space not in ("rgb", "yuv"):
        raise HiNeRVCodecError(f"space must be 'rgb' or 'yuv', got {space!r}")


# ------------------------------------------------------------------------- bench plug-in


class HiNeRVCodec(FileCodec):
    """HiNeRV for the benchmark harness (`FileCodec`: its options are ``inrcodec encode``'s). A
    rate point is the quantisation bit width (the network size is the ``preset`` option; the
    papers vary both: run one spec entry per preset)."""

    name: ClassVar[str] = "hinerv"
    rate_parameter: ClassVar[str] = "bits"

    def default_rate_points(self) -> list[int | float]:
        return list(RATE_POINTS)

    def check_rate_point(self, rate_point: int | float) -> None:
        if int(rate_point) != rate_point or not MIN_BITS <= rate_point <= MAX_BITS:
            raise CodecError(
                f"HiNeRV rate point (bits) must be an integer in {MIN_BITS}-{MAX_BITS}: "
                f"{rate_point}"
            )
