"""Differentiable stand-ins for rounding during training (NVRC Sec. 3.4 and App. A.2).

All functions work on *scaled* values ``x = theta / delta`` (NVRC eq. 3), whose rounding gives
the integer symbols that are entropy-coded.

- ``soft_round`` (Agustsson & Theis 2020, Sec. 4.1): ``floor(x) + 1/2 + tanh(r / T) / (2 tanh(1 /
  (2T)))`` with ``r = x - floor(x) - 1/2``; rounding as ``T -> 0``, identity as ``T -> inf``.
- ``kumaraswamy_noise`` (C3, Kim et al. 2024): noise on (-1/2, 1/2) from a Kumaraswamy(a, b)
  variable whose mode is 1/2 (``b = (2**a (a - 1) + 1) / a``); ``a = 1`` is uniform noise,
  larger ``a`` concentrates it near 0.
- Stage 1 of NVRC (``Rounding("soft", T, a)``): ``soft_round(soft_round(x, T) + u, T)``, the
  C3 surrogate, applied to grids and layers alike, T annealed 0.5 -> 0.3 and a 2.0 -> 1.0.
- Stage 2 (``Rounding("quant-noise", ratio=p)``): Quant-Noise (Fan et al. 2021) as in HiNeRV,
  *without* a straight-through estimator: a random fraction p of the entries takes its rounded
  value, detached, the rest passes unchanged (and carries the gradient); p goes 0.5 -> 1.0.
- ``Rounding("ste")``: ``round(x)`` forward, identity backward (straight-through; LSQ's
  gradient for the step): the network trains on exactly the values it will be coded with.
- Evaluation and coding (``Rounding("hard")``): ``round(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MODES = ("hard", "soft", "quant-noise", "ste")


def soft_round(x: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft rounding with temperature ``T > 0`` (module docstring)."""
    if temperature <= 0:
        raise ValueError("the soft-round temperature must be positive")
    floor = torch.floor(x)
    r = x - floor - 0.5
    t = torch.as_tensor(temperature, dtype=x.dtype, device=x.device)
    return floor + 0.5 + 0.5 * torch.tanh(r / t) / torch.tanh(0.5 / t)


def kumaraswamy_noise(like: torch.Tensor, a: float) -> torch.Tensor:
    """Noise of ``like``'s shape on [-1/2, 1/2) with Kumaraswamy parameter ``a >= 1``."""
    if a < 1:
        raise ValueError("the Kumaraswamy parameter must be at least 1 (1: uniform noise)")
    b = (2.0**a * (a - 1.0) + 1.0) / a
    u = torch.rand_like(like)
    return (1.0 - (1.0 - u) ** (1.0 / b)) ** (1.0 / a) - 0.5


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity backward (straight-through)."""
    return x + (torch.round(x) - x).detach()


def half_ste(x: torch.Tensor) -> torch.Tensor:
    """``x`` rounded to float16 (and back to x's dtype) forward, identity backward."""
    return x + (x.half().to(x.dtype) - x).detach()


@dataclass(frozen=True)
class Rounding:
    """How scaled values become symbols in the current training phase (module docstring).

    ``mode``: "hard", "soft" (``temperature``, ``noise`` = Kumaraswamy a), "quant-noise"
    (``ratio`` = fraction of entries rounded) or "ste" (straight-through rounding).
    """

    mode: str = "hard"
    temperature: float = 0.5
    noise: float = 2.0
    ratio: float = 1.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown rounding mode {self.mode!r}; expected one of {MODES}")
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError("the Quant-Noise ratio lies in [0, 1]")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "hard":
            return torch.round(x)
        if self.mode == "ste":
            return ste_round(x)
        if self.mode == "soft":
            y = soft_round(x, self.temperature) + kumaraswamy_noise(x, self.noise)
            return soft_round(y, self.temperature)
        rounded = torch.rand_like(x) < self.ratio
        return torch.where(rounded, torch.round(x).detach(), x)
