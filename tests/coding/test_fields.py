"""The field tables of `inrcodec.coding.fields`: one declaration for writer and reader."""

from __future__ import annotations

import pytest

from inrcodec.coding import BitstreamError
from inrcodec.coding.fields import (
    Ascii,
    Check,
    Choice,
    Counted,
    Fixed,
    Flags,
    Raw,
    SInt,
    Table,
    Tuple,
    UInt,
)
from inrcodec.coding.varint import ByteReader, encode_uvarint

INNER = Table(UInt("size", 1, 300), Fixed("ratio", 1 / 16, 64))
TABLE = Table(
    Raw("tag", 2),
    Ascii("name", 8),
    SInt("offset", -5, 5),
    Fixed("log_step", -64, 64, signed=True),
    Choice("mode", ("a", "b", "c")),
    Flags("flags", ("on", (False, True), 1), ("shape", ("x", "y", "z"), 2)),
    Tuple("block", UInt("t", 1, 4), UInt("h", 1, 8)),
    Counted(UInt("rows", 1, 3), UInt("width", 0, 9), Fixed("gain", 1 / 16, 2)),
    INNER,
    checks=(
        Check(
            lambda v: "width must not exceed size" if max(v["width"]) > v["size"] else None,
            "width",
            "size",
        ),
    ),
)
VALUES = {
    "tag": b"ok",
    "name": "net",
    "offset": -3,
    "log_step": -4.5,
    "mode": "c",
    "on": True,
    "shape": "z",
    "block": (4, 2),
    "width": (9, 0),
    "gain": (0.25, 2.0),
    "size": 300,
    "ratio": 0.5,
}


def test_a_table_writes_and_reads_every_kind_of_field():
    data = TABLE.write(VALUES)
    assert data == (
        b"ok" + b"\x03net" + b"\x05" + b"\x8f\x01" + b"\x02" + b"\x05" + b"\x04\x02"
        + b"\x02" + b"\x09\x04" + b"\x00\x20" + b"\xac\x02\x08"
    )  # fmt: skip
    assert TABLE.parse(data, "section") == VALUES
    assert TABLE.keys == tuple(VALUES)


def test_the_writer_refuses_values_outside_the_limits_with_value_error():
    for change, match in [
        ({"tag": b"bad"}, "tag must have 2 bytes"),
        ({"name": "tèco"}, "ASCII"),
        ({"name": "a" * 9}, "ASCII"),
        ({"offset": 6}, r"offset = 6 outside \[-5, 5\]"),
        ({"offset": 1.0}, "offset must be an int"),
        ({"offset": True}, "offset must be an int"),
        ({"log_step": 0.01}, "multiple of 1/16"),
        ({"log_step": -65.0}, "multiple of 1/16"),
        ({"mode": "d"}, "mode must be one of"),
        ({"shape": "w"}, "shape must be one of"),
        ({"block": (4, 9)}, r"block h = 9 outside \[1, 8\]"),
        ({"block": (4,)}, "block must be a sequence of 2"),
        ({"width": (1,)}, "the same length"),
        ({"width": (), "gain": ()}, r"rows = 0 outside \[1, 3\]"),
        ({"width": (1, 10)}, r"width\[1\] = 10"),
        ({"size": 5}, "width must not exceed size"),
    ]:
        with pytest.raises(ValueError, match=match) as error:
            TABLE.write({**VALUES, **change})
        assert not isinstance(error.value, BitstreamError)


def test_the_reader_refuses_fields_outside_the_limits_with_bitstream_error():
    data = TABLE.write(VALUES)
    name_at, mode_at, flags_at, rows_at = 2, 9, 10, 13
    for position, byte, match in [
        (name_at, 9, r"name length: 9 outside \[0, 8\]"),
        (mode_at, 3, r"mode: 3 outside \[0, 2\]"),
        (flags_at, 7, "shape: reserved code 3"),
        (flags_at, 8, r"flags: 8 outside \[0, 7\]"),
        (rows_at, 4, r"rows: 4 outside \[1, 3\]"),
        (rows_at + 1, 10, r"width\[0\]: 10 outside"),
    ]:
        changed = bytearray(data)
        changed[position] = byte
        with pytest.raises(BitstreamError, match=match):
            TABLE.parse(bytes(changed), "section")
    with pytest.raises(BitstreamError, match=r"name: not ASCII"):
        TABLE.parse(data[:3] + b"\xe9" + data[4:], "section")
    small = TABLE.write({**VALUES, "size": 9})
    with pytest.raises(BitstreamError, match="width must not exceed size"):
        TABLE.parse(small[:-2] + b"\x08" + small[-1:], "section")
    with pytest.raises(BitstreamError, match="section: 1 unexpected trailing bytes"):
        TABLE.parse(data + b"\x00", "section")
    with pytest.raises(BitstreamError, match="truncated"):
        TABLE.parse(data[:-1], "section")


def test_values_of_takes_the_attributes_of_the_same_names():
    class Settings:
        size, ratio, other = 3, 2.0, "ignored"

    assert INNER.values_of(Settings()) == {"size": 3, "ratio": 2.0}
    reader = ByteReader(INNER.write(INNER.values_of(Settings())) + b"rest")
    values: dict = {}
    INNER.read(reader, values)
    assert values == {"size": 3, "ratio": 2.0} and bytes(reader.rest()) == b"rest"


def test_a_count_is_refused_when_the_bytes_left_cannot_hold_its_rows():
    rows = Table(Counted(UInt("count", 0, 2**20), UInt("value", 0, 9), Raw("tag", 3)))
    assert rows.fields[0].row_bytes == 4  # a varint byte and three raw bytes at least
    data = encode_uvarint(1000) + bytes(4000)
    assert len(rows.parse(data, "rows")["value"]) == 1000
    with pytest.raises(BitstreamError, match="count .* needs 4000 bytes but only 3999 remain"):
        rows.parse(data[:-1], "rows")  # refused before a single row is read
    huge = encode_uvarint(2**20) + bytes(10)
    with pytest.raises(BitstreamError, match="needs 4194304 bytes but only 10 remain"):
        rows.parse(huge, "rows")


def test_a_check_runs_as_soon_as_its_fields_are_read():
    rule = Check(lambda v: "b must exceed a" if v["b"] <= v["a"] else None, "a", "b")
    table = Table(
        UInt("a", 0, 100),
        UInt("b", 0, 100),
        Counted(UInt("n", 0, 10), UInt("x", 0, 9)),
        checks=(rule,),
    )
    assert table.checks_after == [(), (rule,), ()]
    assert table.parse(b"\x01\x02\x01\x05", "t") == {"a": 1, "b": 2, "x": (5,)}
    with pytest.raises(BitstreamError, match="b must exceed a"):
        table.parse(b"\x02\x01", "t")  # the rows are missing: the rule fires before them
    with pytest.raises(ValueError, match="not all fields of the table"):
        Table(UInt("a", 0, 1), checks=(rule,))


def test_need_checks_the_bytes_left_without_reading():
    reader = ByteReader(b"abc")
    reader.need(3, "three")
    assert bytes(reader.rest()) == b"abc"
    with pytest.raises(BitstreamError, match="four: needs 4 bytes but only 3 remain"):
        ByteReader(b"abc").need(4, "four")
