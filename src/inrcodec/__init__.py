"""inrcodec: neural video compression with implicit neural representations.

The top-level names are the public API; they are imported on first use, so that
``import inrcodec`` (and the CLI) stays fast and does not load PyTorch until it is needed.
"""

from importlib import import_module

__version__ = "0.1.0"

_PUBLIC = {
    "Video": "inrcodec.io",
    "VideoFormat": "inrcodec.io",
    "VideoFormatError": "inrcodec.io",
    "read_video": "inrcodec.io",
    "write_video": "inrcodec.io",
    "convert_video": "inrcodec.io",
    "video_to_rgb": "inrcodec.io",
    "rgb_to_video": "inrcodec.io",
    "compare": "inrcodec.metrics",
    "MetricResult": "inrcodec.metrics",
    "MetricError": "inrcodec.metrics",
    "psnr": "inrcodec.metrics",
    "ssim": "inrcodec.metrics",
    "ms_ssim": "inrcodec.metrics",
    "bpp": "inrcodec.metrics",
    "kbps": "inrcodec.metrics",
    "BitstreamError": "inrcodec.coding",
    "InrcodecError": "inrcodec.errors",
    "get_codec": "inrcodec.bench.codecs",
    "encode": "inrcodec.codecs.api",
    "decode": "inrcodec.codecs.api",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
