"""The 3-D block partition of a feature grid (NVRC Sec. 3.1, eq. 2).

A grid ``z`` of shape ``(T, H, W, C)`` is cut into blocks of ``(bt, bh, bw)`` positions per
channel (16 x 8 x 8 by default); the grid is zero-padded at the end of each axis to a whole
number of blocks. The *block layout* of the grid is the tensor ``(N, 1, bt, bh, bw)`` with
``N = nT * nH * nW * C``: one row per (block, channel) in the order (block t, block h, block w,
channel). Each row is one partition of the context model and shares one quantisation step, so
per-block steps of shape ``(nT, nH, nW, C)`` broadcast against it as ``(N, 1, 1, 1, 1)``.
Padded positions are zero and never coded (`valid`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BlockLayout:
    """The partition of a ``size = (T, H, W, C)`` grid into ``block = (bt, bh, bw)`` blocks."""

    size: tuple[int, int, int, int]
    block: tuple[int, int, int] = (16, 8, 8)

    def __post_init__(self):
        if len(self.size) != 4 or min(self.size) < 1:
            raise ValueError(f"a grid size is (T, H, W, C), all positive; got {self.size}")
        if len(self.block) != 3 or min(self.block) < 1:
            raise ValueError(f"a block is (t, h, w), all positive; got {self.block}")

    @property
    def counts(self) -> tuple[int, int, int]:
        """Blocks along T, H and W."""
        return tuple(-(-s // b) for s, b in zip(self.size[:3], self.block, strict=True))

    @property
    def steps_shape(self) -> tuple[int, int, int, int]:
        """Shape of the per-block, per-channel steps: ``(nT, nH, nW, C)``."""
        return (*self.counts, self.size[3])

    @property
    def num_partitions(self) -> int:
        return math.prod(self.steps_shape)

    def to_blocks(self, grid: torch.Tensor) -> torch.Tensor:
        """``(T, H, W, C)`` -> ``(N, 1, bt, bh, bw)``, zero in the padding."""
        if tuple(grid.shape) != self.size:
            raise ValueError(f"expected a grid of shape {self.size}, got {tuple(grid.shape)}")
        (nt, nh, nw), (bt, bh, bw), c = self.counts, self.block, self.size[3]
        pad = [0, 0]  # C
        for s, n, b in zip(reversed(self.size[:3]), (nw, nh, nt), (bw, bh, bt), strict=True):
            pad += [0, n * b - s]
        x = F.pad(grid, pad) if any(pad) else grid
        x = x.reshape(nt, bt, nh, bh, nw, bw, c).permute(0, 2, 4, 6, 1, 3, 5)
        return x.reshape(-1, 1, bt, bh, bw)

    def from_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        """Inverse of `to_blocks`: ``(N, 1, bt, bh, bw)`` -> ``(T, H, W, C)``."""
        (nt, nh, nw), (bt, bh, bw), c = self.counts, self.block, self.size[3]
        if tuple(blocks.shape) != (self.num_partitions, 1, bt, bh, bw):
            raise ValueError(f"expected blocks of shape {(self.num_partitions, 1, bt, bh, bw)}")
        x = blocks.reshape(nt, nh, nw, c, bt, bh, bw).permute(0, 4, 1, 5, 2, 6, 3)
        x = x.reshape(nt * bt, nh * bh, nw * bw, c)
        t, h, w, _ = self.size
        return x[:t, :h, :w]

    def valid(self, device=None) -> torch.Tensor:
        """Boolean ``(N, 1, bt, bh, bw)``: True at real grid positions, False in the padding."""
        return self.to_blocks(torch.ones(self.size, device=device)) > 0

    def broadcast(self, per_block: torch.Tensor) -> torch.Tensor:
        """Per-block values ``(nT, nH, nW, C)`` as ``(N, 1, 1, 1, 1)`` for the block layout."""
        if tuple(per_block.shape) != self.steps_shape:
            raise ValueError(f"expected {self.steps_shape}, got {tuple(per_block.shape)}")
        return per_block.reshape(-1, 1, 1, 1, 1)
