"""NVRC: a representation with learned quantisation and entropy models (Kwan et al. 2024, Sec.
3), the module that ties the paper's sections together.

`NVRC` wraps any `inrcodec.nets.representation.Representation` (the parameters theta) and adds
the compression parameters phi and psi:

- theta_grid, the representation's feature grids (`Representation.grid_names`): block-wise
  steps and the context model, `grid_coding` (Sec. 3.1);
- theta_layer, every other parameter, as matrices (`Representation.matrix_shape`): dual-axis
  steps and Gaussians, `layer_coding` (Sec. 3.2);
- phi (the coders' parameters) coded under psi, `hierarchy` (Sec. 3.3);
- ``R + lambda D`` and its alternation, `objective` (Sec. 3.4).

Its forward pass runs the network on *quantised* parameters, so distortion is measured on what
the decoder will have; `NVRC.rate_bits` is eq. (9)'s numerator, split by group (Fig. 4).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.func import functional_call

from inrcodec.nets.representation import Representation
from inrcodec.quant import Rounding

from .grid_coding import GridCoding
from .hierarchy import GROUPS, Hierarchy, phi_group
from .layer_coding import LayerCoding

__all__ = ["GROUPS", "NVRC", "CompressionConfig", "phi_group"]

GRID_MODELS = ("context", "gaussian")
LAYER_MODELS = ("dual-axis", "gaussian")
PHI_CODINGS = ("gaussian", "half")
HARD = Rounding("hard")


@dataclass(frozen=True)
class CompressionConfig:
    """NVRC's compression settings (App. A.1), including the ablation switches of Table 3."""

    block: tuple[int, int, int] = (16, 8, 8)  # grid partition (T, H, W)
    min_axis: int = 128  # per-row / per-column parameters need this many entries per row/column
    context_width: int = 8
    context_kernel: int = 5
    context_blocks: int = 3
    context_shared: bool = False  # one context model for every grid level (as Cool-chic's ARM)
    context_pointwise: bool = False  # only the first context convolution sees neighbours
    grid_model: str = "context"  # "gaussian": one Gaussian per grid level (V2, V3)
    layer_model: str = "dual-axis"  # "gaussian": one Gaussian per tensor (V1, V3)
    phi_coding: str = "gaussian"  # "half": phi stored as float16, not coded (V4)
    learn_grid_steps: bool = True  # False: grid log-steps fixed at `grid_log_step` (V5)
    grid_log_step: float = -4.0
    layer_step_ratio: float = 0.25  # initial layer step / std of the weights
    phi_log_step: float = -4.0  # initial log-step of every phi tensor
    phi_min_size: int = 16  # smaller phi tensors are stored as float16

    def __post_init__(self):
        object.__setattr__(self, "block", tuple(int(b) for b in self.block))
        for value, allowed, what in (
            (self.grid_model, GRID_MODELS, "grid_model"),
            (self.layer_model, LAYER_MODELS, "layer_model"),
            (self.phi_coding, PHI_CODINGS, "phi_coding"),
        ):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {allowed}, got {value!r}")
        if len(self.block) != 3 or min(self.block) < 1 or self.min_axis < 1:
            raise ValueError("block is (t, h, w), all positive; min_axis is positive")

    def to_json(self) -> dict:
        return asdict(self)


