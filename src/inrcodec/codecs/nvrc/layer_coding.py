"""NVRC's coding of layer parameters (Kwan et al. 2024, Sec. 3.2, eqs. 5-7): dual-axis
quantisation steps and the dual-axis conditional Gaussian, in training and on the coding path,
and the layer section of the file.

A layer tensor is seen as a matrix ``(C_out, C_in)`` (the representation's `matrix_shape`:
row i holds what belongs to output unit i). **Steps** (eq. 5): ``delta[i, j] = delta_out[i]
delta_in[j]``, learned in log domain. **Entropy model** (eqs. 6-7): mean ``mu_out[i]
sigma_in[j] + mu_in[j]`` and scale ``sigma_out[i] sigma_in[j]``, in value units (divided by the
step to code the symbols ``round(theta / delta)``).

**Fallback** (App. A.1: "at least 128"). An axis gets its own vector only when each of its
rows/columns has at least ``min_axis`` (128) entries: ``*_out`` (one per row) needs
``C_in >= min_axis``, ``*_in`` (one per column) needs ``C_out >= min_axis``; an absent vector is
a neutral factor (1 for steps and scales, 0 for means), and with neither the ``*_out`` vectors
hold one per-tensor value. Ablations V1/V3 give every tensor one Gaussian (`layer_model`
"gaussian"); its steps keep their axes.

*Initialisation*: a layer's step is ``std(theta) / 4`` (``layer_step_ratio``: about 4 bits per
weight at the start), split evenly over its axes in log domain; means 0, scales ``std(theta)``.

The layer section (`LayerCoding.write`, ``read``) is one entropy-coded stream of every layer's
symbols, layer after layer in the representation's parameter order, each row-major.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .fixed_point import det_exp, log_scale_indices, tensor_mean_indices
from .gaussian import decode_stream, encode_stream, gaussian_bits, initial_std


def layer_key(name: str) -> str:
    """The `LayerCoding` key of a representation parameter (dots are not allowed there)."""
    return name.replace(".", "-")


class LayerCoder(nn.Module):
    """Steps and dual-axis Gaussian of one layer tensor viewed as ``(rows, cols)``.

    Vectors: ``*_out`` has one entry per row, ``*_in`` one per column; an axis with too short
    rows/columns has none (a neutral factor); with neither axis, the ``*_out`` vectors hold
    one per-tensor value. Means and scales are in value units (divided by the step to code).
    ``phi`` arguments are this coder's phi tensors by leaf name (``log_step_out``, ...):
    quantised ones in training, the decoded float64 values on the coding path.
    """

    def __init__(self, value: torch.Tensor, rows: int, cols: int, config):
        super().__init__()
        self.rows, self.cols = rows, cols
        per_row, per_col = cols >= config.min_axis, rows >= config.min_axis
        std = max(initial_std(value), 1e-3)
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

    def entry_mask(self, leaf: str) -> None:
        """Every entry of every phi tensor of a layer exists (`GridCoder.entry_mask`)."""
        return None

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

    # --- coding path (fixed_point arithmetic)

    def steps(self, phi: dict) -> torch.Tensor:
        """The steps ``(rows, cols)`` (eq. 5)."""
        return torch.broadcast_to(det_exp(self.log_step(phi)), (self.rows, self.cols))

    def indices(self, phi: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices of the symbols, each ``(rows, cols)`` (eqs. 6-7)."""
        log_step = self.log_step(phi)
        mean, log_scale = self.model(phi, exp=det_exp)
        means = tensor_mean_indices(mean * det_exp(-log_step))
        scales = log_scale_indices(log_scale - log_step)
        shape = (self.rows, self.cols)
        return torch.broadcast_to(means, shape), torch.broadcast_to(scales, shape)


class LayerCoding(nn.ModuleDict):
    """The `LayerCoder` of every layer parameter of a representation (``names``, in its
    parameter order; keys `layer_key`)."""

    def __init__(self, named: list[tuple[str, torch.Tensor, tuple[int, int]]], config):
        super().__init__(
            {layer_key(name): LayerCoder(value, *shape, config) for name, value, shape in named}
        )
        self.names = [name for name, _, _ in named]

    def coder(self, name: str) -> LayerCoder:
        return self[layer_key(name)]

    # --- training

    def flat(self, params: dict, phi: dict) -> tuple[list, list]:
        """Every layer's values and log-steps, each flat (``phi``: by coder path)."""
        values, log_steps = [], []
        for name in self.names:
            coder = self.coder(name)
            values.append(params[name].reshape(-1))
            log_step = coder.log_step(phi[f"layer_coders.{layer_key(name)}"])
            log_steps.append(log_step.expand(coder.rows, coder.cols).reshape(-1))
        return values, log_steps

    def dequantize(self, values: torch.Tensor, params: dict) -> dict[str, torch.Tensor]:
        """All layers' flat dequantised ``values`` as tensors of their parameters' shapes."""
        sizes = [params[name].numel() for name in self.names]
        return {
            name: v.view(params[name].shape)
            for name, v in zip(self.names, values.split(sizes), strict=True)
        }

    def bits(self, phi: dict, symbols: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """The bits of all layers' flat ``symbols`` under their Gaussians (one call)."""
        means, log_scales = [], []
        for name in self.names:
            coder = self.coder(name)
            mean, log_scale = coder.model(phi[f"layer_coders.{layer_key(name)}"])
            means.append(mean.expand(coder.rows, coder.cols).reshape(-1))
            log_scales.append(log_scale.expand(coder.rows, coder.cols).reshape(-1))
        scale = torch.exp(torch.cat(log_scales)) / step
        mean = torch.cat(means) / step
        return gaussian_bits(symbols, mean, scale).sum()

    # --- the layer section

    def _indices(self, phi: dict) -> tuple[list, list]:
        """Every layer's flat mean and scale indices (``phi``: decoded values by coder path)."""
        means, scales = [], []
        for name in self.names:
            m, s = self.coder(name).indices(phi[f"layer_coders.{layer_key(name)}"])
            means.append(m.reshape(-1).numpy().astype(np.int32))
            scales.append(s.reshape(-1).numpy().astype(np.int32))
        return means, scales

    def write(self, phi: dict, layers: dict[str, np.ndarray]) -> bytes:
        """The layer section: every layer's symbols ``(rows, cols)`` under its model."""
        means, scales = self._indices(phi)
        symbols = [layers[name].reshape(-1).astype(np.int32) for name in self.names]
        return encode_stream(symbols, means, scales)

    def read(self, phi: dict, data: bytes) -> dict[str, np.ndarray]:
        """Decode the layer section to every layer's symbols ``(rows, cols)``."""
        means, scales = self._indices(phi)
        shapes = [(self.coder(name).rows, self.coder(name).cols) for name in self.names]
        symbols = decode_stream(data, means, scales)
        out, offset = {}, 0
        for name, shape in zip(self.names, shapes, strict=True):
            size = math.prod(shape)
            out[name] = symbols[offset : offset + size].reshape(shape)
            offset += size
        return out
