"""Compare two `Video` values with the papers' metrics, in RGB or in native YUV.

``compare(ref, dist, "rgb")`` converts both videos to [0, 1] RGB (BT.601 by default, as the NVRC
paper) and reports PSNR, SSIM and MS-SSIM per frame; ``compare(ref, dist, "yuv")`` measures the
native integer planes: PSNR per plane with peak ``2**n - 1``, their 6:1:1 combination, and SSIM and
MS-SSIM on Y. Sequence scores are means over frames of the per-frame values (docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inrcodec.io.colour import video_to_rgb
from inrcodec.io.video import Video
from inrcodec.metrics.quality import (
    PSNR_MAX_DB,
    MetricError,
    ms_ssim,
    ms_ssim_window,
    per_frame,
    psnr,
    ssim,
    yuv_611,
)

SPACES = ("rgb", "yuv")
_CHROMA_NAMES = {"420": "4:2:0", "444": "4:4:4", "rgb": "RGB"}


@dataclass(frozen=True)
class MetricResult:
    """Per-frame metrics of one comparison and their means over frames.

    ``per_frame`` maps a metric name to one float64 value per frame: ``psnr``, ``ssim``,
    ``ms_ssim`` for RGB; ``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr_yuv`` (6:1:1), ``ssim_y``,
    ``ms_ssim_y`` for YUV. ``ms_ssim_window`` is the Gaussian window MS-SSIM used (11 unless the
    frame is 160 px or smaller, see `ms_ssim_window`); ``matrix`` is the YUV-to-RGB matrix of an
    RGB comparison (None: each video's own; always None for YUV).
    """

    space: str
    per_frame: dict[str, np.ndarray]
    ms_ssim_window: int
    matrix: str | None
    psnr_max_db: float | None

    @property
    def num_frames(self) -> int:
        return len(next(iter(self.per_frame.values())))

    @property
    def means(self) -> dict[str, float]:
        """Mean over frames of each per-frame metric: the number a paper reports."""
        return {name: float(np.mean(values)) for name, values in self.per_frame.items()}

    def to_dict(self) -> dict:
        """Plain Python values for JSON: settings, means and per-frame lists."""
        return {
            "space": self.space,
            "frames": self.num_frames,
            "matrix": self.matrix,
            "ms_ssim_window": self.ms_ssim_window,
            "psnr_max_db": self.psnr_max_db,
            "mean": self.means,
            "per_frame": {name: values.tolist() for name, values in self.per_frame.items()},
        }


def compare(
    ref: Video,
    dist: Video,
    space: str = "rgb",
    *,
    matrix: str | None = "bt601",
    max_db: float | None = PSNR_MAX_DB,
) -> MetricResult:
    """Measure ``dist`` against ``ref`` frame by frame.

    ``space="rgb"``: both videos go through `inrcodec.io.colour.video_to_rgb` with ``matrix``
    (``"bt601"`` as in the NVRC paper, ``"bt709"``, or None for each video's own tag); they may
    differ in chroma format and bit depth. ``space="yuv"``: both must have the same chroma format
    and bit depth, and be Y'CbCr. Per-frame PSNR is capped at ``max_db`` (None: no cap).
    Raises `MetricError` when the videos cannot be compared.
    """
    _check_comparable(ref, dist, space)
    window = ms_ssim_window(ref.height, ref.width)
    if space == "rgb":
        per_frame_metrics = _rgb_metrics(ref, dist, matrix, window, max_db)
    else:
        per_frame_metrics = _yuv_metrics(ref, dist, window, max_db)
        matrix = None
    return MetricResult(space, per_frame_metrics, window, matrix, max_db)


def _rgb_metrics(ref, dist, matrix, window, max_db) -> dict[str, np.ndarray]:
    """PSNR over all three channels jointly, SSIM and MS-SSIM averaged over channels."""

    def frame_metrics(frames: slice) -> np.ndarray:
        x = video_to_rgb(ref, frames, matrix=matrix)
        y = video_to_rgb(dist, frames, matrix=matrix)
        return np.stack(
            [psnr(x, y, 1.0, max_db), ssim(x, y, 1.0), ms_ssim(x, y, 1.0, window)], axis=1
        )

    columns = per_frame(frame_metrics, ref.num_frames, 3 * ref.width * ref.height)
    return dict(zip(("psnr", "ssim", "ms_ssim"), columns.T, strict=True))


def _yuv_metrics(ref, dist, window, max_db) -> dict[str, np.ndarray]:
    """PSNR per native plane with peak 2^n - 1, combined 6:1:1; SSIM and MS-SSIM on Y."""
    peak = ref.format.peak
    psnr_y, psnr_u, psnr_v = (
        psnr(a, b, peak, max_db) for a, b in zip(ref.planes, dist.planes, strict=True)
    )
    y_ref, y_dist = ref.planes[0], dist.planes[0]
    return {
        "psnr_y": psnr_y,
        "psnr_u": psnr_u,
        "psnr_v": psnr_v,
        "psnr_yuv": yuv_611(psnr_y, psnr_u, psnr_v),
        "ssim_y": ssim(y_ref, y_dist, peak),
        "ms_ssim_y": ms_ssim(y_ref, y_dist, peak, window),
    }


def _check_comparable(ref: Video, dist: Video, space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    a, b = ref.format, dist.format
    if (a.width, a.height) != (b.width, b.height):
        raise MetricError(f"reference is {a.width}x{a.height}, distorted is {b.width}x{b.height}")
    if ref.num_frames != dist.num_frames:
        raise MetricError(f"reference has {ref.num_frames} frames, distorted has {dist.num_frames}")
    if ref.num_frames == 0:
        raise MetricError("the videos have no frames")
    if space == "yuv":
        for video, role in ((ref, "reference"), (dist, "distorted")):
            if video.format.chroma == "rgb":
                raise MetricError(f"YUV metrics need Y'CbCr video; the {role} is RGB")
        if a.chroma != b.chroma:
            raise MetricError(
                f"reference is {_CHROMA_NAMES[a.chroma]}, distorted is {_CHROMA_NAMES[b.chroma]}"
            )
        if a.bit_depth != b.bit_depth:
            raise MetricError(
                f"reference is {a.bit_depth}-bit, distorted is {b.bit_depth}-bit; "
                "YUV PSNR compares code values, so convert one of them first"
            )
