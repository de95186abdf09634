"""Per-frame quality metrics on arrays: PSNR, SSIM and MS-SSIM.

Every function takes a reference and a distorted array with frames on the first axis and returns
one float64 value per frame. A sequence score is the mean of these per-frame values, the
convention of the NVRC and TeCoNeRV papers (and of HM/VTM's per-picture reports); see
docs/metrics.md for how that differs from ffmpeg's summary line.

Inputs may be numpy arrays (memory-mapped ones too) or torch tensors of any integer or float
dtype. They are processed a few frames at a time (`frame_chunks`), so a long sequence is never
converted to floating point all at once.

SSIM and MS-SSIM are computed as ``pytorch_msssim`` computes them (Gaussian window, valid
filtering, zero-padded average pooling between scales), in float64 numpy with scipy's
separable filters: several times faster on a CPU than its grouped convolutions, and without
loading torch. The two agree to 1e-7 (tested; pytorch_msssim builds its window in float32).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
from scipy.ndimage import correlate1d

from inrcodec.errors import InrcodecError

#: Per-frame PSNR is capped here, so identical frames (MSE 0) give a finite score that a mean over
#: frames or a BD-rate fit can use (x264 reports the same cap). ``max_db=None`` keeps ``inf``.
PSNR_MAX_DB = 100.0

#: SSIM of Wang et al. (2004): 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03
#: (pytorch_msssim's defaults).
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K = (0.01, 0.03)

#: MS-SSIM of Wang et al. (2003): five scales with these exponents, finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

#: Samples (over all channels) per chunk of frames. SSIM keeps about a dozen float64 maps of a
#: chunk alive, so this bounds its memory to a few hundred MB at any frame size.
_CHUNK_SAMPLES = 1 << 21
_CHUNK_MAX_FRAMES = 16


class MetricError(InrcodecError):
    """Inputs a metric cannot be computed on: mismatched videos, frames too small, no frames."""


def frame_chunks(num_frames: int, samples_per_frame: int) -> Iterator[slice]:
    """Consecutive frame ranges of at most 16 frames and about 2M samples each."""
    step = max(1, min(_CHUNK_MAX_FRAMES, _CHUNK_SAMPLES // max(1, samples_per_frame)))
    for start in range(0, num_frames, step):
        yield slice(start, min(start + step, num_frames))


def per_frame(
    frame_metric: Callable[[slice], np.ndarray], num_frames: int, samples_per_frame: int
) -> np.ndarray:
    """Evaluate ``frame_metric(frames)`` chunk by chunk and join the per-frame results.

    ``frame_metric`` returns an array whose first axis has one entry per frame of the range (it
    may carry several metrics as columns). Every metric in this package goes through here.
    """
    if num_frames == 0:
        raise MetricError("no frames to measure")
    chunks = [frame_metric(frames) for frames in frame_chunks(num_frames, samples_per_frame)]
    return np.concatenate(chunks).astype(np.float64, copy=False)


def psnr(ref, dist, peak: float, max_db: float | None = PSNR_MAX_DB) -> np.ndarray:
    """Per-frame PSNR in dB, ``10 log10(peak^2 / MSE)``, the MSE taken over all samples of a frame.

    ``peak`` is the largest code value: ``2**n - 1`` for n-bit integers (255, 1023), 1.0 for
    [0, 1] floats. Frames are axis 0; every other axis (height, width, channels) is averaged in
    the MSE. Identical frames give ``max_db`` (``inf`` when ``max_db`` is None).
    """
    ref, dist = _matching_arrays(ref, dist)

    def frame_psnr(frames: slice) -> np.ndarray:
        error = np.subtract(ref[frames], dist[frames], dtype=np.float64)
        mse = np.mean(np.square(error), axis=tuple(range(1, error.ndim)))
        with np.errstate(divide="ignore"):
            db = 20 * np.log10(float(peak)) - 10 * np.log10(mse)
        return db if max_db is None else np.minimum(db, max_db)

    return per_frame(frame_psnr, len(ref), math.prod(ref.shape[1:]))


def yuv_611(psnr_y, psnr_u, psnr_v):
    """Combine per-plane PSNRs with weights 6:1:1 (Y:U:V), as the NVRC paper and JVET do."""
    return (6 * psnr_y + psnr_u + psnr_v) / 8


def ssim(ref, dist, data_range: float) -> np.ndarray:
    """Per-frame SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, K = 0.01, 0.03).

    Frames are ``(T, H, W)`` (one channel) or ``(T, H, W, C)`` (channels last); SSIM is computed
    per channel and the channels are averaged with equal weight. ``data_range`` is the peak value
    (1.0 for [0, 1] floats, ``2**n - 1`` for n-bit codes); inputs are divided by it, so
    integer planes and their [0, 1] normalisation give the same score.
    """
    ref, dist = _matching_arrays(ref, dist)
    height, width = ref.shape[1:3]
    if min(height, width) < SSIM_WINDOW:
        raise MetricError(
            f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels "
            f"(its Gaussian window), got {width}x{height}"
        )

    def frame_ssim(frames: slice) -> np.ndarray:
        x, y = _image_batch(ref[frames], data_range), _image_batch(dist[frames], data_range)
        return _ssim_and_cs(x, y, _gaussian_window(SSIM_WINDOW))[0].mean(axis=1)

    return per_frame(frame_ssim, len(ref), math.prod(ref.shape[1:]))


def ms_ssim_window(height: int, width: int) -> int:
    """Gaussian window size MS-SSIM uses for frames of this size.

    Five scales halve the frame four times, and the window must fit the coarsest scale:
    ``min(height, width) > (window - 1) * 16``. That holds for the standard 11x11 window from
    161 px up; smaller frames get the largest odd window that fits (176x144 -> 9), with the same
    sigma of 1.5. Frames of 32 px or less on a side cannot be measured, even with a 3x3 window.
    """
    coarsest_factor = 2 ** (len(MS_SSIM_WEIGHTS) - 1)
    for window in range(SSIM_WINDOW, 1, -2):
        if min(height, width) > (window - 1) * coarsest_factor:
            return window
    raise MetricError(
        f"MS-SSIM needs frames larger than {2 * coarsest_factor} pixels on the shorter side "
        f"({len(MS_SSIM_WEIGHTS)} scales, 3x3 window), got {width}x{height}"
    )


def ms_ssim(ref, dist, data_range: float, window: int | None = None) -> np.ndarray:
    """Per-frame MS-SSIM (Wang et al. 2003; 5 scales, weights `MS_SSIM_WEIGHTS`).

    Shapes and ``data_range`` as for `ssim`; channels are averaged with equal weight. ``window``
    defaults to `ms_ssim_window` of the frame size (11 for frames above 160 px).
    """
    ref, dist = _matching_arrays(ref, dist)
    if window is None:
        window = ms_ssim_window(*ref.shape[1:3])

    def frame_ms_ssim(frames: slice) -> np.ndarray:
        x, y = _image_batch(ref[frames], data_range), _image_batch(dist[frames], data_range)
        gaussian = _gaussian_window(window)
        scales = []  # per scale, (n, C) values: contrast-structure, then SSIM at the coarsest
        for level in range(len(MS_SSIM_WEIGHTS)):
            ssim_values, cs = _ssim_and_cs(x, y, gaussian)
            if level < len(MS_SSIM_WEIGHTS) - 1:
                scales.append(np.maximum(cs, 0))
                x, y = _halve(x), _halve(y)
        scales.append(np.maximum(ssim_values, 0))
        weights = np.array(MS_SSIM_WEIGHTS)[:, None, None]
        return np.prod(np.stack(scales) ** weights, axis=0).mean(axis=1)

    return per_frame(frame_ms_ssim, len(ref), math.prod(ref.shape[1:]))


def _gaussian_window(size: int) -> np.ndarray:
    """The normalised 1-D Gaussian of `SSIM_SIGMA` over ``size`` taps."""
    coords = np.arange(size) - size // 2
    window = np.exp(-(coords**2) / (2 * SSIM_SIGMA**2))
    return window / window.sum()


def _blur(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Valid (unpadded) separable filtering of the last two axes by ``window``."""
    r = len(window) // 2
    x = correlate1d(x, window, axis=-1)[..., r : x.shape[-1] - r]
    return correlate1d(x, window, axis=-2)[..., r : x.shape[-2] - r, :]


