"""Section fields declared once, with their limits, for writer, reader and description
(the primitive types of docs/bitstream.md section 1).

A `Table` lists the fields of a section in file order, plus `Check` rules that tie fields
together. Its `write` refuses a value outside a field's limits with `ValueError` (the
caller's mistake); its `read` refuses one with `BitstreamError` (bad input) as soon as the
field is read, and breaks a rule as soon as the rule's fields are read, before any later
field is read or anything is built from them. A `Counted` field checks its count against the
bytes left (at the smallest size of a row) before it reads a row. Values travel as a dict
keyed by field name.

Field kinds: `UInt` (bounded uvarint), `SInt` (bounded svarint), `Fixed` (a multiple of 1/16,
written as 16 x the value), `Choice` (a uvarint index into a tuple), `Flags` (several choices
packed into one uvarint), `Raw` (fixed-size bytes), `Ascii` (a bounded ASCII name), `Tuple`
(a fixed number of fields, one value), `Counted` (a bounded count, then that many rows of
columns). A `Table` is itself a field, so tables nest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import BitstreamError
from .varint import ByteReader, encode_svarint, encode_uvarint

FIXED_POINT = 16  # `Fixed` values are multiples of 1 / FIXED_POINT

Values = Mapping[str, Any]


class Check:
    """A rule across the fields ``keys``: ``rule(values)`` is a problem (a message), or None
    when the values agree. `Table.read` applies it as soon as all of ``keys`` are read."""

    def __init__(self, rule: Callable[[Values], str | None], *keys: str):
        self.rule, self.keys = rule, keys


class Field(Protocol):
    """Writes and reads the values of ``keys``."""

    @property
    def keys(self) -> tuple[str, ...]: ...

    def write(self, values: Values) -> bytes: ...

    def read(self, reader: ByteReader, values: dict[str, Any]) -> None: ...


class _Scalar:
    """A field of one value under one key. Errors name it by its ``label`` (the key if
    empty); ``encode`` / ``decode`` take the name, so that `Tuple` and `Counted` can use the
    kind for their entries."""

    key: str
    label: str
    min_bytes = 1  # every varint takes a byte at least

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def name(self) -> str:
        return self.label or self.key

    def write(self, values: Values) -> bytes:
        return self.encode(values[self.key], self.name)

    def read(self, reader: ByteReader, values: dict[str, Any]) -> None:
        values[self.key] = self.decode(reader, self.name)

    def encode(self, value: Any, label: str) -> bytes:
        raise NotImplementedError

    def decode(self, reader: ByteReader, label: str) -> Any:
        raise NotImplementedError


def _checked_int(value: Any, low: int, high: int, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{label} = {value} outside [{low}, {high}]")
    return value


@dataclass(frozen=True)
class UInt(_Scalar):
    """An integer in ``[low, high]``, as a uvarint."""

    key: str
    low: int
    high: int
    label: str = ""

    def encode(self, value: Any, label: str) -> bytes:
        return encode_uvarint(_checked_int(value, self.low, self.high, label))

    def decode(self, reader: ByteReader, label: str) -> int:
        return reader.uvarint(label, self.high, min_value=self.low)


@dataclass(frozen=True)
class SInt(_Scalar):
    """An integer in ``[low, high]``, as an svarint."""

    key: str
    low: int
    high: int
    label: str = ""

    def encode(self, value: Any, label: str) -> bytes:
        return encode_svarint(_checked_int(value, self.low, self.high, label))

    def decode(self, reader: ByteReader, label: str) -> int:
        return reader.svarint(label, self.low, self.high)


@dataclass(frozen=True)
class Fixed(_Scalar):
    """A multiple of 1/16 in ``[low, high]``, written as the integer 16 x value: a uvarint,
    or an svarint when ``signed``."""

    key: str
    low: float
    high: float
    signed: bool = False
    label: str = ""

    def _integer(self) -> UInt | SInt:
        kind = SInt if self.signed else UInt
        return kind(self.key, int(self.low * FIXED_POINT), int(self.high * FIXED_POINT))

    def encode(self, value: Any, label: str) -> bytes:
        scaled = value * FIXED_POINT
        if scaled != int(scaled) or not self.low <= value <= self.high:
            raise ValueError(
                f"{label} = {value} is not a multiple of 1/{FIXED_POINT} in "
                f"[{self.low}, {self.high}]"
            )
        return self._integer().encode(int(scaled), label)

    def decode(self, reader: ByteReader, label: str) -> float:
        return self._integer().decode(reader, label) / FIXED_POINT


@dataclass(frozen=True)
class Choice(_Scalar):
    """One of ``choices``, as its uvarint index."""

    key: str
    choices: tuple
    label: str = ""

    def encode(self, value: Any, label: str) -> bytes:
        if value not in self.choices:
            raise ValueError(f"{label} must be one of {self.choices}, got {value!r}")
        return encode_uvarint(self.choices.index(value))

    def decode(self, reader: ByteReader, label: str) -> Any:
        return self.choices[reader.uvarint(label, len(self.choices) - 1)]


@dataclass(frozen=True)
class Raw(_Scalar):
    """Exactly ``size`` bytes."""

    key: str
    size: int
    label: str = ""

    @property
    def min_bytes(self) -> int:
        return self.size

    def encode(self, value: Any, label: str) -> bytes:
        if not isinstance(value, bytes) or len(value) != self.size:
            raise ValueError(f"{label} must have {self.size} bytes")
        return value

    def decode(self, reader: ByteReader, label: str) -> bytes:
        return bytes(reader.take(self.size, label))


@dataclass(frozen=True)
class Ascii(_Scalar):
    """A name of at most ``max_bytes`` ASCII bytes: uvarint length, then the bytes."""

    key: str
    max_bytes: int
    label: str = ""

    def encode(self, value: Any, label: str) -> bytes:
        if not isinstance(value, str) or not value.isascii() or len(value) > self.max_bytes:
            raise ValueError(f"{label} must be ASCII of at most {self.max_bytes} bytes")
        return encode_uvarint(len(value)) + value.encode("ascii")

    def decode(self, reader: ByteReader, label: str) -> str:
        raw = bytes(reader.take(reader.uvarint(f"{label} length", self.max_bytes), label))
        if not raw.isascii():
            raise BitstreamError(f"{label}: not ASCII")
        return raw.decode("ascii")


class Tuple(_Scalar):
    """A tuple of ``len(entries)`` values, each written by its entry (own kind and limits,
    named ``name entry-name`` in errors)."""

    def __init__(self, key: str, *entries: _Scalar, label: str = ""):
        self.key, self.entries, self.label = key, entries, label
        self.min_bytes = sum(entry.min_bytes for entry in entries)

    def encode(self, value: Any, label: str) -> bytes:
        if not isinstance(value, tuple | list) or len(value) != len(self.entries):
            raise ValueError(f"{label} must be a sequence of {len(self.entries)} values")
        return b"".join(
            entry.encode(v, f"{label} {entry.name}")
            for entry, v in zip(self.entries, value, strict=True)
        )

    def decode(self, reader: ByteReader, label: str) -> tuple:
        return tuple(entry.decode(reader, f"{label} {entry.name}") for entry in self.entries)


class Counted:
    """A count within ``count``'s limits, then that many rows, each one entry of every
    column; each column's value is the tuple of its entries (all of the same length). The
    reader refuses a count of more rows than the bytes left can hold (`ByteReader.count`)."""

    def __init__(self, count: UInt, *columns: _Scalar):
        self.count, self.columns = count, columns
        self.row_bytes = sum(column.min_bytes for column in columns)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)

    def write(self, values: Values) -> bytes:
        lengths = {len(values[key]) for key in self.keys}
        if len(lengths) != 1:
            raise ValueError(f"{', '.join(self.keys)} must have the same length")
        rows = lengths.pop()
        out = [self.count.encode(rows, self.count.name)]
        for row in range(rows):
            out += [c.encode(values[c.key][row], f"{c.name}[{row}]") for c in self.columns]
        return b"".join(out)

    def read(self, reader: ByteReader, values: dict[str, Any]) -> None:
        count = self.count
        rows = reader.count(count.name, count.high, self.row_bytes, min_count=count.low)
        entries: list[list] = [[] for _ in self.columns]
        for row in range(rows):
            for column, entry in zip(self.columns, entries, strict=True):
                entry.append(column.decode(reader, f"{column.name}[{row}]"))
        values.update({c.key: tuple(e) for c, e in zip(self.columns, entries, strict=True)})


class Flags:
    """Several choices in one uvarint, the first in the least significant bits: ``parts``
    are ``(key, choices, bits)``, the code of a value its index; unused codes are reserved."""

    def __init__(self, label: str, *parts: tuple[str, tuple, int]):
        self.label, self.parts = label, parts

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.parts)

    def write(self, values: Values) -> bytes:
        code, shift = 0, 0
        for key, choices, bits in self.parts:
            if values[key] not in choices:
                raise ValueError(f"{key} must be one of {choices}, got {values[key]!r}")
            code |= choices.index(values[key]) << shift
            shift += bits
        return encode_uvarint(code)

    def read(self, reader: ByteReader, values: dict[str, Any]) -> None:
        code = reader.uvarint(self.label, 2 ** sum(bits for _, _, bits in self.parts) - 1)
        for key, choices, bits in self.parts:
            part, code = code & (2**bits - 1), code >> bits
            if part >= len(choices):
                raise BitstreamError(f"{key}: reserved code {part}")
            values[key] = choices[part]


class Table:
    """Fields in file order, and the `Check` rules across them, each applied by `read` right
    after the last of its fields (`checks_after`)."""

    def __init__(self, *fields: Field, checks: tuple[Check, ...] = ()):
        self.fields, self.checks = fields, checks
        self.keys = tuple(key for field in fields for key in field.keys)
        for check in checks:
            if not set(check.keys) <= set(self.keys):
                raise ValueError(f"a check reads {check.keys}, not all fields of the table")
        self.checks_after: list[tuple[Check, ...]] = []  # per field, the checks it completes
        known: set[str] = set()
        for field in fields:
            before = set(known)
            known.update(field.keys)
            self.checks_after.append(
                tuple(c for c in checks if set(c.keys) <= known and not set(c.keys) <= before)
            )

    def write(self, values: Values) -> bytes:
        """The fields' bytes; `ValueError` if a value breaks a limit or a check."""
        data = b"".join(field.write(values) for field in self.fields)
        for check in self.checks:
            if problem := check.rule(values):
                raise ValueError(problem)
        return data

    def read(self, reader: ByteReader, values: dict[str, Any]) -> None:
        """Read the fields into ``values``; `BitstreamError` as soon as a field breaks its
        limits or the fields read so far break a check."""
        for field, checks in zip(self.fields, self.checks_after, strict=True):
            field.read(reader, values)
            for check in checks:
                if problem := check.rule(values):
                    raise BitstreamError(problem)

    def parse(self, data: bytes | memoryview, what: str) -> dict[str, Any]:
        """The values of a section ``what`` that holds exactly these fields."""
        reader, values = ByteReader(data), {}
        self.read(reader, values)
        reader.expect_end(what)
        return values

    def values_of(self, obj: object) -> dict[str, Any]:
        """The table's values from the attributes of the same names of ``obj``."""
        return {key: getattr(obj, key) for key in self.keys}
