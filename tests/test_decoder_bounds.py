"""Malformed counts and shapes are refused before the decoder allocates or computes anything
(docs/bitstream.md 2.3): the fields a fuzzer aimed at, changed in the golden files of
``tests/data/format_v1`` with lengths and CRCs recomputed so that the damage reaches the
parsers."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

import inrcodec
from inrcodec.coding import BitstreamError, Container
from inrcodec.coding.container import FORMAT_VERSION, MAGIC
from inrcodec.coding.varint import encode_uvarint

DATA = Path(__file__).parent / "data" / "format_v1"


def golden(codec: str) -> bytes:
    return (DATA / f"{codec}.inrc").read_bytes()


def with_header_bytes(data: bytes, header: bytes) -> bytes:
    """``data`` with the video header's bytes replaced (a valid header CRC; the sections as
    they were)."""
    container = Container.from_bytes(data)
    start = len(MAGIC) + 1 + len(encode_uvarint(container.codec))
    end = start + len(container.header.to_bytes())
    count = encode_uvarint(len(container.sections))
    head = data[:start] + header + count
    return head + zlib.crc32(head).to_bytes(4, "little") + data[end + len(count) + 4 :]


def test_the_helper_rebuilds_a_file_exactly():
    data = golden("hinerv")
    assert data[:5] == MAGIC + bytes([FORMAT_VERSION])
    assert with_header_bytes(data, Container.from_bytes(data).header.to_bytes()) == data


@pytest.mark.parametrize("codec", ["hinerv", "nvrc"])
def test_an_odd_4_2_0_height_is_refused_with_the_header(codec, monkeypatch):
    data = golden(codec)
    header = Container.from_bytes(data).header.to_bytes()
    assert header[:2] == bytes([48, 32])  # 48x32, 4:2:0
    odd = with_header_bytes(data, bytes([48, 33]) + header[2:])
    sections_read = []
    monkeypatch.setattr(Container, "section", lambda self, tag: sections_read.append(tag))
    with pytest.raises(BitstreamError, match="4:2:0 needs an even width and height, got 48x33"):
        inrcodec.decode(odd)
    assert sections_read == []  # no payload was parsed, let alone decoded
