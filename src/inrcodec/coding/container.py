"""The inrcodec file container, shared by every codec (docs/design.md, "The bitstream").

Layout (all integers LEB128 varints unless noted; full spec in docs/bitstream.md)::

    "INRC"  format-version(u8)  codec-id  video-header  section-count  header-crc32(u32le)
    section*: tag  length  payload[length]  crc32(u32le) of tag..payload

Parsing is strict and bounded: every count, length and dimension is checked against sane
limits and the bytes that remain before anything is allocated, and any malformed input
raises :class:`BitstreamError`.
"""

from __future__ import annotations

import enum
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BitstreamError
from .fields import Check, Flags, Table, UInt
from .varint import ByteReader, encode_uvarint

MAGIC = b"INRC"
FORMAT_VERSION = 2

MAX_DIMENSION = 16384
MAX_FRAMES = 2**20
MAX_FPS_TERM = 2**32 - 1  # numerator and denominator of the frame rate
MAX_SECTIONS = 4096
MAX_SECTION_TAG = 2**16 - 1

_CRC_SIZE = 4


class CodecId(enum.IntEnum):
    """Registry of codecs that own a container; values are part of the format."""

    TEST = 0  # reserved for tests and tools
    HINERV = 1
    NVRC = 2
    TECONERV = 3


def _even_if_subsampled(values) -> str | None:
    """4:2:0 halves both chroma axes: the luma size must be even (bitstream.md 2.1)."""
    width, height = values["width"], values["height"]
    if values["chroma_format"] == "420" and (width % 2 or height % 2):
        return f"video header: 4:2:0 needs an even width and height, got {width}x{height}"
    return None


# Header fields, declared once for writer, reader and validation (Cool-chic style): the
# integers, then the enumerated fields packed into ONE varint, the "format code".
_HEADER_FIELDS = Table(
    UInt("width", 1, MAX_DIMENSION),
    UInt("height", 1, MAX_DIMENSION),
    UInt("frame_count", 1, MAX_FRAMES),
    UInt("fps_num", 1, MAX_FPS_TERM),
    UInt("fps_den", 1, MAX_FPS_TERM),
    UInt("bit_depth", 8, 16),
    Flags(
        "format code",
        ("chroma_format", ("420", "444", "rgb"), 2),
        ("color_matrix", ("bt601", "bt709"), 2),
        ("color_range", ("limited", "full"), 1),
        ("chroma_siting", ("left", "center", "topleft"), 2),
    ),
    checks=(Check(_even_if_subsampled, "width", "height", "chroma_format"),),
)


@dataclass(frozen=True)
class VideoHeader:
    """What every decoder needs to know about the video, in plain ints and strings.

    Codecs translate to and from their own video types (``coding`` imports nothing from
    ``io``, docs/design.md, "Dependency rules"). Invalid values raise ValueError.
    """

    width: int
    height: int
    frame_count: int
    fps_num: int
    fps_den: int = 1
    bit_depth: int = 8
    chroma_format: str = "420"
    color_matrix: str = "bt601"
    color_range: str = "limited"
    chroma_siting: str = "left"

    def __post_init__(self) -> None:
        self.to_bytes()  # raises ValueError on any value outside its limits

    def to_bytes(self) -> bytes:
        """The header's bytes: integer fields, then the format code (bitstream.md 2.1)."""
        return _HEADER_FIELDS.write(_HEADER_FIELDS.values_of(self))

    @classmethod
    def read(cls, reader: ByteReader) -> VideoHeader:
        """Parse a header from ``reader``; raises BitstreamError if malformed."""
        values: dict = {}
        _HEADER_FIELDS.read(reader, values)
        return cls(**values)


