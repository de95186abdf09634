"""NVRC: a HiNeRV network with learned quantisation and entropy models (Kwan et al. 2024, Sec. 3).

`NVRC` wraps a `inrcodec.nets.HiNeRV` (the representation, theta) and adds the compression
parameters phi (quantisation steps and entropy-model parameters) and psi (how phi is coded).
Its forward pass runs the network on *quantised* parameters, so distortion is measured on what
the decoder will have; `rate_bits` is eq. (9)'s numerator, split by group.

**Parameter groups** (App. A.1):

- theta_grid: the input feature grids ``net.grids.*`` (one per level), coded with the context
  model (`ContextModel`) in 16x8x8 blocks.
- theta_layer: every other parameter of the network: convolution and linear weights, the
  temporal local grids, and the biases. A tensor is viewed as a matrix ``(C_out, C_in)`` whose
  row i holds everything of output channel i: kernel dimensions are folded into C_in (a
  depth-wise 3x3 kernel ``(C, 1, 3, 3)`` becomes ``(C, 9)``: its "input" axis runs over the
  kernel taps), a local grid ``(T, s, s, C)`` becomes ``(T s s, C)`` (its channels are the
  input features of the linear layer that reads it), and a bias ``(C,)`` becomes ``(C, 1)``.
  The network has no norm parameters (its LayerNorms have no affine part), and biases are few:
  as one-column matrices they fall back to per-tensor models.

**Quantisation** (eqs. 2-5): ``symbols = round(theta / delta)``, ``theta_hat = symbols * delta``,
with learned log-steps: per (block, channel) for grids; ``delta[i, j] = delta_out[i] *
delta_in[j]`` for layers. An axis gets its own vector only when each of its rows/columns has
at least ``min_axis`` (128) parameters: ``delta_out`` (one per row) needs ``C_in >= 128``,
``delta_in`` (one per column) needs ``C_out >= 128``; an absent vector is 1 (single-axis), and
with neither, one learned per-tensor step. *Initialisation*: grid log-steps ``-4`` (the value
the paper's V5 fixes them at); a layer's step is ``std(theta) / 4`` (about 4 bits per weight
at the start, near where short CPU runs settle; long runs move it freely), split evenly over
its axes in log domain.

**Entropy models**: grids, the context model on symbols (or, ablations V2/V3, one Gaussian per
grid level); layers, the dual-axis conditional Gaussian (eqs. 6-7) with the same per-axis
fallback as the steps (or, V1/V3, one Gaussian per tensor); means and scales start at 0 and
``std(theta)``.

**Hierarchical coding** (Sec. 3.3): every phi tensor is quantised with its own per-tensor step
and coded with a per-tensor Gaussian; those three numbers per tensor are psi, stored as float16
(16 bits each). phi is rounded with a straight-through gradient (it is small, and noise on a
log-step would multiply the noise on theta), psi is rounded to float16 the same way. A phi
tensor of fewer than ``phi_min_size`` (16) values is stored as float16 instead: its psi alone
would cost 48 bits. Ablation V4 stores all of phi as float16.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.func import functional_call

from inrcodec.nets.hinerv import HiNeRV
from inrcodec.quant import BlockLayout, Rounding, half_ste, ste_round

from .entropy import ContextModel, gaussian_bits

GRID_MODELS = ("context", "gaussian")
LAYER_MODELS = ("dual-axis", "gaussian")
PHI_CODINGS = ("gaussian", "half")
#: Rate groups, as NVRC's Fig. 4 splits them (psi apart).
GROUPS = ("grids", "layers", "grid_quant", "grid_em", "layer_quant", "layer_em", "psi")
_PHI_GROUPS = GROUPS[2:6]  # the groups of phi's own entries (psi is apart)
HALF_BITS = 16
HARD = Rounding("hard")


@dataclass(frozen=True)
class CompressionConfig:
    """NVRC's compression settings (App. A.1), including the ablation switches of Table 3."""

    block: tuple[int, int, int] = (16, 8, 8)  # grid partition (T, H, W)
    min_axis: int = 128  # per-row / per-column parameters need this many entries per row/column
    context_width: int = 8
    context_kernel: int = 5
    context_blocks: int = 3
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


def matrix_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
    """The ``(C_out, C_in)`` view of a layer parameter (module docstring)."""
    if "local_grids" in name:
        return math.prod(shape[:-1]), shape[-1]
    if len(shape) == 1:
        return shape[0], 1
    return shape[0], math.prod(shape[1:])


