"""YUV4MPEG2 (``.y4m``) files: a one-line stream header, then ``FRAME`` + planar samples per frame.

The stream header holds space-separated fields, each a letter and a value: ``W`` width, ``H``
height, ``F`` frame rate ``num:den``, ``I`` interlacing, ``A`` pixel aspect ratio, ``C`` colour
format and ``X`` application fields. Frame samples use the layout of `inrcodec.io.planar`.

Colour (``C``) tags read and written::

    420jpeg  4:2:0, chroma siting "center" (MPEG-1/JPEG); also the meaning of 420 and of no C
    420mpeg2 4:2:0, siting "left" (MPEG-2/H.264)
    420paldv 4:2:0, siting "topleft" (PAL DV)
    444      4:4:4
    420pN, 444pN  N = 9..16 bit, little-endian 16-bit words (ffmpeg's 420p10, 444p12, ...)
    mono, monoN   grey (Y only; N = 9..16), read as 4:2:0 (4:4:4 at an odd size) with neutral
                  chroma, as ffmpeg decodes a grey H.264 stream; written back as such

``A`` (pixel aspect ratio, ``A0:0`` unknown) is kept in `VideoFormat.pixel_aspect`.

``X`` fields: ``XCOLORRANGE=FULL|LIMITED`` (as ffmpeg writes it), and two of our own, written so
that a round trip keeps every `VideoFormat` fact: ``XCOLORMATRIX=BT601|BT709`` and
``XCHROMALOC=LEFT|CENTER|TOPLEFT`` (written when the ``C`` tag cannot say the siting). Other
readers ignore unknown ``X`` fields, as the format asks.
"""

from __future__ import annotations

import mmap
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from .frame_range import frame_range
from .planar import map_planes, write_planes
from .video import Video, VideoChunks, VideoFormat, VideoFormatError

MAGIC = b"YUV4MPEG2"
FRAME_MAGIC = b"FRAME"
#: Longest stream or frame header line we look for before calling the file malformed.
MAX_HEADER_BYTES = 1 << 16
#: Frame rate when ``F`` is missing or ``0:0`` (unknown): ffmpeg's choice.
DEFAULT_FPS = Fraction(25)

_COLOUR_TAG = re.compile(r"(420|444)(jpeg|mpeg2|paldv|p(\d+))?|mono(\d+)?")
_SITING_BY_WORD = {"jpeg": "center", "mpeg2": "left", "paldv": "topleft"}
_WORD_BY_SITING = {siting: word for word, siting in _SITING_BY_WORD.items()}
_RANGES = {"LIMITED": "limited", "FULL": "full"}
_MATRICES = {"BT601": "bt601", "BT709": "bt709"}
_SITINGS = {"LEFT": "left", "CENTER": "center", "TOPLEFT": "topleft"}


def read_y4m(path: Path, start: int = 0, frames: int | None = None) -> Video:
    """Frames ``start`` to ``start + frames - 1`` of a y4m file, memory-mapped (nothing is read).

    Raises `VideoFormatError` for a malformed header, a frame that does not start with
    ``FRAME``, and a truncated file (a last frame with fewer bytes than a frame needs).
    """
    with open(path, "rb") as file:
        head = file.read(MAX_HEADER_BYTES)
        if not head.startswith(MAGIC + b" "):
            raise VideoFormatError(f"{path} is not a y4m file: it does not start with 'YUV4MPEG2 '")
        end_of_header = head.find(b"\n")
        if end_of_header < 0:
            raise VideoFormatError(f"{path}: no end of line in the first {len(head)} bytes")
        fmt = parse_header(head[:end_of_header])
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    stored = 1 if _is_grey(head[:end_of_header]) else 3
    frame_bytes = fmt.frame_bytes if stored == 3 else fmt.width * fmt.height * fmt.dtype.itemsize
    offsets = _frame_offsets(mapped, end_of_header + 1, frame_bytes, path)
    wanted = frame_range(len(offsets), start, frames)
    planes = map_planes(mapped, fmt, offsets[wanted.start : wanted.stop], stored)
    if stored == 1:  # neutral chroma, shared by every frame (no memory)
        grey = np.array(1 << (fmt.bit_depth - 1), fmt.dtype)
        shape = (len(wanted), *fmt.plane_shapes()[1])
        planes = (planes[0], np.broadcast_to(grey, shape), np.broadcast_to(grey, shape))
    return Video(planes, fmt)


def write_y4m(video: VideoChunks, path: Path) -> None:
    """Write ``video`` as a y4m file with plain ``FRAME`` headers, chunk by chunk."""
    header = format_header(video.format)
    with open(path, "wb") as file:
        file.write(header)
        write_planes(file, video, FRAME_MAGIC + b"\n")


def parse_header(line: bytes) -> VideoFormat:
    """The `VideoFormat` described by a stream header line (without its newline)."""
    tokens = line.split(b" ")
    if tokens[0] != MAGIC:
        raise VideoFormatError("not a y4m stream header: it does not start with 'YUV4MPEG2 '")
    fields: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for token in filter(None, tokens[1:]):
        text = token.decode("ascii", errors="replace")
        if text[0] == "X":
            name, _, value = text[1:].partition("=")
            extensions[name.upper()] = value.upper()
        else:
            fields[text[0]] = text[1:]
    if "W" not in fields or "H" not in fields:
        raise VideoFormatError("y4m header has no W (width) or no H (height) field")
    width, height = _parse_integer(fields["W"], "W"), _parse_integer(fields["H"], "H")
    chroma, bit_depth, siting = _parse_colour_tag(fields.get("C", "420jpeg"))
    if chroma == "mono":
        chroma = "444" if width % 2 or height % 2 else "420"
    try:
        return VideoFormat(
            width=width,
            height=height,
            chroma=chroma,
            bit_depth=bit_depth,
            fps=_parse_frame_rate(fields.get("F")),
            matrix=_parse_extension(extensions, "COLORMATRIX", _MATRICES, "bt601"),
            range=_parse_extension(extensions, "COLORRANGE", _RANGES, "limited"),
            chroma_siting=_parse_extension(extensions, "CHROMALOC", _SITINGS, siting),
            pixel_aspect=_parse_aspect(fields.get("A")),
        )
    except VideoFormatError as error:
        raise VideoFormatError(f"y4m header: {error}") from None


