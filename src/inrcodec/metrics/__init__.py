"""Quality and rate metrics with the papers' conventions (docs/metrics.md).

- `compare`: two `Video` values, in RGB (BT.601, as NVRC) or native YUV (6:1:1 PSNR, as NVRC
  and JVET), returning a `MetricResult` of per-frame values and their means over frames.
- `psnr`, `ssim`, `ms_ssim`: the same metrics on arrays with frames first, one value per frame.
- `bpp`, `kbps`: rate from a byte count.
"""

from inrcodec.metrics.compare import SPACES, MetricResult, compare
from inrcodec.metrics.quality import (
    PSNR_MAX_DB,
    MetricError,
    ms_ssim,
    ms_ssim_window,
    psnr,
    ssim,
    yuv_611,
)
from inrcodec.metrics.rate import bpp, kbps

__all__ = [
    "PSNR_MAX_DB",
    "SPACES",
    "MetricError",
    "MetricResult",
    "bpp",
    "compare",
    "kbps",
    "ms_ssim",
    "ms_ssim_window",
    "psnr",
    "ssim",
    "yuv_611",
]
