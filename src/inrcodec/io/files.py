"""`read_video` and `write_video`: one entry point for every file kind, chosen by extension.

==========================  =========================  ==================================
path                        read                       write
==========================  =========================  ==================================
``*.y4m``                   memory-mapped              yes
``*.yuv``                   memory-mapped              yes
a folder                    PNG frames                 yes (a path without extension)
``*.mp4 .mkv .avi .mov      decoded with PyAV          no (see `inrcodec.baselines`)
.webm``
==========================  =========================  ==================================

Writes are atomic (`inrcodec.atomic`). Bad input raises `VideoFormatError`; a write that would
destroy something else, or that the file system refuses, raises an `OSError`.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from inrcodec.atomic import atomic_file, atomic_folder

from .container import SUFFIXES as CONTAINER_SUFFIXES
from .container import read_media_container
from .png_folder import read_png_folder, write_png_folder
from .rawyuv import parse_frame_rate, parse_size, raw_format, read_yuv, write_yuv
from .video import Video, VideoChunks, VideoFormat, VideoFormatError
from .y4m import read_y4m, write_y4m

#: What `read_video` reads, in words.
VIDEO_KINDS = "a .y4m or .yuv file, a folder of PNG frames, or " + ", ".join(CONTAINER_SUFFIXES)


def is_video_path(path: str | os.PathLike) -> bool:
    """Whether `read_video` knows the kind of ``path``: a folder, or a video suffix."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in (".y4m", ".yuv", *CONTAINER_SUFFIXES)


def read_video(
    path: str | os.PathLike,
    *,
    start: int = 0,
    frames: int | None = None,
    size: tuple[int, int] | str | None = None,
    chroma: str | None = None,
    bit_depth: int | None = None,
    fps: Fraction | float | str | None = None,
) -> Video:
    """Frames ``start`` to ``start + frames - 1`` (``frames=None``: to the end) of a video file.

    ``size`` (``(width, height)`` or ``"WxH"``), ``chroma`` and ``bit_depth`` describe a raw
    ``.yuv`` file (else taken from its name); for other kinds they are checked against what the
    file says. ``fps`` replaces the file's frame rate (raw files and PNG folders have none).
    """
    path = Path(path)
    if not path.exists():
        raise VideoFormatError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir():
        video = read_png_folder(path, start, frames)
    elif suffix == ".y4m":
        video = read_y4m(path, start, frames)
    elif suffix == ".yuv":
        video = read_yuv(path, raw_format(path, size, chroma, bit_depth, fps), start, frames)
    elif suffix in CONTAINER_SUFFIXES:
        video = read_media_container(path, start, frames)
    else:
        raise VideoFormatError(f"{path}: unknown kind of video; expected {VIDEO_KINDS}")
    _check_stated_format(video.format, path, size, chroma, bit_depth)
    if fps is not None:
        video = Video(video.planes, video.format.with_(fps=parse_frame_rate(fps)))
    return video


def write_video(video: Video | VideoChunks, path: str | os.PathLike) -> None:
    """Write ``video`` to ``path`` (kind chosen by extension; no extension: a PNG folder).
    A `VideoChunks` is written chunk by chunk as it is produced (a decoder's output), so only
    one chunk is in memory at a time.

    Nothing half-written is ever visible at ``path``: the output is written next to it under a
    temporary name and renamed into place; on failure the destination is left as it was.
    """
    path = Path(path)
    if isinstance(video, Video):
        video = VideoChunks.of(video)
    suffix = path.suffix.lower()
    if suffix == ".y4m" and not path.is_dir():
        with atomic_file(path) as temporary:
            write_y4m(video, temporary)
    elif suffix == ".yuv" and not path.is_dir():
        with atomic_file(path) as temporary:
            write_yuv(video, temporary, path.name)
    elif suffix == "" or path.is_dir():
        with atomic_folder(path, replaceable_suffix=".png") as temporary:
            write_png_folder(video, temporary)
    elif suffix in CONTAINER_SUFFIXES:
        raise VideoFormatError(
            f"{path}: writing {suffix} is not supported; write .y4m and encode it with ffmpeg"
        )
    else:
        raise VideoFormatError(f"{path}: unknown kind of video; expected {VIDEO_KINDS}")


def _check_stated_format(
    fmt: VideoFormat, path: Path, size, chroma: str | None, bit_depth: int | None
) -> None:
    """Raise if the caller's ``size``/``chroma``/``bit_depth`` contradict what was read."""
    stated = {
        "size": (parse_size(size) if size is not None else None, (fmt.width, fmt.height)),
        "chroma": (chroma, fmt.chroma),
        "bit_depth": (bit_depth, fmt.bit_depth),
    }
    for name, (expected, found) in stated.items():
        if expected is not None and expected != found:
            raise VideoFormatError(f"{path}: expected {name} {expected}, the file has {found}")
