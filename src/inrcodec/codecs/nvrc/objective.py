"""NVRC's training objective ``L = R + lambda D`` (Kwan et al. 2024, eq. 8) and its alternating
schedule (Sec. 3.4), as an `inrcodec.codecs.training.fitting.Objective` for `fit`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..training.fitting import Objective, TrainingError

__all__ = ["RateDistortion"]


@dataclass
class RateDistortion(Objective):
    """``R + lambda D``, optimised alternately (Sec. 3.4) or jointly.

    ``rate()`` returns R in bits per pixel (differentiable). With ``period = K + 1 > 1``
    (K = 8), steps ``K, 2K + 1, ...`` (every (K+1)-th) minimise ``K R`` alone and the others
    ``lambda D`` alone; with ``period = 1`` every step minimises ``R + lambda D``.

    With ``batch_rate`` (a representation whose grids the step's frames read only in part,
    `NVRC.batch_rate`), every step minimises ``R + lambda D`` with R estimated on the step's
    own frames (read after the forward pass): the rate term then costs what the distortion
    does, and every grid value meets it as often as it meets the distortion.

    Gradient clipping (`TrainConfig.grad_clip`) bounds the gradient of the *unweighted* term:
    a distortion step clips at ``grad_clip * lambda``, a rate step at ``grad_clip * K``. A
    fixed bound on the weighted loss would cancel lambda whenever it binds (the distortion
    gradient's norm is about 5 at the start, so any lambda above 1/5 would give the same
    steps) and leave R and D in a ratio set by the clip instead of by lambda.
    """

    rate: Callable[[], torch.Tensor]
    lam: float
    period: int = 9
    batch_rate: Callable[[], torch.Tensor] | None = None
    _last_rate: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.lam <= 0 or self.period < 1:
            raise TrainingError("lambda must be positive and the R/D period at least 1")

    def is_rate_step(self, step: int) -> bool:
        return self.period > 1 and (step + 1) % self.period == 0

    def __call__(
        self, step: int, distortion: Callable[[], torch.Tensor]
    ) -> tuple[torch.Tensor, float]:
        if self.batch_rate is not None:  # R + lambda D on the step's frames, every step
            loss = self.lam * distortion()
            rate = self.batch_rate()
            self._last_rate = rate.detach()
            return loss + rate, self.lam
        if self.is_rate_step(step):
            weight = self.period - 1
            return weight * self._rate(), weight
        loss = self.lam * distortion()
        if self.period == 1:
            loss = loss + self._rate()
        return loss, self.lam

    def _rate(self) -> torch.Tensor:
        rate = self.rate()
        self._last_rate = rate.detach()
        return rate

    def shown(self) -> dict[str, torch.Tensor]:
        return {} if self._last_rate is None else {"bpp": self._last_rate}

    def final_rate(self) -> float:
        """R of the trained model (in eval mode: true rounding)."""
        with torch.no_grad():
            return float(self.rate())
