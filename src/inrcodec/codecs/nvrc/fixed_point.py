"""The deterministic arithmetic of NVRC's coding path (docs/nvrc.md, "Coding path").

An entropy decoder works only if it derives exactly the encoder's models. Training uses the
float models of `grid_coding`, `layer_coding` and `hierarchy`; the coding path recomputes
every entropy-model index from the decoded integers and float16 values by rules that give the
same bits on any IEEE-754 machine, with any thread count, on any device:

1. **Long sums are integer sums.** The context model's convolutions run on integers held in
   float64 with every partial sum below 2**53 (bounds below), so they are exact in any order:
   the encoder's batched convolution and the decoder's per-position matrix products agree.
2. **Everything else is elementwise**, in a fixed order of IEEE-754 basic operations (+, -,
   *, /, sqrt: correctly rounded everywhere) and exact ones (rounding to an integer, scaling
   by a power of two). No library exp, log or erf is called: `det_exp` is a fixed polynomial,
   and the GELU table's integers are pinned by a checksum in the tests.

Outputs are indices into `inrcodec.coding.tables` (version 1): means on the 1/64 grid, scales
on the 5 % log grid, which the coder turns into its models. `CODING_VERSION` names this
arithmetic and is written in every NVRC file; any change to a constant here is a new version.

**The fixed-point context model** (`grid_coding.FixedContextModel`, the coding twin of
`grid_coding.ContextModel`) is built from the functions below. Its weights are the coded phi
itself, integers ``q`` and one step ``s`` per tensor (``w = q s``), so no weight is rounded
again. Each layer sums ``q x`` exactly over its taps, then forms ``round((sum * s + b) *
2**16)``: activations carry `FRACTION_BITS` = 16 fractional bits (the first layer's inputs are
the integer symbols). Bounds: ``|q| <= 2**16``, input symbols ``|x| <= 2**20``, activations
``|a| < 4096``; the largest sum is then below 2**50. GELU is a table at 1/64 steps on [-8, 8]
with integer linear interpolation (identity above, zero below); LayerNorm is a fixed-order sum
of the deviations, then one correctly rounded square root and division per value. The float
model's LayerNorm epsilon (1e-5) is part of the spec.
"""

from __future__ import annotations

import hashlib
import math

import torch

from inrcodec.coding.tables import MEAN_INDEX_LIMIT, SCALE_TABLE_SIZE

CODING_VERSION = 1

FRACTION_BITS = 16
ONE = 2.0**FRACTION_BITS
WEIGHT_LIMIT = 2.0**16  # |q|
ACTIVATION_LIMIT = 4096 * ONE - 1
INPUT_LIMIT = 2.0**20
LAYER_NORM_EPS = 1e-5
MAX_WIDTH = 64  # context-model channels and kernel: bounds that keep every sum below 2**53
MAX_KERNEL = 7

SCALE_INDEX_LIMIT = SCALE_TABLE_SIZE - 1
LN_SCALE_MIN = -2.2072749131897207  # log(0.11), the first table scale
LN_SCALE_RATIO = 0.04879016416943205  # log(1.05), the table's ratio

# det_exp: exp(x) = 2**n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite, fdlibm's
# split of ln 2: n * LN2_HI is exact), exp(r) by its Taylor series to degree 12 (|r| <= 0.35,
# relative error below 2e-16).
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_EXP_COEFFICIENTS = [1.0 / math.factorial(k) for k in range(12, -1, -1)]


def det_exp(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)`` in float64 by a fixed sequence of basic operations (same bits everywhere);
    the argument is clamped to [-700, 700]."""
    x = x.double().clamp(-700.0, 700.0)
    n = torch.round(x * _LOG2E)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = torch.full_like(r, _EXP_COEFFICIENTS[0])
    for c in _EXP_COEFFICIENTS[1:]:
        p = p * r + c
    return p * ((n.long() + 1023) << 52).view(torch.float64)  # times 2**n, exactly


def tensor_mean_indices(mean: torch.Tensor) -> torch.Tensor:
    """Index of the nearest point of the 1/64 mean grid (ties to even); NaN maps to 0. The
    torch counterpart of `inrcodec.coding.tables.mean_indices`, on the training's tensors."""
    index = torch.round(torch.nan_to_num(mean.double(), nan=0.0) * 64.0)
    return index.clamp(-MEAN_INDEX_LIMIT, MEAN_INDEX_LIMIT).long()


