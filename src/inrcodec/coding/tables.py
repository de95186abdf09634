"""Versioned tables of entropy-model parameters (docs/design.md, "Entropy coding and
determinism"; docs/bitstream.md).

An entropy decoder only works if it computes bit-identical probability models to the
encoder. So the coder never sees a float that a network (or anything else) computed: it
sees integer indices, and this module turns indices into float64 parameters by one fixed,
platform-independent rule. The rule is versioned by :data:`TABLE_VERSION`, which every
entropy-coded payload records; changing any constant below means a new version.

Table version 1:

* scale (Gaussian standard deviation, or Laplace scale ``b``): index ``i`` in [0, 255],
  ``SCALE_TABLE[0] = 0.11`` and ``SCALE_TABLE[i] = SCALE_TABLE[i - 1] * 1.05`` in IEEE-754
  binary64 arithmetic (round to nearest even), i.e. log-uniform from 0.11 to about 2.79e4.
  The recurrence uses only correctly rounded multiplications, so every platform builds
  the same table; ``exp``/``pow`` from a maths library would not guarantee that.
* mean: index ``k`` in [-2**21, 2**21] -> ``k / 64`` (exact in binary64), i.e. a 1/64 grid
  on [-32768, 32768].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TABLE_VERSION = 1

SCALE_MIN = 0.11
SCALE_RATIO = 1.05
SCALE_TABLE_SIZE = 256

MEAN_STEP = 2.0**-6
MEAN_INDEX_LIMIT = 2**21


def _geometric_table(first: float, ratio: float, size: int) -> npt.NDArray[np.float64]:
    values = [first]
    for _ in range(size - 1):
        values.append(values[-1] * ratio)  # Python floats: IEEE-754 binary64 products
    table = np.array(values, dtype=np.float64)
    table.flags.writeable = False
    return table


SCALE_TABLE = _geometric_table(SCALE_MIN, SCALE_RATIO, SCALE_TABLE_SIZE)
# Geometric midpoints between neighbours: a scale maps to its nearest entry in log domain.
_SCALE_BOUNDARIES = np.sqrt(SCALE_TABLE[:-1] * SCALE_TABLE[1:])


def _as_float64(values, name: str) -> npt.NDArray[np.float64]:
    """Float64 numpy copy of a numpy array, torch tensor (any device) or scalar."""
    if hasattr(values, "detach"):  # torch.Tensor, without importing torch here
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any():
        raise ValueError(f"{name} contain NaN")
    return array


def _check_indices(indices, low: int, high: int, name: str) -> np.ndarray:
    """Return ``indices`` as an integer numpy array, raising ValueError unless all lie in
    [low, high]."""
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, got dtype {indices.dtype}")
    if indices.size and (indices.min() < low or indices.max() > high):
        raise ValueError(f"{name} must lie in [{low}, {high}]")
    return indices


def scale_indices(scales) -> npt.NDArray[np.int32]:
    """Index of the nearest :data:`SCALE_TABLE` entry in log domain, for each scale.

    Accepts numpy arrays, torch tensors or scalars. Scales below the first entry map to 0,
    above the last (including +inf) to 255; the map is monotone non-decreasing.
    """
    scales = _as_float64(scales, "scales")
    return np.searchsorted(_SCALE_BOUNDARIES, scales, side="left").astype(np.int32)


def mean_indices(means) -> npt.NDArray[np.int32]:
    """Index of the nearest point of the 1/64 mean grid (ties to even), clamped to
    [-MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT]. Accepts numpy arrays, torch tensors or scalars."""
    grid = np.rint(_as_float64(means, "means") / MEAN_STEP)
    return np.clip(grid, -MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT).astype(np.int32)


def scales_from_indices(indices) -> npt.NDArray[np.float64]:
    """Float64 scales for scale indices (bit-identical on every platform)."""
    indices = _check_indices(indices, 0, SCALE_TABLE_SIZE - 1, "scale indices")
    return np.take(SCALE_TABLE, indices)


def means_from_indices(indices) -> npt.NDArray[np.float64]:
    """Float64 means ``index / 64`` for mean indices (exact)."""
    indices = _check_indices(indices, -MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT, "mean indices")
    return indices.astype(np.float64) * MEAN_STEP
