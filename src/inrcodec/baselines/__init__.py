"""Conventional codecs through ffmpeg: x264, x265, SVT-AV1, libaom-av1, VVenC (docs/baselines.md).

Each is a `inrcodec.codecs.Codec` listed in `BASELINES`, so the benchmark harness runs them
like the neural codecs: ``inrcodec.bench.get_codec("x265").code(video, 32, workdir)``.
"""

from inrcodec.codecs.registry import CodecEntry

from .codecs import X264, X265, Aom, FfmpegCodec, SvtAv1, Vvenc, intra_period
from .ffmpeg import ENV_VAR, ffmpeg_exe

#: The conventional codecs by harness name (docs/baselines.md).
BASELINES: dict[str, CodecEntry] = {
    codec.name: CodecEntry(__name__, codec.__name__) for codec in (X264, X265, SvtAv1, Aom, Vvenc)
}

__all__ = [
    "BASELINES",
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
