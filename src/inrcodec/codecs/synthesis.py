"""Synthesising frames from a fitted network, for the decoders (and training's final PSNR).

`reconstruct` evaluates whole frames under ``torch.inference_mode()``; `to_video` turns the
network's output into an integer `Video` of the source's pixel format: RGB-trained networks
through `rgb_to_video`, YUV-trained ones by rounding the planes (4:2:0 chroma downsampled at
the source's siting first); `video_chunks` does both a batch at a time, as a decoder's output
is read, so that memory does not grow with the frame count. `network_memory` estimates, from
a file's network (laid out on the meta device) and header, the memory a decoder needs at
once (`inrcodec.codecs.api` checks it against its limit before any payload is read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from inrcodec.coding import VideoHeader
from inrcodec.io import Video, VideoChunks, VideoFormat, rgb_to_video
from inrcodec.io.chroma import downsample_chroma
from inrcodec.io.colour import quantize as quantize_codes
from inrcodec.nets.representation import Representation

from .base import CodecError

__all__ = ["frame_batches", "network_memory", "reconstruct", "to_video", "video_chunks"]

#: Bytes per pixel of turning synthesised frames into integer planes (`to_video`, and
#: `rgb_to_video` for TeCoNeRV: float64 copies; measured 80 for 4:2:0 from RGB, the most,
#: and more under an address-space limit).
OUTPUT_BYTES = 128
#: Bytes per network parameter while a file is decoded: its symbols, dequantised values, the
#: network's copy and the entropy coder's passing arrays (measured: 12 for HiNeRV).
PARAMETER_BYTES = 16
#: Bytes per value of `Representation.peak_activations`: float32 with a margin of 2. At 1.5
#: the NVRC golden file's network decoding 720p peaked at 309-328 MiB of address space against
#: an estimate of 326, and at 1.75 (362 MiB) it still ran out under that limit in 1 run of 8;
#: at 2, 10 runs of 10 passed (allocator placement varies from run to run).
ACTIVATION_BYTES = 8


def _index_batches(
    frames: int | Sequence[int] | torch.Tensor, batch: int
) -> Iterator[torch.Tensor]:
    if isinstance(frames, int):
        frames = range(frames)
    indices = torch.as_tensor(
        list(frames) if not torch.is_tensor(frames) else frames, dtype=torch.long
    )
    for i in range(0, indices.numel(), batch):
        yield indices[i : i + batch]


def frame_batches(
    model: nn.Module, frames: int | Sequence[int] | torch.Tensor, batch: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(indices, (b, 3, H, W) float32 on the model's device, clamped to [0, 1]) per batch,
    each evaluated under ``torch.inference_mode()`` (not held while the caller has the batch)."""
    if batch < 1:
        raise CodecError("batch must be positive")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for idx in _index_batches(frames, batch):
            with torch.inference_mode():
                output = model(idx.to(device)).float().clamp_(0.0, 1.0)
            yield idx, output
    finally:
        model.train(was_training)


def reconstruct(
    model: nn.Module, frames: int | Sequence[int] | torch.Tensor, batch: int = 1
) -> torch.Tensor:
    """Decode frames from a fitted network: ``(T, 3, H, W)`` float32 in [0, 1] on the CPU.

    `frames` is a frame count (frames 0..T-1) or the frame indices; `batch` frames are
    evaluated at once, whole frames, under ``torch.inference_mode()`` on the model's device.
    Training's final PSNR uses the same path, so it measures what the decoder produces.
    """
    return torch.cat([out.cpu() for _, out in frame_batches(model, frames, batch)])


def to_video(output: np.ndarray, fmt: VideoFormat, space: str) -> Video:
    """Network output ``(T, 3, H, W)`` in [0, 1] -> integer video of format ``fmt``."""
    if space == "rgb":
        return rgb_to_video(output.transpose(0, 2, 3, 1), fmt)
    codes = [output[:, c].astype(np.float64) * fmt.peak for c in range(3)]
    if fmt.chroma == "420":
        codes[1:] = [downsample_chroma(p, fmt.chroma_siting) for p in codes[1:]]
    return Video(tuple(quantize_codes(p, fmt) for p in codes), fmt)


def video_chunks(
    model: nn.Module, frames: int, fmt: VideoFormat, space: str, batch: int = 1
) -> VideoChunks:
    """Frames 0..frames-1 of a fitted network as a video of format ``fmt`` (`to_video`), each
    chunk of ``batch`` frames synthesised when it is asked for."""
    batches = frame_batches(model, frames, batch)
    chunks = (to_video(output.cpu().numpy(), fmt, space) for _, output in batches)
    return VideoChunks(fmt, frames, chunks)


def network_memory(net: Representation, header: VideoHeader) -> int:
    """About the bytes a decoder of a file's network ``net`` (a layout on the meta device is
    enough) needs at once: the parameters as decoding holds them, and one frame's synthesis
    (the network's activations, then the output planes)."""
    parameters = sum(p.numel() for p in net.parameters())
    pixels = header.height * header.width
    activations = ACTIVATION_BYTES * net.peak_activations()
    return PARAMETER_BYTES * parameters + activations + OUTPUT_BYTES * pixels
