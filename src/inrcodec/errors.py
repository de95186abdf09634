"""The root of inrcodec's exceptions for bad input.

Every package raises its own subclass (`VideoFormatError`, `BitstreamError`, `MetricError`,
`CodecError`, ...), all derived from `InrcodecError`, so callers and the CLI can tell a user's
mistake (a malformed file, an impossible request) from a bug with one ``except``;
`is_out_of_memory` tells a failed allocation, numpy's or torch's. Like `inrcodec.atomic`, this
module is a leaf that imports nothing from inrcodec (nor torch).
"""

from __future__ import annotations

import re


class InrcodecError(ValueError):
    """Input that inrcodec cannot process; the message says what is wrong."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation: a `MemoryError` (Python's, numpy's), or the
    `RuntimeError` of torch's CPU allocator or its ``torch.OutOfMemoryError`` (CUDA)."""
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text
    )


_UNITS = {
    unit: 1024**power for power, unit in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"))
}


def allocation(error: BaseException) -> int | None:
    """The bytes a failed allocation asked for, as its allocator says, else None."""
    text = str(error)
    if found := re.search(r"allocate (\d+) bytes", text):  # torch, on the CPU
        return int(found[1])
    if found := re.search(r"allocate (\d+(?:\.\d+)?) ([KMGTPE]iB|B)\b", text):  # numpy, CUDA
        return round(float(found[1]) * _UNITS[found[2]])
    return None
