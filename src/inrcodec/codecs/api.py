"""`encode` and `decode`: the Python face of ``inrcodec encode`` / ``inrcodec decode``, for
every codec in `inrcodec.codecs.registry`.

``encode`` codes with the named codec (NVRC by default); ``decode`` reads any inrcodec file
and dispatches on the codec id in its container; ``decode_frames`` does the same but hands
the frames over as they are synthesised (a `VideoChunks`, for `inrcodec.io.write_video`).
"""

from __future__ import annotations

from typing import Any

from inrcodec.coding import Container
from inrcodec.io import Video, VideoChunks

from .base import CodecError, EncodeResult
from .registry import codec_module, module_for_file


def encode(video: Video, codec: str = "nvrc", **options: Any) -> EncodeResult:
    """Compress ``video`` with the codec registered as ``codec``; ``options`` are that codec's
    ``encode`` keywords: "nvrc" (`inrcodec.codecs.nvrc.codec.encode`: ``preset``, ``lam``,
    ``ablation``, ...) and "hinerv" (`inrcodec.codecs.hinerv.codec.encode`: ``preset``,
    ``bits``, ...), with training options (``steps``, ``space``, ``device``, ``seed``,
    ``run_dir``, ``resume``, ``progress``) for both; "teconerv"
    (`inrcodec.codecs.teconerv.codec.encode`: ``model``, ``bits``, ``residual``, ``overlap``,
    ``fusion``, ``resize``, ...), which trains nothing."""
    return codec_module(codec).encode(video.load(), **options)


def decode(data: bytes, *, device: str = "cpu", **options: Any) -> Video:
    """Decode an inrcodec file (bytes) to a `Video` in the source's format; raises
    `BitstreamError` on malformed input. ``options``: what the file's codec's decoder takes
    (its ``DECODE_OPTIONS``: a TeCoNeRV file's ``model``, by default the committed model the
    file names; the other codecs carry their whole network and take none)."""
    return decode_frames(data, device=device, **options).collect()


def decode_frames(data: bytes, *, device: str = "cpu", **options: Any) -> VideoChunks:
    """`decode`, with the frames synthesised as they are read: write them with
    `inrcodec.io.write_video` and memory holds one chunk, not the video. Malformed input
    raises `BitstreamError` here, before any frame is synthesised."""
    name, module = module_for_file(Container.from_bytes(data).codec)
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - {option.dest for option in module.DECODE_OPTIONS})
    if unknown:
        raise CodecError(f"a {name} file's decoder takes no {', '.join(unknown)}")
    return module.decode_frames(data, device=device, **options)