def _ssim_and_cs(x: np.ndarray, y: np.ndarray, window: np.ndarray):
    """Per (frame, channel) of ``(n, C, H, W)`` batches in [0, 1]: the mean SSIM and the mean
    contrast-structure term, over the valid region (Wang et al. 2004)."""
    c1, c2 = SSIM_K[0] ** 2, SSIM_K[1] ** 2
    mu1, mu2 = _blur(x, window), _blur(y, window)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _blur(x * x, window) - mu1_sq
    sigma2_sq = _blur(y * y, window) - mu2_sq
    sigma12 = _blur(x * y, window) - mu12
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = (2 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.mean(axis=(-2, -1)), cs_map.mean(axis=(-2, -1))


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling, an odd side zero-padded by one on both ends (torch's
    ``avg_pool2d(x, 2, padding=side % 2)``, as pytorch_msssim scales down)."""
    h, w = x.shape[-2:]
    x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(h % 2, h % 2), (w % 2, w % 2)])
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    return (x[..., 0::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 4


def _matching_arrays(ref, dist) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as numpy arrays of the same shape (torch tensors are moved to the CPU)."""
    ref, dist = (
        x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x) for x in (ref, dist)
    )
    if ref.shape != dist.shape:
        raise MetricError(f"reference has shape {ref.shape}, distorted has shape {dist.shape}")
    if ref.ndim < 2:
        raise MetricError(f"expected frames on the first axis, got shape {ref.shape}")
    return ref, dist


def _image_batch(frames: np.ndarray, data_range: float) -> np.ndarray:
    """``(n, H, W)`` or ``(n, H, W, C)`` frames as a float64 ``(n, C, H, W)`` batch in [0, 1]."""
    if frames.ndim not in (3, 4):
        raise MetricError(f"expected frames of shape (T, H, W) or (T, H, W, C), got {frames.shape}")
    batch = np.asarray(frames, dtype=np.float64) / data_range
    batch = batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch)
