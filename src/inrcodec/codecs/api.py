"""`encode` and `decode`: the Python face of ``inrcodec encode`` / ``inrcodec decode``, for
every codec in `inrcodec.codecs.registry`.

``encode`` codes with the named codec (NVRC by default); ``decode`` reads any inrcodec file
and dispatches on the codec id in its container; ``decode_frames`` does the same but hands
the frames over as they are synthesised (a `VideoChunks`, for `inrcodec.io.write_video`).

Both refuse a file that asks for more than ``max_pixels`` pixels (`MAX_PIXELS` by default),
as image libraries refuse decompression bombs: the check reads only the container's header,
so a small file cannot make the decoder work for hours unless the caller allows it.
"""

from __future__ import annotations

from typing import Any

from inrcodec.coding import BitstreamError, Container, VideoHeader
from inrcodec.io import Video, VideoChunks

from .base import CodecError, EncodeResult
from .registry import codec_module, module_for_file

#: The most pixels (frames x height x width) a file may ask the decoder to synthesise unless
#: the caller allows more: a 4K video of 12 000 frames. Every decoder synthesises three
#: full-resolution planes per pixel (4:2:0 chroma is subsampled after), so this bounds the
#: work and, written as it is synthesised, the output (at most 3e11 samples).
MAX_PIXELS = 10**11


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
    data: bytes, *, device: str = "cpu", max_pixels: int | None = MAX_PIXELS, **options: Any
) -> Video:
    """Decode an inrcodec file (bytes) to a `Video` in the source's format; raises
    `BitstreamError` on malformed input, and on a file of more than ``max_pixels`` pixels
    (frames x height x width; None: no limit). ``options``: what the file's codec's decoder
    takes (its ``DECODE_OPTIONS``: a TeCoNeRV file's ``model``, by default the committed model
    the file names; the other codecs carry their whole network and take none)."""
    return decode_frames(data, device=device, max_pixels=max_pixels, **options).collect()


def decode_frames(
    data: bytes, *, device: str = "cpu", max_pixels: int | None = MAX_PIXELS, **options: Any
) -> VideoChunks:
    """`decode`, with the frames synthesised as they are read: write them with
    `inrcodec.io.write_video` and memory holds one chunk, not the video. Malformed input
    raises `BitstreamError` here, before any frame is synthesised."""
    container = Container.from_bytes(data)
    check_pixels(container.header, max_pixels)
    name, module = module_for_file(container.codec)
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - {option.dest for option in module.DECODE_OPTIONS})
    if unknown:
        raise CodecError(f"a {name} file's decoder takes no {', '.join(unknown)}")
    return module.decode_frames(data, device=device, **options)


def check_pixels(header: VideoHeader, max_pixels: int | None) -> None:
    """Refuse, with a `BitstreamError`, a file whose header asks for more than ``max_pixels``
    pixels (frames x height x width; None: any number)."""
    if max_pixels is None:
        return
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise CodecError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    pixels = header.frame_count * header.height * header.width
    if pixels > max_pixels:
        raise BitstreamError(
            f"the file asks for {header.frame_count} frames of {header.width}x{header.height}, "
            f"{pixels:,} pixels, more than the decoder's limit of {max_pixels:,}; if you trust "
            "it, allow more (inrcodec decode --max-pixels N, or decode(..., max_pixels=N))"
        )
