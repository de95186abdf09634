"""`encode` and `decode`: the Python face of ``inrcodec encode`` / ``inrcodec decode``, for
every codec in `inrcodec.codecs.registry`.

``encode`` codes with the named codec (NVRC by default); ``decode`` reads any inrcodec file
and dispatches on the codec id in its container; ``decode_frames`` does the same but hands
the frames over as they are synthesised (a `VideoChunks`, for `inrcodec.io.write_video`).

As image libraries refuse decompression bombs, both check what a file asks for against two
limits before they read its payload, from its header and the sections that shape the decoder:
``max_pixels`` (`MAX_PIXELS` by default), the work; and ``max_memory`` (`MAX_MEMORY`), the
bytes the decoder needs at once (the codec's ``decode_memory``: its network and one frame's
synthesis; with ``decode``, the whole video it collects too). A decoder that runs out of
memory all the same raises `DecoderMemoryError`, which says how much it asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from inrcodec.coding import BitstreamError, Container, VideoHeader
from inrcodec.errors import allocation, is_out_of_memory
from inrcodec.io import Video, VideoChunks

from .base import CodecError, EncodeResult
from .header import format_of
from .registry import codec_module, module_for_file

#: The most pixels (frames x height x width) a file may ask the decoder to synthesise unless
#: the caller allows more: a 4K video of 12 000 frames. Every decoder synthesises three
#: full-resolution planes per pixel (4:2:0 chroma is subsampled after), so this bounds the
#: work and, written as it is synthesised, the output (at most 3e11 samples).
MAX_PIXELS = 10**11
#: The most bytes a file may need the decoder to hold at once unless the caller allows more.
#: Every preset decodes within it at the size it is made for (estimates, `decode_memory`): the
#: CPU presets at 4K need up to 12 GiB (NVRC's grid context), the papers' at 1080p 4 GiB
#: (NVRC-S1) to 17 GiB (NVRC-S4), whole frames being synthesised at once.
MAX_MEMORY = 32 * 2**30


class DecoderMemoryError(CodecError, MemoryError):
    """The decoder could not get the memory it asked for (the message says how much, for what
    video, and what the file's header let it expect)."""


def encode(video: Video, codec: str = "nvrc", **options: Any) -> EncodeResult:
    """Compress ``video`` with the codec registered as ``codec``; ``options`` are that codec's
    ``encode`` keywords: "nvrc" (`inrcodec.codecs.nvrc.codec.encode`: ``preset``, ``lam``,
    ``ablation``, ...) and "hinerv" (`inrcodec.codecs.hinerv.codec.encode`: ``preset``,
    ``bits``, ...), with training options (``steps``, ``space``, ``device``, ``seed``,
    ``run_dir``, ``resume``, ``progress``) for both; "teconerv"
    (`inrcodec.codecs.teconerv.codec.encode`: ``model``, ``bits``, ``residual``, ``overlap``,
    ``fusion``, ``resize``, ...), which trains nothing."""
    return codec_module(codec).encode(video.load(), **options)


def decode(
    data: bytes,
    *,
    device: str = "cpu",
    max_pixels: int | None = MAX_PIXELS,
    max_memory: int | None = MAX_MEMORY,
    **options: Any,
) -> Video:
    """Decode an inrcodec file (bytes) to a `Video` in the source's format; raises
    `BitstreamError` on malformed input, on a file of more than ``max_pixels`` pixels (frames x
    height x width) and on one whose decoding with the whole video collected needs more than
    ``max_memory`` bytes (None: no limit; `decode_frames` holds a frame at a time). ``options``:
    what the file's codec's decoder takes (its ``DECODE_OPTIONS``: a TeCoNeRV file's
    ``model``, by default the committed model the file names; the other codecs carry their
    whole network and take none)."""
    frames, header, need = _decode(data, device, max_pixels, max_memory, options, collect=True)
    with _memory_reported(header, need):
        return frames.collect()


def decode_frames(
    data: bytes,
    *,
    device: str = "cpu",
    max_pixels: int | None = MAX_PIXELS,
    max_memory: int | None = MAX_MEMORY,
    **options: Any,
) -> VideoChunks:
    """`decode`, with the frames synthesised as they are read: write them with
    `inrcodec.io.write_video` and memory holds one chunk, not the video (``max_memory`` bounds
    the network and one frame's synthesis). Malformed input raises `BitstreamError` here,
    before any frame is synthesised."""
    return _decode(data, device, max_pixels, max_memory, options, collect=False)[0]


def _decode(data, device, max_pixels, max_memory, options, collect: bool):
    """The frames of ``data`` as they are synthesised, once the limits are checked, with the
    header and the estimated need that `_memory_reported` names."""
    container = Container.from_bytes(data)
    header = container.header
    check_pixels(header, max_pixels)
    name, module = module_for_file(container.codec)
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - {option.dest for option in module.DECODE_OPTIONS})
    if unknown:
        raise CodecError(f"a {name} file's decoder takes no {', '.join(unknown)}")
    need = module.decode_memory(data)
    check_memory(header, need, max_memory, collect)
    with _memory_reported(header, need):
        chunks = module.decode_frames(data, device=device, **options)
    frames = VideoChunks(chunks.format, chunks.num_frames, _reported(chunks, header, need))
    return frames, header, need


