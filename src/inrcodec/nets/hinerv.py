"""HiNeRV: a hierarchical-encoding neural representation of a video, in one file.

HiNeRV (Kwan et al., NeurIPS 2023, arXiv:2306.09818) maps a frame index to a frame:

    multi-level feature grids --(sample at frame t, interpolate)--> stem conv
    -> 4 x [LayerNorm, bilinear upsampling by the stride, + temporal local grid,
            ConvNeXt-style blocks (depth-wise conv, LayerNorm, MLP, GELU)]
    -> head (1x1 conv) -> sigmoid

NVRC (Kwan et al., NeurIPS 2024, arXiv:2409.07414, Appendix A.1) uses the same network with
larger feature grids, a 3x3x3 stem that runs on the grids *before* their interpolation, and
other sizes (Table 5). Both are the same code below; they differ only in `HiNeRVConfig` data,
built by `preset()`.

Conventions, as in the reference code (github.com/hmkx/HiNeRV, MIT):
- every interpolation is linear with ``align_corners=False`` and clamped at the border
  (``F.interpolate`` semantics);
- features are zero outside the frame at every layer (convolutions see zero padding);
- tensors are channels-last, ``(B, H, W, C)``, so the MLPs are plain ``nn.Linear``.

Patch-wise evaluation (HiNeRV Sec. 3.3): an output patch is computed from a feature patch that
carries all the context the later layers need. `_context` walks the network backwards and
gives, for each stage, the region (in absolute coordinates of that stage's resolution, possibly
reaching outside the frame) it must produce; every convolution then runs without padding and
shrinks the region by its half-kernel. The whole frame is just the patch that covers it, so
stitched patches equal the whole frame up to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class HiNeRVConfig:
    """Everything that defines a HiNeRV network for one video size (see `preset`).

    Grid sizes are concrete (already derived from the video's frames and padded size). A level
    ``j`` of a grid has size ``int(size / ratio**j)`` per axis (at least 1), so a ratio of 2
    halves an axis and 0.5 doubles the channels at every level.
    """

    name: str
    channels: tuple[int, ...]  # output channels of each stage; stage 0's input is channels[0]
    depths: tuple[int, ...]  # ConvNeXt blocks per stage
    expansions: tuple[float, ...]  # MLP hidden width = expansion * stage channels
    strides: tuple[int, ...]  # spatial upsampling factor of each stage
    kernel: int  # depth-wise conv kernel in the blocks
    stem_kernel: tuple[int, int, int]  # (t, h, w)
    stem_on_grids: bool  # NVRC: stem on each grid level, then interpolate (App. A.1 (2))
    grid_size: tuple[int, int, int, int]  # level 0 of the input grids: T, H, W, C
    grid_levels: int
    grid_ratios: tuple[float, float, float, float]
    local_grid_size: tuple[int, int]  # level 0 of stage 0's temporal local grid: T, C
    local_grid_levels: int
    local_grid_ratios: tuple[float, float]  # per level: T, C
    local_grid_stage_ratio: float  # local-grid channels multiplier from one stage to the next
    grid_init_scale: float = 1e-3  # grids ~ U(-s, s)
    output_activation: str = "sigmoid"  # or "none"

    def __post_init__(self):
        n = len(self.strides)
        if not len(self.channels) == len(self.depths) == len(self.expansions) == n:
            raise ValueError("channels, depths, expansions and strides need one entry per stage")
        if self.kernel % 2 == 0 or any(k % 2 == 0 for k in self.stem_kernel):
            raise ValueError("kernel sizes must be odd")
        if not self.stem_on_grids and self.stem_kernel[0] != 1:
            raise ValueError("a stem after grid interpolation sees one frame: its t kernel is 1")
        if self.output_activation not in ("sigmoid", "none"):
            raise ValueError(f"unknown output activation {self.output_activation!r}")

    @property
    def total_stride(self) -> int:
        return math.prod(self.strides)

    def grid_level_sizes(self) -> list[tuple[int, int, int, int]]:
        """(T, H, W, C) of each input-grid level."""
        return [
            tuple(
                max(int(s / r**j), 1) for s, r in zip(self.grid_size, self.grid_ratios, strict=True)
            )
            for j in range(self.grid_levels)
        ]

    def local_grid_level_sizes(self, stage: int) -> list[tuple[int, int]]:
        """(T, C) of each temporal local-grid level of a stage (its s x s positions aside)."""
        t0, c0 = self.local_grid_size
        c = max(int(c0 * self.local_grid_stage_ratio**stage), 1)
        rt, rc = self.local_grid_ratios
        return [
            (max(int(t0 / rt**j), 1), max(int(c / rc**j), 1)) for j in range(self.local_grid_levels)
        ]


def _padded(size: int, stride: int) -> int:
    return -(-size // stride) * stride


def temporal_grid_size(frames: int, frames_per_slice: int) -> int:
    """Temporal size of the level-0 input grid: one slice per `frames_per_slice` frames.

    The papers fix it for UVG's 600 frames (HiNeRV: 150, i.e. 4 frames per slice; NVRC Table 5:
    200, i.e. 3); we keep that density for any length: ``ceil(frames / frames_per_slice)``.
    """
    return max(-(-frames // frames_per_slice), 1)


# Paper presets: the reference's UVG configurations (cfgs/models/uvg-hinerv-*_1920x1080.txt),
# name -> (channels, depths, grid channels, local grid channels).
_HINERV_SIZES = {
    "s": (280, (3, 3, 3, 1), 2, 4),
    "m": (400, (3, 3, 3, 1), 4, 8),
    "l": (560, (3, 3, 3, 1), 8, 16),
    "xl": (688, (4, 4, 4, 1), 16, 32),
    "xxl": (864, (5, 5, 5, 1), 32, 64),
}
# NVRC Table 5: name -> (channels per stage, grid channels, local grid channels).
_NVRC_SIZES = {
    "s1": ((224, 112, 56, 28), 1, 4),
    "s2": ((336, 168, 84, 42), 2, 8),
    "s3": ((512, 256, 128, 64), 4, 16),
    "s4": ((768, 384, 192, 96), 8, 32),
}
# Scaled-down members of each family for CPU work (`-cpu-xs` ... `-cpu-l`, the CPU rate
# points' sizes) and tests (`-tiny`):
# name -> (channels per stage, depths, grid channels, local grid channels).
_SMALL_SIZES = {
    "cpu-xs": ((24, 12, 6, 3), (2, 2, 2, 1), 2, 4),
    "cpu-s": ((32, 16, 8, 4), (2, 2, 2, 1), 2, 4),
    "cpu": ((48, 24, 12, 6), (2, 2, 2, 1), 2, 4),
    "cpu-l": ((64, 32, 16, 8), (2, 2, 2, 1), 2, 4),
    "tiny": ((8, 8, 4, 4), (1, 1, 1, 1), 1, 2),
}

PRESETS = (
    *(f"hinerv-{k}" for k in (*_HINERV_SIZES, *_SMALL_SIZES)),
    *(f"nvrc-{k}" for k in (*_NVRC_SIZES, *_SMALL_SIZES)),
)


def size_class(name: str) -> str:
    """ "paper", "cpu" (the ``-cpu*`` presets) or "tiny" (tests): the defaults follow it."""
    size = name.partition("-")[2]
    return "paper" if size not in _SMALL_SIZES else "tiny" if size == "tiny" else "cpu"


def _halving(c: int, n: int = 4) -> tuple[int, ...]:
    """HiNeRV's channels: c at stage 0, then halved (floor) at every stage."""
    return tuple(c // 2**i for i in range(n))


def preset(name: str, frames: int, height: int, width: int) -> HiNeRVConfig:
    """The configuration `name` (see `PRESETS`) for a video of this size.

    ``hinerv-{s,m,l,xl,xxl}``: HiNeRV's UVG configurations; ``nvrc-{s1..s4}``: NVRC Table 5;
    ``{hinerv,nvrc}-cpu{-xs,-s,,-l}``: the same families scaled down for CPU training (24 to
    64 channels, a few 1e4-1e5 parameters at 176x144); ``{hinerv,nvrc}-tiny``: for tests. The
    input grid's spatial size is the padded frame size over the total stride (45x80 at 1080p
    for NVRC, 18x32 for HiNeRV); its temporal size follows `temporal_grid_size`. Local grids
    have one slice per frame.
    """
    family, _, size = name.partition("-")
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    if min(frames, height, width) < 1:
        raise ValueError("frames, height and width must be positive")
    small = size in _SMALL_SIZES
    if family == "hinerv":
        if small:
            channels, depths, grid_c, local_c = _SMALL_SIZES[size]
            strides = (2, 2, 2, 2)
        else:
            c, depths, grid_c, local_c = _HINERV_SIZES[size]
            channels, strides = _halving(c), (5, 3, 2, 2)
        expansions = (4.0, 4.0, 4.0, 1.0)
        stem_kernel, stem_on_grids, frames_per_slice = (1, 3, 3), False, 4
        grid_levels, grid_ratios = 2, (2.0, 1.0, 1.0, 0.5)
    else:
        if small:
            channels, depths, grid_c, local_c = _SMALL_SIZES[size]
            strides = (2, 2, 2, 2)
        else:
            channels, grid_c, local_c = _NVRC_SIZES[size]
            depths, strides = (3, 3, 3, 1), (3, 2, 2, 2)
        expansions = (4.0, 4.0, 4.0, 4.0)
        stem_kernel, stem_on_grids, frames_per_slice = (3, 3, 3), True, 3
        grid_levels, grid_ratios = 4, (2.0, 2.0, 2.0, 0.5)
    stride = math.prod(strides)
    grid_size = (
        temporal_grid_size(frames, frames_per_slice),
        _padded(height, stride) // stride,
        _padded(width, stride) // stride,
        grid_c,
    )
    if size_class(name) == "cpu":
        grid_levels = _useful_levels(grid_size, grid_ratios, grid_levels)
    return HiNeRVConfig(
        name=name,
        channels=tuple(channels),
        depths=tuple(depths),
        expansions=expansions,
        strides=strides,
        kernel=3,
        stem_kernel=stem_kernel,
        stem_on_grids=stem_on_grids,
        grid_size=grid_size,
        grid_levels=grid_levels,
        grid_ratios=grid_ratios,
        local_grid_size=(frames, local_c),
        local_grid_levels=3,
        local_grid_ratios=(2.0, 0.5),
        local_grid_stage_ratio=0.5,
    )


#: A grid level of the CPU presets exists only if its T, H and W all have this many positions.
MIN_LEVEL_SIZE = 4


def _useful_levels(size: tuple[int, ...], ratios: tuple[float, ...], levels: int) -> int:
    """How many of `levels` grid levels have at least `MIN_LEVEL_SIZE` positions per axis (at
    least one). A coarser level of a small video is nearly a constant (NVRC's fourth level of
    a 176x144 clip is 1x1x1), yet the stem gives it as many weights per channel as the finest,
    and its channels double at every level: 31 K of `nvrc-cpu`'s 101 K parameters at 176x144
    served two such levels, and dropping them measured better (docs/nvrc.md)."""
    for j in range(levels, 0, -1):
        if all(
            int(s / r ** (j - 1)) >= MIN_LEVEL_SIZE
            for s, r in zip(size[:3], ratios[:3], strict=True)
        ):
            return j
    return 1


# ----------------------------------------------------------------------------- geometry


def _context(config: HiNeRVConfig, lo: int, hi: int) -> list[tuple[int, int]]:
    """Regions along one axis that each stage must work on, for output pixels ``[lo, hi)``.

    Returns ``[r_base, u_0, r_0, u_1, r_1, ...]``: ``r_base`` is the stem's output at the base
    resolution, ``u_i`` stage i's upsampled map, ``r_i`` stage i's output (``r_last`` is
    ``(lo, hi)``). Coordinates are absolute at each resolution and may leave the frame.
    """
    half = (config.kernel - 1) // 2
    regions = [(lo, hi)]
    for s, d in zip(reversed(config.strides), reversed(config.depths), strict=True):
        lo, hi = lo - d * half, hi + d * half  # d valid convolutions
        regions.append((lo, hi))
        # bilinear x s, align_corners=False: output o reads floor((o + .5) / s - .5) and the next
        lo, hi = (2 * lo + 1 - s) // (2 * s), (2 * hi - 1 - s) // (2 * s) + 2
        regions.append((lo, hi))
    return regions[::-1]


def _source(o: int, in_size: int, out_size: int) -> int:
    """First input sample read by output `o` when resampling in_size -> out_size linearly with
    align_corners=False, clamped to the border (as ``F.interpolate``)."""
    return min(math.floor(max((o + 0.5) * (in_size / out_size) - 0.5, 0.0)), in_size - 1)


def _window(lo: int, hi: int, in_size: int, out_size: int) -> tuple[int, int]:
    """Input samples ``[a, b)`` read by outputs ``[lo, hi)`` (see `_source`)."""
    return _source(lo, in_size, out_size), min(
        _source(hi - 1, in_size, out_size) + 1, in_size - 1
    ) + 1


def _lerp_indices(lo: int, hi: int, in_size: int, out_size: int, window: tuple[int, int], device):
    """Indices (i0, i1), relative to the input `window`, and weights of i1 for outputs
    ``[lo, hi)``. Outputs outside the frame (masked afterwards) are clamped into the window."""
    out = torch.arange(lo, hi, dtype=torch.float64)
    src = ((out + 0.5) * (in_size / out_size) - 0.5).clamp(min=0.0)
    i0 = src.floor().clamp(max=in_size - 1)
    w1 = (src - i0).float()
    i1 = (i0 + 1).clamp(max=in_size - 1)
    a, b = window
    i0, i1 = (i0.long() - a).clamp(0, b - a - 1), (i1.long() - a).clamp(0, b - a - 1)
    return i0.to(device), i1.to(device), w1.to(device)


def _lerp(x: torch.Tensor, dim: int, idx) -> torch.Tensor:
    """Gather-and-blend along `dim` with indices from `_lerp_indices`."""
    i0, i1, w1 = idx
    shape = [1] * x.ndim
    shape[dim] = -1
    w1 = w1.view(shape).to(x.dtype)
    a, b = x.index_select(dim, i0), x.index_select(dim, i1)
    return a + (b - a) * w1


def _mask(x: torch.Tensor, rows: tuple[int, int], cols: tuple[int, int], h: int, w: int):
    """Zero the part of a (B, rows, cols, C) region that lies outside an h x w frame."""
    if rows[0] >= 0 and rows[1] <= h and cols[0] >= 0 and cols[1] <= w:
        return x
    r = torch.arange(*rows, device=x.device)
    c = torch.arange(*cols, device=x.device)
    inside = ((r >= 0) & (r < h))[:, None] & ((c >= 0) & (c < w))[None, :]
    return x * inside[..., None].to(x.dtype)


def _crop(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """``x[lo:hi]`` along `dim`, zero-filled where the range leaves the tensor."""
    n = x.shape[dim]
    y = x.narrow(dim, max(lo, 0), max(min(hi, n) - max(lo, 0), 0))
    pad = [0, 0] * (x.ndim - 1 - dim) + [max(-lo, 0), max(hi - n, 0)]
    return F.pad(y, pad) if any(pad) else y


def _time_lerp(t: torch.Tensor, frames: int, grid_t: int):
    """Sample a grid of `grid_t` slices at frames `t` (of `frames`): slice indices (B, 2) and
    the weight of the second."""
    src = ((t.double() + 0.5) * (grid_t / frames) - 0.5).clamp(min=0.0)
    t0 = src.floor().clamp(max=grid_t - 1)
    w1 = (src - t0).float()
    t1 = (t0 + 1).clamp(max=grid_t - 1)
    return torch.stack([t0, t1], dim=1).long(), w1


# ----------------------------------------------------------------------------- layers


class Block(nn.Module):
    """ConvNeXt-style block (HiNeRV Sec. 3.2): depth-wise k x k conv, LayerNorm (no affine),
    MLP with GELU; residual when the width is kept. No biases (reference ``--block-bias
    false``). The conv is unpadded: the region shrinks by (k - 1) / 2 on each side."""

    def __init__(self, c_in: int, c_out: int, hidden: int, kernel: int):
        super().__init__()
        self.dwconv = nn.Conv2d(c_in, c_in, kernel, groups=c_in, bias=False)
        self.fc1 = nn.Linear(c_in, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, c_out, bias=False)
        self.half = (kernel - 1) // 2
        self.residual = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        y = F.layer_norm(y, y.shape[-1:], eps=1e-6)
        y = self.fc2(F.gelu(self.fc1(y)))
        if self.residual:
            p = self.half
            y = y + x[:, p : x.shape[1] - p, p : x.shape[2] - p]
        return y


class Stage(nn.Module):
    """One HiNeRV stage: LayerNorm, bilinear upsampling by `stride`, the hierarchical temporal
    local grid encoding (HiNeRV Sec. 3.1: a learned s x s pattern per frame, interpolated in
    time from multi-level grids and projected by a linear layer), then the blocks."""

    def __init__(self, config: HiNeRVConfig, i: int, c_in: int):
        super().__init__()
        s, c_out = config.strides[i], config.channels[i]
        self.stride = s
        self.local_sizes = config.local_grid_level_sizes(i)
        self.local_grids = nn.ParameterList(
            nn.Parameter(torch.empty(t, s, s, c)) for t, c in self.local_sizes
        )
        self.local_linear = nn.Linear(sum(c for _, c in self.local_sizes), c_in)
        hidden = int(c_out * config.expansions[i])
        self.blocks = nn.ModuleList(
            Block(c_in if j == 0 else c_out, c_out, hidden, config.kernel)
            for j in range(config.depths[i])
        )

    def local_encoding(self, t: torch.Tensor, frames: int) -> torch.Tensor:
        """(B,) frames -> (B, s, s, c_in) local pattern."""
        feats = []
        for grid, (grid_t, _) in zip(self.local_grids, self.local_sizes, strict=True):
            ts, w1 = _time_lerp(t, frames, grid_t)
            g = grid[ts]  # (B, 2, s, s, C)
            w1 = w1[:, None, None, None]
            feats.append(g[:, 0] + (g[:, 1] - g[:, 0]) * w1)
        return self.local_linear(torch.cat(feats, dim=-1))

    def forward(self, x, t, frames, regions, size):
        """x on region ``regions[0]`` (rows, cols); returns the region ``regions[2]``.
        `size` is the (h, w) of the frame at this stage's output resolution."""
        (rows_in, cols_in), (rows_up, cols_up), (rows, cols) = regions
        s, (h, w) = self.stride, size
        x = F.layer_norm(x, x.shape[-1:], eps=1e-6)
        x = _lerp(x, 1, _lerp_indices(*rows_up, h // s, h, rows_in, x.device))
        x = _lerp(x, 2, _lerp_indices(*cols_up, w // s, w, cols_in, x.device))
        pattern = self.local_encoding(t, frames)  # (B, s, s, C)
        r = torch.arange(*rows_up, device=x.device) % s
        c = torch.arange(*cols_up, device=x.device) % s
        x = x + pattern[:, r][:, :, c]
        x = _mask(x, rows_up, cols_up, h, w)
        for block in self.blocks:
            rows_up = (rows_up[0] + block.half, rows_up[1] - block.half)
            cols_up = (cols_up[0] + block.half, cols_up[1] - block.half)
            x = _mask(block(x), rows_up, cols_up, h, w)
        assert (rows_up, cols_up) == (rows, cols)
        return x


# ----------------------------------------------------------------------------- the network


class HiNeRV(nn.Module):
    """HiNeRV / NVRC representation of one video of `frames` frames of `height` x `width`.

    The network works on the frame padded to a multiple of the total stride
    (`padded_height` x `padded_width`, padding at the bottom/right) and the output is cropped.
    """

    def __init__(
        self, config: HiNeRVConfig, frames: int, height: int, width: int, out_channels: int = 3
    ):
        super().__init__()
        self.config, self.frames, self.height, self.width = config, frames, height, width
        stride = config.total_stride
        self.padded_height, self.padded_width = _padded(height, stride), _padded(width, stride)
        self.base_size = (self.padded_height // stride, self.padded_width // stride)

        # Input feature grids, (T, H, W, C) per level: NVRC's theta_grid.
        self.grid_sizes = config.grid_level_sizes()
        self.grids = nn.ParameterList(nn.Parameter(torch.empty(size)) for size in self.grid_sizes)
        c_grid = sum(size[3] for size in self.grid_sizes)
        self.stem = nn.Conv3d(c_grid, config.channels[0], config.stem_kernel)
        self.stages = nn.ModuleList()
        c = config.channels[0]
        for i in range(len(config.strides)):
            self.stages.append(Stage(config, i, c))
            c = config.channels[i]
        self.head = nn.Linear(c, out_channels)
        self.reset_parameters()

    def reset_parameters(self):
        """As the reference: grids ~ U(-1e-3, 1e-3), weights PyTorch's default (Kaiming-uniform
        with a = sqrt(5)), every bias zero."""
        scale = self.config.grid_init_scale
        for name, p in self.named_parameters():
            if "grids" in name:
                nn.init.uniform_(p, -scale, scale)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def grid_parameters(self) -> list[nn.Parameter]:
        """The input feature grids (NVRC's theta_grid), level 0 first, each (T, H, W, C)."""
        return list(self.grids)

    # --- the `Representation` interface (NVRC's view of the parameters)

    def grid_names(self) -> list[str]:
        """The input feature grids, level 0 first (`grid_parameters`)."""
        return [f"grids.{i}" for i in range(len(self.grids))]

    @staticmethod
    def matrix_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
        """Row i holds everything of output channel i: kernel dimensions fold into the
        columns (a depth-wise kernel ``(C, 1, 3, 3)`` is ``(C, 9)``, its columns the taps), a
        temporal local grid ``(T, s, s, C)`` is ``(T s s, C)`` (its channels are the input
        features of the linear layer that reads it), a bias ``(C,)`` is ``(C, 1)``."""
        if "local_grids" in name:
            return math.prod(shape[:-1]), shape[-1]
        if len(shape) == 1:
            return shape[0], 1
        return shape[0], math.prod(shape[1:])

    def macs_per_pixel(self) -> float:
        """`macs_per_pixel` of a whole-frame decode of this network's video."""
        return macs_per_pixel(self.config, self.height, self.width)

    def peak_activations(self) -> int:
        """`peak_activations` of a whole-frame decode of this network's video."""
        return peak_activations(self.config, self.height, self.width)

    def patches(self, patch_height: int, patch_width: int) -> list[tuple[int, int, int, int]]:
        """(top, left, height, width) tiles covering the padded frame, row-major; tiles on the
        bottom/right edge are smaller when the sizes do not divide the padded frame."""
        return [
            (top, left, min(patch_height, self.padded_height - top),
             min(patch_width, self.padded_width - left))
            for top in range(0, self.padded_height, patch_height)
            for left in range(0, self.padded_width, patch_width)
        ]  # fmt: skip

    def forward(
        self, frame_indices: torch.Tensor, patch: tuple[int, int, int, int] | None = None
    ) -> torch.Tensor:
        """(B,) frame indices -> (B, out_channels, h, w).

        `patch` = (top, left, height, width) in output pixels, inside the padded frame; None is
        the whole frame cropped to (height, width). Any patch position works (stitched patches
        equal the whole frame); stride-aligned patches waste the least context.
        """
        top, left, h, w = patch or (0, 0, self.padded_height, self.padded_width)
        if not (0 <= top and 0 < h and top + h <= self.padded_height) or not (
            0 <= left and 0 < w and left + w <= self.padded_width
        ):
            raise ValueError(f"patch {patch} is not inside the padded frame")
        t = frame_indices.reshape(-1).to(self.stem.weight.device, torch.long)
        on_cpu = t.device.type == "cpu" and t.numel() > 0  # no device sync for the check
        if on_cpu and not 0 <= int(t.min()) <= int(t.max()) < self.frames:
            raise ValueError(f"frame indices must lie in [0, {self.frames})")
        rows = _context(self.config, top, top + h)
        cols = _context(self.config, left, left + w)
        x = self._input(t, rows[0], cols[0])
        size = self.base_size
        for i, stage in enumerate(self.stages):
            size = (size[0] * stage.stride, size[1] * stage.stride)
            regions = list(zip(rows[2 * i : 2 * i + 3], cols[2 * i : 2 * i + 3], strict=True))
            x = stage(x, t, self.frames, regions, size)
        x = self.head(x)
        if self.config.output_activation == "sigmoid":
            x = torch.sigmoid(x)
        if patch is None:
            x = x[:, : self.height, : self.width]
        return x.permute(0, 3, 1, 2)

    def _input(self, t: torch.Tensor, rows: tuple[int, int], cols: tuple[int, int]):
        """Grids + stem -> (B, rows, cols, C0) at the base resolution, zero outside the frame.

        HiNeRV: each grid level is sampled at frame t (linear in time) and resized to the base
        resolution (bilinear; identity for HiNeRV's grids, which are at the base size), the
        levels are concatenated and a 2-D stem conv follows. NVRC (App. A.1 (2)): the 3-D stem
        runs on each level at the level's own (T, H, W) resolution with zero padding, and its
        output is then sampled and resized. The stem's weight is split along its input
        channels, one slice per level, and its bias added once: as both steps are linear, this
        is the HiNeRV stem on the concatenated levels with the interpolation moved after it.
        Only the 2 time slices and the spatial window that the interpolation reads are computed.
        """
        kt, kh, kw = self.config.stem_kernel
        pt, ph, pw = (kt - 1) // 2, (kh - 1) // 2, (kw - 1) // 2
        on_grids = self.config.stem_on_grids
        hb, wb = self.base_size
        if not on_grids:  # the stem needs its own context
            rows, cols = (rows[0] - ph, rows[1] + ph), (cols[0] - pw, cols[1] + pw)
        feats, c_lo = [], 0
        for grid, (gt, gh, gw, gc) in zip(self.grids, self.grid_sizes, strict=True):
            win_r, win_c = _window(*rows, gh, hb), _window(*cols, gw, wb)
            ri = _lerp_indices(*rows, gh, hb, win_r, grid.device)
            ci = _lerp_indices(*cols, gw, wb, win_c, grid.device)
            ts, w1 = _time_lerp(t, self.frames, gt)  # (B, 2)
            w1 = w1[:, None, None, None]
            if on_grids:
                g = _crop(grid, 1, win_r[0] - ph, win_r[1] + ph)  # zero padding in space
                g = _crop(g, 2, win_c[0] - pw, win_c[1] + pw)
                tt = ts[:, :, None] + torch.arange(-pt, pt + 1, device=t.device)  # (B, 2, kt)
                inside = ((tt >= 0) & (tt < gt)).to(g.dtype)[..., None, None, None]
                g = g[tt.clamp(0, gt - 1)] * inside  # (B, 2, kt, h, w, C), zero-padded in time
                g = g.flatten(0, 1).permute(0, 4, 1, 2, 3)
                weight = self.stem.weight[:, c_lo : c_lo + gc]
                g = F.conv3d(g, weight).squeeze(2).unflatten(0, (-1, 2)).permute(0, 1, 3, 4, 2)
            else:
                g = grid[:, win_r[0] : win_r[1], win_c[0] : win_c[1]][ts]  # (B, 2, h, w, C)
            g = g[:, 0] + (g[:, 1] - g[:, 0]) * w1
            feats.append(_lerp(_lerp(g, 1, ri), 2, ci))
            c_lo += gc
        if on_grids:
            return _mask(sum(feats) + self.stem.bias, rows, cols, hb, wb)
        x = _mask(torch.cat(feats, dim=-1), rows, cols, hb, wb).permute(0, 3, 1, 2)
        x = F.conv2d(x, self.stem.weight[:, :, 0], self.stem.bias).permute(0, 2, 3, 1)
        return _mask(x, (rows[0] + ph, rows[1] - ph), (cols[0] + pw, cols[1] - pw), hb, wb)


# ----------------------------------------------------------------------------- complexity


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (works on the meta device too)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def macs_per_frame(
    config: HiNeRVConfig, height: int, width: int, patch: tuple[int, int] | None = None
) -> int:
    """Multiply-accumulates of the convolutions and linear layers to decode one frame.

    ``patch=(h, w)`` counts a frame evaluated as patches of that size, including the
    overlapping context each patch recomputes; None counts a whole-frame forward. The NVRC
    stem is counted as computed here (2 time slices per frame and level). Interpolation,
    LayerNorm and GELU are not counted (as usual for these figures).
    """
    stride = config.total_stride
    ph_, pw_ = _padded(height, stride), _padded(width, stride)
    ph, pw = patch or (ph_, pw_)
    tiles_r = [(a, min(a + ph, ph_)) for a in range(0, ph_, ph)]
    tiles_c = [(a, min(a + pw, pw_)) for a in range(0, pw_, pw)]
    ctx_r = [_context(config, *r) for r in tiles_r]
    ctx_c = [_context(config, *c) for c in tiles_c]

    def area(i):  # sum over tiles of the region area at context index i
        return sum(r[i][1] - r[i][0] for r in ctx_r) * sum(c[i][1] - c[i][0] for c in ctx_c)

    def span(region):
        return region[1] - region[0]

    c0 = config.channels[0]
    kt, kh, kw = config.stem_kernel
    hb, wb = ph_ // stride, pw_ // stride
    c_grid = sum(s[3] for s in config.grid_level_sizes())
    if config.stem_on_grids:  # 2 time slices of the grid window read by each tile
        macs = 0
        for _, gh, gw, gc in config.grid_level_sizes():
            n = sum(span(_window(*r[0], gh, hb)) for r in ctx_r)
            n *= sum(span(_window(*c[0], gw, wb)) for c in ctx_c)
            macs += 2 * n * kt * kh * kw * gc * c0
    else:
        macs = area(0) * kh * kw * c_grid * c0
    c_in = c0
    half = (config.kernel - 1) // 2
    for i, s in enumerate(config.strides):
        c_out, hidden = config.channels[i], int(config.channels[i] * config.expansions[i])
        local_c = sum(c for _, c in config.local_grid_level_sizes(i))
        n_tiles = len(tiles_r) * len(tiles_c)
        macs += n_tiles * s * s * local_c * c_in
        rows = [r[2 * i + 1] for r in ctx_r]
        cols = [c[2 * i + 1] for c in ctx_c]
        for j in range(config.depths[i]):
            rows = [(a + half, b - half) for a, b in rows]
            cols = [(a + half, b - half) for a, b in cols]
            n = sum(map(span, rows)) * sum(map(span, cols))
            cb = c_in if j == 0 else c_out
            macs += n * (config.kernel**2 * cb + cb * hidden + hidden * c_out)
        c_in = c_out
    return macs + area(-1) * c_in * 3


def peak_activations(config: HiNeRVConfig, height: int, width: int) -> int:
    """About the most activation values a whole-frame forward of one frame holds at once: the
    largest, over the stages, of the upsampled map's area (with its context) times its widest
    moment, either the upsampling's copies of the input (``5 c_in`` channels) or a block's
    input and normalised input beside its MLP's hidden layer and GELU (``2 c + 2 hidden``).
    In float32, this is 0.8 to 1.4 times what the resident memory grew by in a decode of one
    frame (measured on CPU and paper presets, 720p to 4K: more where the allocator keeps
    some of the earlier stages' memory)."""
    stride = config.total_stride
    rows = _context(config, 0, _padded(height, stride))
    cols = _context(config, 0, _padded(width, stride))
    c_in, peak = config.channels[0], 0
    for i, (c_out, expansion) in enumerate(zip(config.channels, config.expansions, strict=True)):
        (top, bottom), (left, right) = rows[2 * i + 1], cols[2 * i + 1]
        hidden = int(c_out * expansion)
        widest = max(5 * c_in, 2 * max(c_in, c_out) + 2 * hidden)
        peak = max(peak, (bottom - top) * (right - left) * widest)
        c_in = c_out
    return peak


def macs_per_pixel(
    config: HiNeRVConfig, height: int, width: int, patch: tuple[int, int] | None = None
) -> float:
    """`macs_per_frame` divided by the (unpadded) frame's pixel count."""
    return macs_per_frame(config, height, width, patch) / (height * width)