def _initial_std(value: torch.Tensor) -> float:
    """The spread a coder starts from: the standard deviation of ``value``; 0 for a single
    value, and on the meta device, where the model is only laid out (`NVRC`)."""
    if value.is_meta or value.numel() < 2:
        return 0.0
    return float(value.detach().float().std())


# ----------------------------------------------------------------------------- layer coding


class LayerCoder(nn.Module):
    """Steps and dual-axis Gaussian of one theta_layer tensor (eqs. 5-7).

    Vectors: ``*_out`` has one entry per row, ``*_in`` one per column; an axis with too short
    rows/columns has none (a neutral factor); with neither axis, the ``*_out`` vectors hold
    one per-tensor value. Means and scales are in value units (divided by the step to code).
    """

    def __init__(self, value: torch.Tensor, rows: int, cols: int, config: CompressionConfig):
        super().__init__()
        self.rows, self.cols = rows, cols
        per_row, per_col = cols >= config.min_axis, rows >= config.min_axis
        std = max(_initial_std(value), 1e-3)
        step_axes = self._axes(per_row, per_col)
        model_axes = step_axes if config.layer_model == "dual-axis" else (1, 0)
        self.step_axes, self.model_axes = step_axes, model_axes
        log_step = math.log(std * config.layer_step_ratio)
        log_scale = math.log(std)
        for side, size in zip(("out", "in"), step_axes, strict=True):
            if size:
                n_axes = sum(1 for s in step_axes if s)
                self.register_parameter(
                    f"log_step_{side}", nn.Parameter(torch.full((size,), log_step / n_axes))
                )
        for side, size in zip(("out", "in"), model_axes, strict=True):
            if size:
                n_axes = sum(1 for s in model_axes if s)
                self.register_parameter(f"mean_{side}", nn.Parameter(torch.zeros(size)))
                self.register_parameter(
                    f"log_scale_{side}", nn.Parameter(torch.full((size,), log_scale / n_axes))
                )

    def _axes(self, per_row: bool, per_col: bool) -> tuple[int, int]:
        if not (per_row or per_col):
            return 1, 0
        return (self.rows if per_row else 0), (self.cols if per_col else 0)

    @staticmethod
    def _outer(phi: dict, name: str, axes, combine):
        """Combine the ``name_out`` (column vector) and ``name_in`` (row vector) entries."""
        out = phi[f"{name}_out"].unsqueeze(1) if axes[0] else None
        inn = phi[f"{name}_in"].unsqueeze(0) if axes[1] else None
        if out is None:
            return inn
        if inn is None:
            return out
        return combine(out, inn)

    def log_step(self, phi: dict) -> torch.Tensor:
        """``log delta`` (eq. 5), broadcastable to ``(rows, cols)``."""
        return self._outer(phi, "log_step", self.step_axes, torch.add)

    def model(self, phi: dict, exp=torch.exp) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-scale (eqs. 6-7), value units, broadcastable to ``(rows, cols)``;
        ``exp``: the exponential to use (the coding path passes its deterministic one)."""
        axes = self.model_axes
        log_scale = self._outer(phi, "log_scale", axes, torch.add)
        if axes[0] and axes[1]:  # eq. (6): mu_out[i] * sigma_in[j] + mu_in[j]
            scale_in = exp(phi["log_scale_in"]).unsqueeze(0)
            mean = phi["mean_out"].unsqueeze(1) * scale_in + phi["mean_in"].unsqueeze(0)
        else:
            mean = self._outer(phi, "mean", axes, torch.add)
        return mean, log_scale


# ----------------------------------------------------------------------------- grid coding


class GridCoder(nn.Module):
    """Per-block steps and the entropy model of one feature-grid level (Sec. 3.1)."""

    def __init__(self, size: tuple[int, int, int, int], config: CompressionConfig):
        super().__init__()
        self.layout = BlockLayout(tuple(size), config.block)
        init = torch.full(self.layout.steps_shape, float(config.grid_log_step))
        if config.learn_grid_steps:
            self.log_steps = nn.Parameter(init)
        else:
            self.register_buffer("log_steps", init)
        self.register_buffer("valid", self.layout.valid(), persistent=False)
        if config.grid_model == "context":
            self.context = ContextModel(
                config.context_width, config.context_kernel, config.context_blocks
            )
        else:  # one Gaussian for the level, in value units
            self.mean = nn.Parameter(torch.zeros(()))
            self.log_scale = nn.Parameter(torch.tensor(float(config.grid_log_step)))


# ----------------------------------------------------------------------------- the model


class NVRC(nn.Module):
    """A HiNeRV network with NVRC's quantisation and entropy models (module docstring).

    ``forward(frame_indices, patch)`` is the network's, on quantised parameters: the surrogates
    of `rounding` (grids, layers) in training mode, true rounding in eval mode. ``rate_bits()``
    gives the bits of every group under the same quantisation; ``rate()`` is eq. (9) in bits
    per pixel. Built under ``torch.device("meta")`` (on a meta network) it is a layout only:
    names, shapes, psi rows and coded counts, no values (the decoder checks a file with it).
    """

    def __init__(self, net: HiNeRV, config: CompressionConfig | None = None):
        super().__init__()
        self.net, self.config = net, config or CompressionConfig()
        self.pixels = net.frames * net.height * net.width
        self.grid_rounding = self.layer_rounding = Rounding("hard")
        grid_names = {f"grids.{i}" for i in range(len(net.grids))}
        params = dict(net.named_parameters())
        self.grid_names = [f"grids.{i}" for i in range(len(net.grids))]
        self.grid_coders = nn.ModuleList(
            GridCoder(tuple(params[n].shape), self.config) for n in self.grid_names
        )
        self.layer_names = [n for n in params if n not in grid_names]
        self.layer_coders = nn.ModuleDict()
        for name in self.layer_names:
            rows, cols = matrix_shape(name, tuple(params[name].shape))
            self.layer_coders[layer_key(name)] = LayerCoder(params[name], rows, cols, self.config)
        self._init_psi()

    # --- the network's interface, for training and reconstruction
    frames = property(lambda self: self.net.frames)
    height = property(lambda self: self.net.height)
    width = property(lambda self: self.net.width)
    padded_height = property(lambda self: self.net.padded_height)
    padded_width = property(lambda self: self.net.padded_width)

    def patches(self, patch_height: int, patch_width: int):
        return self.net.patches(patch_height, patch_width)

    # --- phi and psi

    def phi_names(self) -> list[str]:
        """Names (in this module) of the phi tensors, in coding order."""
        return [
            n for n, _ in self.named_parameters() if n.startswith(("grid_coders.", "layer_coders."))
        ]

    def phi_mask(self, name: str) -> torch.Tensor | None:
        """Which entries of phi tensor ``name`` exist: the causal taps of a context-model
        weight, broadcastable to it (the other taps are structurally zero and never coded);
        None for every other tensor (all entries)."""
        parts = name.split(".")  # grid_coders.<i>.context.convs.<j>.weight
        if len(parts) == 6 and parts[2] == "context" and parts[5] == "weight":
            return self.grid_coders[int(parts[1])].context.weight_mask(int(parts[4]))
        return None

    def phi_size(self, name: str, value: torch.Tensor) -> int:
        """Number of coded entries of phi tensor ``name`` (`phi_mask`)."""
        mask = self.phi_mask(name)
        return value.numel() if mask is None else int(mask.expand_as(value).sum())

    def _init_psi(self) -> None:
        """One psi row (log-step, mean, log-scale) per Gaussian-coded phi tensor."""
        named = dict(self.named_parameters())
        coded = []
        if self.config.phi_coding == "gaussian":
            coded = [
                n
                for n in self.phi_names()
                if self.phi_size(n, named[n]) >= self.config.phi_min_size
            ]
        self.coded_phi = coded
        self.psi_rows = {name: i for i, name in enumerate(coded)}  # phi name -> psi row
        rows = []
        for name in coded:
            value = named[name].detach().float()
            mask = self.phi_mask(name)
            if mask is not None and not value.is_meta:
                value = value[mask.expand_as(value).bool()]
            log_step = self.config.phi_log_step
            std = max(_initial_std(value), math.exp(log_step))
            mean = 0.0 if value.is_meta else float(value.mean())
            rows.append([log_step, mean, math.log(std)])
        self.psi = nn.Parameter(torch.tensor(rows, dtype=torch.float32).reshape(-1, 3))
        self._init_phi_layout()

    def _init_phi_layout(self) -> None:
        """Flat per-entry tables of phi, so that a training step quantises (and rates) all
        of phi in a few tensor operations instead of a dozen per tensor: for the Gaussian-
        coded entries their psi row, causal mask and rate group, for the float16 ones their
        mask; and the constant float16 bits of every group."""
        named = dict(self.named_parameters())
        tables = {"row": [], "mask": [], "group": [], "half_mask": []}
        self._half_bits = dict.fromkeys(GROUPS[2:], 0.0)
        for name in self.phi_names():
            value = named[name]
            mask = self.phi_mask(name)
            mask = torch.ones_like(value) if mask is None else mask.expand_as(value).to(value)
            mask = mask.detach().reshape(-1)
            if name in self.psi_rows:
                tables["row"].append(torch.full_like(mask, self.psi_rows[name]).long())
                tables["mask"].append(mask)
                group = _PHI_GROUPS.index(phi_group(name))
                tables["group"].append(torch.full_like(mask, group).long())
            else:
                tables["half_mask"].append(mask)
                self._half_bits[phi_group(name)] += float(HALF_BITS * self.phi_size(name, value))
        for key, parts in tables.items():
            dtype = torch.float32 if "mask" in key else torch.long
            flat = torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)
            self.register_buffer(f"_phi_{key}", flat, persistent=False)

    def _phi_tensors(self) -> list[tuple[str, str, torch.Tensor, bool]]:
        """(coder key, leaf, tensor, Gaussian-coded?) of every phi tensor, in coding order."""
        out = []
        for prefix, coders in (
            ("grid_coders", self.grid_coders),
            ("layer_coders", self.layer_coders),
        ):
            for key, coder in coders.named_children():
                for leaf, phi in coder.named_parameters():
                    coded = f"{prefix}.{key}.{leaf}" in self.psi_rows
                    out.append((f"{prefix}.{key}", leaf, phi, coded))
        return out

    def _phi(self, with_rate: bool):
        """Quantised phi grouped by coder (``{"layer_coders.k": {"log_step_out": ...}}``),
        and (``with_rate``) the bits of phi by group, psi included (Sec. 3.3), else None.

        Gaussian-coded tensors: ``round(phi / step) * step`` with the step of their psi row
        (straight-through); the others float16 (straight-through). Both at once over the
        flat tables of `_init_phi_layout`; masked taps are zero and cost nothing."""
        psi = half_ste(self.psi)
        tensors = self._phi_tensors()
        coded = [t for _, _, t, is_coded in tensors if is_coded]
        half = [t for _, _, t, is_coded in tensors if not is_coded]
        step = torch.exp(psi[:, 0])
        symbols = coded_values = None
        if coded:
            entry_step = step[self._phi_row]
            symbols = ste_round(torch.cat([t.reshape(-1) for t in coded]) / entry_step)
            symbols = symbols * self._phi_mask
            coded_values = iter((symbols * entry_step).split([t.numel() for t in coded]))
        if half:
            flat = half_ste(torch.cat([t.reshape(-1) for t in half])) * self._phi_half_mask
            half_values = iter(flat.split([t.numel() for t in half]))
        values: dict[str, dict[str, torch.Tensor]] = {key: {} for key, _, _, _ in tensors}
        for key, leaf, t, is_coded in tensors:
            values[key][leaf] = next(coded_values if is_coded else half_values).view(t.shape)
        if not with_rate:
            return values, None
        bits = {g: self.psi.new_tensor(b) for g, b in self._half_bits.items()}
        bits["psi"] = bits["psi"] + HALF_BITS * self.psi.numel()
        if coded:
            mean = (psi[:, 1] / step)[self._phi_row]
            scale = (torch.exp(psi[:, 2]) / step)[self._phi_row]
            entry_bits = gaussian_bits(symbols, mean, scale) * self._phi_mask
            by_group = (
                entry_bits.new_zeros(len(_PHI_GROUPS), dtype=torch.float64)
                .index_add(0, self._phi_group, entry_bits.double())
                .to(entry_bits.dtype)
            )  # float64: a serial float32 sum drifts by bits
            for i, group in enumerate(_PHI_GROUPS):
                bits[group] = bits[group] + by_group[i]
        return values, bits

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
        5); the rate of all layers is one `gaussian_bits` call on the same flat vector."""
        phi, phi_bits = self._phi(with_rate)
        params = dict(self.net.named_parameters())
        parts, log_steps = [], []
        for name in self.layer_names:
            coder = self.layer_coders[layer_key(name)]
            parts.append(params[name].reshape(-1))
            log_step = coder.log_step(phi[f"layer_coders.{layer_key(name)}"])
            log_steps.append(log_step.expand(coder.rows, coder.cols).reshape(-1))
        for i, (name, coder) in enumerate(zip(self.grid_names, self.grid_coders, strict=True)):
            layout = coder.layout
            log_step = phi[f"grid_coders.{i}"].get("log_steps", coder.log_steps)
            blocks = layout.to_blocks(params[name])
            parts.append(blocks.reshape(-1))
            log_steps.append(layout.broadcast(log_step).expand_as(blocks).reshape(-1))
        sizes = [p.numel() for p in parts]
        step = torch.exp(torch.cat(log_steps))
        scaled = torch.cat(parts) / step
        n_layers = len(self.layer_names)
        layer_size = sum(sizes[:n_layers])
        grid_rounding, layer_rounding = self.rounding if self.training else (HARD, HARD)
        if grid_rounding == layer_rounding:
            symbols = layer_rounding(scaled)
        else:
            symbols = torch.cat(
                [layer_rounding(scaled[:layer_size]), grid_rounding(scaled[layer_size:])]
            )
        grid_symbols = [
            s.view(c.valid.shape) * c.valid
            for s, c in zip(symbols[layer_size:].split(sizes[n_layers:]), self.grid_coders,
                            strict=True)
        ]  # fmt: skip
        grid_steps = step[layer_size:].split(sizes[n_layers:])
        layer_values = (symbols[:layer_size] * step[:layer_size]).split(sizes[:n_layers])
        values = {
            name: v.view(params[name].shape)
            for name, v in zip(self.layer_names, layer_values, strict=True)
        }
        for name, coder, s, st in zip(
            self.grid_names, self.grid_coders, grid_symbols, grid_steps, strict=True
        ):
            values[name] = coder.layout.from_blocks(s * st.view(s.shape))
        if not with_rate:
            return values, None
        bits = {"grids": symbols.new_zeros(()), "layers": symbols.new_zeros(()), **phi_bits}
        means, log_scales = [], []
        for name in self.layer_names:
            coder = self.layer_coders[layer_key(name)]
            mean, log_scale = coder.model(phi[f"layer_coders.{layer_key(name)}"])
            means.append(mean.expand(coder.rows, coder.cols).reshape(-1))
            log_scales.append(log_scale.expand(coder.rows, coder.cols).reshape(-1))
        if means:
            layer_step = step[:layer_size]
            scale = torch.exp(torch.cat(log_scales)) / layer_step
            mean = torch.cat(means) / layer_step
            bits["layers"] = gaussian_bits(symbols[:layer_size], mean, scale).sum()
        for i, (coder, s, st) in enumerate(
            zip(self.grid_coders, grid_symbols, grid_steps, strict=True)
        ):
            step_blocks = st.view(s.shape)[:, :, :1, :1, :1]
            local = phi[f"grid_coders.{i}"]
            bits["grids"] = bits["grids"] + self._grid_bits(coder, local, s, step_blocks)
        return values, bits

    @staticmethod
    def _grid_bits(coder: GridCoder, phi: dict, symbols, step) -> torch.Tensor:
        if hasattr(coder, "context"):
            weights = {k[len("context.") :]: v for k, v in phi.items() if k.startswith("context.")}
            mean, log_scale = functional_call(coder.context, weights, (symbols,))
            bits = gaussian_bits(symbols, mean, torch.exp(log_scale))
        else:
            bits = gaussian_bits(symbols, phi["mean"] / step, torch.exp(phi["log_scale"]) / step)
        return (bits * coder.valid).sum()

    def forward(self, frame_indices: torch.Tensor, patch=None) -> torch.Tensor:
        values, _ = self.quantized(with_rate=False)
        return functional_call(self.net, values, (frame_indices,), {"patch": patch})

    def rate_bits(self) -> dict[str, torch.Tensor]:
        """Bits of each group of `GROUPS` under the current rounding (0-d tensors)."""
        return self.quantized(with_rate=True)[1]

    def rate(self) -> torch.Tensor:
        """Eq. (9): all bits of theta, phi and psi per pixel of the video."""
        return sum(self.rate_bits().values()) / self.pixels

    def counts(self) -> dict[str, int]:
        """Number of coded values in each group (grid padding excluded)."""
        out = dict.fromkeys(GROUPS, 0)
        out["grids"] = sum(math.prod(c.layout.size) for c in self.grid_coders)
        out["layers"] = sum(
            p.numel() for n, p in self.net.named_parameters() if n in self.layer_names
        )
        for name, p in self.named_parameters():
            if name.startswith(("grid_coders.", "layer_coders.")):
                out[phi_group(name)] += self.phi_size(name, p)
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


def layer_key(name: str) -> str:
    """The `NVRC.layer_coders` key of a network parameter."""
    return name.replace(".", "-")


def phi_group(name: str) -> str:
    """The Fig. 4 group of a phi tensor: grid or layer, quantisation or entropy model."""
    kind = "grid" if name.startswith("grid_coders.") else "layer"
    leaf = name.rsplit(".", 1)[-1]
    return f"{kind}_quant" if leaf.startswith("log_step") else f"{kind}_em"
