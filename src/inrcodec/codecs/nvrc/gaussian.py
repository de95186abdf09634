"""NVRC's entropy models and their rates (Kwan et al. 2024, Sec. 3.1-3.3, App. A.1).

Every model is a Gaussian over *symbols* (scaled, rounded parameters ``round(theta / delta)``,
eq. 3), discretised to unit bins. Its mean and scale are in symbol units: a model stated for the
parameters themselves (value units, as eqs. 6-7 are) is divided by the step ``delta`` first,
which is what the paper means by the means and scales being "scaled by the quantisation scale".

`gaussian_bits` is the rate the coder will spend, per symbol: the scale is bounded to the coder's
table range ``[0.11, 2.8e4]`` (`inrcodec.coding.tables`), probabilities are floored at 2**-24
(constriction's precision), so training optimises what coding will produce.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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


def causal_mask(kernel: int, include_centre: bool) -> torch.Tensor:
    """``(1, 1, k, k, k)`` mask of the kernel taps before the centre in raster order (t, then
    h, then w), plus the centre itself if ``include_centre``; on the CPU even when the model
    is laid out on the meta device, so that the coded taps can be counted there."""
    taps = kernel**3
    centre = taps // 2
    mask = torch.arange(taps, device="cpu") < centre + int(include_centre)
    return mask.float().reshape(1, 1, kernel, kernel, kernel)


class ContextModel(nn.Module):
    """The masked-3D-convolution context model for one grid level (Sec. 3.1, App. A.1).

    Input: the symbols of the level in block layout (`inrcodec.quant.BlockLayout`),
    ``(N, 1, bt, bh, bw)``, one row per (block, channel) partition. Output: the mean and the
    log-scale, in symbol units, of every position, each ``(N, 1, bt, bh, bw)``.

    ``blocks`` blocks of [LayerNorm, masked 3-D conv (kernel k, zero padding), GELU], no GELU
    after the last; widths 1 -> width -> ... -> width -> 2. The open points of the paper are
    resolved as follows:

    - *Channels never mix* and the weights are **shared by all channels** of the level: a grid
      channel is just another batch row. The paper's "depth-wise" describes this independence;
      per-channel weights would multiply the model's coded parameters by the channel count
      (up to 64 at NVRC-S4's coarsest level) for channels that play interchangeable roles.
      (Either way the cost is 125 * (8 + 64 + 16) MACs per padded grid position, which gives
      Table 2's 25.2 G for S2 at 1080p exactly.)
    - *LayerNorm* normalises over the ``width`` hidden channels of each position, without
      affine parameters (the convolution that follows absorbs any per-channel affine map).
      The first block's input has one channel, where a LayerNorm would output zeros; it is
      left out there: the symbols are already normalised by the per-block step.
    - *Input*: the integer symbols (the scaled values ``theta / delta``), not the dequantised
      values. The decoder holds exactly these integers, so the coding path of the model can
      run in integer arithmetic; and because the step is constant within a partition, a model
      on symbols whose outputs are in symbol units is the paper's model on step-normalised
      values with its outputs scaled by the step.
    - *Causality*: the first convolution sees only positions strictly before the centre in
      raster order, later ones include the centre, so every output depends only on earlier
      positions of the same partition; zero padding keeps the context inside the partition,
      so all partitions of all levels decode in parallel.

    The last convolution starts at zero (mean 0, scale 1 symbol everywhere). Weights at taps
    outside the causal masks are zero and stay so; they are not part of the coded phi.
    """

    def __init__(self, width: int = 8, kernel: int = 5, blocks: int = 3, eps: float = 1e-5):
        super().__init__()
        if kernel % 2 == 0 or kernel < 3:
            raise ValueError("the context kernel must be odd and at least 3")
        if blocks < 1 or width < 1:
            raise ValueError("the context model needs at least one block and one channel")
        widths = [1] + [width] * (blocks - 1) + [2]
        self.convs = nn.ModuleList(
            nn.Conv3d(a, b, kernel, padding=kernel // 2)
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.register_buffer("mask_first", causal_mask(kernel, False), persistent=False)
        self.register_buffer("mask_rest", causal_mask(kernel, True), persistent=False)
        self.eps = eps
        with torch.no_grad():  # taps outside the mask do not exist: zero, never coded
            for i, conv in enumerate(self.convs):
                conv.weight.mul_(self.weight_mask(i))
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def weight_mask(self, index: int) -> torch.Tensor:
        """The causal taps of convolution ``index``, ``(1, 1, k, k, k)``."""
        return self.mask_first if index == 0 else self.mask_rest

    def forward(self, symbols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = symbols
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if i > 0:
                mean = x.mean(dim=1, keepdim=True)
                var = x.var(dim=1, unbiased=False, keepdim=True)
                x = (x - mean) * torch.rsqrt(var + self.eps)
            x = F.conv3d(x, conv.weight * self.weight_mask(i), conv.bias, padding=conv.padding)
            if i < last:
                x = F.gelu(x)
        return x[:, :1], x[:, 1:]
