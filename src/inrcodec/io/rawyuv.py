"""Raw planar ``.yuv`` files: frames back to back, no header (layout of `inrcodec.io.planar`).

Nothing in the file says its size or format, so the caller gives them or the file name does.
`parse_yuv_name` understands the usual conventions (JCT-VC/JVET test sequences, UVG, ffmpeg pixel
format names); docs/io.md lists the rules.
"""

from __future__ import annotations

import mmap
import re
from fractions import Fraction
from pathlib import Path

from .frame_range import frame_range
from .planar import map_planes, write_planes
from .video import Video, VideoChunks, VideoFormat, VideoFormatError

#: What a name that does not say is assumed to be (ffmpeg's rawvideo defaults).
DEFAULT_CHROMA = "420"
DEFAULT_BIT_DEPTH = 8
DEFAULT_FPS = Fraction(25)

_SIZE = re.compile(r"(\d+)x(\d+)(?:p(\d+(?:\.\d+)?))?")  # 1920x1080, 3840x2160p50
_PIXEL_FORMAT = re.compile(r"(?:yuv|i)?(420|444)(?:p(\d+)?(?:le)?)?")  # 420, i420, yuv420p10le
_BIT_DEPTH = re.compile(r"(\d+)b(?:its?)?")  # 10bit, 8bits, 10b
_FPS = re.compile(r"(\d+(?:\.\d+)?)(?:fps|hz)")  # 50fps, 60hz ("1080p" is no frame rate)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")  # a bare frame rate, only right after the size


def parse_yuv_name(name: str) -> dict:
    """Facts a raw video's file name states: some of ``width``, ``height``, ``fps``, ``chroma``,
    ``bit_depth``.

    The name (without folders and extension) is split at ``_``, ``-`` and spaces; each
    piece is matched whole, case-insensitively. A fact stated twice with different values is an
    error, so a name is read one way or not at all.
    """
    facts: dict = {}

    def state(fact: str, value) -> None:
        if facts.setdefault(fact, value) != value:
            raise VideoFormatError(
                f"the name {name!r} says both {facts[fact]} and {value} ({fact})"
            )

    pieces = [p for p in re.split(r"[_\-\s]+", Path(name).stem.lower()) if p]
    follows_size = False
    for piece in pieces:
        if match := _SIZE.fullmatch(piece):
            state("width", int(match[1]))
            state("height", int(match[2]))
            if match[3]:
                state("fps", parse_frame_rate(match[3]))
        elif match := _PIXEL_FORMAT.fullmatch(piece):
            state("chroma", match[1])
            if match[2]:
                state("bit_depth", int(match[2]))
        elif match := _BIT_DEPTH.fullmatch(piece):
            state("bit_depth", int(match[1]))
        elif match := _FPS.fullmatch(piece):
            state("fps", parse_frame_rate(match[1]))
        elif follows_size and _NUMBER.fullmatch(piece):
            state("fps", parse_frame_rate(piece))
        follows_size = _SIZE.fullmatch(piece) is not None
    return facts


def raw_format(
    path: Path,
    size: tuple[int, int] | str | None = None,
    chroma: str | None = None,
    bit_depth: int | None = None,
    fps: Fraction | float | str | None = None,
) -> VideoFormat:
    """The format of a raw file: the caller's arguments, else its name, else the defaults
    (4:2:0, 8 bit, 25 fps; Y'CbCr BT.601 limited range, left siting). The size has no default."""
    facts = parse_yuv_name(path.name)
    if size is not None:
        facts["width"], facts["height"] = parse_size(size)
    if "width" not in facts:
        raise VideoFormatError(
            f"{path}: cannot tell the frame size of a raw .yuv file from its name; give it "
            "(--size WxH, or size=(width, height) in Python) or name the file like "
            "name_1920x1080_50fps_10bit_420.yuv"
        )
    return VideoFormat(
        width=facts["width"],
        height=facts["height"],
        chroma=chroma or facts.get("chroma", DEFAULT_CHROMA),
        bit_depth=bit_depth or facts.get("bit_depth", DEFAULT_BIT_DEPTH),
        fps=parse_frame_rate(fps) if fps is not None else facts.get("fps", DEFAULT_FPS),
    )


