"""Patch-tubelet positions over a frame, and fusion of the tubelets back into frames
(TeCoNeRV Sec. 5.2-5.3, Appendix E.1).

Along each axis a frame of ``length`` pixels is covered by tubelets of ``size`` pixels at
stride ``size - overlap``, the last one snapped to the border (it then overlaps its neighbour
by more than ``overlap``). A frame shorter than a tubelet is padded to it (edge pixels
repeated) and cropped back after fusion. With ``overlap`` 0 ("non-overlapping") the tubelets
abut, except the last when ``size`` does not divide ``length``: it is snapped, so every
tubelet still sees only real pixels, and fusion resolves its extra overlap like any other.

Fusion (Appendix E.1):

* *crop*: each pixel comes from the one tubelet whose interior it lies in; neighbours split
  their overlap in the middle, which stays right for a snapped last tubelet;
* *blend*: a weighted mean of every tubelet covering the pixel, with weights that ramp
  linearly to 0 toward a tubelet's edge across the overlap with each neighbour (1 elsewhere,
  and at the frame's border).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where tensors are made: the geometry needs only numpy
    import torch

FUSIONS = ("crop", "blend")


def axis_positions(length: int, size: int, overlap: int) -> tuple[int, ...]:
    """Start of every tubelet along one axis of ``length`` pixels (padded to ``size`` if
    shorter): strided by ``size - overlap``, the last snapped to the end."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must lie in [0, {size - 1}] for {size}-pixel tubelets")
    end = max(length, size) - size
    return (*range(0, end, size - overlap), end)


def _crop_bounds(positions: tuple[int, ...], size: int) -> list[tuple[int, int]]:
    """Per tubelet, the [start, stop) it owns: overlaps are split at their middle."""
    cuts = [(a + size + b) // 2 for a, b in zip(positions, positions[1:], strict=False)]
    starts, stops = [positions[0], *cuts], [*cuts, positions[-1] + size]
    return list(zip(starts, stops, strict=True))


def _blend_ramp(positions: tuple[int, ...], size: int, index: int) -> np.ndarray:
    """Weights over one tubelet's ``size`` pixels: linear ramps over each neighbour's
    overlap, sampled at pixel centres, 1 elsewhere."""
    x = np.arange(size) + 0.5
    weight = np.ones(size)
    if index > 0:
        overlap = positions[index - 1] + size - positions[index]
        if overlap > 0:
            weight = np.minimum(weight, x / overlap)
    if index < len(positions) - 1:
        overlap = positions[index] + size - positions[index + 1]
        if overlap > 0:
            weight = np.minimum(weight, (size - x) / overlap)
    return weight


@dataclass(frozen=True)
class Tiling:
    """Tubelets of ``tube`` = (h, w) over frames of ``frame`` = (H, W) with ``overlap``."""

    frame: tuple[int, int]
    tube: tuple[int, int]
    overlap: tuple[int, int] = (0, 0)

    @cached_property
    def rows(self) -> tuple[int, ...]:
        return axis_positions(self.frame[0], self.tube[0], self.overlap[0])

    @cached_property
    def cols(self) -> tuple[int, ...]:
        return axis_positions(self.frame[1], self.tube[1], self.overlap[1])

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def positions(self) -> list[tuple[int, int]]:
        """(top, left) of every tubelet, row by row."""
        return [(top, left) for top in self.rows for left in self.cols]

    @property
    def padded(self) -> tuple[int, int]:
        return max(self.frame[0], self.tube[0]), max(self.frame[1], self.tube[1])

    def split(self, frames: torch.Tensor) -> torch.Tensor:
        """``(T, C, H, W)`` -> tubelets ``(P, T, C, h, w)`` in `positions` order."""
        import torch

        pad_h, pad_w = (p - f for p, f in zip(self.padded, self.frame, strict=True))
        if pad_h or pad_w:
            frames = torch.nn.functional.pad(frames, (0, pad_w, 0, pad_h), mode="replicate")
        h, w = self.tube
        return torch.stack([frames[..., y : y + h, x : x + w] for y, x in self.positions])

    def fuse(self, tubelets: torch.Tensor, fusion: str = "crop") -> torch.Tensor:
        """Tubelets ``(P, T, C, h, w)`` -> frames ``(T, C, H, W)`` by crop or blend."""
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        _, t, c, h, w = tubelets.shape
        out = tubelets.new_zeros(t, c, *self.padded)
        if fusion == "crop":
            bounds = [
                (ry, rx) for ry in _crop_bounds(self.rows, h) for rx in _crop_bounds(self.cols, w)
            ]
            for tube, (y, x), ((y0, y1), (x0, x1)) in zip(
                tubelets, self.positions, bounds, strict=True
            ):
                out[..., y0:y1, x0:x1] = tube[..., y0 - y : y1 - y, x0 - x : x1 - x]
        else:
            weights = self._blend_weights.to(tubelets)
            for tube, weight, (y, x) in zip(tubelets, weights, self.positions, strict=True):
                out[..., y : y + h, x : x + w] += weight * tube
        return out[..., : self.frame[0], : self.frame[1]]

    @cached_property
    def _blend_weights(self) -> torch.Tensor:
        """``(P, h, w)`` blend weights, normalised so that they sum to 1 at every pixel."""
        import torch

        h, w = self.tube
        ramps_y = [_blend_ramp(self.rows, h, i) for i in range(len(self.rows))]
        ramps_x = [_blend_ramp(self.cols, w, j) for j in range(len(self.cols))]
        weights = np.stack([np.outer(ry, rx) for ry in ramps_y for rx in ramps_x])
        total = np.zeros(self.padded)
        for weight, (y, x) in zip(weights, self.positions, strict=True):
            total[y : y + h, x : x + w] += weight
        for weight, (y, x) in zip(weights, self.positions, strict=True):
            weight /= total[y : y + h, x : x + w]
        return torch.from_numpy(weights.astype(np.float32))
