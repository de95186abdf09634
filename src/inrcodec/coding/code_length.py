"""Ideal code lengths (-log2 p, in bits) of the models in :mod:`inrcodec.coding.entropy`.

These give the rate a perfect entropy coder would reach under exactly the models the coder
uses: the same table parameters, the same support [lowest, highest symbol] with the
continuous density renormalised to it, and probabilities floored at 2**-24, constriction's
smallest probability. The coded size exceeds their sum by the payload header, at most
about 64 bits of ANS termination, and constriction's 24-bit fixed-point approximation of
the model (well below 0.1% for typical scales). Float64 numpy; not differentiable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .entropy import Distribution, _model_family, _model_parameters

_MIN_PROBABILITY = 2.0**-24  # constriction's DefaultAnsCoder precision


def information_content(
    symbols: npt.ArrayLike,
    mean_index: npt.ArrayLike,
    scale_index: npt.ArrayLike,
    distribution: Distribution = "gaussian",
) -> npt.NDArray[np.float64]:
    """Bits ``-log2 p(symbol)`` per symbol under :func:`~inrcodec.coding.encode_quantized`'s
    model, same arguments; returns a float64 array of ``symbols.shape``."""
    _model_family(distribution)  # validates the name
    symbols = np.asarray(symbols)
    if symbols.size == 0:
        return np.zeros(symbols.shape)
    means, scales = _model_parameters(mean_index, scale_index, symbols.shape)
    values = symbols.ravel().astype(np.float64)
    upper_tail = _UPPER_TAILS[distribution]
    mass = _interval_mass(values - 0.5, values + 0.5, means, scales, upper_tail)
    support = _interval_mass(symbols.min() - 0.5, symbols.max() + 0.5, means, scales, upper_tail)
    # A support with no mass in float64 (model far outside it) leaves only the floor.
    probability = np.maximum(
        mass / np.maximum(support, np.finfo(np.float64).tiny), _MIN_PROBABILITY
    )
    return -np.log2(probability).reshape(symbols.shape)


def histogram_information_content(symbols: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Bits ``-log2(count(symbol) / n)`` per symbol under the empirical histogram that
    :func:`~inrcodec.coding.encode_histogram` stores (the histogram itself not included)."""
    symbols = np.asarray(symbols)
    if symbols.size == 0:
        return np.zeros(symbols.shape)
    _, inverse, counts = np.unique(symbols.ravel(), return_inverse=True, return_counts=True)
    return np.log2(symbols.size / counts[inverse]).reshape(symbols.shape)


def _interval_mass(lower, upper, means, scales, upper_tail):
    """P(lower < X < upper) for X = mean + scale * Z, computed on whichever side of the
    mean avoids cancellation (difference of two small upper tails)."""
    lower = (lower - means) / scales
    upper = (upper - means) / scales
    right_side = lower + upper >= 0
    return np.where(
        right_side,
        upper_tail(lower) - upper_tail(upper),
        upper_tail(-upper) - upper_tail(-lower),
    )


def _gaussian_upper_tail(z: np.ndarray) -> np.ndarray:
    """P(Z > z) for a standard normal Z (torch's float64 erfc: numpy has none).

    torch is imported here, not at module level, so that reading a bitstream stays light."""
    import torch

    return 0.5 * torch.special.erfc(torch.from_numpy(z / np.sqrt(2.0))).numpy()


def _laplace_upper_tail(z: np.ndarray) -> np.ndarray:
    """P(Z > z) for a standard Laplace Z (scale 1)."""
    half_exp = 0.5 * np.exp(-np.abs(z))
    return np.where(z >= 0, half_exp, 1.0 - half_exp)


_UPPER_TAILS = {"gaussian": _gaussian_upper_tail, "laplace": _laplace_upper_tail}
