"""The discretised Gaussian that all of NVRC's entropy models are (Kwan et al. 2024, Sec.
3.1-3.3, App. A.1), and its rate in training.

Every model is a Gaussian over *symbols* (scaled, rounded parameters ``round(theta / delta)``,
eq. 3), discretised to unit bins. Its mean and scale are in symbol units: a model stated for the
parameters themselves (value units, as eqs. 6-7 are) is divided by the step ``delta`` first,
which is what the paper means by the means and scales being "scaled by the quantisation scale".

`gaussian_bits` is the rate the coder will spend, per symbol: the scale is bounded to the coder's
table range ``[0.11, 2.8e4]`` (`inrcodec.coding.tables`), probabilities are floored at 2**-24
(constriction's precision), so training optimises what coding will produce. On the coding
path the models are index arrays into the coder's tables (`encode_stream`, `decode_stream`).
"""

from __future__ import annotations

import numpy as np
import torch

from inrcodec.coding import QuantizedDecoder, encode_quantized
from inrcodec.coding.tables import SCALE_MIN, SCALE_TABLE

SCALE_MAX = float(SCALE_TABLE[-1])
MIN_PROBABILITY = 2.0**-24


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)``; the gradient passes where ``x >= bound`` or where it pushes x up
    (Ballé et al.'s lower bound), so a scale stuck at the bound can still grow."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes, None


def bounded_scale(scale: torch.Tensor) -> torch.Tensor:
    """A scale restricted to the coder's table range, with a pass-through lower bound."""
    return _LowerBound.apply(scale, SCALE_MIN).clamp_max(SCALE_MAX)


def gaussian_bits(symbols: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``-log2 P(symbol)`` per element under N(mean, scale) integrated over the unit bin.

    ``P = Phi((1/2 - |s - m|) / scale) - Phi((-1/2 - |s - m|) / scale)``: by symmetry of the
    Gaussian both terms sit in the lower tail, which keeps precision far from the mean.
    """
    scale = bounded_scale(scale)
    distance = (symbols - mean).abs()
    upper = _lower_tail((0.5 - distance) / scale)
    lower = _lower_tail((-0.5 - distance) / scale)
    return -torch.log2((upper - lower).clamp_min(MIN_PROBABILITY))


def _lower_tail(z: torch.Tensor) -> torch.Tensor:
    """``Phi(z)`` as ``erfc(-z / sqrt 2) / 2``: accurate in float32 deep into the lower tail,
    where torch's ``ndtr`` (through ``erf``) loses everything below about 3e-8."""
    return 0.5 * torch.special.erfc(-z * 0.7071067811865476)


def initial_std(value: torch.Tensor) -> float:
    """The spread a model starts from: the standard deviation of ``value``; 0 for a single
    value, and on the meta device, where a model is only laid out."""
    if value.is_meta or value.numel() < 2:
        return 0.0
    return float(value.detach().float().std())


def encode_stream(symbols: list, means: list, scales: list) -> bytes:
    """One quantised payload of the concatenated ``symbols`` under the concatenated mean and
    scale indices (lists of int32 arrays, possibly empty)."""
    if not symbols:
        return encode_quantized(np.zeros(0, np.int32), 0, 0)
    return encode_quantized(np.concatenate(symbols), np.concatenate(means), np.concatenate(scales))


def decode_stream(data: bytes, means: list, scales: list) -> np.ndarray:
    """Inverse of `encode_stream`: exactly as many symbols as the index arrays hold, the
    payload proving that count (`QuantizedDecoder.finish`)."""
    count = sum(len(m) for m in means)
    decoder = QuantizedDecoder(data, count)
    if not count:
        decoder.finish()
        return np.zeros(0, np.int32)
    symbols = decoder.decode(np.concatenate(means), np.concatenate(scales))
    decoder.finish()
    return symbols