def log_scale_indices(log_scale: torch.Tensor) -> torch.Tensor:
    """Index of the table scale nearest in log domain to ``exp(log_scale)`` (clamped to the
    table, so scales below 0.11 code as 0.11, as `gaussian_bits` assumes); NaN maps to 0.
    `inrcodec.coding.tables.scale_indices` takes the scale itself; this takes its logarithm,
    which is what NVRC's entropy parameters hold."""
    log_scale = torch.nan_to_num(log_scale.double(), nan=LN_SCALE_MIN)
    index = torch.floor((log_scale - LN_SCALE_MIN) / LN_SCALE_RATIO + 0.5)
    return index.clamp(0, SCALE_INDEX_LIMIT).long()


# ------------------------------------------------------------------- fixed-point functions


def _gelu_table() -> torch.Tensor:
    """``round(2**16 GELU(j / 64))`` for j in [-512, 512], as float64 integers."""
    values = [0.5 * (j / 64) * (1.0 + math.erf(j / 64 / math.sqrt(2.0))) for j in range(-512, 513)]
    return torch.round(torch.tensor(values, dtype=torch.float64) * ONE)


GELU_TABLE = _gelu_table()
_GELU_SHIFT = FRACTION_BITS - 6
_GELU_STEP = 1 << _GELU_SHIFT  # table spacing, in activation units (ONE / 64)
_GELU_INTEGERS = GELU_TABLE.long()
_GELU_RANGE = 8 * ONE


def gelu_table_checksum() -> str:
    """SHA-256 of the GELU table's integers (pinned by the tests: a platform whose ``erf``
    moved an entry would otherwise silently change the coding path)."""
    return hashlib.sha256(_GELU_INTEGERS.numpy().astype("<i8").tobytes()).hexdigest()


def fixed_gelu(a: torch.Tensor) -> torch.Tensor:
    """GELU of fixed-point integers (table with linear interpolation; exact integer ops, in
    int64: cell ``floor(a / 1024)`` is ``a >> 10``, the fraction ``a & 1023``)."""
    inside = a.clamp(-_GELU_RANGE, _GELU_RANGE - 1).long()
    cell = (inside >> _GELU_SHIFT) + 512
    low, high = _GELU_INTEGERS[cell], _GELU_INTEGERS[cell + 1]
    value = low + (((high - low) * (inside & (_GELU_STEP - 1))) >> _GELU_SHIFT)
    return torch.where(a >= _GELU_RANGE, a, torch.where(a < -_GELU_RANGE, 0.0, value.double()))


def fixed_layer_norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last dim (the channels; no affine) of fixed-point integers.

    With ``d_c = C x_c - sum x`` (exact), ``x_c - mean = d_c / C`` and ``var = sum d**2 / C**3``,
    so the normalised value in fixed point is ``2**16 d_c / sqrt(sum d**2 / C + eps 2**32 C**2)``.
    """
    channels = x.shape[-1]
    deviation = channels * x - channel_sum(x).unsqueeze(-1)
    eps = LAYER_NORM_EPS * ONE * ONE * channels * channels
    norm = torch.sqrt(channel_sum(deviation * deviation) / channels + eps)
    return torch.round(deviation * ONE / norm.unsqueeze(-1))


def channel_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the last dim by a fixed pairwise tree (zero-padded to a power of two): the
    same additions in the same order for any shape, so float results are reproducible."""
    width = 1 << (x.shape[-1] - 1).bit_length()
    if width != x.shape[-1]:
        x = torch.cat([x, x.new_zeros((*x.shape[:-1], width - x.shape[-1]))], dim=-1)
    while x.shape[-1] > 1:
        x = x[..., 0::2] + x[..., 1::2]
    return x[..., 0]


def activation(accumulator: torch.Tensor, scale, bias: torch.Tensor) -> torch.Tensor:
    """A layer's exact integer sums to fixed-point activations: ``round(sum * scale + bias)``
    (``scale``: the weight step, times 2**16 for the first layer; ``bias`` in fixed point)."""
    return torch.round(accumulator * scale + bias).clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)


def output_indices(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and scale indices from the last layer's two channels (last dim; symbol units)."""
    return tensor_mean_indices(output[..., 0] / ONE), log_scale_indices(output[..., 1] / ONE)


def hidden(a: torch.Tensor) -> torch.Tensor:
    """Between two convolutions: GELU, then the next block's LayerNorm."""
    return fixed_layer_norm(fixed_gelu(a))


def integer_split(values: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``(q, s)`` with ``values ~= q s``, ``s`` a power of two and ``|q| < 2**15``: the
    integer form of a weight tensor stored as float16 rather than coded (exact for float16
    values within 2**15 of the largest one's last bit)."""
    peak = values.double().abs().max()
    if peak == 0:
        return torch.zeros_like(values, dtype=torch.float64), 1.0
    exponent = int(torch.frexp(peak).exponent)
    step = 2.0 ** (exponent - 15)
    return torch.round(values.double() / step), step
