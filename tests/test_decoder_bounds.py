"""Malformed counts and shapes are refused before the decoder allocates or computes anything
(docs/bitstream.md 2.3): the fields a fuzzer aimed at, changed in the golden files of
``tests/data/format_v1`` with lengths and CRCs recomputed so that the damage reaches the
parsers."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

import inrcodec
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.coding import BitstreamError, Container
from inrcodec.coding.container import FORMAT_VERSION, MAGIC
from inrcodec.coding.fields import Table
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


def unchecked(table: Table, values: dict) -> bytes:
    """``values`` written under the limits of ``table``'s fields, but none of its checks."""
    return b"".join(
        unchecked(field, values) if isinstance(field, Table) else field.write(values)
        for field in table.fields
    )


def test_a_hinerv_mlp_of_width_zero_is_refused_with_the_model_section():
    container = Container.from_bytes(golden("hinerv"))
    values = hinerv.MODEL_FIELDS.parse(container.section(hinerv.MODEL_TAG), "model")
    values["expansions"] = (*values["expansions"][:3], 1 / 16)  # was 16: stage 3 of width 0
    model = unchecked(hinerv.MODEL_FIELDS, values)
    data = Container(container.codec, container.header, [(1, model), container.sections[1]])
    with pytest.raises(BitstreamError, match=r"stage 3 has an MLP of width int\(4 x 0.0625\) = 0"):
        inrcodec.decode(data.to_bytes())  # was a ZeroDivisionError in quant_axis


def test_a_short_hinerv_parameters_section_is_refused_before_any_tensor_is_decoded(monkeypatch):
    container = Container.from_bytes(golden("hinerv"))
    model, parameters = container.section(1), container.section(2)
    decoded = []
    monkeypatch.setattr(hinerv, "decode_smallest", lambda *args: decoded.append(args))
    # 38 tensors: the biases' binary16 values, the others' steps, lengths and model codes
    for size in (0, 10, 453):
        short = Container(container.codec, container.header, [(1, model), (2, parameters[:size])])
        with pytest.raises(BitstreamError, match="parameters section: needs 454 bytes"):
            hinerv.read_payload(short.to_bytes())
    assert decoded == []
