"""Compressed video in containers (mp4, mkv, avi, mov, webm), decoded with PyAV (FFmpeg).

Frames come out in the stream's own planar format when `Video` can hold it (yuv420p, yuvj420p,
yuv444p, yuv420p10le, gbrp, ...). Other formats are converted by FFmpeg's swscale to the nearest
one that loses nothing: vertically subsampled chroma to 4:2:0, other chroma to 4:4:4, packed
RGB to planar RGB, the sample depth kept (rounded up to 8, 9, 10, 12, 14 or 16 bit).
Writing containers is the business of the conventional-codec baselines, not of this module.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .frame_range import check_request, frame_range
from .video import Video, VideoFormat, VideoFormatError

SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm")
#: Frame rate when the container states none.
DEFAULT_FPS = Fraction(25)

_BIT_DEPTHS = (8, 9, 10, 12, 14, 16)  # depths FFmpeg has planar YUV and RGB formats for
_AVCOL_SPC_BT709 = 1  # H.273 MatrixCoefficients: 1 = BT.709; others are read as BT.601
_AVCOL_RANGE_JPEG = 2  # FFmpeg's name for full range
_FULL_RANGE_FORMATS = {"yuvj420p": "yuv420p", "yuvj444p": "yuv444p"}  # JPEG formats, same layout


def read_media_container(path: Path, start: int = 0, frames: int | None = None) -> Video:
    """Decode frames ``start`` to ``start + frames - 1`` of the first video stream.

    Decoding starts at the first frame (no seeking, so the frames are exactly those of a full
    decode) and stops after the last wanted frame.
    """
    check_request(start, frames)
    stop = None if frames is None else start + frames
    planes: list[tuple[np.ndarray, ...]] = []
    fmt = None
    decoded = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoFormatError(f"{path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if decoded >= start:
                    frame_format = _video_format(frame, stream)
                    if fmt is not None and frame_format != fmt:
                        raise VideoFormatError(f"{path}: the format changes at frame {decoded}")
                    fmt = frame_format
                    planes.append(_planes(frame, fmt))
                decoded += 1
                if decoded == stop:
                    break
    except av.FFmpegError as error:
        raise VideoFormatError(f"{path}: cannot decode ({error})") from None
    frame_range(decoded, start, frames)  # raises if the video ended before the wanted frames
    return Video(tuple(np.stack(plane) for plane in zip(*planes, strict=True)), fmt)


def _video_format(frame: av.VideoFrame, stream) -> VideoFormat:
    chroma, bit_depth = _nearest_layout(frame.format)
    full_range = frame.format.name in _FULL_RANGE_FORMATS or frame.color_range == _AVCOL_RANGE_JPEG
    return VideoFormat(
        width=frame.width,
        height=frame.height,
        chroma=chroma,
        bit_depth=bit_depth,
        fps=stream.average_rate or stream.guessed_rate or DEFAULT_FPS,
        matrix="bt709" if frame.colorspace == _AVCOL_SPC_BT709 else "bt601",
        range="full" if full_range else "limited",
        # PyAV does not expose the chroma location; use the codecs' defaults: JPEG's centre for
        # the yuvj formats, MPEG-2/H.264/HEVC's left for everything else.
        chroma_siting="center" if frame.format.name in _FULL_RANGE_FORMATS else "left",
    )


def _nearest_layout(pixel_format: av.VideoFormat) -> tuple[str, int]:
    """``(chroma, bit_depth)`` of the `Video` layout closest to an FFmpeg pixel format."""
    colour = [c for c in pixel_format.components if not c.is_alpha]
    bits = max(c.bits for c in colour)
    bit_depth = next((depth for depth in _BIT_DEPTHS if depth >= bits), 16)
    if pixel_format.is_rgb:
        return "rgb", bit_depth
    chroma_heights = [c.height for c in colour if c.is_chroma]
    return ("420" if chroma_heights and chroma_heights[0] < colour[0].height else "444"), bit_depth


def _planar_name(fmt: VideoFormat) -> str:
    """FFmpeg's name of the planar pixel format that holds ``fmt``'s samples."""
    base = "gbrp" if fmt.chroma == "rgb" else f"yuv{fmt.chroma}p"
    return base if fmt.bit_depth == 8 else f"{base}{fmt.bit_depth}le"


def _planes(frame: av.VideoFrame, fmt: VideoFormat) -> tuple[np.ndarray, ...]:
    """Copies of the frame's three planes in `Video` order (Y, Cb, Cr or R, G, B)."""
    name = _FULL_RANGE_FORMATS.get(frame.format.name, frame.format.name)
    if name != _planar_name(fmt):
        frame = frame.reformat(format=_planar_name(fmt))
    planes = [_plane_array(plane, fmt.dtype) for plane in frame.planes[:3]]
    if fmt.chroma == "rgb":  # gbrp stores G, B, R
        planes = [planes[2], planes[0], planes[1]]
    return tuple(planes)


def _plane_array(plane, dtype: np.dtype) -> np.ndarray:
    rows = np.frombuffer(plane, dtype=dtype).reshape(plane.height, -1)
    return rows[:, : plane.width].copy()
