"""NVRC's hierarchical coding of its own parameters (Kwan et al. 2024, Sec. 3.3): phi, the
quantisation steps and entropy-model parameters of the grid and layer coders, is itself
quantised and entropy coded under psi, which is stored as float16.

Every phi tensor of at least ``phi_min_size`` (16) coded entries is quantised with its own
per-tensor step and coded with a per-tensor Gaussian; those three numbers (log-step, mean,
log-scale) are its row of psi, 16 bits each. A smaller tensor is stored as float16 instead (its
psi row alone would cost 48 bits); ablation V4 (``phi_coding`` "half") stores all of phi so.
In training phi is rounded with a straight-through gradient (it is small, and noise on a
log-step would multiply the noise on theta) and psi rounded to float16 the same way.
*Initialisation*: every log-step ``phi_log_step`` (-4); mean and log-scale from phi's own.

Entries that a coder declares absent (the context model's taps outside its causal masks:
`GridCoder.entry_mask`) are zero, never trained, coded nor counted.

**Rate groups** (Fig. 4): phi splits into ``grid_quant``, ``grid_em``, ``layer_quant`` and
``layer_em`` (`phi_group`); psi is apart. **The file**: the psi section is psi's float16
rows; the phi section holds one part per group (its length first), each the float16 values of
the group's stored tensors, then one entropy-coded stream of its coded tensors' symbols under
their psi Gaussians.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from inrcodec.coding import BitstreamError
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.quant import half_ste, ste_round

from .fixed_point import det_exp, integer_split, log_scale_indices, tensor_mean_indices
from .gaussian import decode_stream, encode_stream, gaussian_bits, initial_std

#: Rate groups, as NVRC's Fig. 4 splits them (psi apart).
GROUPS = ("grids", "layers", "grid_quant", "grid_em", "layer_quant", "layer_em", "psi")
PHI_GROUPS = GROUPS[2:6]  # the groups of phi's own entries
HALF_BITS = 16
MAX_SYMBOL = 2**22  # keeps every stream within the coder's 2**23-value support
#: The fewest bytes of a quantised payload (docs/bitstream.md 3.3): version, lowest, span.
MIN_QUANTIZED_BYTES = 3


def phi_group(name: str) -> str:
    """The Fig. 4 group of a phi tensor: grid or layer, quantisation or entropy model."""
    kind = "grid" if name.startswith("grid_coders.") else "layer"
    leaf = name.rsplit(".", 1)[-1]
    return f"{kind}_quant" if leaf.startswith("log_step") else f"{kind}_em"


def split_name(name: str) -> tuple[str, str]:
    """``grid_coders.0.context.convs.1.bias`` -> (``grid_coders.0``, ``context.convs.1.bias``)."""
    kind, index, leaf = name.split(".", 2)
    return f"{kind}.{index}", leaf


def symbols_of(scaled: torch.Tensor, name: str) -> np.ndarray:
    """``round(scaled)`` as int32; ValueError beyond the coder's support (a step far too
    small for the values)."""
    symbols = torch.round(scaled)
    if not torch.isfinite(symbols).all() or symbols.abs().max() > MAX_SYMBOL:
        raise ValueError(f"{name}: symbols beyond +-{MAX_SYMBOL} (a step far too small)")
    return symbols.numpy().astype(np.int32)


class Hierarchy(nn.Module):
    """Which phi tensors psi codes, and phi's quantisation and rate in training.

    Built from every phi tensor ``(name, value, mask)`` in coding order (``mask``: the
    entries that exist, broadcastable to the value, or None for all), it keeps ``names``,
    ``coded`` (the Gaussian-coded ones), ``rows`` (their psi rows), and flat per-entry tables
    as buffers so that a training step quantises and rates all of phi in a few tensor
    operations. The psi parameter itself is its owner's (`NVRC.psi`).
    """

    def __init__(self, phi: list[tuple[str, torch.Tensor, torch.Tensor | None]], config):
        super().__init__()
        self.names = [name for name, _, _ in phi]
        self.shapes = {name: tuple(value.shape) for name, value, _ in phi}
        self.masks = {name: mask for name, _, mask in phi}
        self.sizes = {name: self._size(name) for name in self.names}
        coded = []
        if config.phi_coding == "gaussian":
            coded = [n for n in self.names if self.sizes[n] >= config.phi_min_size]
        self.coded = coded
        self.rows = {name: i for i, name in enumerate(coded)}
        self.half_bits = dict.fromkeys(GROUPS[2:], 0.0)
        tables = {"row": [], "mask": [], "group": [], "half_mask": []}
        for name, value, mask in phi:
            mask = torch.ones_like(value) if mask is None else mask.expand_as(value).to(value)
            mask = mask.detach().reshape(-1)
            if name in self.rows:
                tables["row"].append(torch.full_like(mask, self.rows[name]).long())
                tables["mask"].append(mask)
                group = PHI_GROUPS.index(phi_group(name))
                tables["group"].append(torch.full_like(mask, group).long())
            else:
                tables["half_mask"].append(mask)
                self.half_bits[phi_group(name)] += float(HALF_BITS * self.sizes[name])
        for key, parts in tables.items():
            dtype = torch.float32 if "mask" in key else torch.long
            flat = torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)
            self.register_buffer(key, flat, persistent=False)

    def _size(self, name: str) -> int:
        mask = self.masks[name]
        if mask is None:
            return math.prod(self.shapes[name])
        return int(mask.expand(self.shapes[name]).sum())

    def entries(self, name: str) -> torch.Tensor:
        """Boolean mask of the entries of phi tensor ``name`` that the file holds."""
        mask, shape = self.masks[name], self.shapes[name]
        return torch.ones(shape, dtype=torch.bool) if mask is None else mask.expand(shape).bool()

    @staticmethod
    def initial_psi(phi: list, coded: list[str], log_step: float) -> torch.Tensor:
        """psi's rows (log-step, mean, log-scale) for the ``coded`` tensors of ``phi``."""
        rows = []
        for name, value, mask in phi:
            if name not in coded:
                continue
            value = value.detach().float()
            if mask is not None and not value.is_meta:
                value = value[mask.expand_as(value).bool()]
            std = max(initial_std(value), math.exp(log_step))
            mean = 0.0 if value.is_meta else float(value.mean())
            rows.append([log_step, mean, math.log(std)])
        return torch.tensor(rows, dtype=torch.float32).reshape(-1, 3)

    # --- training

    def quantize(self, tensors: list[tuple[str, torch.Tensor]], psi: torch.Tensor,
                 with_rate: bool):  # fmt: skip
        """Quantised phi grouped by coder (``{"layer_coders.k": {"log_step_out": ...}}``),
        and (``with_rate``) the bits of phi by group, psi included, else None.

        Gaussian-coded tensors: ``round(phi / step) * step`` with the step of their psi row
        (straight-through); the others float16 (straight-through). Both at once over the
        flat tables; masked entries are zero and cost nothing."""
        psi = half_ste(psi)
        coded = [t for name, t in tensors if name in self.rows]
        half = [t for name, t in tensors if name not in self.rows]
        step = torch.exp(psi[:, 0])
        symbols = coded_values = None
        if coded:
            entry_step = step[self.row]
            symbols = ste_round(torch.cat([t.reshape(-1) for t in coded]) / entry_step)
            symbols = symbols * self.mask
            coded_values = iter((symbols * entry_step).split([t.numel() for t in coded]))
        if half:
            flat = half_ste(torch.cat([t.reshape(-1) for t in half])) * self.half_mask
            half_values = iter(flat.split([t.numel() for t in half]))
        values: dict[str, dict[str, torch.Tensor]] = {}
        for name, t in tensors:
            coder, leaf = split_name(name)
            source = coded_values if name in self.rows else half_values
            values.setdefault(coder, {})[leaf] = next(source).view(t.shape)
        if not with_rate:
            return values, None
        bits = {g: psi.new_tensor(b) for g, b in self.half_bits.items()}
        bits["psi"] = bits["psi"] + HALF_BITS * psi.numel()
        if coded:
            mean = (psi[:, 1] / step)[self.row]
            scale = (torch.exp(psi[:, 2]) / step)[self.row]
            entry_bits = gaussian_bits(symbols, mean, scale) * self.mask
            by_group = (
                entry_bits.new_zeros(len(PHI_GROUPS), dtype=torch.float64)
                .index_add(0, self.group, entry_bits.double())
                .to(entry_bits.dtype)
            )  # float64: a serial float32 sum drifts by bits
            for i, group in enumerate(PHI_GROUPS):
                bits[group] = bits[group] + by_group[i]
        return values, bits

    # --- the coding path

    def to_integers(self, tensors: dict[str, torch.Tensor], psi: np.ndarray) -> dict:
        """phi as the file holds it: int32 symbols under psi's steps for the coded tensors,
        float16 for the others; +0.0 (not -0.0) where the file holds nothing."""
        psi64 = torch.from_numpy(psi.astype(np.float64))
        phi = {}
        for name in self.names:
            value = tensors[name].detach().double()
            if self.masks[name] is not None:
                value = torch.where(self.entries(name), value, 0.0)
            if name in self.rows:
                phi[name] = symbols_of(value / det_exp(psi64[self.rows[name], 0]), name)
            else:
                phi[name] = value.half().numpy()
        return phi

    def decoded(self, psi: np.ndarray, phi: dict[str, np.ndarray]) -> DecodedPhi:
        return DecodedPhi(self, psi, phi)

    def write(self, psi: np.ndarray, phi: dict[str, np.ndarray]) -> bytes:
        """The phi section: one part per group, each with its length first."""
        psi64 = torch.from_numpy(psi.astype(np.float64))
        parts = []
        for group in PHI_GROUPS:
            stored, symbols, means, scales = [], [], [], []
            for name in self._group(group):
                entries = torch.from_numpy(np.asarray(phi[name]))[self.entries(name)]
                if name not in self.rows:
                    stored.append(entries.numpy().astype("<f2").tobytes())
                    continue
                m, s = phi_indices(psi64[self.rows[name]])
                symbols.append(entries.numpy().astype(np.int32))
                means.append(np.full(entries.numel(), m, dtype=np.int32))
                scales.append(np.full(entries.numel(), s, dtype=np.int32))
            part = b"".join(stored) + encode_stream(symbols, means, scales)
            parts.append(encode_uvarint(len(part)) + part)
        return b"".join(parts)

    def _group(self, group: str) -> list[str]:
        return [n for n in self.names if phi_group(n) == group]

    def check_lengths(self, data: bytes) -> None:
        """The phi section holds at least its parts' lengths, stored binary16 entries and
        empty quantised payloads (docs/bitstream.md 6.1, 6.2), before any part is decoded."""
        stored = sum(self.sizes[name] for name in self.names if name not in self.rows)
        need = 2 * stored + len(PHI_GROUPS) * (1 + MIN_QUANTIZED_BYTES)
        ByteReader(data).need(need, "phi section")

    def read_psi(self, data: bytes) -> np.ndarray:
        """The psi section: float16 rows, finite."""
        rows = len(self.coded)
        r = ByteReader(data)
        psi = np.frombuffer(r.take(6 * rows, "psi"), dtype="<f2").astype(np.float16)
        r.expect_end("psi section")
        if not np.isfinite(psi).all():
            raise BitstreamError("psi: non-finite value")
        return psi.reshape(rows, 3)

    def read(self, psi: np.ndarray, data: bytes) -> dict[str, np.ndarray]:
        """Decode the phi section (`write`), in `names` order."""
        psi64 = torch.from_numpy(psi.astype(np.float64))
        reader = ByteReader(data)
        phi: dict[str, np.ndarray] = {}
        for group in PHI_GROUPS:
            length = reader.uvarint(f"{group} length", reader.remaining)
            part = ByteReader(reader.take(length, group))
            coded, means, scales = [], [], []
            for name in self._group(group):
                entries = self.entries(name)
                count = int(entries.sum())
                if name in self.rows:
                    m, s = phi_indices(psi64[self.rows[name]])
                    coded.append((name, entries))
                    means.append(np.full(count, m, dtype=np.int32))
                    scales.append(np.full(count, s, dtype=np.int32))
                    continue
                raw = np.frombuffer(part.take(2 * count, f"{name} (float16)"), dtype="<f2")
                if not np.isfinite(raw).all():
                    raise BitstreamError(f"{name}: non-finite value")
                phi[name] = _scatter(entries, raw.astype(np.float16))
            symbols = decode_stream(bytes(part.rest()), means, scales)
            offset = 0
            for name, entries in coded:
                count = int(entries.sum())
                phi[name] = _scatter(entries, symbols[offset : offset + count])
                offset += count
        reader.expect_end("phi section")
        return {name: phi[name] for name in self.names}


