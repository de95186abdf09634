"""Conventional codecs as `Codec` plug-ins: one ffmpeg pipeline, one small class per encoder.

Every baseline codes a video the same way (`FfmpegCodec.code`):

1. write the source frames as raw planar video (``source.yuv``) at the encoder's coding bit
   depth (an 8-bit source goes to VVenC, which only takes 10-bit input, shifted up by 2 bits);
2. encode it with ffmpeg to an *elementary stream* (``stream.h264``, ``.hevc``, ``.obu``,
   ``.vvc``): no container, so the rate is the stream's size and nothing else;
3. decode the stream with the same ffmpeg to raw frames at the coding bit depth, shift them back
   to the source's depth with rounding, and check the frame count.

Per-codec classes state only what differs: the ffmpeg encoder, its arguments, rate parameter,
range, defaults, presets and supported formats. docs/baselines.md tabulates the arguments and
explains each choice (random-access GOP, intra period about 1 s, PSNR tuning, threads).
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from inrcodec.codecs.base import Codec, CodecError, Coded
from inrcodec.io.rawyuv import read_yuv
from inrcodec.io.video import Video, VideoFormat

from .ffmpeg import (
    ffmpeg_exe,
    ffmpeg_version,
    library_version,
    raw_pixel_format,
    run_ffmpeg,
    write_raw,
)

#: Intra periods are whole multiples of this many frames (the hierarchical-GOP unit: JVET's
#: common test conditions use 32 at 20-30 fps, 48 at 50 fps, 64 at 60 fps).
GOP_UNIT = 16
#: ``-colorspace`` values that signal our matrices in the stream's VUI / sequence header.
_COLORSPACE = {"bt601": "smpte170m", "bt709": "bt709"}
_COLOR_RANGE = {"limited": "tv", "full": "pc"}


def intra_period(fps: float) -> int:
    """Frames between intra pictures: the multiple of `GOP_UNIT` nearest one second, at least
    one unit (25 and 30 fps: 32; 50 fps: 48; 60 fps: 64)."""
    return GOP_UNIT * max(1, round(float(fps) / GOP_UNIT))


class FfmpegCodec(Codec):
    """A conventional encoder run through ffmpeg (see the module docstring for the pipeline).

    Options: ``preset`` (one of ``presets``), ``threads`` (encoder and decoder threads, pinned so
    that streams do not depend on the machine's core count), ``intra_period`` (frames; default
    about one second, `intra_period`).
    """

    encoder: ClassVar[str]  # ffmpeg encoder name
    decoder: ClassVar[str | None] = None  # ffmpeg decoder name; None: ffmpeg's default
    stream_format: ClassVar[str]  # ffmpeg muxer and demuxer of the elementary stream
    rate_parameter = "qp"
    rate_range: ClassVar[tuple[int, int]]
    rate_points: ClassVar[tuple[int, ...]] = (22, 27, 32, 37)  # JVET's common test QPs
    presets: ClassVar[tuple[str, ...]]
    default_preset: ClassVar[str]
    tune: ClassVar[str] = "psnr"
    #: Chroma format -> bit depths the encoder codes. A source depth it lacks is coded at the
    #: next deeper one (shifted up exactly, shifted back with rounding).
    bit_depths: ClassVar[dict[str, tuple[int, ...]]]
    #: Regular expression whose group 1 is the library version in the probe's output.
    version_pattern: ClassVar[str]

    def __init__(
        self, preset: str | int | None = None, threads: int = 2, intra_period: int | None = None
    ) -> None:
        self.preset = str(self.default_preset if preset is None else preset)
        if self.preset not in self.presets:
            raise CodecError(
                f"{self.name}: unknown preset {preset!r}; expected one of {', '.join(self.presets)}"
            )
        if not (isinstance(threads, int) and 1 <= threads <= 64):
            raise CodecError(
                f"{self.name}: threads must be an integer from 1 to 64, got {threads!r}"
            )
        if intra_period is not None and not (isinstance(intra_period, int) and intra_period >= 1):
            raise CodecError(f"{self.name}: intra_period must be a positive integer (frames)")
        self.threads = threads
        self.intra_period = intra_period

    @abstractmethod
    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        """ffmpeg output options that select and configure the encoder (after ``-c:v``)."""

    # -- Codec interface ---------------------------------------------------------------------

    def default_rate_points(self) -> list[int]:
        return list(self.rate_points)

    def check_rate_point(self, rate_point: int | float) -> None:
        self._rate(rate_point)

    def settings(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "preset": self.preset,
            "tune": self.tune,
            "threads": self.threads,
            "intra_period": self.intra_period if self.intra_period else "about 1 s",
        }

    def versions(self) -> dict[str, str]:
        exe = ffmpeg_exe()
        chroma, depths = next(iter(self.bit_depths.items()))
        pix_fmt = raw_pixel_format(chroma, depths[0])
        return {
            "ffmpeg": ffmpeg_version(exe),
            self.encoder: library_version(
                exe, self.encoder, pix_fmt, self.stream_format, self.version_pattern
            ),
        }

    def code(self, video: Video, rate_point: int | float, workdir: Path) -> Coded:
        rate = self._rate(rate_point)
        fmt = video.format
        depth = self._coding_bit_depth(fmt)
        if video.num_frames == 0:
            raise CodecError(f"{self.name}: the video has no frames")
        period = self.intra_period or intra_period(fmt.fps)
        workdir = Path(workdir)
        source, stream = workdir / "source.yuv", workdir / f"stream.{self.stream_format}"
        decoded_path = workdir / "decoded.yuv"
        write_raw(video, source, depth)

        pix_fmt = raw_pixel_format(fmt.chroma, depth)
        raw = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{fmt.width}x{fmt.height}"]
        encode_args = [
            *["-c:v", self.encoder, *self.encoder_args(rate, period)],
            *["-colorspace", _COLORSPACE[fmt.matrix], "-color_range", _COLOR_RANGE[fmt.range]],
            *["-f", self.stream_format],
        ]
        encode_seconds, _ = run_ffmpeg(
            [*raw, "-framerate", str(fmt.fps), "-i", str(source), *encode_args, str(stream)],
            f"encode with {self.encoder}",
        )
        num_bytes = stream.stat().st_size
        if num_bytes == 0:
            raise CodecError(f"{self.name}: the encoder wrote an empty stream")

        decoder = ["-c:v", self.decoder] if self.decoder else []
        decode_seconds, _ = run_ffmpeg(
            [*["-threads", str(self.threads), *decoder, "-f", self.stream_format]]
            + [*["-i", str(stream), "-fps_mode", "passthrough"]]
            + [*["-f", "rawvideo", "-pix_fmt", pix_fmt, str(decoded_path)]],
            f"decode the {self.stream_format} stream",
        )
        decoded = self._read_decoded(decoded_path, fmt, depth, video.num_frames)
        settings = {
            **self.settings(),
            self.rate_parameter: rate,
            "intra_period": period,
            "coding_bit_depth": depth,
            "ffmpeg_args": " ".join(encode_args),
        }
        return Coded(num_bytes, decoded, encode_seconds, decode_seconds, settings)

    # -- helpers -----------------------------------------------------------------------------

    def _rate(self, rate_point: int | float) -> int:
        low, high = self.rate_range
        is_number = isinstance(rate_point, numbers.Real) and not isinstance(rate_point, bool)
        if not (is_number and low <= rate_point <= high and rate_point == int(rate_point)):
            raise CodecError(
                f"{self.name}: {self.rate_parameter} must be an integer from {low} to {high}, "
                f"got {rate_point!r}"
            )
        return int(rate_point)

    def _coding_bit_depth(self, fmt: VideoFormat) -> int:
        if fmt.chroma == "rgb":
            raise CodecError(
                f"{self.name} codes Y'CbCr video; convert RGB first (inrcodec.convert_video)"
            )
        depths = self.bit_depths.get(fmt.chroma)
        if depths is None:
            supported = ", ".join(f"4:{c[1]}:{c[2]}" for c in self.bit_depths)
            raise CodecError(
                f"{self.name} cannot code 4:{fmt.chroma[1]}:{fmt.chroma[2]} video "
                f"(it supports {supported})"
            )
        deeper = [depth for depth in depths if depth >= fmt.bit_depth]
        if not deeper:
            raise CodecError(
                f"{self.name} cannot code {fmt.bit_depth}-bit video (it supports "
                f"{', '.join(map(str, depths))} bit)"
            )
        return min(deeper)

    def _read_decoded(self, path: Path, fmt: VideoFormat, depth: int, frames: int) -> Video:
        coded_fmt = fmt.with_(bit_depth=depth)
        size = path.stat().st_size
        if size != frames * coded_fmt.frame_bytes:
            raise CodecError(
                f"{self.name}: the decoder returned {size / coded_fmt.frame_bytes:g} frames, "
                f"the source has {frames}"
            )
        decoded = read_yuv(path, coded_fmt)
        if depth != fmt.bit_depth:
            path = path.with_name(f"decoded_{fmt.bit_depth}bit.yuv")
            write_raw(decoded, path, fmt.bit_depth)
            decoded = read_yuv(path, fmt)
        return Video(decoded.planes, fmt)


class _X26x(FfmpegCodec):
    """What x264 and x265 share: QP 0..51 (8-bit scale), the same preset names."""

    rate_range = (0, 51)
    presets = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
    presets += ("slower", "veryslow", "placebo")
    default_preset = "veryslow"


class X264(_X26x):
    """H.264/AVC with x264."""

    name = "x264"
    encoder = "libx264"
    stream_format = "h264"
    bit_depths = {"420": (8, 10), "444": (8, 10)}
    version_pattern = r"x264 - (core \d+(?: r\d+ [0-9a-f]+)?)"

    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        return [
            *["-preset", self.preset, "-tune", "psnr", "-qp", str(rate)],
            *["-g", str(intra_period), "-sc_threshold", "0", "-threads", str(self.threads)],
            # x264 writes its version and options as a user-data SEI (about 400 bytes), which
            # no decoder needs: drop SEI NAL units (type 6) from the counted stream.
            *["-bsf:v", "filter_units=remove_types=6"],
        ]


class X265(_X26x):
    """H.265/HEVC with x265 (``veryslow``: the NVRC paper's anchor)."""

    name = "x265"
    encoder = "libx265"
    stream_format = "hevc"
    bit_depths = {"420": (8, 10, 12), "444": (8, 10, 12)}
    version_pattern = r"HEVC encoder version (\S+)"

    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        params = f"keyint={intra_period}:min-keyint={intra_period}:scenecut=0:info=0"
        params += f":pools={self.threads}:frame-threads=1"
        return ["-preset", self.preset, "-tune", "psnr", "-qp", str(rate), "-x265-params", params]


class _Av1(FfmpegCodec):
    """What the AV1 encoders share: constant quality ``crf``, bare OBUs, decoded by dav1d."""

    decoder = "libdav1d"
    stream_format = "obu"
    rate_parameter = "crf"
    rate_points = (23, 35, 47, 59)
    default_preset = "4"


class SvtAv1(_Av1):
    """AV1 with SVT-AV1 (``preset`` 0 slowest to 13)."""

    name = "svtav1"
    encoder = "libsvtav1"
    rate_range = (1, 63)
    presets = tuple(str(p) for p in range(14))
    tune = "psnr (tune=1)"
    bit_depths = {"420": (8, 10)}
    version_pattern = r"SVT-AV1 Encoder Lib (v\S+)"

    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        params = ["-svtav1-params", f"tune=1:lp={self.threads}"]
        return ["-preset", self.preset, "-crf", str(rate), "-g", str(intra_period), *params]


class Aom(_Av1):
    """AV1 with libaom, the AV1 reference encoder (``preset`` is ``cpu-used``, 0 slowest to 8),
    in constant-quality mode (``end-usage=q``)."""

    name = "aom"
    encoder = "libaom-av1"
    rate_range = (0, 63)
    presets = tuple(str(p) for p in range(9))
    bit_depths = {"420": (8, 10, 12), "444": (8, 10, 12)}
    version_pattern = r"\[libaom-av1 @ [^\]]*\] (v\d\S*)"

    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        period = str(intra_period)
        return [
            *["-cpu-used", self.preset, "-crf", str(rate), "-b:v", "0", "-tune", "psnr"],
            *["-g", period, "-keyint_min", period, "-threads", str(self.threads), "-row-mt", "1"],
        ]


class Vvenc(FfmpegCodec):
    """H.266/VVC with Fraunhofer VVenC, our stand-in for the VTM reference encoder.

    VVenC takes only 10-bit 4:2:0 input. An 8-bit source is shifted up by exactly 2 bits and
    the decoded 10-bit frames are rounded back to 8 bits, which is what VTM does when it codes
    8-bit content with its usual ``InternalBitDepth=10`` and ``OutputBitDepth=8``.
    """

    name = "vvenc"
    encoder = "libvvenc"
    stream_format = "vvc"
    rate_range = (0, 63)
    presets = ("faster", "fast", "medium", "slow", "slower")
    default_preset = "medium"
    tune = "psnr (qpa=0)"
    bit_depths = {"420": (10,)}
    version_pattern = r"libvvenc version: (\S+)"

    def encoder_args(self, rate: int, intra_period: int) -> list[str]:
        return [
            *["-preset", self.preset, "-qp", str(rate), "-qpa", "0"],
            *["-threads", str(self.threads), "-vvenc-params", f"intraperiod={intra_period}"],
        ]
