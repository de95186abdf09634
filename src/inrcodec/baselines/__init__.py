"""Conventional codecs through ffmpeg: x264, x265, SVT-AV1, libaom-av1, VVenC (docs/baselines.md).

Each is a `inrcodec.codecs.Codec` registered in `inrcodec.codecs.CODECS`, so the benchmark
harness runs them like the neural codecs: ``get_codec("x265").code(video, 32, workdir)``.
"""

from .codecs import X264, X265, Aom, FfmpegCodec, SvtAv1, Vvenc, intra_period
from .ffmpeg import ENV_VAR, ffmpeg_exe

__all__ = [
    "ENV_VAR",
    "X264",
    "X265",
    "Aom",
    "FfmpegCodec",
    "SvtAv1",
    "Vvenc",
    "ffmpeg_exe",
    "intra_period",
]
