"""Variable-length integers and a bounded byte reader (docs/design.md, "The bitstream";
docs/bitstream.md).

Unsigned integers are LEB128: 7 bits per byte, least significant group first, high bit set
on every byte but the last. Signed integers are zigzag-mapped first (0, -1, 1, -2, ... ->
0, 1, 2, 3, ...). Readers accept only the canonical (shortest) encoding of values below
2**64, so every valid file has exactly one byte representation.
"""

from __future__ import annotations

from .errors import BitstreamError

MAX_UVARINT = 2**64 - 1
_MAX_UVARINT_BYTES = 10  # ceil(64 / 7)


def encode_uvarint(value: int) -> bytes:
    """LEB128 bytes of an unsigned integer in [0, 2**64)."""
    if not 0 <= value <= MAX_UVARINT:
        raise ValueError(f"uvarint out of range [0, 2**64): {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(value: int) -> int:
    """Map a signed integer to an unsigned one: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ..."""
    return 2 * value if value >= 0 else -2 * value - 1


def unzigzag(value: int) -> int:
    """Inverse of :func:`zigzag`."""
    return value >> 1 if value % 2 == 0 else -((value + 1) >> 1)


def encode_svarint(value: int) -> bytes:
    """Zigzag + LEB128 bytes of a signed integer in [-2**63, 2**63)."""
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"svarint out of range [-2**63, 2**63): {value}")
    return encode_uvarint(zigzag(value))


class ByteReader:
    """Reads a byte string front to back, checking every step against the bytes left.

    Each method takes ``what``, a short name of the field being read, which appears in
    the :class:`BitstreamError` raised on truncated or invalid input.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = memoryview(data).cast("B")
        self.position = 0

    @property
    def remaining(self) -> int:
        """Number of bytes not yet read."""
        return len(self._data) - self.position

    def uvarint(self, what: str, max_value: int = MAX_UVARINT, *, min_value: int = 0) -> int:
        """Read a canonical LEB128 unsigned integer and check it lies in
        [min_value, max_value]."""
        value = 0
        for index in range(_MAX_UVARINT_BYTES):
            if self.position >= len(self._data):
                raise BitstreamError(f"{what}: truncated varint at byte {self.position}")
            byte = self._data[self.position]
            self.position += 1
            value |= (byte & 0x7F) << (7 * index)
            if byte < 0x80:
                if byte == 0 and index > 0:
                    raise BitstreamError(f"{what}: non-canonical (overlong) varint")
                if not min_value <= value <= max_value:
                    raise BitstreamError(f"{what}: {value} outside [{min_value}, {max_value}]")
                return value
        raise BitstreamError(f"{what}: varint longer than {_MAX_UVARINT_BYTES} bytes")

    def svarint(self, what: str, min_value: int, max_value: int) -> int:
        """Read a zigzag LEB128 signed integer and check it lies in [min_value, max_value]."""
        value = unzigzag(self.uvarint(what))
        if not min_value <= value <= max_value:
            raise BitstreamError(f"{what}: {value} outside [{min_value}, {max_value}]")
        return value

    def count(self, what: str, max_count: int, entry_bytes: int, *, min_count: int = 0) -> int:
        """Read the uvarint count of the entries that follow, each at least ``entry_bytes``
        bytes long: in [min_count, max_count], and no more than the remaining bytes hold."""
        count = self.uvarint(what, max_count, min_value=min_count)
        self.need(count * entry_bytes, f"{what} ({count} entries of {entry_bytes}+ bytes)")
        return count

    def need(self, size: int, what: str) -> None:
        """Raise unless at least ``size`` bytes remain (reads nothing): the check to make
        before allocating or looping for data that must still follow."""
        if size > self.remaining:
            raise BitstreamError(
                f"{what}: needs {size} bytes but only {self.remaining} remain "
                f"(at byte {self.position})"
            )

    def take(self, size: int, what: str) -> memoryview:
        """Return the next ``size`` bytes (a view, no copy)."""
        self.need(size, what)
        view = self._data[self.position : self.position + size]
        self.position += size
        return view

    def u32le(self, what: str) -> int:
        """Read a 4-byte little-endian unsigned integer."""
        return int.from_bytes(self.take(4, what), "little")

    def consumed_since(self, start: int) -> memoryview:
        """The bytes from offset ``start`` up to the current position (a view, no copy)."""
        return self._data[start : self.position]

    def rest(self) -> memoryview:
        """Return all remaining bytes (a view, no copy)."""
        return self.take(self.remaining, "rest")

    def expect_end(self, what: str) -> None:
        """Raise if any bytes are left over."""
        if self.remaining:
            raise BitstreamError(f"{what}: {self.remaining} unexpected trailing bytes")