@dataclass(frozen=True)
class Container:
    """A whole inrcodec file: codec id, video header and tagged sections.

    ``sections`` is a sequence of ``(tag, payload)`` pairs in file order (a mapping
    ``{tag: payload}`` is accepted too); tags are codec-defined small ints, unique per
    file. ``Container.from_bytes(c.to_bytes()) == c`` for every valid container, and
    ``from_bytes`` accepts exactly the byte strings that ``to_bytes`` can produce.
    """

    codec: CodecId
    header: VideoHeader
    sections: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "codec", CodecId(self.codec))
        if not isinstance(self.header, VideoHeader):
            raise TypeError(f"header must be a VideoHeader, got {type(self.header).__name__}")
        pairs = self.sections.items() if isinstance(self.sections, Mapping) else self.sections
        sections = tuple((tag, bytes(payload)) for tag, payload in pairs)
        if len(sections) > MAX_SECTIONS:
            raise ValueError(f"at most {MAX_SECTIONS} sections, got {len(sections)}")
        tags = [tag for tag, _ in sections]
        for tag in tags:
            if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= MAX_SECTION_TAG:
                raise ValueError(f"section tag must be an int in [0, {MAX_SECTION_TAG}]: {tag!r}")
        if len(set(tags)) != len(tags):
            raise ValueError(f"duplicate section tags in {tags}")
        object.__setattr__(self, "sections", sections)

    def section(self, tag: int) -> bytes:
        """The payload of section ``tag``; BitstreamError if the file has none."""
        for section_tag, payload in self.sections:
            if section_tag == tag:
                return payload
        raise BitstreamError(f"missing section with tag {tag}")

    def to_bytes(self) -> bytes:
        """The complete file (docs/bitstream.md section 2)."""
        head = (
            MAGIC
            + bytes([FORMAT_VERSION])
            + encode_uvarint(self.codec)
            + self.header.to_bytes()
            + encode_uvarint(len(self.sections))
        )
        parts = [head, _crc_bytes(head)]
        for tag, payload in self.sections:
            framed = encode_uvarint(tag) + encode_uvarint(len(payload)) + payload
            parts += [framed, _crc_bytes(framed)]
        return b"".join(parts)

    @classmethod
    def of_codec(cls, data: bytes, codec: CodecId, tags: tuple[int, ...], name: str) -> Container:
        """`from_bytes`, then require ``codec`` and exactly the sections ``tags`` in order
        (``name`` is the codec's name in the errors)."""
        return cls.from_bytes(data).require(codec, tags, name)

    def require(self, codec: CodecId, tags: tuple[int, ...], name: str) -> Container:
        """This container, if it is of ``codec`` and holds exactly the sections ``tags`` in
        order; else `BitstreamError`."""
        if self.codec != codec:
            raise BitstreamError(f"not a {name} bitstream (codec {self.codec.name.lower()})")
        if tuple(tag for tag, _ in self.sections) != tuple(tags):
            raise BitstreamError(f"a {name} file holds exactly the sections {tags}, in this order")
        return self

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Container:
        """Parse a complete file; raises BitstreamError on any malformed input."""
        reader = ByteReader(data)
        if bytes(reader.take(len(MAGIC), "magic")) != MAGIC:
            raise BitstreamError("not an inrcodec file (bad magic bytes)")
        version = reader.take(1, "format version")[0]
        if version == 1:
            raise BitstreamError(
                "format version 1 is no longer read (its entropy-coded payloads cannot prove "
                "their symbol count): re-encode the video with this inrcodec, which writes "
                f"format version {FORMAT_VERSION}"
            )
        if version != FORMAT_VERSION:
            raise BitstreamError(f"unsupported format version {version}")
        codec_value = reader.uvarint("codec id")
        try:
            codec = CodecId(codec_value)
        except ValueError:
            raise BitstreamError(f"unknown codec id {codec_value}") from None
        header = VideoHeader.read(reader)
        # A section takes at least 2 varint bytes and its CRC: bound the count first.
        max_sections = min(MAX_SECTIONS, (reader.remaining - _CRC_SIZE) // (2 + _CRC_SIZE))
        section_count = reader.uvarint("section count", max(max_sections, 0))
        _check_crc(reader, 0, "header")
        sections: list[tuple[int, bytes]] = []
        seen_tags: set[int] = set()
        for index in range(section_count):
            start = reader.position
            tag = reader.uvarint(f"section {index} tag", MAX_SECTION_TAG)
            length = reader.uvarint(f"section {index} length")
            if length > reader.remaining:
                raise BitstreamError(
                    f"truncated: section {index} length {length}, but only {reader.remaining} "
                    "bytes follow"
                )
            payload = bytes(reader.take(length, f"section {index} payload"))
            _check_crc(reader, start, f"section {index} (tag {tag})")
            if tag in seen_tags:
                raise BitstreamError(f"duplicate section tag {tag}")
            seen_tags.add(tag)
            sections.append((tag, payload))
        reader.expect_end("container")
        return cls(codec=codec, header=header, sections=sections)


def _crc_bytes(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(_CRC_SIZE, "little")


def _check_crc(reader: ByteReader, start: int, what: str) -> None:
    """Read a CRC32 and compare it with that of the bytes from ``start`` to here."""
    covered = reader.consumed_since(start)
    stored = reader.u32le(f"{what} CRC32")
    if zlib.crc32(covered) != stored:
        raise BitstreamError(f"{what}: CRC32 mismatch (corrupted data)")


def read_container(path: str | os.PathLike) -> Container:
    """Read and parse a container file (raises BitstreamError if malformed)."""
    return Container.from_bytes(Path(path).read_bytes())