def read_yuv(path: Path, fmt: VideoFormat, start: int = 0, frames: int | None = None) -> Video:
    """Frames ``start`` to ``start + frames - 1`` of a raw file in format ``fmt``, memory-mapped."""
    if fmt.chroma == "rgb":
        raise VideoFormatError("raw .yuv files hold Y'CbCr planes, not RGB")
    size = path.stat().st_size
    if size == 0 or size % fmt.frame_bytes:
        raise VideoFormatError(
            f"{path} has {size} bytes, not a whole number of {fmt.frame_bytes}-byte frames "
            f"of {fmt.width}x{fmt.height} {fmt.chroma} {fmt.bit_depth}-bit video; give the "
            "right --size, --chroma and --bit-depth (size=, chroma=, bit_depth= in Python)"
        )
    wanted = frame_range(size // fmt.frame_bytes, start, frames)
    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    offsets = [index * fmt.frame_bytes for index in wanted]
    return Video(map_planes(mapped, fmt, offsets), fmt)


def write_yuv(video: VideoChunks, path: Path, name: str) -> None:
    """Write ``video``'s planes to ``path``, chunk by chunk, under a final file ``name`` that
    reads back as the video (`check_raw_name`)."""
    check_raw_name(name, video.format)
    with open(path, "wb") as file:
        write_planes(file, video)


def check_raw_name(path: str | Path, fmt: VideoFormat) -> None:
    """Raise `VideoFormatError` unless a raw file at ``path`` would be read back as video of
    ``fmt``: Y'CbCr, its name stating the size, and the chroma format and bit depth where they
    are not the defaults, none of them contradicting ``fmt``."""
    path = Path(path)
    if fmt.chroma == "rgb":
        raise VideoFormatError(f"{path}: raw .yuv files hold Y'CbCr planes, not RGB")
    facts = parse_yuv_name(path.name)
    for fact, value in facts.items():
        if fact != "fps" and getattr(fmt, fact) != value:
            raise VideoFormatError(
                f"the name {path} says {fact} {value} but the video has {getattr(fmt, fact)}"
            )
    needed = {"width": None, "chroma": DEFAULT_CHROMA, "bit_depth": DEFAULT_BIT_DEPTH}
    if any(fact not in facts and getattr(fmt, fact) != default for fact, default in needed.items()):
        raise VideoFormatError(
            f"{path}: a raw .yuv file stores no format, and its name does not say this video's; "
            f"call it {path.with_name(raw_name(path.stem, fmt))} so that it can be read back"
        )


def raw_name(stem: str, fmt: VideoFormat) -> str:
    """A raw file name stating every fact of ``fmt`` that one can (`parse_yuv_name`), after the
    pieces of ``stem`` that state none."""
    pieces = [p for p in re.split(r"[_\-\s]+", stem) if p and not parse_yuv_name(f"{p}.yuv")]
    fps = f"{float(fmt.fps):.3f}".rstrip("0").rstrip(".")
    facts = f"{fmt.width}x{fmt.height}_{fps}fps_{fmt.bit_depth}bit_{fmt.chroma}"
    return "_".join([*pieces, facts]) + ".yuv"


def parse_size(size: tuple[int, int] | str) -> tuple[int, int]:
    """``(width, height)`` from a pair or a ``"1920x1080"`` string."""
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if match is None:
            raise VideoFormatError(f"size {size!r} is not of the form WIDTHxHEIGHT")
        return int(match[1]), int(match[2])
    try:
        width, height = size
    except (TypeError, ValueError):
        raise VideoFormatError(f"size must be (width, height) or 'WxH', got {size!r}") from None
    return int(width), int(height)


def parse_frame_rate(fps: Fraction | float | str) -> Fraction:
    """A frame rate as an exact fraction; decimal NTSC rates (23.976, 29.97, 59.94, 119.88)
    become the ``n * 1000 / 1001`` rates they stand for."""
    try:
        rate = Fraction(fps) if not isinstance(fps, float) else Fraction(str(fps))
    except (TypeError, ValueError, ZeroDivisionError):
        raise VideoFormatError(f"frame rate {fps!r} is not a number or fraction") from None
    ntsc = rate * Fraction(1001, 1000)
    if rate.denominator != 1 and abs(ntsc - round(ntsc)) < Fraction(1, 100):
        return Fraction(round(ntsc) * 1000, 1001)
    return rate
