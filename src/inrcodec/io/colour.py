"""Y'CbCr <-> R'G'B' conversion (ITU-R BT.601 and BT.709), and format conversion for the CLI.

With luma weights ``Kr``, ``Kb`` and ``Kg = 1 - Kr - Kb`` (BT.601: 0.299, 0.114; BT.709:
0.2126, 0.0722) and R', G', B' in [0, 1]::

    Y' = Kr R' + Kg G' + Kb B'
    Cb = (B' - Y') / (2 (1 - Kb))          Cr = (R' - Y') / (2 (1 - Kr))

and the n-bit code values are (ITU-T H.273, equations for VideoFullRangeFlag 0 and 1)::

    limited:  DY = (219 Y' + 16) 2^(n-8)    DC = (224 C + 128) 2^(n-8)
    full:     DY = (2^n - 1) Y'             DC = (2^n - 1) C + 2^(n-1)

The matrices are derived from Kr and Kb here, not typed in. Decoding (`video_to_rgb`) runs in
float32 and clips R'G'B' to [0, 1]; encoding (`rgb_to_video`) runs in float64 and rounds half
up (``floor(x + 0.5)``) then clips to ``[0, 2^n - 1]``.
"""

from __future__ import annotations

import numpy as np

from .chroma import downsample_chroma, upsample_chroma
from .video import Video, VideoChunks, VideoFormat, VideoFormatError

#: (Kr, Kb) of ITU-R BT.601 and ITU-R BT.709.
LUMA_WEIGHTS = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}

#: Frames converted at once by `convert_video`, so its float temporaries stay near 2**24 samples.
_SAMPLES_PER_CHUNK = 1 << 24