def format_header(fmt: VideoFormat) -> bytes:
    """The stream header line (with its newline) that `parse_header` reads back as ``fmt``."""
    if fmt.chroma == "rgb":
        raise VideoFormatError("y4m holds Y'CbCr video, not RGB")
    aspect = fmt.pixel_aspect
    fields = [
        "YUV4MPEG2",
        f"W{fmt.width}",
        f"H{fmt.height}",
        f"F{fmt.fps.numerator}:{fmt.fps.denominator}",
        "Ip",
        "A0:0" if aspect is None else f"A{aspect.numerator}:{aspect.denominator}",
    ]
    siting_in_tag = fmt.chroma == "420" and fmt.bit_depth == 8
    if siting_in_tag:
        fields.append(f"C420{_WORD_BY_SITING[fmt.chroma_siting]}")
    else:
        fields.append(f"C{fmt.chroma}" + (f"p{fmt.bit_depth}" if fmt.bit_depth > 8 else ""))
    fields.append(f"XCOLORRANGE={fmt.range.upper()}")
    fields.append(f"XCOLORMATRIX={fmt.matrix.upper()}")
    if not siting_in_tag:
        fields.append(f"XCHROMALOC={fmt.chroma_siting.upper()}")
    return (" ".join(fields) + "\n").encode("ascii")


def _frame_offsets(mapped: mmap.mmap, position: int, frame_bytes: int, path: Path) -> list[int]:
    """Byte offset of each frame's ``frame_bytes`` samples, walking the ``FRAME`` headers (which
    may carry parameters, so their lengths are read, not assumed)."""
    offsets: list[int] = []
    size = len(mapped)
    while position < size:
        if mapped[position : position + len(FRAME_MAGIC)] != FRAME_MAGIC:
            raise VideoFormatError(
                f"{path}: frame {len(offsets)} does not start with 'FRAME' (byte {position})"
            )
        end_of_header = mapped.find(b"\n", position, position + MAX_HEADER_BYTES)
        if end_of_header < 0:
            raise VideoFormatError(f"{path}: frame {len(offsets)} header has no end of line")
        samples_start = end_of_header + 1
        if samples_start + frame_bytes > size:
            raise VideoFormatError(
                f"{path} is truncated: frame {len(offsets)} has {size - samples_start} of its "
                f"{frame_bytes} bytes (the first {len(offsets)} frames are complete)"
            )
        offsets.append(samples_start)
        position = samples_start + frame_bytes
    return offsets


def _is_grey(header: bytes) -> bool:
    return any(token.startswith(b"Cmono") for token in header.split(b" "))


def _parse_colour_tag(tag: str) -> tuple[str, int, str]:
    """``(chroma, bit_depth, siting)`` of a ``C`` tag value such as ``420mpeg2``, ``444p10``
    or ``mono`` (chroma "mono")."""
    match = _COLOUR_TAG.fullmatch(tag)
    if match is None:
        raise VideoFormatError(
            f"y4m colour format C{tag} is not supported (supported: 420jpeg, 420mpeg2, "
            "420paldv, 420, 444, 420pN and 444pN with N = 9..16, mono and monoN)"
        )
    chroma, word, depth, mono_depth = match.groups()
    if chroma is None:
        chroma, depth = "mono", mono_depth
    bit_depth = int(depth) if depth else 8
    if depth and not 9 <= bit_depth <= 16:
        raise VideoFormatError(f"y4m colour format C{tag}: bit depth must be 9 to 16")
    return chroma, bit_depth, _SITING_BY_WORD.get(word, "center")


def _parse_integer(value: str, name: str) -> int:
    if not value.isdigit():
        raise VideoFormatError(f"y4m field {name}{value} is not a positive integer")
    return int(value)


def _parse_aspect(value: str | None) -> Fraction | None:
    """The pixel aspect ratio of an ``A`` field; None (unknown) for ``A0:0``, no field, or
    one that does not read as a ratio (display metadata: never a reason to refuse a file)."""
    width, _, height = (value or "").partition(":")
    if not (width.isdigit() and height.isdigit()) or 0 in (int(width), int(height)):
        return None
    return Fraction(int(width), int(height))


def _parse_frame_rate(value: str | None) -> Fraction:
    if value is None or value == "0:0":
        return DEFAULT_FPS
    numerator, _, denominator = value.partition(":")
    if not (numerator.isdigit() and denominator.isdigit()) or int(denominator) == 0:
        raise VideoFormatError(f"y4m frame rate F{value} is not of the form num:den")
    return Fraction(int(numerator), int(denominator))


def _parse_extension(extensions: dict[str, str], name: str, meanings: dict, default: str) -> str:
    if name not in extensions:
        return default
    if extensions[name] not in meanings:
        raise VideoFormatError(
            f"y4m field X{name}={extensions[name]} is not one of {list(meanings)}"
        )
    return meanings[extensions[name]]
