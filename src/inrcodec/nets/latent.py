"""Latent grids with a small synthesis network: a representation whose content lives in
multi-resolution grids rather than in network weights (Cool-chic, Ladune et al. 2023; C3, Kim
et al. 2024; NVRC-Lite, Kwan et al. 2025), built to be compressed by NVRC.

A frame is decoded as follows:

    level l of the latent grids, (T_l, H_l, W_l, C_l) --(linear in time at frame t)-->
    (H_l, W_l, C_l) --(bilinear upsampling to H x W)--> concatenated over levels
    -> synthesis: per-pixel MLP (1x1 convolutions with GELU) -> 3 channels, + 1/2
    -> refinement: ``refine`` residual 3x3 convolutions on the 3 channels (Cool-chic's)

Each level has its own spatial scale and temporal resolution (`LatentConfig`): the content
of a static region can live in a few slices, that of a moving one in many. The network's
weights are a few hundred to a few thousand; what costs bits is the grids, which NVRC codes
with its context model (Sec. 3.1).
The output is not squashed: zero latents give mid-grey, and the decoder clamps to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .hinerv import _time_lerp


@dataclass(frozen=True)
class LatentConfig:
    """Everything that defines a latent-grid network, for any video size.

    Per level, finest first: ``scales`` (the grid has ``ceil(H / 2^s)`` x ``ceil(W / 2^s)``
    positions), ``strides`` (one slice per ``stride`` frames) and ``channels``; ``hidden``:
    the widths of the synthesis MLP's hidden layers; ``refine``: residual 3x3 convolutions
    after it."""

    name: str
    scales: tuple[int, ...]
    strides: tuple[int, ...]
    channels: tuple[int, ...]
    hidden: tuple[int, ...]
    refine: int = 0

    def __post_init__(self):
        for key in ("scales", "strides", "channels", "hidden"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        if not len(self.scales) == len(self.strides) == len(self.channels) > 0:
            raise ValueError("scales, strides and channels need one entry per level")
        if min(self.scales) < 0 or min(self.strides + self.channels) < 1:
            raise ValueError("scales are >= 0, strides and channels >= 1")
        if self.hidden and min(self.hidden) < 1:
            raise ValueError("hidden widths must be positive")

    def grid_sizes(self, frames: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """(T, H, W, C) of every level for a video of this size."""
        return [
            (-(-frames // stride), -(-height // 2**scale), -(-width // 2**scale), channels)
            for scale, stride, channels in zip(self.scales, self.strides, self.channels,
                                               strict=True)
        ]  # fmt: skip


class LatentGrids(nn.Module):
    """The latent-grid representation of one video of ``frames`` x ``height`` x ``width``
    (module docstring); implements `inrcodec.nets.representation.Representation`."""

    def __init__(self, config: LatentConfig, frames: int, height: int, width: int):
        super().__init__()
        self.config, self.frames, self.height, self.width = config, frames, height, width
        self.padded_height, self.padded_width = height, width
        self.grid_sizes = config.grid_sizes(frames, height, width)
        self.grids = nn.ParameterList(nn.Parameter(torch.empty(s)) for s in self.grid_sizes)
        widths = [sum(config.channels), *config.hidden, 3]
        self.synthesis = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.refinement = nn.ModuleList(nn.Conv2d(3, 3, 3) for _ in range(config.refine))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Grids at zero (as Cool-chic), the MLP PyTorch's default but its last layer at zero:
        the first frames are mid-grey, and the latents get gradients after one step."""
        for grid in self.grids:
            nn.init.zeros_(grid)
        for layer in (self.synthesis[-1], *self.refinement):  # residual layers start as identity
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def features(self, t: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)``: every level at frames ``t``, upsampled to the frame."""
        out = []
        for grid in self.grids:
            slices, w1 = _time_lerp(t, self.frames, grid.shape[0])
            g = grid[slices]  # (B, 2, h, w, C)
            g = g[:, 0] + (g[:, 1] - g[:, 0]) * w1[:, None, None, None]
            g = g.permute(0, 3, 1, 2)
            if g.shape[-2:] != (self.height, self.width):
                g = F.interpolate(g, (self.height, self.width), mode="bilinear")
            out.append(g)
        return torch.cat(out, dim=1)

    def forward(
        self, frame_indices: torch.Tensor, patch: tuple[int, int, int, int] | None = None
    ) -> torch.Tensor:
        """``(B,)`` frame indices -> ``(B, 3, h, w)``: the whole frames, or their ``patch``
        (top, left, height, width), cut from the whole frames."""
        t = frame_indices.reshape(-1).to(self.grids[0].device, torch.long)
        x = self.features(t).permute(0, 2, 3, 1)
        last = len(self.synthesis) - 1
        for i, layer in enumerate(self.synthesis):
            x = layer(x)
            if i < last:
                x = F.gelu(x)
        x = (x + 0.5).permute(0, 3, 1, 2)
        for conv in self.refinement:  # edges replicated, as a decoder sees nothing beyond
            x = x + conv(F.pad(F.gelu(x), (1, 1, 1, 1), mode="replicate"))
        if patch is not None:
            top, left, h, w = patch
            x = x[..., top : top + h, left : left + w]
        return x

    def patches(self, patch_height: int, patch_width: int) -> list[tuple[int, int, int, int]]:
        return [
            (top, left, min(patch_height, self.height - top), min(patch_width, self.width - left))
            for top in range(0, self.height, patch_height)
            for left in range(0, self.width, patch_width)
        ]

    def grid_slices(self, frame_indices: torch.Tensor) -> list[torch.Tensor]:
        """Per grid, the slices (first index) that frames ``frame_indices`` read, including
        the next slice that a frame on a slice reads with weight 0: training estimates the
        rate there too, which (measured, docs/nvrc.md) gives a smaller file than leaving
        those slices out."""
        t = frame_indices.reshape(-1).to(self.grids[0].device, torch.long)
        return [_time_lerp(t, self.frames, g.shape[0])[0].unique() for g in self.grids]

    def grid_names(self) -> list[str]:
        return [f"grids.{i}" for i in range(len(self.grids))]

    @staticmethod
    def matrix_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
        """A linear layer's weight is ``(out, in)``; a bias ``(out,)`` is ``(out, 1)``."""
        return (shape[0], 1) if len(shape) == 1 else (shape[0], math.prod(shape[1:]))

    def peak_activations(self) -> int:
        """About the most activation values a whole frame holds at once: the upsampled
        features, then a hidden layer beside its GELU (and the output)."""
        widths = [sum(self.config.channels), *(2 * h for h in self.config.hidden), 3]
        return self.height * self.width * (max(widths) + sum(self.config.channels))

    def macs_per_pixel(self) -> float:
        """The synthesis MLP, plus 4 per upsampled channel (bilinear) and 2 per channel for
        the time interpolation at each level's resolution."""
        channels = sum(self.config.channels)
        widths = [channels, *self.config.hidden, 3]
        mlp = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
        mlp += 81 * self.config.refine
        lerp = sum(2 * h * w * c for _, h, w, c in self.grid_sizes) / (self.height * self.width)
        return mlp + 4 * channels + lerp


