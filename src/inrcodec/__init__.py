"""inrcodec: neural video compression with implicit neural representations.

The top-level names are the public API; they are imported on first use (`inrcodec.lazy`), so
that ``import inrcodec`` (and the CLI) stays fast and does not load PyTorch until it is needed.
"""

from inrcodec.lazy import lazy_getattr

__version__ = "0.1.0"

_PUBLIC = {
    "Video": "io",
    "VideoFormat": "io",
    "VideoFormatError": "io",
    "read_video": "io",
    "write_video": "io",
    "convert_video": "io",
    "video_to_rgb": "io",
    "rgb_to_video": "io",
    "compare": "metrics",
    "MetricResult": "metrics",
    "MetricError": "metrics",
    "psnr": "metrics",
    "ssim": "metrics",
    "ms_ssim": "metrics",
    "bpp": "metrics",
    "kbps": "metrics",
    "BitstreamError": "coding",
    "InrcodecError": "errors",
    "get_codec": "bench.codecs",
    "encode": "codecs.api",
    "decode": "codecs.api",
}

__all__ = ["__version__", *_PUBLIC]
__getattr__ = lazy_getattr(__name__, _PUBLIC)
