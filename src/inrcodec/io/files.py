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

from inrcodec.atomic import atomic_file, atomic_folder, check_replaceable

from .media import SUFFIXES as CONTAINER_SUFFIXES
from .media import read_media_container
from .png_folder import read_png_folder, write_png_folder
from .rawyuv import check_raw_name, parse_frame_rate, parse_size, raw_format, read_yuv, write_yuv
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
    kind = check_video_output(path, video.format)
    if kind == "y4m":
        with atomic_file(path) as temporary:
            write_y4m(video, temporary)
    elif kind == "yuv":
        with atomic_file(path) as temporary:
            write_yuv(video, temporary, path.name)
    else:
        with atomic_folder(path, replaceable_suffix=".png") as temporary:
            write_png_folder(video, temporary)


def check_video_output(path: str | os.PathLike, fmt: VideoFormat) -> str:
    """The kind ("y4m", "yuv" or "png") `write_video` writes a video of ``fmt`` to ``path``
    as; raises `VideoFormatError` first if it could not, or the file could not be read back
    (another suffix, RGB in a Y'CbCr file, a raw file whose name does not say the format, PNG
    frames that are not RGB), `FileExistsError` for a folder holding other files than PNGs."""
    path = Path(path)
    suffix = path.suffix.lower()
    rgb = "convert it (--to-chroma 444, or convert_video in Python)"
    if path.is_dir() or suffix == "":
        check_replaceable(path, ".png")
        if fmt.chroma != "rgb" or fmt.bit_depth not in (8, 16):
            raise VideoFormatError(
                f"{path}: PNG frames hold 8- or 16-bit RGB, the video is {fmt.chroma} "
                f"{fmt.bit_depth}-bit; convert it (--to-chroma rgb --to-bit-depth 8, or "
                "convert_video in Python)"
            )
        return "png"
    if suffix in (".y4m", ".yuv"):
        if fmt.chroma == "rgb":
            raise VideoFormatError(f"{path}: {suffix} holds Y'CbCr video, the video is RGB; {rgb}")
        if suffix == ".yuv":
            check_raw_name(path, fmt)
        return suffix[1:]
    if suffix in CONTAINER_SUFFIXES:
        raise VideoFormatError(
            f"{path}: writing {suffix} is not supported; write .y4m and encode it with ffmpeg"
        )
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
