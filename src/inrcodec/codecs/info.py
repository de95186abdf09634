"""What ``inrcodec info`` shows of any inrcodec file: the container's video header and sections
(docs/bitstream.md section 2). Each codec's bitstream module has a ``describe`` that adds what
its own payload holds."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from inrcodec.coding import FORMAT_VERSION, Container, VideoHeader


def describe_container(data: bytes) -> dict:
    """The codec, video header, size, rate and section sizes of the file ``data``."""
    from inrcodec.metrics import bpp  # not at import: the metrics package loads its models

    container = Container.from_bytes(data)
    header = container.header
    return {
        "kind": "inrcodec bitstream",
        "format_version": FORMAT_VERSION,
        "codec": container.codec.name.lower(),
        "size": f"{header.width}x{header.height}",
        "frames": header.frame_count,
        "fps": str(Fraction(header.fps_num, header.fps_den)),
        "chroma": header.chroma_format,
        "bit_depth": header.bit_depth,
        "matrix": header.color_matrix,
        "range": header.color_range,
        "chroma_siting": header.chroma_siting,
        "bytes": len(data),
        "bpp": bpp(len(data), header.frame_count, header.height, header.width),
        "sections": ", ".join(f"{tag}: {len(payload)} B" for tag, payload in container.sections),
    }


def rate_table(sizes: Mapping[str, int], header: VideoHeader) -> dict[str, str]:
    """``{part: "N B, x bpp"}``: the bytes of each part of a file, and their rate."""
    pixels = header.frame_count * header.height * header.width
    return {part: f"{n} B, {8 * n / pixels:.5f} bpp" for part, n in sizes.items()}
