"""Model compression of HiNeRV (Kwan et al. 2023, Sec. 3.4), as its reference code does it:
magnitude pruning, Quant-Noise fine-tuning, per-channel quantisation.

Facts taken from the reference (github.com/hmkx/HiNeRV, ``compression/*_utils.py``, MIT):

* **Pruning** targets the weights of the linear and convolution layers (not the feature
  grids, not biases). It is *global*: one threshold over all targets on the score
  ``|w| / n_layer**0.5`` (``--prune-weight 0.5``: a weight of a big layer must be larger to
  survive), and it removes ``int(ratio * P)`` weights, where ``P`` counts *every* coded
  parameter (grids and biases too); ``--prune-ratio 0.15``. The mask is a parametrization
  (`PruneMask`) kept during both fine-tuning stages, so pruned weights stay zero.
* **Quant-Noise** (Fan et al. 2021; ``--quant-noise 0.9``): in training mode, a random
  fraction ``p`` of the entries of every weight and grid are replaced by their quantised
  values, with a straight-through gradient; in eval mode the weights pass unchanged.
* **Quantisation** is symmetric, per channel along `quant_axis` (the longest axis with more
  than 20 entries; one step per tensor otherwise): ``step = 2 max|w| / (2**n - 1)``,
  ``q = clamp(round(w / step), -2**(n-1), 2**(n-1) - 1)``. The reference stores the step in
  float16 but dequantises with the float32 one at the encoder; here the step is rounded
  *up* to float16 first and used by both sides, so encoder and decoder agree exactly and
  ``|w - q step| <= step / 2`` still holds. Every tensor of 2+ dimensions is quantised;
  1-D tensors (biases) are kept in float16, as the reference.

Parametrizations (`torch.nn.utils.parametrize`) rather than `torch.nn.utils.prune` hooks:
prune's forward pre-hook turns ``weight`` into a plain attribute, and Quant-Noise could not
be chained on it; two parametrizations chain (mask first, then noise).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .bitstream import QuantizedTensor, quant_axis

PRUNE_TARGETS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# ----------------------------------------------------------------------------- quantisation


def quantization_steps(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-channel float16 steps of ``x`` (a 1-D tensor along `quant_axis`, one entry if
    None), rounded up so that no value needs clamping by more than half a step."""
    axis = quant_axis(tuple(x.shape))
    x = x.detach().float()
    if axis is None:
        peak = x.abs().max().reshape(1)
    else:
        peak = x.abs().movedim(axis, 0).reshape(x.shape[axis], -1).max(dim=1).values
    step = 2 * peak / (2**bits - 1)
    half = step.half()
    half = torch.where(
        half.float() < step, torch.nextafter(half, torch.full_like(half, 65504)), half
    )
    return torch.where((half > 0) & torch.isfinite(half), half, torch.ones_like(half))


