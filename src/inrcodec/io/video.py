"""The `Video` value: planar integer frames plus the format facts needed to interpret them.

Frames are kept as the integers the source stored (uint8 for 8-bit, uint16 for 9-16 bit, values
right-aligned), one array per plane of shape ``(T, h, w)``. Plane arrays may be memory-mapped
views of a file, so a long 1080p sequence costs no memory until frames are touched, and slicing
frames (``video[10:20]``) never copies. Conversion to floating point happens per frame range, in
`inrcodec.io.colour`, never for a whole sequence at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from inrcodec.errors import InrcodecError

CHROMA_FORMATS = ("420", "444", "rgb")
MATRICES = ("bt601", "bt709")
RANGES = ("limited", "full")
#: Position of 4:2:0 chroma samples relative to luma (docs/io.md, "Chroma siting"):
#: "left" = MPEG-2 (co-sited with even luma columns, between rows; y4m ``C420mpeg2``/``C420``),
#: "center" = MPEG-1/JPEG (between columns and rows; ``C420jpeg``),
#: "topleft" = PAL DV (co-sited with even columns and even rows; ``C420paldv``).
CHROMA_SITINGS = ("left", "center", "topleft")


class VideoFormatError(InrcodecError):
    """A video file or a requested format that cannot be read or represented."""


@dataclass(frozen=True)
class VideoFormat:
    """Everything needed to interpret the planes of a `Video`.

    ``chroma`` is ``"420"`` or ``"444"`` for Y'CbCr planes (Y, Cb, Cr) and ``"rgb"`` for
    R, G, B planes. ``matrix``, ``range`` and ``chroma_siting`` describe Y'CbCr data; for RGB
    they are carried but unused. ``pixel_aspect`` (width / height of a pixel; None: unknown)
    is display metadata that y4m files carry and the other kinds (and inrcodec files) do not:
    kept where it can be, it does not take part in comparing formats.
    """

    width: int
    height: int
    chroma: str = "420"
    bit_depth: int = 8
    fps: Fraction = Fraction(30)
    matrix: str = "bt601"
    range: str = "limited"
    chroma_siting: str = "left"
    pixel_aspect: Fraction | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.width, int) and isinstance(self.height, int)):
            raise VideoFormatError("width and height must be integers")
        if not (0 < self.width <= 16384 and 0 < self.height <= 16384):
            raise VideoFormatError(f"unsupported frame size {self.width}x{self.height}")
        for name, value, allowed in (
            ("chroma", self.chroma, CHROMA_FORMATS),
            ("matrix", self.matrix, MATRICES),
            ("range", self.range, RANGES),
            ("chroma_siting", self.chroma_siting, CHROMA_SITINGS),
        ):
            if value not in allowed:
                raise VideoFormatError(f"unknown {name} {value!r}; expected one of {allowed}")
        if not 8 <= self.bit_depth <= 16:
            raise VideoFormatError(f"unsupported bit depth {self.bit_depth} (8 to 16)")
        object.__setattr__(self, "fps", Fraction(self.fps))
        if self.fps <= 0:
            raise VideoFormatError(f"frame rate must be positive, got {self.fps}")
        if self.chroma == "420" and (self.width % 2 or self.height % 2):
            raise VideoFormatError(
                f"4:2:0 needs an even width and height, got {self.width}x{self.height}"
            )

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bit_depth == 8 else np.uint16)

    @property
    def peak(self) -> int:
        """Largest code value, ``2**bit_depth - 1`` (255 for 8-bit, 1023 for 10-bit)."""
        return (1 << self.bit_depth) - 1

    def plane_shapes(self) -> tuple[tuple[int, int], ...]:
        """``(height, width)`` of each of the three planes."""
        full = (self.height, self.width)
        if self.chroma == "420":
            half = (self.height // 2, self.width // 2)
            return (full, half, half)
        return (full, full, full)

    @property
    def frame_samples(self) -> int:
        """Samples per frame over all planes."""
        return sum(h * w for h, w in self.plane_shapes())

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame in the raw planar layout (little-endian words above 8 bit)."""
        return self.frame_samples * self.dtype.itemsize

    def with_(self, **changes) -> VideoFormat:
        return replace(self, **changes)


