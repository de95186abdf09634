"""4:2:0 <-> 4:4:4 chroma resampling that honours the chroma siting.

Each axis is resampled on its own. On an axis where chroma samples are *co-sited* with the even
luma samples (horizontally for "left" and "topleft", vertically for "topleft") a chroma sample
``c[k]`` sits at luma position ``2k``; on a *half-phase* axis (vertically for "left", both axes
for "center") it sits at ``2k + 1/2``. Filters, with edge samples replicated:

- upsampling, linear interpolation at the right phase:
  co-sited ``x[2k] = c[k]``, ``x[2k+1] = (c[k] + c[k+1]) / 2``;
  half-phase ``x[2k] = (c[k-1] + 3 c[k]) / 4``, ``x[2k+1] = (3 c[k] + c[k+1]) / 4``;
- downsampling: co-sited ``c[k] = (x[2k-1] + 2 x[2k] + x[2k+1]) / 4``,
  half-phase ``c[k] = (x[2k] + x[2k+1]) / 2``.

Both keep constants everywhere and linear ramps away from the edges. Down after up is the
filter ``(c[k-1] + 6 c[k] + c[k+1]) / 8`` on either kind of axis (away from the edges). Results
are floating point (float32 for integer input); the caller rounds.
"""

from __future__ import annotations

import numpy as np

#: siting -> (co-sited horizontally, co-sited vertically); see `inrcodec.io.video.CHROMA_SITINGS`
COSITED_AXES = {"left": (True, False), "center": (False, False), "topleft": (True, True)}


def upsample_chroma(plane: np.ndarray, siting: str) -> np.ndarray:
    """``(..., h, w)`` chroma samples -> ``(..., 2h, 2w)`` at every luma position."""
    horizontal, vertical = COSITED_AXES[siting]
    wide = _upsample_rows(_as_float(plane), horizontal)
    return _upsample_rows(wide.swapaxes(-1, -2), vertical).swapaxes(-1, -2)


def downsample_chroma(plane: np.ndarray, siting: str) -> np.ndarray:
    """``(..., H, W)`` chroma at every luma position -> ``(..., H/2, W/2)`` 4:2:0 samples."""
    horizontal, vertical = COSITED_AXES[siting]
    narrow = _downsample_rows(_as_float(plane), horizontal)
    return _downsample_rows(narrow.swapaxes(-1, -2), vertical).swapaxes(-1, -2)


def _as_float(plane: np.ndarray) -> np.ndarray:
    return plane if plane.dtype.kind == "f" else plane.astype(np.float32)


def _upsample_rows(c: np.ndarray, cosited: bool) -> np.ndarray:
    """Double the last axis."""
    before = np.concatenate([c[..., :1], c[..., :-1]], axis=-1)  # c[k-1], c[-1] := c[0]
    after = np.concatenate([c[..., 1:], c[..., -1:]], axis=-1)  # c[k+1], c[K] := c[K-1]
    if cosited:
        even, odd = c, (c + after) / 2
    else:
        even, odd = (before + 3 * c) / 4, (3 * c + after) / 4
    return np.stack([even, odd], axis=-1).reshape(*c.shape[:-1], 2 * c.shape[-1])


def _downsample_rows(x: np.ndarray, cosited: bool) -> np.ndarray:
    """Halve the last axis (of even length)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    if cosited:
        before = np.concatenate([even[..., :1], odd[..., :-1]], axis=-1)  # x[2k-1], x[-1] := x[0]
        return (before + 2 * even + odd) / 4
    return (even + odd) / 2
