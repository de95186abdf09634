"""TeCoNeRV's hypernetwork: a transformer that reads a clip and writes a HypoNeRV's weights.

TeCoNeRV Sec. 3.1 and Appendix D.1 / D.3, after NeRV-Enc (Chen et al., 2024):

1. *Tokenizer*: every frame of the clip (``frames`` x 3 x H x W) is cut into non-overlapping
   ``patch`` x ``patch`` squares (a remainder at the right / bottom is not read, as in the
   reference code: that is how its 384x270 model has 41.6 M parameters), each square is
   projected linearly to ``width`` values and a learned position embedding (one per frame and
   square) is added.
2. *Weight tokens*: ``tokens[i]`` learned tokens for HypoNeRV layer i, appended to the data
   tokens.
3. *Transformer*: pre-norm encoder blocks (multi-head attention with ``heads`` x ``head_dim``
   inner width, then a GELU MLP), D.3: 6 blocks, 12 heads of 64, width 720, MLP 2880.
4. *Heads*: the encoded weight tokens of layer i go through LayerNorm + Linear to
   ``token_dims[i]`` values: the clip's *unique parameters* for that layer, ``(tokens[i],
   token_dims[i])``.
5. *Modulation* (`inrcodec.nets.hyponerv.modulate`): unique parameters, repeated to the size
   of the layer, multiply the shared base weights, then L2 normalisation over the fan-in.
   A layer with 0 tokens uses the normalised base weight.

`HypernetConfig` checks at construction that every layer's tokens tile its weights exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .hyponerv import HypoNeRV, HypoNeRVConfig, NetworkConfigError

__all__ = ["HypernetConfig", "Hypernetwork", "TransformerConfig", "count_parameters"]


@dataclass(frozen=True)
class TransformerConfig:
    width: int = 720
    depth: int = 6
    heads: int = 12
    head_dim: int = 64
    mlp: int = 2880

    def __post_init__(self) -> None:
        if min(self.width, self.depth, self.heads, self.head_dim, self.mlp) < 1:
            raise NetworkConfigError(f"transformer sizes must be positive: {self}")


@dataclass(frozen=True)
class HypernetConfig:
    """A hypernetwork and the HypoNeRV it predicts (Appendix D.4 / D.5 as data)."""

    hypo: HypoNeRVConfig
    transformer: TransformerConfig
    tokens: tuple[int, ...]  # weight tokens per HypoNeRV layer (0: base weights only)
    token_dims: tuple[int, ...]  # unique parameters per token, per layer
    patch: int = 32  # tokenizer square

    def __post_init__(self) -> None:
        shapes = self.hypo.layers()
        if len(self.tokens) != len(shapes) or len(self.token_dims) != len(shapes):
            raise NetworkConfigError(
                f"the HypoNeRV has {len(shapes)} layers but {len(self.tokens)} token counts and "
                f"{len(self.token_dims)} token dimensions were given"
            )
        for i, (shape, g, d) in enumerate(zip(shapes, self.tokens, self.token_dims, strict=True)):
            if g < 0 or d < 0 or (g > 0) != (d > 0):
                raise NetworkConfigError(
                    f"layer {i}: {g} tokens of dimension {d}; both must be positive, or both 0"
                )
            if g and shape.weight_count % (g * d):
                raise NetworkConfigError(
                    f"layer {i}: {g} tokens x {d} = {g * d} unique parameters do not tile its "
                    f"{shape.fan_in} x {shape.out_channels} = {shape.weight_count} weights "
                    f"(need a divisor of {shape.weight_count})"
                )
        if sum(self.tokens) == 0:
            raise NetworkConfigError("no layer has weight tokens: nothing to predict")
        if self.patch < 1 or self.hypo.height < self.patch or self.hypo.width < self.patch:
            raise NetworkConfigError(
                f"tokenizer squares of {self.patch} do not fit the "
                f"{self.hypo.width}x{self.hypo.height} output"
            )

    @property
    def squares_per_frame(self) -> int:
        return (self.hypo.height // self.patch) * (self.hypo.width // self.patch)

    @property
    def data_tokens(self) -> int:
        return self.hypo.frames * self.squares_per_frame

    def unique_counts(self) -> tuple[int, ...]:
        """Unique parameters per layer (what a clip's bitstream carries)."""
        return tuple(g * d for g, d in zip(self.tokens, self.token_dims, strict=True))

    def to_json(self) -> dict:
        data = asdict(self)
        data["hypo"] = self.hypo.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> HypernetConfig:
        try:
            return cls(
                hypo=HypoNeRVConfig.from_json(data["hypo"]),
                transformer=TransformerConfig(**data["transformer"]),
                tokens=tuple(data["tokens"]),
                token_dims=tuple(data["token_dims"]),
                patch=data["patch"],
            )
        except (KeyError, TypeError) as exc:
            raise NetworkConfigError(f"malformed hypernetwork configuration: {exc}") from exc


class ClipTokenizer(nn.Module):
    """Clip ``(B, frames, 3, H, W)`` -> data tokens ``(B, frames * squares, width)``."""

    def __init__(self, config: HypernetConfig):
        super().__init__()
        p, width = config.patch, config.transformer.width
        self.patch = p
        self.rows, self.cols = config.hypo.height // p, config.hypo.width // p
        self.project = nn.Linear(3 * p * p, width)
        self.position = nn.Parameter(torch.randn(config.data_tokens, width))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t, c, _, _ = clips.shape
        p, r, q = self.patch, self.rows, self.cols
        x = clips[..., : r * p, : q * p].reshape(b, t, c, r, p, q, p)
        x = x.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, t * r * q, c * p * p)
        return self.project(x) + self.position


