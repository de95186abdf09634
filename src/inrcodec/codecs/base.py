"""What every codec shares: the harness interface (`Codec`, `Coded`) and the result of an
inrcodec encode (`EncodeResult`).

A codec turns a `Video` into bytes at one *rate point* (a QP, a CRF, a preset and lambda, ...)
and back. The harness measures the rest itself: bpp from `Coded.num_bytes`, quality by comparing
`Coded.decoded` with the source using `inrcodec.metrics`, so every codec, conventional or neural,
is measured by the same code (docs/design.md, "Measuring").

Codecs are found by name in registries (`inrcodec.codecs.registry` for the codecs that write
inrcodec files, `inrcodec.baselines.BASELINES` for the conventional ones), imported on first use.
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
    def default_rate_points(self) -> list[int | float | str]:
        """Rate points used when the spec names none (about four, spanning typical quality);
        a string is a named rate point (`named_rate_point`)."""

    @abstractmethod
    def check_rate_point(self, rate_point: int | float) -> None:
        """Raise `CodecError` with a clear message if ``rate_point`` is out of range."""

    def named_rate_point(self, name: str) -> tuple[dict[str, Any], int | float]:
        """The options and the rate point that a named rate point stands for (NVRC's ``cpu2``:
        a preset and a lambda); a spec may name one instead of a number."""
        raise CodecError(f"{self.name} has no named rate points (got {name!r})")

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


@dataclass(frozen=True)
class EncodeResult:
    """What every inrcodec codec's ``encode`` returns.

    ``bitstream``: the file's bytes; ``reconstruction``: the decoder's output, from decoding
    ``bitstream`` in the encoder's self-check; ``source``: what was coded (the input, or a
    resized copy of it); ``encode_seconds`` from the input frames to the bytes,
    ``decode_seconds`` the self-check's decode; ``preset``: the network preset or model name;
    ``settings``: the rate controls and layout the harness records with the point; ``parts``:
    the file's bytes by part (they sum to its size); ``estimated``: the rate the training
    estimated, where the codec has one (NVRC's eq. 9 report, bits by part under ``groups``);
    ``training``: the training run's record (per-stage results), None for codecs that train
    nothing.
    """

    bitstream: bytes
    reconstruction: Video
    source: Video
    encode_seconds: float
    decode_seconds: float
    preset: str
    settings: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    estimated: dict[str, Any] | None = None
    training: Any = field(default=None, repr=False)

    @property
    def num_bytes(self) -> int:
        return len(self.bitstream)

    @property
    def bpp(self) -> float:
        """Bits per pixel of the file: 8 x bytes / (frames x width x height)."""
        return 8 * self.num_bytes / self.source.num_pixels


class FileCodec(Codec):
    """A codec that writes inrcodec files, in the harness, made of its package's command-line
    face (`inrcodec.codecs.registry`) instead of written again. A spec's options are the
    package's ``ENCODE_OPTIONS`` (by `Option.dest`) but the rate (`rate_options`) and the run's
    place (`RUN_OPTIONS`), given their defaults and checked by its ``encode_options`` as the
    command line's are; `code` runs its ``encode`` with the rate point as the option
    `rate_parameter` (converted by the option's type), measured on the decoder's output. The
    settings recorded are those options' values, with the encode's `EncodeResult.settings`."""

    #: Where a run keeps its training checkpoints: the harness's, not a spec's, to set.
    RUN_OPTIONS: ClassVar[tuple[str, ...]] = ("run_dir", "resume")

    def __init__(self, device: str | None = None, **options: Any):
        unknown = sorted(set(options) - set(self.spec_options()))
        if unknown:
            raise CodecError(
                f"bad options for codec {self.name!r}: {', '.join(unknown)}; it takes "
                f"{', '.join(['device', *self.spec_options()])}"
            )
        self.device, self.options = device, options
        self.keywords(self.sample_rate_point())  # refuse bad values before any encode

    @property
    def package(self):
        """The codec's package (the registry's module)."""
        return import_module(type(self).__module__.rpartition(".")[0])

    def rate_options(self) -> tuple[str, ...]:
        """The options that set the rate, which the rate point sets (``--bits``)."""
        return (self.rate_parameter,)

    def spec_options(self) -> list[str]:
        left_out = (*self.rate_options(), *self.RUN_OPTIONS)
        return [o.dest for o in self.package.ENCODE_OPTIONS if o.dest not in left_out]

    def keywords(self, rate_point: int | float, run_dir: Path | None = None) -> dict[str, Any]:
        """The package's ``encode`` keywords at ``rate_point`` (its ``encode_options``); an
        option given as text goes through its type, as on the command line."""
        declared = {option.dest: option for option in self.package.ENCODE_OPTIONS}
        values = {  # text, as on the command line, through the option's type
            name: declared[name].type(value) if isinstance(value, str) and declared[name].type
            else value
            for name, value in self.options.items()
        }  # fmt: skip
        values[self.rate_parameter] = declared[self.rate_parameter].type(rate_point)
        if run_dir is not None and "run_dir" in declared:
            values["run_dir"] = run_dir
        return self.package.encode_options(values)[0]

    def encode_point(self, video: Video, rate_point: int | float, run_dir: Path) -> EncodeResult:
        """Encode ``video`` at ``rate_point``; training checkpoints may go in ``run_dir``."""
        device = {} if self.device is None else {"device": self.device}
        keywords = self.keywords(rate_point, run_dir)
        return self.package.encode(video, **keywords, **device, progress=False)

    def code(self, video: Video, rate_point: int | float, workdir: Path) -> Coded:
        self.check_rate_point(rate_point)
        result = self.encode_point(video.load(), rate_point, Path(workdir) / "run")
        return Coded(
            num_bytes=result.num_bytes,
            decoded=result.reconstruction,
            encode_seconds=result.encode_seconds,
            decode_seconds=result.decode_seconds,
            settings={**self.settings(), **result.settings},
        )

    def sample_rate_point(self) -> int | float:
        """The first default rate point as a number (a named one: its rate point)."""
        first = self.default_rate_points()[0]
        return self.named_rate_point(first)[1] if isinstance(first, str) else first

    def settings(self) -> dict[str, Any]:
        keywords = self.keywords(self.sample_rate_point())
        return {name: keywords[name] for name in self.spec_options()}

    def versions(self) -> dict[str, str]:
        """torch runs the networks, constriction entropy-codes."""
        from importlib.metadata import version

        return {package: version(package) for package in ("torch", "constriction")}
