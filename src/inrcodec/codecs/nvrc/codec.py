"""The NVRC codec: a video in, an inrcodec file out, and back (Kwan et al. 2024; docs/nvrc.md).

Encoding (`encode`): train an `NVRC` model on ``R + lambda D`` (`train.train`, both stages),
then `compress` it: quantise every parameter with the learned steps (`quantize_with_learned_steps`),
entropy-code the hierarchy (`write_payload`), decode the bytes just written and require the
decoder's integers to equal the encoder's, bit for bit. The result carries the decoder's
reconstruction, so every metric is that of what a decoder produces, and both the estimated
rate (eq. 9, the float models of training) and the real size of each part of the file.

Decoding (`decode_frames`; `decode` collects its frames): parse and entropy-decode
(`read_payload`), load the dequantised parameters into the network, then synthesise frame by
frame as the frames are read (`synthesis.video_chunks`, under ``torch.inference_mode()``), in
the source's pixel format (as the HiNeRV codec does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from inrcodec.codecs.header import format_of, header_of
from inrcodec.coding import VideoHeader
from inrcodec.io import Video, VideoChunks

from ..base import CodecError, EncodeResult, FileCodec
from ..options import training_options
from ..progress import stage
from ..synthesis import video_chunks
from .bitstream import (
    NVRCPayload,
    coding_plan,
    part_bytes,
    quantize_with_learned_steps,
    read_payload,
    write_payload,
)
from .model import NVRC
from .presets import CPU_RATE_POINTS, rate_point


class NVRCCodecError(CodecError):
    """The NVRC codec cannot run as asked."""


@dataclass(frozen=True)
class Compressed:
    """A model turned into a file: ``bitstream``, the decoder's ``reconstruction`` (bit-
    identical to decoding the file), the estimated rate report of the float models
    (`NVRC.rate_report`) and the file's real bytes by part (`part_bytes`)."""

    bitstream: bytes
    reconstruction: Video
    estimated: dict
    sections: dict[str, int]
    encode_seconds: float  # quantisation and entropy coding
    decode_seconds: float  # entropy decoding and synthesis (the self-check)

    @property
    def rate_gap(self) -> float:
        """Relative difference of the coded bits (theta, phi, psi) over the estimate."""
        coded = 8 * sum(v for k, v in self.sections.items() if k not in ("header", "model"))
        return coded / self.estimated["bits"] - 1


def encode(
    video: Video,
    preset: str | None = None,
    lam: float | None = None,
    *,
    space: str = "rgb",
    **train_options: Any,
) -> EncodeResult:
    """Train NVRC on ``video`` at trade-off ``lam`` and compress it (module docstring).
    Without ``preset`` and ``lam``: the default rate point (`presets.resolve`).
    ``train_options``: `train.train`'s keywords (``ablation``, ``steps``, ``run_dir``,
    ``resume``, ``progress``, ``device``, ``seed``, ...)."""
    from .presets import resolve
    from .train import train

    preset, lam = resolve(None, preset, lam, space)
    started = time.perf_counter()
    result = train(video, preset, lam, space=space, **train_options)
    show = train_options.get("progress", True)
    stage("coding the model, then decoding the file to check it", show)
    compressed = compress(result.model, header_of(video), space)
    return EncodeResult(
        bitstream=compressed.bitstream,
        reconstruction=compressed.reconstruction,
        source=video,
        encode_seconds=time.perf_counter() - started,
        decode_seconds=compressed.decode_seconds,
        preset=preset,
        settings={
            "lambda": lam,
            "trained_steps": sum(stage.steps for stage in result.stages.values()),
            "estimated_bits": compressed.estimated["bits"],
            "rate_gap": compressed.rate_gap,
        },
        parts=compressed.sections,
        estimated=compressed.estimated,
        training=result,
    )


def compress(model: NVRC, header: VideoHeader, space: str = "rgb") -> Compressed:
    """Quantise and entropy-code a trained model, then decode the file and check it."""
    started = time.perf_counter()
    model = model.cpu().eval()
    estimated = model.rate_report()
    try:
        payload = quantize_with_learned_steps(model, space)
        data = write_payload(payload, header, model)
    except ValueError as error:
        raise NVRCCodecError(f"cannot code this model: {error}") from None
    encode_seconds = time.perf_counter() - started

    started = time.perf_counter()
    decoded_header, decoded = read_payload(data)
    if not payload.same_integers(decoded):
        raise RuntimeError(
            "NVRC encoder self-check failed: the bitstream does not decode to the encoder's "
            "symbols (a bug; the file would decode differently)"
        )
    reconstruction = synthesize(decoded_header, decoded).collect()
    return Compressed(
        data,
        reconstruction,
        estimated,
        part_bytes(data),
        encode_seconds,
        time.perf_counter() - started,
    )


def decode(data: bytes, *, device: str = "cpu") -> Video:
    """Decode an NVRC file to a `Video` in the source's format. Raises `BitstreamError` on
    any malformed input."""
    return decode_frames(data, device=device).collect()


def decode_frames(data: bytes, *, device: str = "cpu") -> VideoChunks:
    """Decode an NVRC file to its frames, synthesised as they are read. The payload is
    entropy-decoded and the network built first: malformed input raises `BitstreamError`
    here."""
    header, payload = read_payload(bytes(data))
    return synthesize(header, payload, device=device)


def synthesize(header: VideoHeader, payload: NVRCPayload, *, device: str = "cpu") -> VideoChunks:
    """The video of a decoded file: the dequantised parameters (`CodingPlan.theta`) loaded
    into the payload's network, whose frames are synthesised in the header's format as they
    are read."""
    plan = coding_plan(header, payload)
    net = plan.model.net
    with torch.no_grad():
        for name, value in plan.theta(payload).items():
            net.get_parameter(name).copy_(value)
    net = net.to(device)
    return video_chunks(net, header.frame_count, format_of(header), payload.space)


# ------------------------------------------------------------------------- bench plug-in


class NVRCCodec(FileCodec):
    """NVRC for the benchmark harness (`FileCodec`: its options are ``inrcodec encode``'s). A
    rate point is lambda, with the ``preset`` option (Table 6 varies both: one spec entry per
    preset), or a named rate point (`presets.rate_point`: ``cpu2`` is a preset and a lambda)."""

    name: ClassVar[str] = "nvrc"
    rate_parameter: ClassVar[str] = "lambda"

    def rate_options(self) -> tuple[str, ...]:
        return ("lambda", "rate_point")

    def default_rate_points(self) -> list[int | float | str]:
        """The named CPU points ``cpu1`` .. (each its own preset and lambda); with a
        ``preset`` option, their lambdas on that preset."""
        points = CPU_RATE_POINTS[training_options(self.options)["space"]]
        if "preset" in self.options:
            return [lam for _, lam in points.values()]
        return [f"cpu{key}" for key in points]

    def named_rate_point(self, name: str) -> tuple[dict[str, Any], float]:
        preset, lam = rate_point(name, training_options(self.options)["space"])
        return {"preset": preset}, lam

    def check_rate_point(self, rate_point: int | float) -> None:
        if not rate_point > 0:
            raise CodecError(f"NVRC rate point (lambda) must be positive: {rate_point}")