class NVRC(nn.Module):
    """A representation with NVRC's quantisation and entropy models (module docstring).

    ``forward(frame_indices, patch)`` is the network's, on quantised parameters: the surrogates
    of `rounding` (grids, layers) in training mode, true rounding in eval mode. ``rate_bits()``
    gives the bits of every group under the same quantisation; ``rate()`` is eq. (9) in bits
    per pixel. Built under ``torch.device("meta")`` (on a meta network) it is a layout only:
    names, shapes, psi rows and coded counts, no values (the decoder checks a file with it).
    """

    def __init__(self, net: Representation, config: CompressionConfig | None = None):
        super().__init__()
        self.net, self.config = net, config or CompressionConfig()
        self.pixels = net.frames * net.height * net.width
        self.grid_rounding = self.layer_rounding = HARD
        params = dict(net.named_parameters())
        grids = net.grid_names()
        self.grid_coders = GridCoding(grids, [params[n].shape for n in grids], self.config)
        self.layer_coders = LayerCoding(
            [(n, p, net.matrix_shape(n, tuple(p.shape))) for n, p in params.items()
             if n not in grids],
            self.config,
        )  # fmt: skip
        phi = [(name, value, coder.entry_mask(leaf)) for name, value, coder, leaf in self._phi()]
        hierarchy = Hierarchy(phi, self.config)
        self.psi = nn.Parameter(
            Hierarchy.initial_psi(phi, hierarchy.coded, self.config.phi_log_step)
        )
        self.hierarchy = hierarchy
        self.batch_rate, self.last_batch_rate = False, None

    # --- the network's interface, for training and reconstruction
    frames = property(lambda self: self.net.frames)
    height = property(lambda self: self.net.height)
    width = property(lambda self: self.net.width)
    padded_height = property(lambda self: self.net.padded_height)
    padded_width = property(lambda self: self.net.padded_width)
    grid_names = property(lambda self: self.grid_coders.names)
    layer_names = property(lambda self: self.layer_coders.names)

    def patches(self, patch_height: int, patch_width: int):
        return self.net.patches(patch_height, patch_width)

    # --- phi and psi (`hierarchy`)
    coded_phi = property(lambda self: self.hierarchy.coded)
    psi_rows = property(lambda self: self.hierarchy.rows)

    def _phi(self):
        """(name, tensor, coder, leaf) of every phi tensor, in coding order: the grid coders'
        then the layer coders'."""
        for prefix, coders in (("grid_coders", self.grid_coders),
                               ("layer_coders", self.layer_coders)):  # fmt: skip
            for key, coder in coders.named_children():
                for leaf, value in coder.named_parameters():
                    yield f"{prefix}.{key}.{leaf}", value, coder, leaf

    def phi_names(self) -> list[str]:
        """Names (in this module) of the phi tensors, in coding order."""
        return self.hierarchy.names

    # --- theta

    @property
    def rounding(self) -> tuple[Rounding, Rounding]:
        """The training surrogates of (grids, layers); setting one `Rounding` sets both."""
        return self.grid_rounding, self.layer_rounding

    @rounding.setter
    def rounding(self, value: Rounding | tuple[Rounding, Rounding]) -> None:
        self.grid_rounding, self.layer_rounding = (
            value if isinstance(value, tuple) else (value, value)
        )

    def quantized(self, with_rate: bool = False):
        """``(values, bits)``: quantised network parameters by name, and (``with_rate``) the
        bits of every group as 0-d tensors (else None).

        All of theta is rounded by one call of the surrogate: layers as their flattened
        ``(rows, cols)`` matrices, grids in block layout, each divided by its step (eqs. 3,
        5); the rate of all layers is one Gaussian-rate call on the same flat vector."""
        tensors = [(name, value) for name, value, _, _ in self._phi()]
        phi, phi_bits = self.hierarchy.quantize(tensors, self.psi, with_rate)
        params = dict(self.net.named_parameters())
        layers, layer_log_steps = self.layer_coders.flat(params, phi)
        grids, grid_log_steps = self.grid_coders.flat(params, phi)
        step = torch.exp(torch.cat(layer_log_steps + grid_log_steps))
        scaled = torch.cat(layers + grids) / step
        n = sum(p.numel() for p in layers)
        grid_rounding, layer_rounding = self.rounding if self.training else (HARD, HARD)
        if grid_rounding == layer_rounding:
            symbols = layer_rounding(scaled)
        else:
            symbols = torch.cat([layer_rounding(scaled[:n]), grid_rounding(scaled[n:])])
        values = self.layer_coders.dequantize(symbols[:n] * step[:n], params)
        grid_values, levels, level_steps = self.grid_coders.dequantize(symbols[n:], step[n:])
        values |= grid_values
        if not with_rate:
            return values, None
        bits = {"grids": symbols.new_zeros(()), "layers": symbols.new_zeros(()), **phi_bits}
        if layers:
            bits["layers"] = self.layer_coders.bits(phi, symbols[:n], step[:n])
        if levels:
            bits["grids"] = self.grid_coders.bits(phi, levels, level_steps)
        return values, bits

    def forward(self, frame_indices: torch.Tensor, patch=None) -> torch.Tensor:
        """The network on quantised parameters. With `batch_rate` on (in training, for a
        representation that declares ``grid_slices``), the rate estimated on these frames is
        left in ``last_batch_rate`` for the objective (`RateDistortion`). Under autocast only
        the network runs in lower precision: quantisation and rate stay float32."""
        device = self.psi.device.type
        with torch.autocast(device, enabled=False):  # quantisers and entropy models in float32
            if hasattr(self.net, "grid_slices"):
                with_rate = self.batch_rate and self.training
                values, self.last_batch_rate = self._quantized_slices(frame_indices, with_rate)
            else:
                values, _ = self.quantized(with_rate=False)
        return functional_call(self.net, values, (frame_indices,), {"patch": patch})

    def _quantized_slices(self, frame_indices: torch.Tensor, with_rate: bool):
        """`quantized` for a representation that declares which slices of its grids frames
        read (``grid_slices``): the layers as there, each grid quantised only at those slices
        (its other slices keep their float values, which these frames do not read), so that a
        step's work follows the frames it trains on, not the length of the video; and (with
        ``with_rate``) eq. (9) estimated from those slices (`GridCoding.quantize_slices`),
        else None."""
        tensors = [(name, value) for name, value, _, _ in self._phi()]
        phi, bits = self.hierarchy.quantize(tensors, self.psi, with_rate)
        params = dict(self.net.named_parameters())
        grid_rounding, layer_rounding = self.rounding if self.training else (HARD, HARD)
        values = {}
        layers, log_steps = self.layer_coders.flat(params, phi)
        if layers:
            step = torch.exp(torch.cat(log_steps))
            symbols = layer_rounding(torch.cat(layers) / step)
            values = self.layer_coders.dequantize(symbols * step, params)
            if with_rate:
                bits["layers"] = self.layer_coders.bits(phi, symbols, step)
        slices = self.net.grid_slices(frame_indices)
        grids, bits_grids = self.grid_coders.quantize_slices(
            params, phi, slices, grid_rounding, with_rate
        )
        if not with_rate:
            return values | grids, None
        return values | grids, (sum(bits.values()) + bits_grids) / self.pixels

    def rate_bits(self) -> dict[str, torch.Tensor]:
        """Bits of each group of `GROUPS` under the current rounding (0-d tensors)."""
        return self.quantized(with_rate=True)[1]

    def rate(self) -> torch.Tensor:
        """Eq. (9): all bits of theta, phi and psi per pixel of the video."""
        return sum(self.rate_bits().values()) / self.pixels

    def counts(self) -> dict[str, int]:
        """Number of coded values in each group (grid padding excluded)."""
        out = dict.fromkeys(GROUPS, 0)
        out["grids"] = sum(math.prod(coder.layout.size) for coder in self.grid_coders)
        params = dict(self.net.named_parameters())
        out["layers"] = sum(params[name].numel() for name in self.layer_names)
        for name, size in self.hierarchy.sizes.items():
            out[phi_group(name)] += size
        out["psi"] = self.psi.numel()
        return out

    @torch.no_grad()
    def rate_report(self) -> dict:
        """Bits, values and bits per value of every group with true rounding (Fig. 4), and
        the total in bits per pixel; the model's train/eval state is kept."""
        was_training = self.training
        self.eval()
        try:
            bits = {k: float(v) for k, v in self.rate_bits().items()}
        finally:
            self.train(was_training)
        counts = self.counts()
        groups = {
            g: {"bits": bits[g], "values": counts[g], "bits_per_value": bits[g] / max(counts[g], 1)}
            for g in GROUPS
        }
        total = sum(bits.values())
        return {"groups": groups, "bits": total, "bpp": total / self.pixels}
