"""The planar frame layout shared by y4m and raw ``.yuv`` files.

A frame is the Y (or R) plane, then Cb, then Cr, each row by row. Samples are one byte at 8 bit
and one little-endian 16-bit word, right-aligned, at 9 to 16 bit (as ffmpeg's ``yuv420p10le``).
Reading maps the file into memory and returns strided views, so no frame is read before it is
used.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from .video import VideoChunks, VideoFormat, VideoFormatError


def sample_dtype(fmt: VideoFormat) -> np.dtype:
    """On-disk sample type: ``uint8`` or little-endian ``uint16``."""
    return np.dtype(np.uint8) if fmt.bit_depth == 8 else np.dtype("<u2")


def map_planes(
    buffer, fmt: VideoFormat, frame_offsets: list[int], stored: int = 3
) -> tuple[np.ndarray, ...]:
    """The first ``stored`` planes (a grey file stores only Y) of the frames whose samples start
    at ``frame_offsets`` (bytes) in ``buffer``.

    Evenly spaced frames (every raw file, every y4m file whose ``FRAME`` headers all have the
    same length) give read-only views of ``buffer`` with no copy; unevenly spaced frames are
    copied into memory one by one.
    """
    gaps = set(np.diff(frame_offsets).tolist())
    if len(gaps) > 1:
        frames = [map_planes(buffer, fmt, [offset], stored) for offset in frame_offsets]
        return tuple(np.concatenate(plane) for plane in zip(*frames, strict=True))
    dtype = sample_dtype(fmt)
    frame_stride = gaps.pop() if gaps else fmt.frame_bytes
    planes = []
    offset = frame_offsets[0]
    for height, width in fmt.plane_shapes()[:stored]:
        planes.append(
            np.ndarray(
                (len(frame_offsets), height, width),
                dtype=dtype,
                buffer=buffer,
                offset=offset,
                strides=(frame_stride, width * dtype.itemsize, dtype.itemsize),
            )
        )
        offset += height * width * dtype.itemsize
    # Only big-endian hosts need this byte swap (a copy); the views are native elsewhere.
    return tuple(p if p.dtype.isnative else p.astype(fmt.dtype) for p in planes)


def write_planes(file: BinaryIO, video: VideoChunks, frame_header: bytes = b"") -> None:
    """Write every frame as ``frame_header`` followed by its planes, one frame at a time, as
    the chunks arrive."""
    fmt = video.format
    dtype = sample_dtype(fmt)
    index = 0
    for chunk in video:
        for frame in range(chunk.num_frames):
            file.write(frame_header)
            for plane in chunk.planes:
                samples = np.ascontiguousarray(plane[frame], dtype=dtype)
                if fmt.bit_depth not in (8, 16) and samples.max() > fmt.peak:
                    raise VideoFormatError(
                        f"frame {index} has the value {samples.max()}, more than the largest "
                        f"{fmt.bit_depth}-bit code {fmt.peak}"
                    )
                file.write(samples.data)
            index += 1