class DecodedPhi:
    """What the decoder (and the encoder, identically) derives from psi and phi: phi's
    values in float64 by coder (``values["grid_coders.0"]["log_steps"]``) and, for a context
    weight, its integer form (`integer`)."""

    def __init__(self, hierarchy: Hierarchy, psi: np.ndarray, phi: dict[str, np.ndarray]):
        self.rows, self.phi = hierarchy.rows, phi
        self.psi = torch.from_numpy(psi.astype(np.float64))
        self.values: dict[str, dict[str, torch.Tensor]] = {}
        for name in hierarchy.names:
            data = torch.from_numpy(np.asarray(phi[name])).double()
            coder, leaf = split_name(name)
            self.values.setdefault(coder, {})[leaf] = (
                data * self.step(name) if name in self.rows else data
            )

    def step(self, name: str) -> torch.Tensor:
        """The step of a Gaussian-coded phi tensor, from its psi row."""
        return det_exp(self.psi[self.rows[name], 0])

    def integer(self, name: str) -> tuple[torch.Tensor, torch.Tensor | float]:
        """``(q, s)`` with value ``q s`` exactly: the symbols and the psi step of a coded
        tensor, `integer_split` of a stored one."""
        data = torch.from_numpy(np.asarray(self.phi[name])).double()
        return (data, self.step(name)) if name in self.rows else integer_split(data)


def phi_indices(psi_row: torch.Tensor) -> tuple[int, int]:
    """Mean and scale indices of a Gaussian-coded phi tensor from its float64 psi row
    (log-step, mean, log-scale)."""
    log_step, mean, log_scale = psi_row
    return int(tensor_mean_indices(mean * det_exp(-log_step))), int(
        log_scale_indices(log_scale - log_step)
    )


def _scatter(entries: torch.Tensor, values: np.ndarray) -> np.ndarray:
    out = np.zeros(tuple(entries.shape), dtype=values.dtype)
    out[entries.numpy()] = values
    return out