class _Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        inner = cfg.heads * cfg.head_dim
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(cfg.width)
        self.query = nn.Linear(cfg.width, inner, bias=False)
        self.key_value = nn.Linear(cfg.width, 2 * inner, bias=False)
        self.out = nn.Linear(inner, cfg.width)
        self.norm2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.width, cfg.mlp), nn.GELU(), nn.Linear(cfg.mlp, cfg.width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        h = self.norm1(x)
        q = self.query(h)
        k, v = self.key_value(h).chunk(2, dim=-1)
        q, k, v = (y.view(b, n, self.heads, -1).transpose(1, 2) for y in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(a.transpose(1, 2).reshape(b, n, -1))
        return x + self.mlp(self.norm2(x))


class Hypernetwork(nn.Module):
    """Tokenizer + transformer + weight tokens + heads, and the HypoNeRV's base parameters."""

    def __init__(self, config: HypernetConfig):
        super().__init__()
        self.config = config
        width = config.transformer.width
        self.tokenizer = ClipTokenizer(config)
        self.blocks = nn.ModuleList(
            _Block(config.transformer) for _ in range(config.transformer.depth)
        )
        self.weight_tokens = nn.Parameter(torch.randn(sum(config.tokens), width))
        self.heads = nn.ModuleDict(
            {
                str(i): nn.Sequential(nn.LayerNorm(width), nn.Linear(width, d))
                for i, d in enumerate(config.token_dims)
                if d
            }
        )
        self.hypo = HypoNeRV(config.hypo)

    def unique(self, clips: torch.Tensor) -> list[torch.Tensor | None]:
        """The unique parameters of each clip ``(B, frames, 3, H, W)`` in [0, 1]: per layer
        ``(B, tokens, token_dim)``, or None for a layer without tokens."""
        cfg = self.config
        expected = (cfg.hypo.frames, 3, cfg.hypo.height, cfg.hypo.width)
        if clips.dim() != 5 or tuple(clips.shape[1:]) != expected:
            raise NetworkConfigError(
                f"clips must be (B, {', '.join(map(str, expected))}), got {tuple(clips.shape)}"
            )
        data = self.tokenizer(clips)
        x = torch.cat([data, self.weight_tokens.expand(data.shape[0], -1, -1)], dim=1)
        for block in self.blocks:
            x = block(x)
        encoded = x[:, data.shape[1] :]
        out, start = [], 0
        for i, g in enumerate(cfg.tokens):
            out.append(self.heads[str(i)](encoded[:, start : start + g]) if g else None)
            start += g
        return out

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, list, list]:
        """``(reconstruction, unique parameters, modulated weights)`` of a batch of clips."""
        unique = self.unique(clips)
        weights = self.hypo.clip_weights(unique)
        return self.hypo(weights), unique, weights


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