def rgb_to_ycbcr_matrix(matrix: str) -> np.ndarray:
    """The 3x3 matrix taking (R', G', B') to (Y', Cb, Cr) in analogue units."""
    kr, kb = LUMA_WEIGHTS[matrix]
    kg = 1 - kr - kb
    return np.array(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
            [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )


def code_scale_and_offset(fmt: VideoFormat) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` with ``code = scale * analogue + offset`` for Y', Cb and Cr."""
    n = fmt.bit_depth
    if fmt.range == "limited":
        step = 2.0 ** (n - 8)
        return np.array([219.0, 224.0, 224.0]) * step, np.array([16.0, 128.0, 128.0]) * step
    peak = 2.0**n - 1
    return np.array([peak, peak, peak]), np.array([0.0, 2.0 ** (n - 1), 2.0 ** (n - 1)])


def video_to_rgb(
    video: Video, frames: slice = slice(None), matrix: str | None = None
) -> np.ndarray:
    """Float32 R'G'B' frames ``(n, H, W, 3)`` in [0, 1] of ``video[frames]``.

    An RGB video is divided by its peak code. A Y'CbCr video has its 4:2:0 chroma upsampled
    (`inrcodec.io.chroma`) and is converted with its own range and matrix, or with ``matrix``
    ("bt601" or "bt709") when given.
    """
    clip = video[frames]
    fmt = clip.format
    if fmt.chroma == "rgb":
        return np.stack(clip.planes, axis=-1).astype(np.float32) / np.float32(fmt.peak)
    if matrix is not None and matrix not in LUMA_WEIGHTS:
        raise VideoFormatError(f"unknown matrix {matrix!r}; expected one of {list(LUMA_WEIGHTS)}")
    luma, cb, cr = clip.planes
    if fmt.chroma == "420":
        cb, cr = upsample_chroma(cb, fmt.chroma_siting), upsample_chroma(cr, fmt.chroma_siting)
    codes = np.stack([luma, cb, cr], axis=-1).astype(np.float32)
    scale, offset = code_scale_and_offset(fmt)
    codes_to_rgb = np.linalg.inv(rgb_to_ycbcr_matrix(matrix or fmt.matrix)) / scale
    rgb = (codes - offset.astype(np.float32)) @ codes_to_rgb.T.astype(np.float32)
    return np.clip(rgb, 0, 1, out=rgb)


def rgb_to_video(rgb: np.ndarray, fmt: VideoFormat) -> Video:
    """Integer video in format ``fmt`` from R'G'B' frames ``(n, H, W, 3)`` in [0, 1].

    Values outside [0, 1] are clipped first. For a Y'CbCr format the chroma is converted at
    full resolution and, for 4:2:0, downsampled at ``fmt.chroma_siting`` before rounding.
    """
    rgb = np.clip(np.asarray(rgb, dtype=np.float64), 0, 1)
    if rgb.ndim != 4 or rgb.shape[1:] != (fmt.height, fmt.width, 3):
        raise VideoFormatError(
            f"expected RGB frames of shape (n, {fmt.height}, {fmt.width}, 3), got {rgb.shape}"
        )
    if fmt.chroma == "rgb":
        planes = [rgb[..., c] * fmt.peak for c in range(3)]
    else:
        scale, offset = code_scale_and_offset(fmt)
        codes = rgb @ (rgb_to_ycbcr_matrix(fmt.matrix).T * scale) + offset
        planes = [codes[..., c] for c in range(3)]
        if fmt.chroma == "420":
            planes[1:] = [downsample_chroma(p, fmt.chroma_siting) for p in planes[1:]]
    return Video(tuple(quantize(p, fmt) for p in planes), fmt)


def convert_video(
    video: Video | VideoChunks,
    *,
    chroma: str | None = None,
    bit_depth: int | None = None,
    matrix: str | None = None,
    range: str | None = None,
) -> Video | VideoChunks:
    """``video`` in another chroma format, bit depth, matrix or range (``None``: unchanged).

    Between 4:2:0 and 4:4:4 (same matrix and range) only the chroma is resampled. A change of
    bit depth multiplies by ``2^(new - old)``: a shift up, a rounded shift down (the code
    scaling of limited range, also used for full range and RGB). Any other change goes
    through float R'G'B' (`video_to_rgb`, then `rgb_to_video`), which clips colours outside
    the RGB cube. Every result is rounded once. Works in chunks of frames; the result is in
    memory, or, for `VideoChunks` (a decoder's frames), chunks converted as they arrive.
    """
    changes = {"chroma": chroma, "bit_depth": bit_depth, "matrix": matrix, "range": range}
    source = video.format
    target = source.with_(**{name: value for name, value in changes.items() if value is not None})
    if target == source:
        return video
    if isinstance(video, VideoChunks):
        parts = (convert_video(chunk, **changes) for chunk in video)
        return VideoChunks(target, video.num_frames, parts)
    through_rgb = (source.chroma == "rgb") != (target.chroma == "rgb") or (
        source.chroma != "rgb" and (source.matrix, source.range) != (target.matrix, target.range)
    )
    step = max(1, _SAMPLES_PER_CHUNK // (3 * source.width * source.height))
    chunks = []
    for first in np.arange(0, video.num_frames, step).tolist():
        part = video[first : first + step]
        if through_rgb:
            chunks.append(rgb_to_video(video_to_rgb(part), target).planes)
        else:
            chunks.append(_resample_and_rescale(part, target))
    return Video(tuple(np.concatenate(plane) for plane in zip(*chunks, strict=True)), target)


def quantize(codes: np.ndarray, fmt: VideoFormat) -> np.ndarray:
    """Round half up and clip to ``fmt``'s code range, in ``fmt``'s integer type."""
    return np.clip(np.floor(codes + 0.5), 0, fmt.peak).astype(fmt.dtype)


def _resample_and_rescale(video: Video, target: VideoFormat) -> tuple[np.ndarray, ...]:
    """Planes of ``video`` with chroma resampled and codes scaled to ``target``'s bit depth
    (float32 is exact here: 16-bit codes times the filters' eighths need 19 bits)."""
    source = video.format
    gain = np.float32(2.0 ** (target.bit_depth - source.bit_depth))
    planes = []
    for index, plane in enumerate(video.planes):
        samples = plane.astype(np.float32)
        if index > 0 and source.chroma == "420" and target.chroma == "444":
            samples = upsample_chroma(samples, source.chroma_siting)
        elif index > 0 and source.chroma == "444" and target.chroma == "420":
            samples = downsample_chroma(samples, target.chroma_siting)
        planes.append(quantize(samples * gain, target))
    return tuple(planes)
