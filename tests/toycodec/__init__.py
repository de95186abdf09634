"""A fourth codec, added as docs/design.md says ("Adding a codec"): this package and one
registry entry (`ENTRY`), nothing in the command line, the API or the harness.

It quantises every plane with one step (the rate point) and entropy-codes the codes with
`inrcodec.coding.encode_smallest`, in a container of codec id TEST: a real, tiny file codec.
"""

from inrcodec.codecs import CodecEntry
from inrcodec.coding import CodecId

from .codec import (
    ToyCodec,
    decode,
    decode_frames,
    decode_memory,
    describe,
    encode,
    expected_frames,
    part_bytes,
    read_payload,
    write_payload,
)
from .command import DECODE_OPTIONS, ENCODE_OPTIONS, encode_options

#: The one registry line (tests add it with ``monkeypatch.setitem(CODECS, "toy", ENTRY)``).
ENTRY = CodecEntry("toycodec", "ToyCodec", CodecId.TEST)

__all__ = [
    "DECODE_OPTIONS",
    "ENCODE_OPTIONS",
    "ENTRY",
    "ToyCodec",
    "decode",
    "decode_frames",
    "decode_memory",
    "describe",
    "encode",
    "encode_options",
    "expected_frames",
    "part_bytes",
    "read_payload",
    "write_payload",
]
