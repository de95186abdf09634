"""Bitstream container: round trips, strict parsing (hypothesis), varints, atomic writes."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inrcodec.coding import (
    FORMAT_VERSION,
    MAGIC,
    BitstreamError,
    CodecId,
    Container,
    VideoHeader,
    read_container,
)
from inrcodec.coding.container import MAX_DIMENSION, MAX_FPS_TERM, MAX_FRAMES
from inrcodec.coding.varint import ByteReader, encode_svarint, encode_uvarint

FAST = settings(deadline=500, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

CIF = VideoHeader(width=176, height=144, frame_count=30, fps_num=30)


def example_container() -> Container:
    return Container(
        codec=CodecId.NVRC,
        header=CIF,
        sections={0: b"network config", 1: bytes(range(256)) * 3, 9: b""},
    )


@st.composite
def video_headers(draw) -> VideoHeader:
    chroma_format = draw(st.sampled_from(["420", "444", "rgb"]))
    step = 2 if chroma_format == "420" else 1  # 4:2:0 sizes are even
    return VideoHeader(
        width=step * draw(st.integers(1, MAX_DIMENSION // step)),
        height=step * draw(st.integers(1, MAX_DIMENSION // step)),
        frame_count=draw(st.integers(1, MAX_FRAMES)),
        fps_num=draw(st.integers(1, MAX_FPS_TERM)),
        fps_den=draw(st.integers(1, MAX_FPS_TERM)),
        bit_depth=draw(st.integers(8, 16)),
        chroma_format=chroma_format,
        color_matrix=draw(st.sampled_from(["bt601", "bt709"])),
        color_range=draw(st.sampled_from(["limited", "full"])),
        chroma_siting=draw(st.sampled_from(["left", "center", "topleft"])),
    )


containers = st.builds(
    Container,
    codec=st.sampled_from(list(CodecId)),
    header=video_headers(),
    sections=st.dictionaries(st.integers(0, 2**16 - 1), st.binary(max_size=300), max_size=6),
)


# ----------------------------------------------------------------------------- round trips


def test_round_trip_and_layout():
    container = example_container()
    data = container.to_bytes()
    assert data[:4] == MAGIC and data[4] == FORMAT_VERSION and data[5] == CodecId.NVRC
    parsed = Container.from_bytes(data)
    assert parsed == container
    assert [tag for tag, _ in parsed.sections] == [0, 1, 9]  # file order is kept
    assert parsed.section(1) == bytes(range(256)) * 3
    with pytest.raises(BitstreamError, match="missing section with tag 2"):
        parsed.section(2)


def test_header_is_small():
    data = Container(codec=CodecId.HINERV, header=CIF).to_bytes()
    # magic 4 + version 1 + codec 1 + 176 (2) + 144 (2) + 30, 30, 1, 8 (1 each)
    # + format code 1 + section count 1 + CRC32 4
    assert len(data) == 20
    # Each section adds tag + length varints and a CRC32.
    with_section = Container(codec=CodecId.HINERV, header=CIF, sections={3: b"x" * 100})
    assert len(with_section.to_bytes()) == 20 + 1 + 1 + 100 + 4


@FAST
@given(containers)
def test_random_containers_round_trip(container):
    data = container.to_bytes()
    assert Container.from_bytes(data) == container
    assert Container.from_bytes(data).to_bytes() == data


# ----------------------------------------------------------------------------- bad input


@FAST
@given(containers)
def test_every_truncation_raises(container):
    data = container.to_bytes()
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            Container.from_bytes(data[:cut])


@FAST
@given(containers, st.data())
def test_single_byte_corruption_raises_or_parses_canonically(container, draw):
    data = bytearray(container.to_bytes())
    position = draw.draw(st.integers(0, len(data) - 1))
    data[position] ^= draw.draw(st.integers(1, 255))
    try:
        parsed = Container.from_bytes(bytes(data))
    except BitstreamError:
        return
    # CRC32 detects every single-byte error, so this should be unreachable; if it were
    # reached, the parse must still describe exactly the bytes read.
    assert parsed.to_bytes() == bytes(data)
    pytest.fail("a corrupted file was accepted")


@settings(deadline=500, max_examples=300)
@given(st.binary(max_size=2000))
def test_random_garbage_raises(data):
    with pytest.raises(BitstreamError):
        Container.from_bytes(data)


@settings(deadline=500, max_examples=300)
@given(st.binary(max_size=300))
def test_garbage_after_a_valid_header_raises(tail):
    head = Container(codec=CodecId.TEST, header=CIF).to_bytes()
    with pytest.raises(BitstreamError):
        Container.from_bytes(head[:-5] + bytes([1]) + _fix_crc(head[:-5] + bytes([1])) + tail)


def _fix_crc(covered: bytes) -> bytes:
    return zlib.crc32(covered).to_bytes(4, "little")


def _with_header_crc(head_without_crc: bytes) -> bytes:
    return head_without_crc + _fix_crc(head_without_crc)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "magic"),
        (b"RIFF" + bytes(20), "magic"),
        (MAGIC + b"\x01" + bytes(20), "format version 1 is no longer read .* re-encode"),
        (MAGIC + b"\x03" + bytes(20), "unsupported format version 3"),
        (MAGIC + b"\x02\x04" + bytes(20), "unknown codec id 4"),
        (MAGIC + b"\x02\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "longer than 10"),
        (MAGIC + b"\x02\x80\x00", "non-canonical"),
        (MAGIC + b"\x02\x00\x80", "truncated varint"),
        (MAGIC + b"\x02\x00\x81\x80\x01", r"width: 16385 outside \[1, 16384\]"),  # > MAX_DIMENSION
        (MAGIC + b"\x02\x00\x00", "width: 0 outside"),
        (MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x07", "bit_depth: 7 outside"),
        (MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x08\x03", "chroma_format: reserved code 3"),
        (MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x08\x80\x01", "format code"),
        (MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x08\x01\x05" + bytes(4), "section count"),
        (MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x08\x01\x00" + bytes(4), "header: CRC32 mismatch"),
        (MAGIC + b"\x02\x00\x02\x01\x01\x01\x01\x08\x00", "4:2:0 needs an even width and height"),
    ],
)
def test_malformed_input_messages(data, message):
    with pytest.raises(BitstreamError, match=message):
        Container.from_bytes(data)


def test_section_errors():
    head = _with_header_crc(MAGIC + b"\x02\x00\x01\x01\x01\x01\x01\x08\x01\x02")
    section = b"\x05\x03abc"
    good = section + _fix_crc(section)
    parsed = Container.from_bytes(head + good + _section(6, b""))
    assert parsed.sections == ((5, b"abc"), (6, b""))
    with pytest.raises(BitstreamError, match="duplicate section tag 5"):
        Container.from_bytes(head + good + good)
    with pytest.raises(BitstreamError, match="truncated: section 1 length 127, but only 8 bytes"):
        Container.from_bytes(head + good + b"\x06\x7f" + bytes(8))  # length past the end
    with pytest.raises(BitstreamError, match=r"section 0 \(tag 5\): CRC32 mismatch"):
        Container.from_bytes(head + section + bytes(4) + _section(6, b""))
    with pytest.raises(BitstreamError, match="trailing"):
        Container.from_bytes(head + good + _section(6, b"") + b"\x00")


def _section(tag: int, payload: bytes) -> bytes:
    framed = encode_uvarint(tag) + encode_uvarint(len(payload)) + payload
    return framed + _fix_crc(framed)


def test_invalid_containers_are_refused_at_construction():
    with pytest.raises(ValueError, match="width"):
        VideoHeader(width=0, height=144, frame_count=1, fps_num=30)
    with pytest.raises(ValueError, match="chroma_format"):
        VideoHeader(width=176, height=144, frame_count=1, fps_num=30, chroma_format="422")
    with pytest.raises(ValueError, match="4:2:0 needs an even width and height, got 176x143"):
        VideoHeader(width=176, height=143, frame_count=1, fps_num=30)
    assert VideoHeader(width=175, height=143, frame_count=1, fps_num=30, chroma_format="444")
    with pytest.raises(ValueError, match="section tag"):
        Container(codec=CodecId.TEST, header=CIF, sections={-1: b""})
    with pytest.raises(ValueError):
        Container(codec=7, header=CIF)
    with pytest.raises(ValueError, match="duplicate"):
        Container(codec=CodecId.TEST, header=CIF, sections=[(1, b""), (1, b"x")])
    as_pairs = Container(codec=CodecId.TEST, header=CIF, sections=[(2, b"a"), (1, bytearray(b"b"))])
    assert as_pairs == Container(codec=CodecId.TEST, header=CIF, sections={2: b"a", 1: b"b"})


# ------------------------------------------------------------------------------- varints


@given(st.integers(0, 2**64 - 1))
def test_uvarint_round_trip(value):
    data = encode_uvarint(value)
    reader = ByteReader(data)
    assert reader.uvarint("value") == value
    assert reader.remaining == 0
    assert len(data) == max(1, -(-value.bit_length() // 7))


@given(st.integers(-(2**63), 2**63 - 1))
def test_svarint_round_trip(value):
    assert ByteReader(encode_svarint(value)).svarint("value", -(2**63), 2**63) == value


def test_varint_examples():
    assert encode_uvarint(0) == b"\x00"
    assert encode_uvarint(127) == b"\x7f"
    assert encode_uvarint(300) == b"\xac\x02"
    assert [encode_svarint(v)[0] for v in (0, -1, 1, -2, 2)] == [0, 1, 2, 3, 4]
    with pytest.raises(BitstreamError, match="outside"):
        ByteReader(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02").uvarint("value")  # 2**64


# --------------------------------------------------------------------------------- files


def test_read_container_rejects_a_garbage_file(tmp_path):
    path = tmp_path / "bad.inrc"
    path.write_bytes(b"INRC\x02garbage")
    with pytest.raises(BitstreamError):
        read_container(path)
