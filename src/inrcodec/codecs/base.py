"""The one interface every codec implements, so the benchmark harness can run any of them.

A codec turns a `Video` into bytes at one *rate point* (a QP, a CRF, a preset and lambda, ...)
and back. The harness measures the rest itself: bpp from `Coded.num_bytes`, quality by comparing
`Coded.decoded` with the source using `inrcodec.metrics`, so every codec, conventional or neural,
is measured by the same code (DESIGN.md section 5).

Codecs are found by name in `CODECS` ("module:Class" strings, imported on first use), so adding
a codec means adding one line here and no change to the harness.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

from inrcodec.errors import InrcodecError
from inrcodec.io import Video


class CodecError(InrcodecError):
    """A codec cannot run as asked: unknown name, a rate point out of range, a missing tool."""


@dataclass(frozen=True)
class Coded:
    """The outcome of coding one video at one rate point.

    ``num_bytes`` counts every byte a decoder needs (an elementary stream, or an inrcodec
    bitstream file), nothing more (no container overhead). ``decoded`` is the decoder's
    reconstruction in the source's pixel format. Times are wall-clock seconds.
    """

    num_bytes: int
    decoded: Video
    encode_seconds: float
    decode_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


class CodedResult:
    """What every neural codec's encode result derives from its ``bitstream`` (the file's
    bytes) and ``reconstruction`` (the decoder's `Video`)."""

    bitstream: bytes
    reconstruction: Video

    @property
    def num_bytes(self) -> int:
        return len(self.bitstream)

    @property
    def bpp(self) -> float:
        """Bits per pixel of the file: 8 x bytes / (frames x width x height)."""
        video = self.reconstruction
        return 8 * self.num_bytes / (video.num_frames * video.width * video.height)


class Codec(ABC):
    """A video codec that the harness can run at a list of rate points.

    ``name`` is the registry name; ``rate_parameter`` names what a rate point is ("qp", "crf",
    "rate_point", ...); smaller or larger values meaning higher rate is codec-specific.
    Constructor keyword arguments are codec options (e.g. ``preset="slower"``), given in the
    benchmark spec and recorded in every result.
    """

    name: ClassVar[str]
    rate_parameter: ClassVar[str]

    @abstractmethod
    def default_rate_points(self) -> list[int | float]:
        """Rate points used when the spec names none (about four, spanning typical quality)."""

    @abstractmethod
    def check_rate_point(self, rate_point: int | float) -> None:
        """Raise `CodecError` with a clear message if ``rate_point`` is out of range."""

    @abstractmethod
    def code(self, video: Video, rate_point: int | float, workdir: Path) -> Coded:
        """Encode ``video`` at ``rate_point`` and decode it again; scratch files go in
        ``workdir`` (an empty folder the caller removes afterwards)."""

    def settings(self) -> dict[str, Any]:
        """The options this instance runs with (recorded with every result)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the tools that produced the results (recorded with every result)."""
        return {}


class TrainedCodec(Codec):
    """A codec that fits a network to each video (HiNeRV, NVRC): the harness's `code` around
    the codec's own `encode`, its options (`OPTIONS`, recorded as settings) and versions."""

    OPTIONS: ClassVar[tuple[str, ...]] = ("preset", "steps", "space", "seed")

    @abstractmethod
    def encode(self, video: Video, rate_point: int | float, run_dir: Path) -> tuple[Any, dict]:
        """The codec's encode result (with ``num_bytes``, ``reconstruction``,
        ``encode_seconds``, ``decode_seconds``) and extra settings to record."""

    def code(self, video: Video, rate_point: int | float, workdir: Path) -> Coded:
        self.check_rate_point(rate_point)
        result, extra = self.encode(video.load(), rate_point, Path(workdir) / "run")
        return Coded(
            num_bytes=result.num_bytes,
            decoded=result.reconstruction,
            encode_seconds=result.encode_seconds,
            decode_seconds=result.decode_seconds,
            settings={**self.settings(), **extra},
        )

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.OPTIONS}

    def versions(self) -> dict[str, str]:
        """torch trains and reconstructs, constriction entropy-codes."""
        from importlib.metadata import version

        return {package: version(package) for package in ("torch", "constriction")}


#: Registry of codec names to "module:Class". Neural codecs join here in later issues.
CODECS: dict[str, str] = {
    # Conventional baselines through ffmpeg (inrcodec.baselines, docs/baselines.md).
    "x264": "inrcodec.baselines.codecs:X264",
    "x265": "inrcodec.baselines.codecs:X265",
    "svtav1": "inrcodec.baselines.codecs:SvtAv1",
    "aom": "inrcodec.baselines.codecs:Aom",
    "vvenc": "inrcodec.baselines.codecs:Vvenc",
    # Neural codecs (inrcodec.codecs.<name>).
    "hinerv": "inrcodec.codecs.hinerv.codec:HiNeRVCodec",
    "nvrc": "inrcodec.codecs.nvrc.codec:NVRCCodec",
    "teconerv": "inrcodec.codecs.teconerv.codec:TeCoNeRVCodec",
}


def get_codec(name: str, **options: Any) -> Codec:
    """An instance of the codec registered as ``name``, with ``options`` for its constructor."""
    if name not in CODECS:
        known = ", ".join(sorted(CODECS)) or "none"
        raise CodecError(f"unknown codec {name!r}; known codecs: {known}")
    module_name, class_name = CODECS[name].split(":")
    codec_class = getattr(import_module(module_name), class_name)
    try:
        return codec_class(**options)
    except TypeError as error:
        raise CodecError(f"bad options for codec {name!r}: {error}") from None