def _reported(chunks: VideoChunks, header: VideoHeader, need: int) -> Iterator[Video]:
    with _memory_reported(header, need):
        yield from chunks


@contextmanager
def _memory_reported(header: VideoHeader, need: int):
    """Raise a failed allocation as a `DecoderMemoryError` that says what it was for."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        if isinstance(error, DecoderMemoryError) or not is_out_of_memory(error):
            raise
        raise DecoderMemoryError(
            f"out of memory decoding {header.frame_count} frames of {header.width}x"
            f"{header.height}: {asked(error)} (the file's header let the decoder expect to need "
            f"about {size(need)}); free some memory, or decode on a machine with more"
        ) from error


def check_pixels(header: VideoHeader, max_pixels: int | None) -> None:
    """Refuse, with a `BitstreamError`, a file whose header asks for more than ``max_pixels``
    pixels (frames x height x width; None: any number)."""
    if not _is_limit("max_pixels", max_pixels):
        return
    pixels = header.frame_count * header.height * header.width
    if pixels > max_pixels:
        raise BitstreamError(
            f"the file asks for {header.frame_count} frames of {header.width}x{header.height}, "
            f"{pixels:,} pixels, more than the decoder's limit of {max_pixels:,}; if you trust "
            "it, allow more (inrcodec decode --max-pixels N, or decode(..., max_pixels=N))"
        )


def _is_limit(name: str, value: int | None) -> bool:
    """Whether ``value`` sets a limit (None: no limit); a `CodecError` if it is no limit."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise CodecError(f"{name} must be a positive integer or None, got {value!r}")
    return value is not None


def video_bytes(header: VideoHeader) -> int:
    """The bytes of the video of ``header`` in memory (what `decode` collects)."""
    return header.frame_count * format_of(header).frame_bytes


def check_memory(header: VideoHeader, need: int, max_memory: int | None, collect: bool) -> None:
    """Refuse, with a `BitstreamError`, a file whose decoder needs more than ``max_memory``
    bytes at once (``need``, from its codec's ``decode_memory``; with ``collect``, the whole
    video too; None: any number)."""
    if not _is_limit("max_memory", max_memory):
        return
    video = video_bytes(header) if collect else 0
    if need + video <= max_memory:
        return
    limit = f"the decoder's limit of {size(max_memory)}"
    if need <= max_memory:
        raise BitstreamError(
            f"decode() collects the whole video, {header.frame_count} frames of {header.width}x"
            f"{header.height} in {size(video)}, which with the decoder's {size(need)} is more "
            f"than {limit}: decode_frames() hands the frames over as they are synthesised "
            "(write them with inrcodec.io.write_video), or allow more (decode(..., "
            "max_memory=N))"
        )
    raise BitstreamError(
        f"decoding this file needs about {size(need)} at once (estimated from its header, for "
        f"frames of {header.width}x{header.height}), more than {limit}; "
        "if you trust it, allow more (inrcodec decode --max-memory N, or decode(..., "
        "max_memory=N))"
    )


def asked(error: BaseException) -> str:
    """What a failed allocation asked for, in words."""
    count = allocation(error)
    return "could not get memory" if count is None else f"could not allocate {size(count)}"


def size(count: int) -> str:
    """A byte count in binary units: ``512 B``, ``3.5 MiB``, ``16.0 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
