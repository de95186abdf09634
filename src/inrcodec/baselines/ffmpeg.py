"""The ffmpeg binary the baselines run: where it is, how it is called, what versions it holds.

The binary is the static ffmpeg of the `imageio-ffmpeg` wheel (the same build on every machine,
with libx264, libx265, libsvtav1, libaom-av1 and libvvenc), or the one the environment variable
``INRCODEC_FFMPEG`` names. There is deliberately no silent fallback to an ``ffmpeg`` on ``PATH``:
a different build gives different streams, so using one must be a visible choice
(``INRCODEC_FFMPEG=$(which ffmpeg)``).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from functools import cache
from pathlib import Path

import numpy as np

from inrcodec.codecs.base import CodecError
from inrcodec.io.planar import sample_dtype
from inrcodec.io.video import Video, VideoFormat

ENV_VAR = "INRCODEC_FFMPEG"
_INSTALL_HINT = f"pip install imageio-ffmpeg, or set {ENV_VAR} to an ffmpeg executable"
#: Lines of ffmpeg's error output quoted in a `CodecError` (the first ones name the cause,
#: the last ones what ffmpeg gave up on).
_QUOTED_LINES = 6


def ffmpeg_exe() -> str:
    """Path of the ffmpeg to run: ``$INRCODEC_FFMPEG``, else imageio-ffmpeg's bundled binary."""
    override = os.environ.get(ENV_VAR)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise CodecError(f"ffmpeg not found: {ENV_VAR}={override!r} is not an executable file")
        return override
    try:
        import imageio_ffmpeg
    except ImportError:
        raise CodecError(f"ffmpeg not found: {_INSTALL_HINT}") from None
    try:
        path = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as error:
        raise CodecError(f"ffmpeg not found ({error}): {_INSTALL_HINT}") from None
    if not os.access(path, os.X_OK):
        raise CodecError(f"ffmpeg not found: {path} is not executable; {_INSTALL_HINT}")
    return path


def run_ffmpeg(args: list[str], what: str, cwd: Path | None = None) -> tuple[float, str]:
    """Run ffmpeg with ``args`` (in folder ``cwd``); return (wall seconds, stderr). Failures
    raise `CodecError` quoting ffmpeg's error messages."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
    command += args
    start = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, check=False, cwd=cwd)
    except OSError as error:
        raise CodecError(f"ffmpeg not found or not runnable ({error}): {_INSTALL_HINT}") from None
    seconds = time.perf_counter() - start
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        lines = stderr.strip().splitlines()
        if len(lines) > 2 * _QUOTED_LINES:
            lines = [*lines[:_QUOTED_LINES], "...", *lines[-_QUOTED_LINES:]]
        message = "\n".join(line[:300] for line in lines)
        raise CodecError(f"ffmpeg failed to {what} (exit status {result.returncode}):\n{message}")
    return seconds, stderr


@cache
def ffmpeg_version(exe: str) -> str:
    """First line of ``ffmpeg -version`` ("ffmpeg version n9.0.2-... Copyright ...")."""
    output = subprocess.run([exe, "-version"], capture_output=True, check=True).stdout
    line = output.decode("utf-8", "replace").splitlines()[0]
    return line.split(" Copyright")[0]


@cache
def library_version(exe: str, encoder: str, pix_fmt: str, stream_format: str, pattern: str) -> str:
    """The encoder library's version, read from what a tiny probe encode (two 64x64 frames)
    prints or writes (x264 states it only in its stream). "unknown" if it says nothing."""
    frame = bytes(VideoFormat(64, 64, bit_depth=10 if "10" in pix_fmt else 8).frame_bytes)
    result = subprocess.run(
        [exe, "-nostdin", "-hide_banner", "-loglevel", "verbose", "-f", "rawvideo"]
        + ["-pix_fmt", pix_fmt, "-s", "64x64", "-i", "pipe:0", "-c:v", encoder]
        + ["-f", stream_format, "pipe:1"],
        input=2 * frame,
        capture_output=True,
        check=False,
    )
    text = (result.stderr + result.stdout).decode("latin-1")
    match = re.search(pattern, text)
    return match.group(1) if match else "unknown"


def raw_pixel_format(chroma: str, bit_depth: int) -> str:
    """ffmpeg's name of our raw planar layout: yuv420p, yuv444p10le, ..."""
    return f"yuv{chroma}p" + ("" if bit_depth == 8 else f"{bit_depth}le")


def write_raw(video: Video, path: Path, bit_depth: int) -> None:
    """Write ``video`` as raw planar frames at ``bit_depth``, one frame at a time.

    A deeper target shifts samples up exactly (``x << s``, as VTM does with
    ``InternalBitDepth`` above ``InputBitDepth``); a shallower one rounds back down,
    ``min((x + 2^(s-1)) >> s, peak)``, as VTM writes an output bit depth below its internal one.
    """
    source_depth = video.format.bit_depth
    target = video.format.with_(bit_depth=bit_depth)
    dtype = sample_dtype(target)
    with open(path, "wb") as file:
        for index in range(video.num_frames):
            for plane in video.planes:
                samples = plane[index].astype(np.uint32)
                if bit_depth > source_depth:
                    samples <<= bit_depth - source_depth
                elif bit_depth < source_depth:
                    shift = source_depth - bit_depth
                    samples = np.minimum((samples + (1 << (shift - 1))) >> shift, target.peak)
                file.write(np.ascontiguousarray(samples, dtype=dtype).data)
