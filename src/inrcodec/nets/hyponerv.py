"""HypoNeRV: the small NeRV whose weights TeCoNeRV's hypernetwork predicts, one per clip.

TeCoNeRV (Padmanabhan, Gwilliam and Shrivastava; Sec. 3.1 and Appendix D.1), after NeRV-Enc
(Chen et al., 2024) and NeRV (Chen et al., 2021):

    frame index t of the clip -> sinusoidal time encoding (pe_dim values, a 1x1 "image")
    -> NeRV blocks: conv (kernel 1 first, then 3) -> rectangular PixelShuffle (separate
       height / width strides) -> GELU, the last block without GELU
    -> tanh(x)/2 + 1/2

Every block has ``channels`` outputs after its PixelShuffle, except the last (3, RGB). The
output size is the product of the strides: (prod strides_h, prod strides_w).

Parameters are stored as in the reference code: a layer's weight is a ``(fan_in, out)`` matrix
with fan-in rows ordered (input channel, kernel row, kernel column), its bias a vector of
``out`` values. `modulate` turns the shared base weight and a clip's unique parameters into the
clip's weight (element-wise product, then L2 normalisation over the fan-in, Appendix D.1); the
bias is shared and never modulated. This module knows nothing of how the unique parameters are
predicted (`inrcodec.nets.hypernet`) or coded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inrcodec.errors import InrcodecError

__all__ = [
    "HypoNeRV",
    "HypoNeRVConfig",
    "LayerShape",
    "NetworkConfigError",
    "expand_unique",
    "modulate",
    "pixel_shuffle_rect",
    "time_encoding",
]


class NetworkConfigError(InrcodecError):
    """A network configuration whose sizes do not fit together; the message says which."""


@dataclass(frozen=True)
class LayerShape:
    """One NeRV block: a ``kernel`` x ``kernel`` conv from ``in_channels`` to ``out_channels``
    (= the block's channels times ``stride_h * stride_w``), then the PixelShuffle."""

    in_channels: int
    out_channels: int
    kernel: int
    stride_h: int
    stride_w: int

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.kernel * self.kernel

    @property
    def weight_count(self) -> int:
        return self.fan_in * self.out_channels


@dataclass(frozen=True)
class HypoNeRVConfig:
    """A HypoNeRV, all as data (Appendix D.4 / D.5 list the paper's)."""

    pe_dim: int  # time encoding width, the first block's input channels
    channels: int  # the blocks' width after PixelShuffle (f_c_dim)
    kernels: tuple[int, ...]  # one per block
    strides_h: tuple[int, ...]
    strides_w: tuple[int, ...]
    frames: int = 8  # clip length N
    out_channels: int = 3
    pe_sigma: float = 1024.0  # highest time frequency (reference code)

    def __post_init__(self) -> None:
        depth = len(self.kernels)
        if depth < 1 or len(self.strides_h) != depth or len(self.strides_w) != depth:
            raise NetworkConfigError(
                f"HypoNeRV needs one kernel and one height / width stride per block; got "
                f"{len(self.kernels)} kernels, {len(self.strides_h)} and {len(self.strides_w)} "
                "strides"
            )
        if any(k < 1 or k % 2 == 0 for k in self.kernels):
            raise NetworkConfigError(f"kernels must be odd and positive, got {self.kernels}")
        if min(self.strides_h + self.strides_w) < 1:
            raise NetworkConfigError("strides must be positive")
        if self.pe_dim < 2 or self.pe_dim % 2:
            raise NetworkConfigError(f"pe_dim must be even and >= 2, got {self.pe_dim}")
        if min(self.channels, self.frames, self.out_channels) < 1:
            raise NetworkConfigError("channels, frames and out_channels must be positive")

    @property
    def height(self) -> int:
        return math.prod(self.strides_h)

    @property
    def width(self) -> int:
        return math.prod(self.strides_w)

    @property
    def depth(self) -> int:
        return len(self.kernels)

    def layers(self) -> tuple[LayerShape, ...]:
        out, last = [], self.pe_dim
        for i, (k, sh, sw) in enumerate(
            zip(self.kernels, self.strides_h, self.strides_w, strict=True)
        ):
            ch = self.channels if i < self.depth - 1 else self.out_channels
            out.append(LayerShape(last, ch * sh * sw, k, sh, sw))
            last = ch
        return tuple(out)

    def parameter_count(self) -> int:
        """Base parameters: weights and biases of every block."""
        return sum(s.weight_count + s.out_channels for s in self.layers())

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> HypoNeRVConfig:
        data = dict(data)
        for key in ("kernels", "strides_h", "strides_w"):
            data[key] = tuple(data[key])
        return cls(**data)


def time_encoding(config: HypoNeRVConfig, device=None) -> torch.Tensor:
    """``(frames, pe_dim)``: frame i of the clip sits at the pixel-centre coordinate
    ``-1 + (2i + 1) / frames`` and is encoded as ``[cos(pi x w), sin(pi x w)]`` with
    ``pe_dim / 2`` frequencies ``w`` spaced geometrically from 1 to ``pe_sigma``."""
    n = config.frames
    t = -1 + (2 * torch.arange(n, device=device, dtype=torch.float32) + 1) / n
    freqs = torch.exp(
        torch.linspace(0, math.log(config.pe_sigma), config.pe_dim // 2, device=device)
    )
    x = math.pi * t[:, None] * freqs[None, :]
    return torch.cat([torch.cos(x), torch.sin(x)], dim=-1)


def pixel_shuffle_rect(x: torch.Tensor, stride_h: int, stride_w: int) -> torch.Tensor:
    """``(N, C * sh * sw, h, w) -> (N, C, h * sh, w * sw)``; channel ``c * sh * sw + i * sw + j``
    goes to sub-pixel (i, j) of channel c (``F.pixel_shuffle`` when sh == sw)."""
    n, c, h, w = x.shape
    c_out = c // (stride_h * stride_w)
    x = x.view(n, c_out, stride_h, stride_w, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c_out, h * stride_h, w * stride_w)


def expand_unique(unique: torch.Tensor, weight_count: int) -> torch.Tensor:
    """Lay a clip's unique parameters ``(B, g, d)`` over a layer of ``weight_count`` weights:
    each of the g token vectors is repeated ``weight_count / (g d)`` times in a row, and the
    result, read in order, fills the ``(fan_in, out)`` matrix row by row (reference code's
    layout). Returns ``(B, weight_count)``."""
    b, g, d = unique.shape
    if weight_count % (g * d):
        raise NetworkConfigError(
            f"{g} tokens of {d} values do not tile a layer of {weight_count} weights"
        )
    return unique.unsqueeze(2).expand(b, g, weight_count // (g * d), d).reshape(b, weight_count)


def modulate(base_weight: torch.Tensor, unique: torch.Tensor | None) -> torch.Tensor:
    """A clip's weight ``(B, fan_in, out)`` from the base ``(fan_in, out)``: the element-wise
    product with the expanded unique parameters, L2-normalised over the fan-in (Sec. 3.1,
    Appendix D.1). A layer without unique parameters is the normalised base, ``B`` = 1."""
    if unique is None:
        return F.normalize(base_weight, dim=0).unsqueeze(0)
    scale = expand_unique(unique, base_weight.numel()).view(-1, *base_weight.shape)
    return F.normalize(base_weight * scale, dim=1)


class HypoNeRV(nn.Module):
    """The base (shared) parameters of a HypoNeRV, and synthesis from per-clip weights."""

    def __init__(self, config: HypoNeRVConfig):
        super().__init__()
        self.config = config
        self.shapes = config.layers()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for s in self.shapes:
            bound = 1 / math.sqrt(s.fan_in)
            self.weights.append(nn.Parameter(torch.empty(s.fan_in, s.out_channels)))
            self.biases.append(nn.Parameter(torch.empty(s.out_channels)))
            nn.init.uniform_(self.weights[-1], -bound, bound)
            nn.init.uniform_(self.biases[-1], -bound, bound)

    def clip_weights(self, unique: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """The modulated weight of every layer (`modulate`), given one entry per layer."""
        return [modulate(w, u) for w, u in zip(self.weights, unique, strict=True)]

    def forward(self, weights: list[torch.Tensor]) -> torch.Tensor:
        """Frames ``(B, frames, 3, H, W)`` in [0, 1] from per-clip weights ``(B or 1, fan_in,
        out)`` (one per layer; the biases are the shared ones). The clips of a batch run as
        groups of one grouped convolution per layer."""
        batch = max(w.shape[0] for w in weights)
        cfg = self.config
        x = time_encoding(cfg, self.weights[0].device)  # (T, pe)
        x = x.repeat(1, batch)[:, :, None, None]  # (T, B * pe, 1, 1)
        for i, (s, w, b) in enumerate(zip(self.shapes, weights, self.biases, strict=True)):
            w = w.expand(batch, -1, -1).reshape(batch, s.in_channels, s.kernel, s.kernel, -1)
            w = w.permute(0, 4, 1, 2, 3).reshape(batch * s.out_channels, *w.shape[1:4])
            x = F.conv2d(x, w, b.repeat(batch), padding=s.kernel // 2, groups=batch)
            x = pixel_shuffle_rect(x, s.stride_h, s.stride_w)
            x = F.gelu(x) if i < len(self.shapes) - 1 else torch.tanh(x) / 2 + 0.5
        t, _, h, w_ = x.shape
        return x.view(t, batch, cfg.out_channels, h, w_).transpose(0, 1)
