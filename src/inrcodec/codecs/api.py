"""`encode` and `decode`: the Python face of ``inrcodec encode`` / ``inrcodec decode``.

``encode`` trains and codes with the named codec (NVRC by default); ``decode`` reads any
inrcodec file and dispatches on the codec id in its container.
"""

from __future__ import annotations

from typing import Any

from inrcodec.coding import BitstreamError, CodecId, Container
from inrcodec.io import Video

from .base import CodecError

NEURAL = {"nvrc": CodecId.NVRC, "hinerv": CodecId.HINERV, "teconerv": CodecId.TECONERV}


def encode(video: Video, codec: str = "nvrc", **options: Any):
    """Compress ``video``: ``codec`` "nvrc" (`inrcodec.codecs.nvrc.codec.encode`: ``preset``,
    ``lam``, ``ablation``, ...) or "hinerv" (`inrcodec.codecs.hinerv.codec.encode`:
    ``preset``, ``bits``, ...), with training options (``steps``, ``space``, ``device``,
    ``seed``, ``run_dir``, ``resume``, ``progress``) for both; or "teconerv"
    (`inrcodec.codecs.teconerv.codec.encode`: ``model``, ``bits``, ``residual``, ``overlap``,
    ``fusion``, ``resize``, ...), which trains nothing. The result's ``bitstream`` is the file,
    its ``reconstruction`` the decoder's output."""
    return _module(codec).encode(video.load(), **options)


def decode(data: bytes, *, device: str = "cpu", model: Any = None) -> Video:
    """Decode an inrcodec file (bytes) to a `Video` in the source's format; raises
    `BitstreamError` on malformed input. ``model``: a TeCoNeRV file's model (default: the
    committed model the file names); other codecs carry their whole network."""
    codec = Container.from_bytes(data).codec
    name = next((n for n, i in NEURAL.items() if i == codec), None)
    if name is None:
        raise BitstreamError(f"no decoder for codec {codec.name.lower()}")
    if name == "teconerv":
        return _module(name).decode(data, device=device, model=model)
    if model is not None:
        raise CodecError(f"a {name} file holds its whole network: it takes no model")
    return _module(name).decode(data, device=device)


def _module(codec: str):
    if codec == "nvrc":
        from .nvrc import codec as module
    elif codec == "hinerv":
        from .hinerv import codec as module
    elif codec == "teconerv":
        from .teconerv import codec as module
    else:
        raise CodecError(f"unknown codec {codec!r}; choose from {', '.join(NEURAL)}")
    return module
