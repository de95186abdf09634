"""The NVRC payload: the hierarchy of Sec. 3.3 as five container sections (docs/bitstream.md
section 6, "NVRC payload").

* tag 1, *model* (`MODEL_FIELDS`): `CODING_VERSION`, the preset name, the training colour
  space, the network configuration (`inrcodec.codecs.network_section`, as the HiNeRV payload
  writes it) and the `CompressionConfig` fields that shape the coding;
* tag 2, *psi*: float16 (log-step, mean, log-scale) of every Gaussian-coded phi tensor;
* tag 3, *phi*: four parts, one per group of Fig. 4 (grid_quant, grid_em, layer_quant,
  layer_em), each the float16 values of the group's small tensors and one entropy-coded
  stream of its other tensors' symbols under their psi Gaussians;
* tag 4, *layers*: one stream of every layer's symbols under the dual-axis Gaussians;
* tag 5, *grids*: one stream of every grid level's symbols under the context model, in
  decoding order: raster position within the 16x8x8 block first, then level, then partition
  (block and channel), padding skipped. The decoder runs the context model of all partitions
  of all levels one position at a time (`ContextEvaluator`).

Every entropy-model index is derived by `CodingPlan` from psi, the decoded phi and nothing
else, in the deterministic arithmetic of `fixed_point`, at the encoder as at the decoder.
Shapes and orders follow from the model section. The decoder first lays the network and its
`NVRC` coders out on the meta device (`layout`: no allocation) and checks against it the
parameter and grid counts and the psi and phi lengths; only then does it build them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from inrcodec.codecs.info import describe_container, rate_table
from inrcodec.codecs.network_section import (
    MAX_PARAMETERS,
    NAME,
    NETWORK,
    SPACE,
    checked_parameter_specs,
    network_config,
    network_values,
)
from inrcodec.codecs.synthesis import network_memory
from inrcodec.coding import (
    BitstreamError,
    CodecId,
    Container,
    QuantizedDecoder,
    VideoHeader,
    encode_quantized,
)
from inrcodec.coding.fields import Check, Fixed, Flags, Table, Tuple, UInt
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.nets.hinerv import HiNeRV, HiNeRVConfig
from inrcodec.quant.blocks import BlockLayout

from .fixed_point import (
    CODING_VERSION,
    MAX_KERNEL,
    MAX_WIDTH,
    BlockGeometry,
    ContextEvaluator,
    FixedContextModel,
    det_exp,
    integer_split,
    mean_indices,
    scale_indices,
)
from .model import (
    GRID_MODELS,
    GROUPS,
    LAYER_MODELS,
    NVRC,
    PHI_CODINGS,
    CompressionConfig,
    layer_key,
    phi_group,
)

MODEL_TAG, PSI_TAG, PHI_TAG, LAYERS_TAG, GRIDS_TAG = 1, 2, 3, 4, 5
TAGS = (MODEL_TAG, PSI_TAG, PHI_TAG, LAYERS_TAG, GRIDS_TAG)
PHI_GROUPS = GROUPS[2:6]  # grid_quant, grid_em, layer_quant, layer_em
MAX_BLOCK = 64
MAX_CONTEXT_BLOCKS = 8
MAX_MIN_AXIS = 2**20
MAX_LOG_STEP = 64  # the fixed grid log-step of ablation V5 lies in [-64, 64]
MAX_SYMBOL = 2**22  # keeps every stream within the coder's 2**23-value support
#: The fewest bytes of a quantised payload (docs/bitstream.md 3.3): version, lowest, span.
_MIN_QUANTIZED_BYTES = 3


def _odd_context_kernel(values) -> str | None:
    return None if values["context_kernel"] % 2 else "context kernel must be odd"


#: The `CompressionConfig` fields that shape the coding.
COMPRESSION_FIELDS = Table(
    Tuple("block", *(UInt(axis, 1, MAX_BLOCK) for axis in "thw")),
    UInt("min_axis", 1, MAX_MIN_AXIS),
    UInt("context_width", 1, MAX_WIDTH),
    UInt("context_kernel", 3, MAX_KERNEL),
    UInt("context_blocks", 1, MAX_CONTEXT_BLOCKS),
    Flags(
        "coding flags",
        ("grid_model", GRID_MODELS, 1),
        ("layer_model", LAYER_MODELS, 1),
        ("phi_coding", PHI_CODINGS, 1),
        ("learn_grid_steps", (False, True), 1),
    ),
    Fixed("grid_log_step", -MAX_LOG_STEP, MAX_LOG_STEP, signed=True),
    UInt("phi_min_size", 0, MAX_MIN_AXIS),
    checks=(Check(_odd_context_kernel, "context_kernel"),),
)
#: The model section (docs/bitstream.md 6.1).
MODEL_FIELDS = Table(
    UInt("coding_version", CODING_VERSION, CODING_VERSION), NAME, SPACE, NETWORK, COMPRESSION_FIELDS
)


@dataclass(frozen=True)
class NVRCPayload:
    """Everything an NVRC decoder needs besides the video header.

    ``phi``: by phi name, int32 symbols for Gaussian-coded tensors or float16 values for
    stored ones (zero at masked context taps); ``layers``: by network parameter name, int32
    symbols of the ``(rows, cols)`` matrix view; ``grids``: per level, int32 symbols in block
    layout ``(N, 1, bt, bh, bw)``, zero in the padding. ``read_structure``: the `structure`
    that `read_payload` built to decode this payload (None otherwise), which `coding_plan`
    uses rather than build it again."""

    config: HiNeRVConfig
    compression: CompressionConfig
    space: str
    psi: np.ndarray
    phi: dict[str, np.ndarray]
    layers: dict[str, np.ndarray]
    grids: list[np.ndarray]
    read_structure: NVRC | None = field(default=None, compare=False, repr=False)

    def same_integers(self, other: NVRCPayload) -> bool:
        """Whether both hold the same settings, psi bits and symbols (the self-check)."""
        settings = (self.config, self.compression, self.space)
        if settings != (other.config, other.compression, other.space):
            return False
        pairs = [(self.psi, other.psi), *zip(self.grids, other.grids, strict=False)]
        for mine, theirs in ((self.phi, other.phi), (self.layers, other.layers)):
            if mine.keys() != theirs.keys():
                return False
            pairs += [(mine[k], theirs[k]) for k in mine]
        return len(self.grids) == len(other.grids) and all(
            (a.dtype, a.shape) == (b.dtype, b.shape) and a.tobytes() == b.tobytes()
            for a, b in pairs
        )


def structure(config: HiNeRVConfig, compression: CompressionConfig, frames, height, width):
    """The `NVRC` module that fixes every shape, order and coder of a payload (its weights
    are irrelevant: they are replaced by the decoded ones)."""
    return NVRC(HiNeRV(config, frames, height, width), compression).eval()


def layout(config: HiNeRVConfig, compression: CompressionConfig, header: VideoHeader) -> NVRC:
    """The `structure` on the meta device: every name, shape, psi row and coded count of the
    payload, and nothing allocated (so it is safe on an untrusted model section)."""
    with torch.device("meta"):
        return structure(config, compression, header.frame_count, header.height, header.width)


def coding_plan(header: VideoHeader, payload: NVRCPayload) -> CodingPlan:
    """The decoder's `CodingPlan` of a payload for the video of ``header``: its `NVRC`
    structure (``plan.model``) and what psi and phi give, such as the network's parameters
    (`CodingPlan.theta`)."""
    model = payload.read_structure
    if model is None:
        frames, height, width = header.frame_count, header.height, header.width
        model = structure(payload.config, payload.compression, frames, height, width)
    return CodingPlan(model, payload.psi, payload.phi)


# ----------------------------------------------------------------------- derived models


class CodingPlan:
    """What encoder and decoder both derive from psi and phi (`fixed_point` arithmetic):
    dequantised phi, theta's steps, and every entropy-model index."""

    def __init__(self, model: NVRC, psi: np.ndarray, phi: dict[str, np.ndarray]):
        self.model, self.phi = model, phi
        self.psi = torch.from_numpy(psi.astype(np.float64))
        self.rows = model.psi_rows
        self.values: dict[str, dict[str, torch.Tensor]] = {}  # dequantised phi, by coder
        for name in model.phi_names():
            data = torch.from_numpy(np.asarray(phi[name])).double()
            coder, leaf = _split(name)
            self.values.setdefault(coder, {})[leaf] = (
                data * self.phi_step(name) if name in self.rows else data
            )

    def phi_step(self, name: str) -> torch.Tensor:
        return det_exp(self.psi[self.rows[name], 0])

    def _layer(self, name: str):
        coder = self.model.layer_coders[layer_key(name)]
        return coder, self.values[f"layer_coders.{layer_key(name)}"], (coder.rows, coder.cols)

    def layer_step(self, name: str) -> torch.Tensor:
        """A layer's steps ``(rows, cols)`` (eq. 5)."""
        coder, phi, shape = self._layer(name)
        return torch.broadcast_to(det_exp(coder.log_step(phi)), shape)

    def layer_indices(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale indices of a layer's symbols, each ``(rows, cols)`` (eqs. 6-7)."""
        coder, phi, shape = self._layer(name)
        log_step = coder.log_step(phi)
        mean, log_scale = coder.model(phi, exp=det_exp)
        means = mean_indices(mean * det_exp(-log_step))
        scales = scale_indices(log_scale - log_step)
        return torch.broadcast_to(means, shape), torch.broadcast_to(scales, shape)

    def _grid_log_steps(self, level: int) -> torch.Tensor:
        coder = self.model.grid_coders[level]
        log_steps = self.values[f"grid_coders.{level}"].get("log_steps", coder.log_steps)
        return coder.layout.broadcast(log_steps.double())

    def grid_step(self, level: int) -> torch.Tensor:
        """Per-partition steps ``(N, 1, 1, 1, 1)`` of a grid level (eq. 2)."""
        return det_exp(self._grid_log_steps(level))

    def grid_gaussian(self, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-partition mean and scale indices ``(N, 1)`` of a level's single Gaussian
        (ablations V2, V3)."""
        phi = self.values[f"grid_coders.{level}"]
        log_step = self._grid_log_steps(level).reshape(-1, 1)
        means = mean_indices(phi["mean"] * det_exp(-log_step))
        return means, scale_indices(phi["log_scale"] - log_step)

    def context_model(self, level: int) -> FixedContextModel:
        """A level's context model, its weights as integers and steps (``w = q s``)."""
        prefix = f"grid_coders.{level}.context.convs"
        depth = len(self.model.grid_coders[level].context.convs)
        weights, steps = [], []
        for i in range(depth):
            name = f"{prefix}.{i}.weight"
            data = torch.from_numpy(np.asarray(self.phi[name])).double()
            q, step = (data, self.phi_step(name)) if name in self.rows else integer_split(data)
            weights.append(q)
            steps.append(step)
        values = self.values[f"grid_coders.{level}"]
        biases = [values[f"context.convs.{i}.bias"] for i in range(depth)]
        return FixedContextModel.from_coded(weights, steps, biases)

    def theta(self, payload: NVRCPayload) -> dict[str, torch.Tensor]:
        """Float32 network parameters from the symbols (the decoder's exact values)."""
        params = dict(self.model.net.named_parameters())
        out = {}
        for name in self.model.layer_names:
            value = torch.from_numpy(payload.layers[name]).double() * self.layer_step(name)
            out[name] = value.float().reshape(params[name].shape)
        for level, (name, coder) in enumerate(
            zip(self.model.grid_names, self.model.grid_coders, strict=True)
        ):
            blocks = torch.from_numpy(payload.grids[level]).double() * self.grid_step(level)
            out[name] = coder.layout.from_blocks(blocks).float()
        return out


def phi_indices(psi_row: torch.Tensor) -> tuple[int, int]:
    """Mean and scale indices of a Gaussian-coded phi tensor from its float64 psi row
    (log-step, mean, log-scale; Sec. 3.3)."""
    log_step, mean, log_scale = psi_row
    return int(mean_indices(mean * det_exp(-log_step))), int(scale_indices(log_scale - log_step))


def _split(name: str) -> tuple[str, str]:
    """``grid_coders.0.context.convs.1.bias`` -> (``grid_coders.0``, ``context.convs.1.bias``)."""
    kind, index, leaf = name.split(".", 2)
    return f"{kind}.{index}", leaf


# ----------------------------------------------------------------------------------- writer


def write_payload(payload: NVRCPayload, header: VideoHeader, model: NVRC | None = None) -> bytes:
    """The complete file. ``model``: the payload's `structure` if the caller has it."""
    model = model or structure(
        payload.config, payload.compression, header.frame_count, header.height, header.width
    )
    plan = CodingPlan(model, payload.psi, payload.phi)
    sections = [
        (MODEL_TAG, _model_bytes(payload)),
        (PSI_TAG, np.asarray(payload.psi, dtype="<f2").tobytes()),
        (PHI_TAG, b"".join(_with_length(_phi_part(plan, payload, g)) for g in PHI_GROUPS)),
        (LAYERS_TAG, _layer_bytes(plan, payload)),
        (GRIDS_TAG, _grid_bytes(plan, payload)),
    ]
    return Container(CodecId.NVRC, header, sections).to_bytes()


def _with_length(data: bytes) -> bytes:
    return encode_uvarint(len(data)) + data


def _model_bytes(payload: NVRCPayload) -> bytes:
    values = {"coding_version": CODING_VERSION, "space": payload.space}
    values |= network_values(payload.config) | COMPRESSION_FIELDS.values_of(payload.compression)
    return MODEL_FIELDS.write(values)


def _phi_names(model: NVRC, group: str) -> list[str]:
    return [n for n in model.phi_names() if phi_group(n) == group]


def _coded_entries(model: NVRC, name: str, shape) -> torch.Tensor:
    """Boolean mask of the entries of phi tensor ``name`` that the file holds."""
    mask = model.phi_mask(name)
    return torch.ones(shape, dtype=torch.bool) if mask is None else mask.expand(shape).bool()


def _phi_part(plan: CodingPlan, payload: NVRCPayload, group: str) -> bytes:
    stored, symbols, means, scales = [], [], [], []
    for name in _phi_names(plan.model, group):
        value = torch.from_numpy(np.asarray(payload.phi[name]))
        entries = value[_coded_entries(plan.model, name, value.shape)]
        if name not in plan.rows:
            stored.append(entries.numpy().astype("<f2").tobytes())
            continue
        m, s = phi_indices(plan.psi[plan.rows[name]])
        symbols.append(entries.numpy().astype(np.int32))
        means.append(np.full(entries.numel(), m, dtype=np.int32))
        scales.append(np.full(entries.numel(), s, dtype=np.int32))
    return b"".join(stored) + _encode(symbols, means, scales)


def _encode(symbols: list, means: list, scales: list) -> bytes:
    if not symbols:
        return encode_quantized(np.zeros(0, np.int32), 0, 0)
    return encode_quantized(np.concatenate(symbols), np.concatenate(means), np.concatenate(scales))


def _layer_bytes(plan: CodingPlan, payload: NVRCPayload) -> bytes:
    symbols, means, scales = [], [], []
    for name in plan.model.layer_names:
        m, s = plan.layer_indices(name)
        symbols.append(payload.layers[name].reshape(-1).astype(np.int32))
        means.append(m.reshape(-1).numpy().astype(np.int32))
        scales.append(s.reshape(-1).numpy().astype(np.int32))
    return _encode(symbols, means, scales)


def _grid_bytes(plan: CodingPlan, payload: NVRCPayload) -> bytes:
    """Grid symbols in decoding order (module docstring) under their models."""
    means, scales = _grid_models(plan, payload.grids)
    symbols = torch.cat([torch.from_numpy(g).reshape(g.shape[0], -1) for g in payload.grids])
    valid = _grid_valid(plan.model)
    order = [t.T[valid.T] for t in (symbols, means, scales)]  # position-major
    return encode_quantized(*(t.numpy().astype(np.int32) for t in order))


def _grid_valid(model: NVRC) -> torch.Tensor:
    """``(rows, positions)``: the coded positions of every partition of every level."""
    return torch.cat([c.valid.reshape(c.valid.shape[0], -1) for c in model.grid_coders])


def _grid_models(plan: CodingPlan, grids: list[np.ndarray]):
    """Mean and scale indices ``(rows, positions)`` of every grid symbol (encoder side)."""
    if plan.model.config.grid_model == "context":
        symbols = torch.cat([torch.from_numpy(g).reshape(g.shape[0], -1) for g in grids])
        return _context(plan).all_indices(symbols)
    return _gaussian_grid_models(plan)


def _gaussian_grid_models(plan: CodingPlan):
    """Mean and scale indices ``(rows, positions)`` under the per-level Gaussians (V2, V3),
    which need no symbols."""
    means, scales = [], []
    positions = math.prod(plan.model.config.block)
    for level, coder in enumerate(plan.model.grid_coders):
        shape = (coder.layout.num_partitions, positions)
        m, s = plan.grid_gaussian(level)
        means.append(torch.broadcast_to(m, shape))
        scales.append(torch.broadcast_to(s, shape))
    return torch.cat(means), torch.cat(scales)


def _context(plan: CodingPlan) -> ContextEvaluator:
    """The context models of all levels over all their partitions."""
    coders = plan.model.grid_coders
    models = [plan.context_model(level) for level in range(len(coders))]
    rows = [c.layout.num_partitions for c in coders]
    return ContextEvaluator(models, rows, plan.model.config.block)


# ----------------------------------------------------------------------------------- reader


def read_payload(data: bytes) -> tuple[VideoHeader, NVRCPayload]:
    """Parse and entropy-decode an NVRC file (`coding_plan` then derives the network's
    parameters). Any malformed input raises `BitstreamError`."""
    container = Container.of_codec(data, CodecId.NVRC, TAGS, "NVRC")
    header = container.header
    config, compression, space = _read_model(container.section(MODEL_TAG))
    checked_parameter_specs(config, header)  # on the meta device: nothing allocated yet
    planned = layout(config, compression, header)
    _check_grid_positions(planned)
    psi = _read_psi(container.section(PSI_TAG), len(planned.coded_phi))
    _check_phi_length(planned, container.section(PHI_TAG))
    model = structure(config, compression, header.frame_count, header.height, header.width)
    phi = _read_phi(model, psi, container.section(PHI_TAG))
    plan = CodingPlan(model, psi, phi)
    layers = _read_layers(plan, container.section(LAYERS_TAG))
    grids = _read_grids(plan, container.section(GRIDS_TAG))
    payload = NVRCPayload(config, compression, space, psi, phi, layers, grids, read_structure=model)
    return header, payload


def _read_model(data: bytes) -> tuple[HiNeRVConfig, CompressionConfig, str]:
    values = MODEL_FIELDS.parse(data, "model section")
    compression = CompressionConfig(**{key: values[key] for key in COMPRESSION_FIELDS.keys})
    return network_config(values), compression, values["space"]


def _check_grid_positions(planned: NVRC) -> None:
    """At most `MAX_PARAMETERS` grid positions in block layout, padding included (6.1)."""
    partitions = sum(coder.layout.num_partitions for coder in planned.grid_coders)
    positions = partitions * math.prod(planned.config.block)
    if positions > MAX_PARAMETERS:
        raise BitstreamError(f"grids: {positions} positions in blocks, more than {MAX_PARAMETERS}")


def _check_phi_length(planned: NVRC, data: bytes) -> None:
    """The phi section holds at least its parts' lengths, stored binary16 entries and empty
    quantised payloads (6.1, 6.2), before any part is decoded."""
    named = dict(planned.named_parameters())
    stored = sum(
        planned.phi_size(name, named[name])
        for name in planned.phi_names()
        if name not in planned.psi_rows
    )
    ByteReader(data).need(2 * stored + len(PHI_GROUPS) * (1 + _MIN_QUANTIZED_BYTES), "phi section")


def _read_psi(data: bytes, rows: int) -> np.ndarray:
    r = ByteReader(data)
    psi = np.frombuffer(r.take(6 * rows, "psi"), dtype="<f2").astype(np.float16).reshape(rows, 3)
    r.expect_end("psi section")
    if not np.isfinite(psi).all():
        raise BitstreamError("psi: non-finite value")
    return psi


def _read_phi(model: NVRC, psi: np.ndarray, data: bytes) -> dict[str, np.ndarray]:
    psi64 = torch.from_numpy(psi.astype(np.float64))
    rows = model.psi_rows
    named = dict(model.named_parameters())
    reader = ByteReader(data)
    phi: dict[str, np.ndarray] = {}
    for group in PHI_GROUPS:
        part = ByteReader(reader.take(reader.uvarint(f"{group} length", reader.remaining), group))
        coded, means, scales = [], [], []
        for name in _phi_names(model, group):
            shape = tuple(named[name].shape)
            entries = _coded_entries(model, name, shape)
            count = int(entries.sum())
            if name in rows:
                m, s = phi_indices(psi64[rows[name]])
                coded.append((name, entries))
                means.append(np.full(count, m, dtype=np.int32))
                scales.append(np.full(count, s, dtype=np.int32))
                continue
            raw = np.frombuffer(part.take(2 * count, f"{name} (float16)"), dtype="<f2")
            if not np.isfinite(raw).all():
                raise BitstreamError(f"{name}: non-finite value")
            phi[name] = _scatter(entries, raw.astype(np.float16))
        total = sum(len(m) for m in means)
        symbols = _decode(bytes(part.rest()), total, means, scales)
        offset = 0
        for name, entries in coded:
            count = int(entries.sum())
            phi[name] = _scatter(entries, symbols[offset : offset + count])
            offset += count
    reader.expect_end("phi section")
    return {name: phi[name] for name in model.phi_names()}


def _scatter(entries: torch.Tensor, values: np.ndarray) -> np.ndarray:
    out = np.zeros(tuple(entries.shape), dtype=values.dtype)
    out[entries.numpy()] = values
    return out


def _decode(data: bytes, count: int, means: list, scales: list) -> np.ndarray:
    decoder = QuantizedDecoder(data, count)
    if not count:
        decoder.finish()
        return np.zeros(0, np.int32)
    symbols = decoder.decode(np.concatenate(means), np.concatenate(scales))
    decoder.finish()
    return symbols


def _read_layers(plan: CodingPlan, data: bytes) -> dict[str, np.ndarray]:
    shapes, means, scales = [], [], []
    for name in plan.model.layer_names:
        m, s = plan.layer_indices(name)
        shapes.append(tuple(m.shape))
        means.append(m.reshape(-1).numpy().astype(np.int32))
        scales.append(s.reshape(-1).numpy().astype(np.int32))
    symbols = _decode(data, sum(math.prod(shape) for shape in shapes), means, scales)
    out, offset = {}, 0
    for name, shape in zip(plan.model.layer_names, shapes, strict=True):
        size = math.prod(shape)
        out[name] = symbols[offset : offset + size].reshape(shape)
        offset += size
    return out


def _read_grids(plan: CodingPlan, data: bytes) -> list[np.ndarray]:
    """Decode the grid stream: one position of every partition of every level per step
    (`ContextEvaluator`), or all symbols at once under the per-level Gaussians."""
    model = plan.model
    valid = _grid_valid(model)
    rows = [c.layout.num_partitions for c in model.grid_coders]
    block = model.config.block
    symbols = torch.zeros(valid.shape, dtype=torch.int32)
    decoder = QuantizedDecoder(data, int(valid.sum()))
    if model.config.grid_model == "context":
        context = _context(plan)
        for position in range(valid.shape[1]):
            means, scales = context.indices(position)
            coded = valid[:, position]
            decoded = decoder.decode(means[coded].numpy(), scales[coded].numpy())
            symbols[coded, position] = torch.from_numpy(decoded)
            context.set_symbols(position, symbols[:, position])
    else:
        means, scales = _gaussian_grid_models(plan)
        order = [t.T[valid.T].numpy().astype(np.int32) for t in (means, scales)]
        symbols.T[valid.T] = torch.from_numpy(decoder.decode(*order))
    decoder.finish()
    levels = symbols.split(rows)
    return [level.reshape(n, 1, *block).numpy() for level, n in zip(levels, rows, strict=True)]


def section_bytes(data: bytes) -> dict[str, int]:
    """Bytes of the file by part: the container's framing and model section, psi, each phi
    group, layers and grids (Fig. 4's split of the real file; parses, decodes nothing)."""
    container = Container.from_bytes(data)
    if container.codec != CodecId.NVRC or len(container.sections) != len(TAGS):
        raise BitstreamError("not an NVRC bitstream")
    sizes = {"header": len(data) - sum(len(d) for _, d in container.sections)}
    sizes["model"] = len(container.section(MODEL_TAG))
    sizes["psi"] = len(container.section(PSI_TAG))
    reader = ByteReader(container.section(PHI_TAG))
    for group in PHI_GROUPS:
        start = reader.position
        reader.take(reader.uvarint(f"{group} length", reader.remaining), group)
        sizes[group] = reader.position - start
    sizes["layers"] = len(container.section(LAYERS_TAG))
    sizes["grids"] = len(container.section(GRIDS_TAG))
    return sizes


def describe(data: bytes) -> dict:
    """What ``inrcodec info`` shows of an NVRC file: `describe_container`, then
    ``rate_split``, the bytes and rate of each part (`section_bytes`, the split of Fig. 4)."""
    header = Container.from_bytes(data).header
    return {**describe_container(data), "rate_split": rate_table(section_bytes(data), header)}


def decode_memory(data: bytes) -> int:
    """About the bytes the decoder needs at once, from the header and the model section
    alone: `network_memory`, and what decoding the grids holds (`ContextEvaluator`: each
    context layer's float64 input at every padded block position of every partition)."""
    container = Container.of_codec(data, CodecId.NVRC, TAGS, "NVRC")
    config, compression, _ = _read_model(container.section(MODEL_TAG))
    network = network_memory(config, container.header)
    if compression.grid_model != "context":
        return network
    block = compression.block
    rows = sum(BlockLayout(size, block).num_partitions for size in config.grid_level_sizes())
    positions = BlockGeometry(block, compression.context_kernel).size
    inputs = 1 + compression.context_width * (compression.context_blocks - 1)
    return network + 8 * rows * positions * inputs


# ------------------------------------------------------------------------------ quantiser


def quantize_with_learned_steps(model: NVRC, space: str) -> NVRCPayload:
    """The payload of a trained model: psi to float16, phi to symbols under psi's steps (or
    float16), theta to symbols under the steps that `CodingPlan` derives from that phi, so
    the symbols are those of the model the decoder will hold."""
    model = model.cpu().eval()
    psi = model.psi.detach().half().numpy()
    psi64 = torch.from_numpy(psi.astype(np.float64))
    rows = model.psi_rows
    named = dict(model.named_parameters())
    phi = {}
    for name in model.phi_names():
        value = named[name].detach().double()
        mask = model.phi_mask(name)
        if mask is not None:  # +0.0 (not -0.0) where the file holds nothing
            value = torch.where(mask.expand_as(value).bool(), value, 0.0)
        if name in rows:
            phi[name] = _symbols(value / det_exp(psi64[rows[name], 0]), name)
        else:
            phi[name] = value.half().numpy()
    plan = CodingPlan(model, psi, phi)
    params = dict(model.net.named_parameters())
    layers = {}
    for name in model.layer_names:
        step = plan.layer_step(name)
        layers[name] = _symbols(params[name].detach().double().reshape(step.shape) / step, name)
    grids = []
    for level, (name, coder) in enumerate(zip(model.grid_names, model.grid_coders, strict=True)):
        blocks = coder.layout.to_blocks(params[name].detach().double())
        grids.append(_symbols(blocks / plan.grid_step(level), name) * coder.valid.numpy())
    return NVRCPayload(model.net.config, model.config, space, psi, phi, layers, grids)


def _symbols(scaled: torch.Tensor, name: str) -> np.ndarray:
    symbols = torch.round(scaled)
    if not torch.isfinite(symbols).all() or symbols.abs().max() > MAX_SYMBOL:
        raise ValueError(f"{name}: symbols beyond +-{MAX_SYMBOL} (a step far too small)")
    return symbols.numpy().astype(np.int32)
