"""NVRC's coding of feature grids (Kwan et al. 2024, Sec. 3.1, App. A.1): the block partition,
per-block learned steps, the masked-3D-convolution context model, their integer twins on the
coding path, and the grid section of the file.

**Blocks** (eq. 2). A grid ``(T, H, W, C)`` is cut into blocks of ``(bt, bh, bw)`` positions
per channel (16 x 8 x 8 by default), zero-padded at the end of each axis to whole blocks. Its
*block layout* is ``(N, 1, bt, bh, bw)`` with ``N = nT nH nW C``: one row per (block t, block
h, block w, channel). A row is one partition: it shares one quantisation step (per-block
log-steps ``(nT, nH, nW, C)``, learned, initialised at ``grid_log_step``) and is one sequence
of the context model. Padded positions are zero and never coded.

**Context model** (`ContextModel`, training; `FixedContextModel`, coding): the Gaussian mean and
scale of every symbol from the symbols before it in its partition (raster order t, h, w), or,
in ablations V2/V3, one Gaussian per level (`GridCoder.mean`, ``log_scale``).

**Coding path.** The context model's weights are the coded phi itself (integers and one step
per tensor); `FixedContextModel` sums them exactly and `ContextEvaluator` runs every partition
of every level at once, one raster position at a time (docs/nvrc.md, "Coding path"). The grid
section (`write_grids`, `read_grids`) holds one entropy-coded stream of all levels' symbols in
that decoding order: position in the block first, then level, then partition, padding skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from inrcodec.coding import QuantizedDecoder, encode_quantized

from .fixed_point import (
    INPUT_LIMIT,
    MAX_KERNEL,
    MAX_WIDTH,
    ONE,
    WEIGHT_LIMIT,
    activation,
    det_exp,
    hidden,
    log_scale_indices,
    output_indices,
    tensor_mean_indices,
)
from .gaussian import gaussian_bits

# ----------------------------------------------------------------------------- blocks


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


# ----------------------------------------------------------------------------- context model


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

    Input: the symbols of the level in block layout (`BlockLayout`), ``(N, 1, bt, bh, bw)``,
    one row per (block, channel) partition. Output: the mean and the log-scale, in symbol
    units, of every position, each ``(N, 1, bt, bh, bw)``.

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

    - *Pointwise* (an option, ``pointwise``): only the first convolution sees the
      neighbourhood, the later ones are 1 x 1 x 1, a per-position MLP on the first layer's
      features: the autoregressive models of Cool-chic and C3, which cost a fraction of the
      MACs and need no hidden state of earlier positions.

    The last convolution starts at zero (mean 0, scale 1 symbol everywhere). Weights at taps
    outside the causal masks are zero and stay so; they are not part of the coded phi.
    """

    def __init__(
        self,
        width: int = 8,
        kernel: int = 5,
        blocks: int = 3,
        eps: float = 1e-5,
        pointwise: bool = False,
    ):
        super().__init__()
        if kernel % 2 == 0 or kernel < 3:
            raise ValueError("the context kernel must be odd and at least 3")
        if blocks < 1 or width < 1:
            raise ValueError("the context model needs at least one block and one channel")
        widths = [1] + [width] * (blocks - 1) + [2]
        later = 1 if pointwise else kernel
        self.convs = nn.ModuleList(
            nn.Conv3d(a, b, kernel if i == 0 else later, padding=(kernel if i == 0 else later) // 2)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True))
        )
        self.register_buffer("mask_first", causal_mask(kernel, False), persistent=False)
        self.register_buffer("mask_rest", causal_mask(later, True), persistent=False)
        self.eps, self.pointwise = eps, pointwise
        with torch.no_grad():  # taps outside the mask do not exist: zero, never coded
            for i, conv in enumerate(self.convs):
                conv.weight.mul_(self.weight_mask(i))
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def weight_mask(self, index: int) -> torch.Tensor:
        """The causal taps of convolution ``index``, ``(1, 1, k, k, k)``."""
        return self.mask_first if index == 0 else self.mask_rest

    def forward(
        self, symbols: torch.Tensor, last_slice: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-scale of every position; with ``last_slice``, of the last slice of
        windows only (`last_slice`)."""
        if last_slice:
            return self.last_slice(symbols)
        if self.pointwise:
            return self._pointwise(symbols)
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

    def _pointwise(self, symbols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` of a pointwise model, its later layers channels-last (linear layers and
        a LayerNorm over the last dim: the same sums, several times faster on the CPU)."""
        first = self.convs[0]
        x = F.conv3d(symbols, first.weight * self.mask_first, first.bias, padding=first.padding)
        return self._later_layers(x.permute(0, 2, 3, 4, 1))

    def _later_layers(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A pointwise model's layers after the first on its channels-last features
        ``(N, t, h, w, width)``: mean and log-scale, each ``(N, 1, t, h, w)``."""
        for conv in self.convs[1:]:
            x = F.layer_norm(F.gelu(x), x.shape[-1:], eps=self.eps)
            x = F.linear(x, conv.weight.flatten(1), conv.bias)
        x = x.permute(0, 4, 1, 2, 3)
        return x[:, :1], x[:, 1:]

    @property
    def radius(self) -> int:
        """How many earlier slices the model reads (its first kernel's half-width)."""
        return self.convs[0].kernel_size[0] // 2

    def last_slice(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-scale ``(N, 1, 1, bh, bw)`` of the last slice of ``windows`` ``(N, 1,
        radius + 1, bh, bw)``: that slice and the ones before it in its partition (zero where
        the partition begins later), as `forward` gives them for the whole partition. Only for
        a pointwise model, whose outputs depend on no hidden state of earlier positions."""
        if not self.pointwise:
            raise ValueError("only a pointwise context model evaluates one slice")
        # One output slice of a 3-D convolution over radius + 1 slices is a 2-D convolution
        # with the slices as its input channels (the taps after them are masked out); laid
        # out channels-last it runs several times faster on the CPU than conv3d.
        first, depth = self.convs[0], self.radius + 1
        weight = (first.weight * self.mask_first)[:, 0, :depth]
        x = F.conv2d(
            windows[:, 0].contiguous(memory_format=torch.channels_last),
            weight.contiguous(memory_format=torch.channels_last),
            first.bias,
            padding=self.radius,
        )
        return self._later_layers(x.permute(0, 2, 3, 1)[:, None])


# ----------------------------------------------------------------------------- one level


class GridCoder(nn.Module):
    """Per-block steps and the entropy model of one grid level, in training and on the coding
    path. ``phi`` arguments are the level's own phi tensors by leaf name (``log_steps``,
    ``context.convs.0.weight``, ..., or ``mean`` and ``log_scale``): quantised ones in
    training, the decoded float64 values on the coding path."""

    def __init__(self, size: tuple[int, int, int, int], config, context: bool = True):
        super().__init__()
        self.layout = BlockLayout(tuple(size), config.block)
        init = torch.full(self.layout.steps_shape, float(config.grid_log_step))
        if config.learn_grid_steps:
            self.log_steps = nn.Parameter(init)
        else:
            self.register_buffer("log_steps", init)
        self.register_buffer("valid", self.layout.valid(), persistent=False)
        if config.grid_model == "context":
            if context:  # else the level shares another level's (`GridCoding`)
                self.context = ContextModel(
                    config.context_width,
                    config.context_kernel,
                    config.context_blocks,
                    pointwise=config.context_pointwise,
                )
        else:  # one Gaussian for the level, in value units
            self.mean = nn.Parameter(torch.zeros(()))
            self.log_scale = nn.Parameter(torch.tensor(float(config.grid_log_step)))

    def entry_mask(self, leaf: str) -> torch.Tensor | None:
        """Which entries of phi tensor ``leaf`` exist: the causal taps of a context-model
        weight (the others are structurally zero and never coded); None for all entries."""
        parts = leaf.split(".")  # context.convs.<j>.weight
        if len(parts) == 4 and parts[0] == "context" and parts[3] == "weight":
            return self.context.weight_mask(int(parts[2]))
        return None

    # --- training

    def blocks(self, grid: torch.Tensor, phi: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The grid in block layout and its log-steps, both flat (eq. 2)."""
        log_step = phi.get("log_steps", self.log_steps)
        blocks = self.layout.to_blocks(grid)
        return blocks.reshape(-1), self.layout.broadcast(log_step).expand_as(blocks).reshape(-1)

    def slice_log_steps(self, phi: dict, index: torch.Tensor) -> torch.Tensor:
        """The log-steps of the grid's slices ``index`` at every position, ``(k, H, W, C)``."""
        log_steps = phi.get("log_steps", self.log_steps)[index // self.layout.block[0]]
        _, bh, bw = self.layout.block
        _, height, width, _ = self.layout.size
        full = log_steps.repeat_interleave(bh, 1).repeat_interleave(bw, 2)
        return full[:, :height, :width]

    def context_slices(self, index: torch.Tensor, radius: int) -> torch.Tensor:
        """Slices ``index`` and the ``radius`` slices before each in its partition."""
        bt = self.layout.block[0]
        earlier = index[:, None] - torch.arange(radius + 1, device=index.device)
        inside = (earlier >= 0) & (earlier // bt == index[:, None] // bt)
        return earlier[inside].unique()

    def slice_bits(self, phi: dict, symbols, held, index, step, context=None) -> torch.Tensor:
        """The bits of slices ``index`` of the level: ``symbols`` ``(u, H, W, C)`` are those of
        slices ``held`` (`context_slices` of ``index``), ``step`` their steps; ``context`` as
        in `bits`. The same bits as `bits` gives those slices in the whole grid."""
        where = torch.full((self.layout.size[0],), -1, dtype=torch.long, device=index.device)
        where[held] = torch.arange(len(held), device=index.device)
        target = symbols[where[index]]
        if context is None and not hasattr(self, "context"):
            scale = torch.exp(phi["log_scale"]) / step[where[index]]
            return gaussian_bits(target, phi["mean"] / step[where[index]], scale).sum()
        coder, phi = context or (self, phi)
        model = coder.context
        bt, bh, bw = self.layout.block
        earlier = index[:, None] - torch.arange(model.radius, -1, -1, device=index.device)
        inside = (earlier >= 0) & (earlier // bt == index[:, None] // bt)
        windows = symbols[where[earlier.clamp(min=0)]] * inside[..., None, None, None]
        blocks = _spatial_blocks(windows, bh, bw)  # (N, 1, radius + 1, bh, bw)
        valid = _spatial_blocks(torch.ones_like(target[:, None]), bh, bw) > 0
        weights = {k[len("context.") :]: v for k, v in phi.items() if k.startswith("context.")}
        mean, log_scale = functional_call(model, weights, (blocks,), {"last_slice": True})
        bits = gaussian_bits(blocks[:, :, -1:], mean, torch.exp(log_scale))
        return (bits * valid).sum()

    def bits(self, phi: dict, symbols: torch.Tensor, step: torch.Tensor, context=None):
        """The level's bits: ``symbols`` in block layout (zero in the padding), ``step`` the
        per-partition steps ``(N, 1, 1, 1, 1)``; ``context``: the `GridCoder` whose context
        model and ``phi`` (second) this level uses, if not its own."""
        if context is not None or hasattr(self, "context"):
            coder, phi = context or (self, phi)
            weights = {k[len("context.") :]: v for k, v in phi.items() if k.startswith("context.")}
            mean, log_scale = functional_call(coder.context, weights, (symbols,))
            bits = gaussian_bits(symbols, mean, torch.exp(log_scale))
        else:
            bits = gaussian_bits(symbols, phi["mean"] / step, torch.exp(phi["log_scale"]) / step)
        return (bits * self.valid).sum()

    # --- coding path (fixed_point arithmetic)

    def _log_steps(self, phi: dict) -> torch.Tensor:
        return self.layout.broadcast(phi.get("log_steps", self.log_steps).double())

    def steps(self, phi: dict) -> torch.Tensor:
        """Per-partition steps ``(N, 1, 1, 1, 1)`` (eq. 2)."""
        return det_exp(self._log_steps(phi))

    def gaussian_indices(self, phi: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-partition mean and scale indices ``(N, 1)`` of the level's single Gaussian
        (ablations V2, V3)."""
        log_step = self._log_steps(phi).reshape(-1, 1)
        means = tensor_mean_indices(phi["mean"] * det_exp(-log_step))
        return means, log_scale_indices(phi["log_scale"] - log_step)

    def fixed_context(self, phi: dict, integer: Callable[[str], tuple]) -> FixedContextModel:
        """The context model on the coding path: each weight as integers and a step
        (``integer(leaf) -> (q, s)``, ``w = q s``), the biases dequantised."""
        depth = len(self.context.convs)
        integers = [integer(f"context.convs.{i}.weight") for i in range(depth)]
        biases = [phi[f"context.convs.{i}.bias"] for i in range(depth)]
        return FixedContextModel.from_coded(*map(list, zip(*integers, strict=True)), biases)


# ----------------------------------------------------------------------------- all levels


class GridCoding(nn.ModuleList):
    """The `GridCoder` of every grid of a representation, in its `grid_names` order. ``phi``
    arguments hold each level's phi by coder path (``grid_coders.<level>``; a level without
    phi tensors, such as one with fixed steps and a shared context model, may be absent)."""

    def __init__(self, names: list[str], shapes: list[tuple[int, ...]], config):
        shared = config.context_shared
        super().__init__(
            GridCoder(tuple(shape), config, context=not shared or level == 0)
            for level, shape in enumerate(shapes)
        )
        self.names, self.block = list(names), config.block
        self.contextual = config.grid_model == "context"
        self.shared = self.contextual and shared

    @property
    def partitions(self) -> list[int]:
        return [coder.layout.num_partitions for coder in self]

    @property
    def positions(self) -> int:
        """Grid positions in block layout, padding included."""
        return sum(self.partitions) * math.prod(self.block)

    # --- training

    def flat(self, params: dict, phi: dict) -> tuple[list, list]:
        """Every level in block layout and its log-steps, each flat (``phi``: by coder
        path)."""
        blocks, log_steps = [], []
        for level, (name, coder) in enumerate(zip(self.names, self, strict=True)):
            values, log_step = coder.blocks(params[name], phi.get(f"grid_coders.{level}", {}))
            blocks.append(values)
            log_steps.append(log_step)
        return blocks, log_steps

    def dequantize(self, symbols: torch.Tensor, step: torch.Tensor):
        """From all levels' flat symbols and steps: the grids' values by name, and per level
        the symbols in block layout (zero in the padding) and the per-partition steps."""
        sizes = [coder.valid.numel() for coder in self]
        levels = [
            s.view(c.valid.shape) * c.valid for s, c in zip(symbols.split(sizes), self, strict=True)
        ]
        steps = [st.view(s.shape) for st, s in zip(step.split(sizes), levels, strict=True)]
        values = {
            name: coder.layout.from_blocks(s * st)
            for name, coder, s, st in zip(self.names, self, levels, steps, strict=True)
        }
        return values, levels, [st[:, :, :1, :1, :1] for st in steps]

    def quantize_slices(self, params: dict, phi: dict, slices: list, rounding, with_rate=False):
        """Each grid quantised (``rounding``) at its slices ``slices[level]`` only, the other
        slices left as they are (`NVRC` uses it when the network says which slices frames
        read); and (``with_rate``) the bits of all grids estimated from those slices: each
        level's bits there (the slices before them in their partitions quantised too, as
        context) times the level's slices over theirs; else None."""
        out, bits = {}, []
        context = (self[0], phi["grid_coders.0"]) if self.shared and with_rate else None
        radius = self[0].context.radius if self.contextual and with_rate else 0
        for level, (name, coder, index) in enumerate(zip(self.names, self, slices, strict=True)):
            local = phi.get(f"grid_coders.{level}", {})
            held = coder.context_slices(index, radius) if with_rate else index
            grid = params[name]
            step = torch.exp(coder.slice_log_steps(local, held))
            symbols = rounding(grid.index_select(0, held) / step)
            out[name] = grid.detach().index_copy(0, held, symbols * step)
            if with_rate:
                level_bits = coder.slice_bits(local, symbols, held, index, step, context)
                bits.append(level_bits * (grid.shape[0] / len(index)))
        return out, (sum(bits[1:], bits[0]) if with_rate else None)

    def bits(self, phi: dict, levels: list, steps: list) -> torch.Tensor:
        """The bits of every level (`GridCoder.bits`; at least one), summed level after
        level."""
        context = (self[0], phi["grid_coders.0"]) if self.shared else None
        bits = [
            coder.bits(phi.get(f"grid_coders.{i}", {}), s, st, context)
            for i, (coder, s, st) in enumerate(zip(self, levels, steps, strict=True))
        ]
        return sum(bits[1:], bits[0])

    def valid(self) -> torch.Tensor:
        """``(rows, positions)``: the coded positions of every partition of every level."""
        return torch.cat([c.valid.reshape(c.valid.shape[0], -1) for c in self])

    def _indices(self, phi: dict, integer, symbols: torch.Tensor | None = None):
        """Mean and scale indices ``(rows, positions)`` of every symbol; ``phi[i]`` and
        ``integer[i]`` are level i's. Under the per-level Gaussians (V2, V3) no symbols are
        needed; under the context models the encoder passes all of them."""
        if self.contextual:
            return self.evaluator(phi, integer).all_indices(symbols)
        means, scales = [], []
        positions = math.prod(self.block)
        for level, coder in enumerate(self):
            shape = (coder.layout.num_partitions, positions)
            m, s = coder.gaussian_indices(phi[level])
            means.append(torch.broadcast_to(m, shape))
            scales.append(torch.broadcast_to(s, shape))
        return torch.cat(means), torch.cat(scales)

    def evaluator(self, phi: list, integer: list) -> ContextEvaluator:
        """The context models of all levels over all their partitions (one model over all
        the rows when the levels share it)."""
        if self.shared:
            model = self[0].fixed_context(phi[0], integer[0])
            return ContextEvaluator([model], [sum(self.partitions)], self.block)
        models = [c.fixed_context(p, i) for c, p, i in zip(self, phi, integer, strict=True)]
        return ContextEvaluator(models, self.partitions, self.block)

    def write(self, phi: list, integer: list, grids: list[np.ndarray]) -> bytes:
        """The grid section: every level's block-layout symbols ``grids`` under their models,
        in decoding order (module docstring)."""
        symbols = torch.cat([torch.from_numpy(g).reshape(g.shape[0], -1) for g in grids])
        means, scales = self._indices(phi, integer, symbols)
        valid = self.valid()
        if self.contextual:  # front after front (one position per front but when pointwise)
            model = self[0].context
            fronts = decoding_fronts(self.block, model.convs[0].kernel_size[0], model.pointwise)
            order = torch.cat(fronts)
            symbols, means, scales, valid = (t[:, order] for t in (symbols, means, scales, valid))
        order = [t.T[valid.T] for t in (symbols, means, scales)]  # position-major
        return encode_quantized(*(t.numpy().astype(np.int32) for t in order))

    def read(self, phi: list, integer: list, data: bytes) -> list[np.ndarray]:
        """Decode the grid section: one position of every partition of every level per step
        (`ContextEvaluator`), or all symbols at once under the per-level Gaussians."""
        valid = self.valid()
        symbols = torch.zeros(valid.shape, dtype=torch.int32)
        decoder = QuantizedDecoder(data, int(valid.sum()))
        if self.contextual:
            context = self.evaluator(phi, integer)
            for front in context.fronts:
                means, scales = context.front_indices(front)
                coded = valid[:, front]
                decoded = decoder.decode(means.T[coded.T].numpy(), scales.T[coded.T].numpy())
                at_front = torch.zeros(coded.shape, dtype=torch.int32)
                at_front.T[coded.T] = torch.from_numpy(decoded)
                symbols[:, front] = at_front
                context.set_symbols(front, at_front)
        else:
            means, scales = self._indices(phi, integer)
            order = [t.T[valid.T].numpy().astype(np.int32) for t in (means, scales)]
            symbols.T[valid.T] = torch.from_numpy(decoder.decode(*order))
        decoder.finish()
        levels = symbols.split(self.partitions)
        return [
            level.reshape(n, 1, *self.block).numpy()
            for level, n in zip(levels, self.partitions, strict=True)
        ]


# ----------------------------------------------------------------------------- fixed point


class BlockGeometry:
    """A ``block`` partition inside its zero-padded copy (padding ``k // 2`` on every side,
    ``k`` the first layer's kernel): the flat index of each raster position (``centres``),
    and per layer kind (first: centre excluded; later: included, kernel ``later``) the flat
    offsets of the causal taps."""

    def __init__(self, block: tuple[int, int, int], kernel: int, later: int | None = None):
        radius = kernel // 2
        self.padded = tuple(b + 2 * radius for b in block)
        self.size = math.prod(self.padded)
        _, ph, pw = self.padded
        grid = torch.meshgrid(*(torch.arange(b) + radius for b in block), indexing="ij")
        self.centres = (grid[0] * ph * pw + grid[1] * pw + grid[2]).reshape(-1)
        self.offsets = [
            _offsets(k, include_centre, (ph * pw, pw, 1))
            for k, include_centre in ((kernel, False), (later or kernel, True))
        ]

    def taps(self, layer: int) -> torch.Tensor:
        """Flat offsets of the causal taps of convolution ``layer``."""
        return self.offsets[min(layer, 1)]


def decoding_fronts(block: tuple[int, int, int], kernel: int, pointwise: bool) -> list:
    """The raster positions of a partition grouped into fronts that decode together, in
    decoding order. A model whose only spatial layer is the first (pointwise): ``f = (r+1)^2 t
    + (r+1) h + w`` (``r = k // 2``) is larger at a position than at every one of its causal
    taps, so the positions of one ``f`` depend only on earlier fronts; fronts in increasing
    ``f``, raster order inside each. Any other model: one position per front, raster order."""
    if not pointwise:
        return list(torch.arange(math.prod(block)).split(1))
    radius = kernel // 2
    t, h, w = torch.meshgrid(*(torch.arange(b) for b in block), indexing="ij")
    front = ((radius + 1) ** 2 * t + (radius + 1) * h + w).reshape(-1)
    order = torch.argsort(front, stable=True)
    return [f for f in order.split(torch.bincount(front).tolist()) if len(f)]  # no empty f


def _offsets(kernel: int, include_centre: bool, strides: tuple[int, int, int]) -> torch.Tensor:
    """Flat offsets, in a padded block of ``strides``, of a kernel's causal taps."""
    taps = torch.arange(kernel**3)
    coordinates = torch.stack([taps // kernel**2, taps // kernel % kernel, taps % kernel], 1)
    flat = (coordinates - kernel // 2) @ torch.tensor(strides)
    return flat[causal_mask(kernel, include_centre).reshape(-1).bool()]


@dataclass(frozen=True)
class FixedContextModel:
    """`ContextModel` in fixed point (`fixed_point`'s docstring). Layer i: ``matrices[i]``
    the integer weights at the causal taps, ``(taps x in, out)`` with the tap index major;
    ``scales[i]`` the factor from their sums to fixed-point activations; ``biases[i]`` the
    fixed-point biases."""

    kernel: int
    matrices: tuple[torch.Tensor, ...]
    scales: tuple[float, ...]
    biases: tuple[torch.Tensor, ...]
    later: int | None = None  # the later layers' kernel (1: pointwise), if not ``kernel``

    @classmethod
    def from_coded(cls, weights, steps, biases) -> FixedContextModel:
        """From the coded phi: integer weights ``q`` ``(out, in, k, k, k)`` with their steps
        (``w = q s``) and the (dequantised) biases of each layer of a `ContextModel`."""
        kernel = weights[0].shape[-1]
        if kernel > MAX_KERNEL or max(q.shape[0] for q in weights) > MAX_WIDTH:
            raise ValueError(f"context model wider than {MAX_WIDTH} or kernel above {MAX_KERNEL}")
        matrices, scales = [], []
        for i, (q, step) in enumerate(zip(weights, steps, strict=True)):
            used = causal_mask(q.shape[-1], include_centre=i > 0).reshape(-1).bool()
            q = q.double().clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT).flatten(2)[:, :, used]
            matrices.append(q.permute(2, 1, 0).reshape(-1, q.shape[0]).contiguous())
            scales.append(float(step) * (ONE if i == 0 else 1.0))
        biases = tuple(b.double() * ONE for b in biases)
        later = weights[-1].shape[-1] if len(weights) > 1 else None
        return cls(kernel, tuple(matrices), tuple(scales), biases, later)

    def forward(self, symbols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices ``(N, bt, bh, bw)`` of every position of the block-layout
        symbols ``(N, 1, bt, bh, bw)`` at once (`ContextEvaluator.all_indices`)."""
        rows, block = symbols.shape[0], tuple(symbols.shape[2:])
        means, scales = ContextEvaluator([self], [rows], block).all_indices(
            symbols.reshape(rows, -1)
        )
        return means.reshape(rows, *block), scales.reshape(rows, *block)


class ContextEvaluator:
    """The `FixedContextModel` of every grid level over all their partitions (the rows of
    all levels, level after level), evaluated one raster position at a time.

    Each layer's input is kept in one zero-padded buffer ``(positions, channels, rows)``. The
    causal taps of a position are a few runs of consecutive padded positions (one per kernel
    row), so each run is a contiguous slab of the buffer: per layer and level, one matrix
    product per run reads it in place and the products are summed (exact integer sums), and
    the hidden values at the position are stored for the next layer and later positions. A
    value at ``p`` depends only on symbols before ``p`` and hidden values at or before ``p``
    (the first layer excludes the centre). The decoder calls `indices` and `set_symbols`
    position by position; the encoder, which has every symbol, calls `all_indices`.

    A pointwise model's later layers read only the position's own hidden values: they need
    no buffer, and the encoder evaluates all positions at once (`all_indices`), with the same
    integer sums and elementwise steps as the decoder, so the same indices.
    """

    def __init__(self, models: list[FixedContextModel], rows: list[int], block):
        self.geometry = BlockGeometry(tuple(block), models[0].kernel, models[0].later)
        self.pointwise = models[0].later == 1
        self.fronts = decoding_fronts(tuple(block), models[0].kernel, self.pointwise)
        bounds = torch.tensor([0, *rows]).cumsum(0).tolist()
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        per_level = list(zip(models, rows, strict=True))
        self.runs, self.blocks, self.scales, self.biases, self.buffers = [], [], [], [], []
        for i in range(len(models[0].matrices)):
            runs = _runs(self.geometry.taps(i).tolist())
            channels = models[0].matrices[i].shape[0] // len(self.geometry.taps(i))
            self.runs.append(runs)
            # per level, per run: (out, run length x channels), read against the slab
            self.blocks.append(
                [[m.matrices[i][t * channels : (t + n) * channels].T.contiguous()
                  for _, t, n in runs] for m in models]
            )  # fmt: skip
            self.scales.append(
                torch.cat(
                    [torch.full((n, 1), m.scales[i], dtype=torch.float64) for m, n in per_level]
                )
            )
            self.biases.append(torch.cat([m.biases[i].expand(n, -1) for m, n in per_level]))
            if i == 0 or not self.pointwise:
                self.buffers.append(
                    torch.zeros(self.geometry.size, channels, bounds[-1], dtype=torch.float64)
                )

    @property
    def positions(self) -> int:
        return len(self.geometry.centres)

    def indices(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices ``(rows,)`` at raster ``position``; every symbol before it
        must be set."""
        centre = int(self.geometry.centres[position])
        last = len(self.blocks) - 1
        x = None  # the position's hidden values, (channels, rows)
        for i in range(len(self.blocks)):
            sums = []
            for rows, blocks in zip(self.slices, self.blocks[i], strict=True):
                total = None
                for (offset, _, n), block in zip(self.runs[i], blocks, strict=True):
                    if i > 0 and self.pointwise:
                        slab = x[:, rows]
                    else:
                        buffer = self.buffers[i]
                        slab = buffer[centre + offset : centre + offset + n, :, rows].flatten(0, 1)
                    total = block @ slab if total is None else total.addmm_(block, slab)
                sums.append(total)
            a = activation(torch.cat(sums, dim=1).T, self.scales[i], self.biases[i])
            if i == last:
                return output_indices(a)
            if self.pointwise:
                means, scales = self._later_layers(a[:, None])
                return means[:, 0], scales[:, 0]
            x = hidden(a).T
            if not self.pointwise:
                self.buffers[i + 1][centre] = x
        raise AssertionError("unreachable")

    def front_indices(self, front: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices ``(rows, len(front))`` at the raster positions of one of
        `fronts`; every symbol of the fronts before it must be set."""
        if self.pointwise:
            return self._all_at(self.geometry.centres[front])
        means, scales = self.indices(int(front[0]))
        return means[:, None], scales[:, None]

    def set_symbols(self, front: torch.Tensor, symbols: torch.Tensor) -> None:
        """Store the symbols ``(rows, len(front))`` at the raster positions ``front``."""
        value = symbols.double().clamp(-INPUT_LIMIT, INPUT_LIMIT)
        self.buffers[0][self.geometry.centres[front], 0] = value.T

    def all_indices(self, symbols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices ``(rows, positions)`` of all ``symbols`` ``(rows,
        positions)`` (the encoder's pass)."""
        centres = self.geometry.centres
        self.buffers[0][centres, 0] = symbols.T.double().clamp(-INPUT_LIMIT, INPUT_LIMIT)
        if self.pointwise:
            chunk = max(1, _CHUNK_VALUES // max(symbols.shape[0], 1))
            out = [self._all_at(centres[p : p + chunk]) for p in range(0, len(centres), chunk)]
            return tuple(torch.cat([o[k] for o in out], dim=1) for k in (0, 1))
        out = [self.indices(p) for p in range(self.positions)]
        return tuple(torch.stack([o[k] for o in out], dim=1) for k in (0, 1))

    def _all_at(self, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A pointwise model's indices ``(rows, len(centres))`` at the padded positions
        ``centres``, all at once: the first layer's runs gathered for every position, then
        the later layers on each position's own values."""
        buffer = self.buffers[0]
        sums = []
        for rows, blocks in zip(self.slices, self.blocks[0], strict=True):
            total = None
            for (offset, _, n), block in zip(self.runs[0], blocks, strict=True):
                taps = centres[:, None] + offset + torch.arange(n)
                slab = buffer[taps.reshape(-1)][:, :, rows].reshape(
                    len(centres), -1, rows.stop - rows.start
                )
                total = block @ slab if total is None else total + block @ slab
            sums.append(total)
        a = activation(torch.cat(sums, dim=2).transpose(1, 2), self.scales[0], self.biases[0])
        if len(self.blocks) == 1:
            means, scales = output_indices(a)
            return means.T, scales.T
        return self._later_layers(a.transpose(0, 1))

    def _later_layers(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A pointwise model's indices ``(rows, positions)`` from its first layer's
        activations ``a`` ``(rows, positions, channels)``. The later layers are a function of
        a position's own activations, so where these are those of an all-zero context (most
        positions at low rates) the indices are that context's, computed once per level."""
        means = torch.empty(a.shape[:2], dtype=torch.long)
        scales = torch.empty(a.shape[:2], dtype=torch.long)
        for level, rows in enumerate(self.slices):
            flat = a[rows].reshape(-1, a.shape[-1])
            quiet = self._zero_context(level, rows.start)
            live = (flat != quiet).any(dim=1).nonzero().squeeze(1)
            x = torch.cat([quiet[None], flat[live]])
            for i in range(1, len(self.blocks)):
                x = activation(
                    hidden(x) @ self.blocks[i][level][0].T,
                    self.scales[i][rows.start],
                    self.biases[i][rows.start],
                )
            level_means, level_scales = output_indices(x)
            for out, got in ((means, level_means), (scales, level_scales)):
                view = out[rows].view(-1)
                view.fill_(int(got[0]))
                view[live] = got[1:].long()
        return means, scales

    def _zero_context(self, level: int, row: int) -> torch.Tensor:
        """The first layer's activations ``(channels,)`` of a level at an all-zero context."""
        return activation(torch.zeros(()), self.scales[0][row], self.biases[0][row])


#: Values (positions x rows) a pointwise encoder pass evaluates at once (`all_indices`).
_CHUNK_VALUES = 1 << 18


def _spatial_blocks(windows: torch.Tensor, bh: int, bw: int) -> torch.Tensor:
    """``(n, d, H, W, C)`` slices -> ``(n nH nW C, 1, d, bh, bw)`` partitions, zero-padded at
    the end of H and W (`BlockLayout.to_blocks` of each window, its depth one block)."""
    n, d, height, width, c = windows.shape
    nh, nw = -(-height // bh), -(-width // bw)
    x = F.pad(windows, [0, 0, 0, nw * bw - width, 0, nh * bh - height])
    x = x.reshape(n, d, nh, bh, nw, bw, c).permute(0, 2, 4, 6, 1, 3, 5)
    return x.reshape(-1, 1, d, bh, bw)


def _runs(offsets: list[int]) -> list[tuple[int, int, int]]:
    """Sorted tap offsets as runs of consecutive values: (first offset, first tap, length)."""
    runs, first = [], 0
    for j in range(1, len(offsets) + 1):
        if j == len(offsets) or offsets[j] != offsets[j - 1] + 1:
            runs.append((offsets[first], first, j - first))
            first = j
    return runs