@dataclass(frozen=True)
class Video:
    """A sequence of frames: three planes of shape ``(T, h, w)`` and their `VideoFormat`."""

    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    format: VideoFormat

    def __post_init__(self) -> None:
        planes = tuple(self.planes)
        if len(planes) != 3:
            raise VideoFormatError(f"a video has 3 planes, got {len(planes)}")
        num_frames = planes[0].shape[0] if planes[0].ndim == 3 else -1
        for plane, shape in zip(planes, self.format.plane_shapes(), strict=True):
            if plane.ndim != 3 or plane.shape[1:] != shape or plane.shape[0] != num_frames:
                raise VideoFormatError(
                    f"plane of shape {plane.shape} does not fit {num_frames} frames of "
                    f"{self.format.width}x{self.format.height} {self.format.chroma}"
                )
            if plane.dtype != self.format.dtype:
                raise VideoFormatError(
                    f"{self.format.bit_depth}-bit video needs {self.format.dtype} planes, "
                    f"got {plane.dtype}"
                )
        object.__setattr__(self, "planes", planes)

    @classmethod
    def from_frames(cls, frames: np.ndarray, fmt: VideoFormat) -> Video:
        """Build a 4:4:4 or RGB video from interleaved frames of shape ``(T, H, W, 3)``."""
        if fmt.chroma == "420":
            raise VideoFormatError("interleaved frames are 4:4:4 or RGB, not 4:2:0")
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise VideoFormatError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
        return cls(tuple(frames[..., c] for c in range(3)), fmt)

    @property
    def num_frames(self) -> int:
        return self.planes[0].shape[0]

    def __len__(self) -> int:
        return self.num_frames

    @property
    def width(self) -> int:
        return self.format.width

    @property
    def height(self) -> int:
        return self.format.height

    @property
    def num_pixels(self) -> int:
        """Luma samples in the whole sequence, the denominator of bits per pixel."""
        return self.num_frames * self.width * self.height

    def __getitem__(self, frames: slice) -> Video:
        """Frame range as a new `Video` sharing memory with this one (no copy)."""
        if not isinstance(frames, slice):
            raise TypeError("index a Video with a slice of frames, e.g. video[0:8]")
        return Video(tuple(p[frames] for p in self.planes), self.format)

    def frames(self) -> np.ndarray:
        """Interleaved ``(T, H, W, 3)`` integer frames of a 4:4:4 or RGB video (a copy)."""
        if self.format.chroma == "420":
            raise VideoFormatError("4:2:0 video has no interleaved frames; convert it first")
        return np.stack(self.planes, axis=-1)

    def load(self) -> Video:
        """The same video with every plane read into memory (detached from any file)."""
        return Video(tuple(np.ascontiguousarray(p) for p in self.planes), self.format)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Video):
            return NotImplemented
        return self.format == other.format and all(
            np.array_equal(a, b) for a, b in zip(self.planes, other.planes, strict=True)
        )

    __hash__ = None  # planes are mutable arrays

    def describe(self) -> str:
        return _describe(self.format, self.num_frames)


@dataclass(frozen=True)
class VideoChunks:
    """A video delivered as consecutive chunks of frames, each a `Video` of ``format``,
    ``num_frames`` in all: what a decoder yields as it synthesises, so that a writer
    (`inrcodec.io.write_video`) holds one chunk at a time. It can be iterated once."""

    format: VideoFormat
    num_frames: int
    chunks: Iterable[Video]

    @classmethod
    def of(cls, video: Video) -> VideoChunks:
        """A whole video as one chunk."""
        return cls(video.format, video.num_frames, (video,))

    def __iter__(self) -> Iterator[Video]:
        """The chunks; a chunk of another format, or chunks that do not add up to
        ``num_frames``, raise `VideoFormatError` (so a short video is never written whole)."""
        delivered = 0
        for chunk in self.chunks:
            if chunk.format != self.format:
                raise VideoFormatError(
                    f"a chunk of {chunk.describe()} in a video of {self.describe()}"
                )
            delivered += chunk.num_frames
            if delivered > self.num_frames:
                raise VideoFormatError(f"more than the {self.num_frames} frames announced")
            yield chunk
        if delivered != self.num_frames:
            raise VideoFormatError(f"{delivered} of the {self.num_frames} frames announced")

    def collect(self) -> Video:
        """The whole video in memory (the chunks copied into place one by one)."""
        shapes = self.format.plane_shapes()
        planes = tuple(np.empty((self.num_frames, *shape), self.format.dtype) for shape in shapes)
        start = 0
        for chunk in self:
            for plane, part in zip(planes, chunk.planes, strict=True):
                plane[start : start + chunk.num_frames] = part
            start += chunk.num_frames
        return Video(planes, self.format)

    def describe(self) -> str:
        return _describe(self.format, self.num_frames)


def _describe(f: VideoFormat, frames: int) -> str:
    fps = f"{float(f.fps):.3f}".rstrip("0").rstrip(".")
    colour = "RGB" if f.chroma == "rgb" else f"YUV {f.chroma} {f.matrix} {f.range}"
    return f"{f.width}x{f.height}, {frames} frames, {fps} fps, {colour}, {f.bit_depth}-bit"
