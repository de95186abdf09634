"""Folders of PNG frames, read and written through PyAV's ``png`` codec (FFmpeg's).

Frames are the folder's ``*.png`` files in natural order (``frame_2`` before ``frame_10``), all
of one size and one sample depth. 8-bit files give 8-bit RGB video, 16-bit files 16-bit RGB.
Grayscale files are expanded to R = G = B and palette files to their colours, both exactly;
files with an alpha channel are rejected. Written frames are ``frame_00000.png``, ... (0-based,
so file ``i`` is frame ``i``), 8-bit ``rgb24`` or 16-bit ``rgb48be``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .frame_range import frame_range
from .video import Video, VideoChunks, VideoFormat, VideoFormatError

#: Frame rate of a folder (PNG files store none; `read_video`'s ``fps`` replaces it).
DEFAULT_FPS = Fraction(25)

#: Decoded PNG pixel format -> the format we take its samples in (native-endian, no alpha).
_SAMPLE_FORMATS = {
    "rgb24": "rgb24",
    "pal8": "rgb24",
    "gray": "gray",
    "monob": "gray",
    "rgb48be": "rgb48le",
    "gray16be": "gray16le",
}


def png_files(folder: Path) -> list[Path]:
    """The folder's PNG files in natural order."""
    files = [f for f in folder.iterdir() if f.suffix.lower() == ".png" and f.is_file()]
    return sorted(files, key=_natural_key)


def read_png_folder(folder: Path, start: int = 0, frames: int | None = None) -> Video:
    """RGB video from the PNG files ``start`` to ``start + frames - 1`` of ``folder``."""
    files = png_files(folder)
    if not files:
        raise VideoFormatError(f"{folder} holds no .png files")
    wanted = frame_range(len(files), start, frames)
    first = _decode(files[wanted.start])
    planes = np.empty((3, len(wanted), *first.shape[:2]), dtype=first.dtype)
    for position, index in enumerate(wanted):
        rgb = first if position == 0 else _decode(files[index])
        if rgb.shape != first.shape or rgb.dtype != first.dtype:
            raise VideoFormatError(
                f"{files[index].name} is {_describe(rgb)} but {files[wanted.start].name} "
                f"is {_describe(first)}; all frames must match"
            )
        planes[:, position] = np.moveaxis(rgb, -1, 0)
    height, width = first.shape[:2]
    bit_depth = 8 * first.dtype.itemsize
    fmt = VideoFormat(width, height, "rgb", bit_depth, DEFAULT_FPS)
    return Video(tuple(planes), fmt)


def write_png_folder(video: VideoChunks, folder: Path) -> None:
    """Write each frame of an 8- or 16-bit RGB video (`inrcodec.io.files.check_video_output`)
    as ``folder/frame_NNNNN.png``, chunk by chunk."""
    fmt = video.format
    digits = max(5, len(str(video.num_frames - 1)))
    # PyAV takes native-endian samples; PNG stores 16-bit samples big-endian.
    array_format, png_format = ("rgb24", "rgb24") if fmt.bit_depth == 8 else ("rgb48le", "rgb48be")
    index = 0
    for chunk in video:
        for frame in range(chunk.num_frames):
            rgb = np.stack([plane[frame] for plane in chunk.planes], axis=-1)
            image = av.VideoFrame.from_ndarray(rgb, format=array_format).reformat(format=png_format)
            encoder = av.CodecContext.create("png", "w")
            encoder.width, encoder.height, encoder.pix_fmt = fmt.width, fmt.height, png_format
            packets = encoder.encode(image) + encoder.encode(None)
            (folder / f"frame_{index:0{digits}d}.png").write_bytes(b"".join(map(bytes, packets)))
            index += 1


def _decode(file: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 or uint16 samples of one PNG file."""
    decoder = av.CodecContext.create("png", "r")
    try:
        (frame,) = decoder.decode(av.Packet(file.read_bytes()))
    except (av.FFmpegError, ValueError) as error:
        raise VideoFormatError(f"{file} is not a readable PNG file ({error})") from None
    if frame.format.name not in _SAMPLE_FORMATS:
        raise VideoFormatError(
            f"{file.name} has pixel format {frame.format.name}; PNG frames must be RGB, "
            "grayscale or palette without alpha"
        )
    samples = frame.to_ndarray(format=_SAMPLE_FORMATS[frame.format.name])
    return samples if samples.ndim == 3 else np.repeat(samples[..., None], 3, axis=-1)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _describe(rgb: np.ndarray) -> str:
    return f"{rgb.shape[1]}x{rgb.shape[0]} {8 * rgb.dtype.itemsize}-bit"