# ----------------------------------------------------------------------------- presets

#: name -> (scales, strides, channels, hidden, refine): the levels, finest first, and the
#: synthesis. ``nvrc-latent-static``: the same network with long strides (4 to 16 frames a
#: slice), for content that moves little (a static camera).
_PRESETS = {
    "nvrc-latent": ((0, 1, 2, 3, 4, 5, 6), (1, 1, 2, 2, 4, 4, 8), (1,) * 7, (24, 24), 0),
    "nvrc-latent-static": ((0, 1, 2, 3, 4, 5, 6), (4, 4, 4, 8, 8, 16, 16), (1,) * 7, (24, 24), 0),
}
PRESETS = tuple(_PRESETS)
#: name -> the presets whose temporal designs (strides) an encoder may choose instead
#: (`candidates`).
_TEMPORAL_CANDIDATES = {"nvrc-latent": ("nvrc-latent-static",)}


def preset(name: str, frames: int, height: int, width: int) -> LatentConfig:
    """The configuration ``name`` (`PRESETS`) for a video of this size: levels coarser than
    the frame (a grid of one position) are left out."""
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    scales, strides, channels, hidden, refine = _PRESETS[name]
    keep = [i for i, s in enumerate(scales) if 2**s < max(height, width)]
    return LatentConfig(
        name,
        tuple(scales[i] for i in keep),
        tuple(min(strides[i], frames) for i in keep),
        tuple(channels[i] for i in keep),
        hidden,
        refine,
    )


def candidates(name: str, frames: int, height: int, width: int) -> list[LatentConfig]:
    """The preset's configuration, then those of the presets of its other temporal designs,
    for content that moves less (distinct strides only: on a short video long strides may
    come to the same)."""
    configs = [preset(name, frames, height, width)]
    for other in _TEMPORAL_CANDIDATES.get(name, ()):
        config = preset(other, frames, height, width)
        if all(config.strides != known.strides for known in configs):
            configs.append(config)
    return configs


def size_class(name: str) -> str:
    """The latent presets are CPU presets (`inrcodec.codecs.nvrc.presets`)."""
    return "cpu"