def _broadcast(steps: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    axis = quant_axis(shape)
    view = [1] * len(shape)
    if axis is not None:
        view[axis] = -1
    return steps.float().reshape(view)


def quantize(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(symbols int32, steps float16)`` of ``x`` (see the module docstring)."""
    steps = quantization_steps(x, bits)
    q = torch.round(x.detach().float() / _broadcast(steps, tuple(x.shape)))
    q = q.clamp(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return q.to(torch.int32), steps


def dequantize(symbols: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Float32 values of quantised ``symbols`` (the decoder's exact computation)."""
    return symbols.float() * _broadcast(steps, tuple(symbols.shape))


def fake_quantize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``dequantize(quantize(x))`` with a straight-through gradient."""
    q, steps = quantize(x, bits)
    return x + (dequantize(q, steps).to(x.dtype) - x).detach()


class QuantNoise(nn.Module):
    """Quant-Noise parametrization: in training mode a random fraction ``p`` of the entries
    takes its quantised value (straight-through); in eval mode the input is returned."""

    def __init__(self, bits: int, p: float):
        super().__init__()
        self.bits, self.p = bits, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return x
        noisy = torch.rand_like(x) < self.p
        return torch.where(noisy, fake_quantize(x, self.bits), x)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, p={self.p}"


# ----------------------------------------------------------------------------------- pruning


class PruneMask(nn.Module):
    """Pruning parametrization: ``weight * mask`` with a boolean buffer ``mask``."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.bool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


def prune_targets(model: nn.Module) -> list[nn.Module]:
    """The modules whose ``weight`` is pruned: linear and convolution layers."""
    return [m for m in model.modules() if isinstance(m, PRUNE_TARGETS)]


def prune(model: nn.Module, ratio: float = 0.15, layer_weight: float = 0.5) -> tuple[int, int]:
    """Add `PruneMask` parametrizations that zero ``int(ratio * P)`` layer weights (``P``: all
    parameters), the smallest by ``|w| / n_layer**layer_weight`` over all layers at once.
    Returns ``(pruned, P)``."""
    total = sum(p.numel() for p in model.parameters())
    targets = prune_targets(model)
    with torch.no_grad():
        scores = torch.cat(
            [(m.weight.abs() / (m.weight.numel() ** layer_weight)).reshape(-1) for m in targets]
        )
        amount = min(int(total * ratio), scores.numel())
        keep = torch.ones_like(scores, dtype=torch.bool)
        if amount:
            keep[torch.argsort(scores, stable=True)[:amount]] = False
        offset = 0
        for module in targets:
            n = module.weight.numel()
            mask = keep[offset : offset + n].reshape(module.weight.shape)
            parametrize.register_parametrization(module, "weight", PruneMask(mask))
            offset += n
    return amount, total


def add_quant_noise(model: nn.Module, bits: int, p: float = 0.9) -> int:
    """Add `QuantNoise` to every parameter of 2+ dimensions (weights and feature grids), after
    any pruning mask. Returns the number of tensors."""
    count = 0
    for module, name in _quantized_slots(model):
        parametrize.register_parametrization(module, name, QuantNoise(bits, p))
        count += 1
    return count


def _quantized_slots(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, attribute) of every parameter of 2+ dimensions, seen through parametrizations."""
    slots = []
    for module in model.modules():
        if isinstance(module, parametrize.ParametrizationList):
            continue
        names = [name for name, p in module._parameters.items() if p is not None]
        if parametrize.is_parametrized(module):
            names += list(module.parametrizations.keys())
        slots += [(module, name) for name in names if getattr(module, name).ndim > 1]
    return slots


def strip(model: nn.Module) -> None:
    """Bake every parametrization into plain parameters (eval-mode values: masked weights)."""
    model.eval()
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)


# ------------------------------------------------------------------------- whole-model I/O


def quantize_per_channel(
    model: nn.Module, bits: int, names: list[str]
) -> dict[str, QuantizedTensor | np.ndarray]:
    """The bitstream tensors of a (stripped) model: quantised 2+-D tensors, float16 1-D ones."""
    state = dict(model.named_parameters())
    out: dict[str, QuantizedTensor | np.ndarray] = {}
    for name in names:
        value = state[name].detach().cpu()
        if value.ndim == 1:
            out[name] = value.half().numpy()
        else:
            q, steps = quantize(value, bits)
            out[name] = QuantizedTensor(q.numpy(), steps.numpy())
    return out


def dequantized_state(tensors: dict[str, QuantizedTensor | np.ndarray]) -> dict[str, torch.Tensor]:
    """Float32 parameters from bitstream tensors (the same code at encoder and decoder)."""
    state = {}
    for name, tensor in tensors.items():
        if isinstance(tensor, QuantizedTensor):
            symbols = torch.from_numpy(np.ascontiguousarray(tensor.symbols, dtype=np.int32))
            steps = torch.from_numpy(np.ascontiguousarray(tensor.scales, dtype=np.float16))
            state[name] = dequantize(symbols, steps)
        else:
            state[name] = torch.from_numpy(np.asarray(tensor, dtype=np.float16)).float()
    return state


def sparsity(tensors: dict[str, QuantizedTensor | np.ndarray]) -> float:
    """Fraction of zero symbols over all quantised tensors."""
    zeros = sum(int((t.symbols == 0).sum()) for t in tensors.values() if hasattr(t, "symbols"))
    total = sum(t.symbols.size for t in tensors.values() if hasattr(t, "symbols"))
    return zeros / max(total, 1)


def num_parameters(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())
