"""The NVRC file (docs/bitstream.md section 6): the sections that the paper's parts write, in
one container, and the coding plan that encoder and decoder both derive.

* the *model* section (`model_fields`; its tag is the backbone's, `backbones`):
  `CODING_VERSION`, the preset name, the training colour space, the backbone's configuration
  and the `CompressionConfig` fields that shape the coding;
* tag 2, *psi*, and tag 3, *phi* (`hierarchy`, Sec. 3.3);
* tag 4, *layers* (`layer_coding`, Sec. 3.2);
* tag 5, *grids* (`grid_coding`, Sec. 3.1).

Every entropy-model index is derived by `CodingPlan` from psi, the decoded phi and nothing
else, in the deterministic arithmetic of `fixed_point`, at the encoder as at the decoder.
Shapes and orders follow from the model section. The decoder first lays the network and its
`NVRC` coders out on the meta device (`layout`: no allocation) and checks against it the
parameter and grid counts and the psi and phi lengths; only then does it build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from inrcodec.codecs.info import describe_container, rate_table
from inrcodec.codecs.network_section import NAME, SPACE
from inrcodec.codecs.synthesis import network_memory
from inrcodec.coding import BitstreamError, CodecId, Container, VideoHeader
from inrcodec.coding.fields import Check, Fixed, Flags, Table, Tuple, UInt
from inrcodec.coding.varint import ByteReader

from .backbones import BACKBONES, MAX_PARAMETERS, Backbone, by_config, by_tag
from .fixed_point import CODING_VERSION, MAX_KERNEL, MAX_WIDTH
from .grid_coding import BlockGeometry
from .hierarchy import PHI_GROUPS, symbols_of
from .layer_coding import layer_key
from .model import GRID_MODELS, LAYER_MODELS, NVRC, PHI_CODINGS, CompressionConfig

PSI_TAG, PHI_TAG, LAYERS_TAG, GRIDS_TAG = 2, 3, 4, 5
MAX_BLOCK = 64
MAX_CONTEXT_BLOCKS = 8
MAX_MIN_AXIS = 2**20
MAX_LOG_STEP = 64  # the fixed grid log-step of ablation V5 lies in [-64, 64]


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
        ("context_shared", (False, True), 1),
        ("context_pointwise", (False, True), 1),
    ),
    Fixed("grid_log_step", -MAX_LOG_STEP, MAX_LOG_STEP, signed=True),
    UInt("phi_min_size", 0, MAX_MIN_AXIS),
    checks=(Check(_odd_context_kernel, "context_kernel"),),
)


def model_fields(backbone: Backbone) -> Table:
    """The model section of a backbone's files (docs/bitstream.md 6.1)."""
    return Table(
        UInt("coding_version", CODING_VERSION, CODING_VERSION),
        NAME,
        SPACE,
        backbone.fields,
        COMPRESSION_FIELDS,
    )


def tags(backbone: Backbone) -> tuple[int, ...]:
    """The sections of a backbone's files, in order."""
    return (backbone.model_tag, PSI_TAG, PHI_TAG, LAYERS_TAG, GRIDS_TAG)


@dataclass(frozen=True)
class NVRCPayload:
    """Everything an NVRC decoder needs besides the video header.

    ``config``: the backbone's network configuration; ``phi``: by phi name, int32 symbols for
    Gaussian-coded tensors or float16 values for stored ones (zero at masked context taps);
    ``layers``: by network parameter name, int32 symbols of the ``(rows, cols)`` matrix view;
    ``grids``: per level, int32 symbols in block layout ``(N, 1, bt, bh, bw)``, zero in the
    padding. ``read_structure``: the `structure` that `read_payload` built to decode this
    payload (None otherwise), which `coding_plan` uses rather than build it again."""

    config: Any
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


def structure(config, compression: CompressionConfig, frames, height, width) -> NVRC:
    """The `NVRC` module that fixes every shape, order and coder of a payload (its weights
    are irrelevant: they are replaced by the decoded ones)."""
    net = by_config(config).build(config, frames, height, width)
    return NVRC(net, compression).eval()


def layout(config, compression: CompressionConfig, header: VideoHeader) -> NVRC:
    """The `structure` on the meta device: every name, shape, psi row and coded count of the
    payload, and nothing allocated (so it is safe on an untrusted model section); a
    `BitstreamError` if the network cannot be built for the video or has more than
    `MAX_PARAMETERS` parameters."""
    try:
        with torch.device("meta"):
            model = structure(config, compression, header.frame_count, header.height,
                              header.width)  # fmt: skip
    except (ValueError, RuntimeError) as error:  # e.g. a grid that the geometry cannot use
        raise BitstreamError(f"model: unusable configuration ({error})") from None
    total = sum(p.numel() for p in model.net.parameters())
    if total > MAX_PARAMETERS:
        raise BitstreamError(f"model: {total} parameters, more than {MAX_PARAMETERS}")
    return model


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
    """What encoder and decoder both derive from psi and phi (`fixed_point` arithmetic): the
    decoded phi (`hierarchy.DecodedPhi`), and through each coder theta's steps and every
    entropy-model index."""

    def __init__(self, model: NVRC, psi: np.ndarray, phi: dict[str, np.ndarray]):
        self.model = model
        self.phi = model.hierarchy.decoded(psi, phi)

    def levels(self) -> tuple[list, list]:
        """Per grid level, its decoded phi by leaf and its integer form (a function of leaf)."""
        keys = [f"grid_coders.{level}" for level in range(len(self.model.grid_coders))]
        integers = [lambda leaf, key=key: self.phi.integer(f"{key}.{leaf}") for key in keys]
        return [self.phi.values.get(key, {}) for key in keys], integers

    def layer_step(self, name: str) -> torch.Tensor:
        """A layer's steps ``(rows, cols)`` (eq. 5)."""
        coder = self.model.layer_coders.coder(name)
        return coder.steps(self.phi.values[f"layer_coders.{layer_key(name)}"])

    def grid_step(self, level: int) -> torch.Tensor:
        """Per-partition steps ``(N, 1, 1, 1, 1)`` of a grid level (eq. 2)."""
        return self.model.grid_coders[level].steps(self.phi.values.get(f"grid_coders.{level}", {}))

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


# ----------------------------------------------------------------------------------- writer


def write_payload(payload: NVRCPayload, header: VideoHeader, model: NVRC | None = None) -> bytes:
    """The complete file. ``model``: the payload's `structure` if the caller has it."""
    model = model or structure(
        payload.config, payload.compression, header.frame_count, header.height, header.width
    )
    plan = CodingPlan(model, payload.psi, payload.phi)
    backbone = by_config(payload.config)
    values = {"coding_version": CODING_VERSION, "space": payload.space}
    values |= backbone.values_of(payload.config) | COMPRESSION_FIELDS.values_of(payload.compression)
    sections = [
        (backbone.model_tag, model_fields(backbone).write(values)),
        (PSI_TAG, np.asarray(payload.psi, dtype="<f2").tobytes()),
        (PHI_TAG, model.hierarchy.write(payload.psi, payload.phi)),
        (LAYERS_TAG, model.layer_coders.write(plan.phi.values, payload.layers)),
        (GRIDS_TAG, model.grid_coders.write(*plan.levels(), payload.grids)),
    ]
    return Container(CodecId.NVRC, header, sections).to_bytes()


# ----------------------------------------------------------------------------------- reader


def open_container(data: bytes) -> tuple[Container, Backbone]:
    """The container of an NVRC file and the backbone its model section's tag names."""
    container = Container.from_bytes(data)
    first = container.sections[0][0] if container.sections else None
    backbone = by_tag(first) if container.codec == CodecId.NVRC else None
    if container.codec == CodecId.NVRC and backbone is None:
        known = sorted(b.model_tag for b in BACKBONES.values())
        raise BitstreamError(
            f"NVRC: no known representation has a model section of tag {first} (known: {known})"
        )
    return container.require(CodecId.NVRC, tags(backbone) if backbone else (), "NVRC"), backbone


def read_payload(data: bytes) -> tuple[VideoHeader, NVRCPayload]:
    """Parse and entropy-decode an NVRC file (`coding_plan` then derives the network's
    parameters). Any malformed input raises `BitstreamError`."""
    container, config, compression, space, planned = _read_model(data)
    header = container.header
    _check_grid_positions(planned)
    psi = planned.hierarchy.read_psi(container.section(PSI_TAG))
    planned.hierarchy.check_lengths(container.section(PHI_TAG))
    model = structure(config, compression, header.frame_count, header.height, header.width)
    phi = model.hierarchy.read(psi, container.section(PHI_TAG))
    plan = CodingPlan(model, psi, phi)
    layers = model.layer_coders.read(plan.phi.values, container.section(LAYERS_TAG))
    grids = model.grid_coders.read(*plan.levels(), container.section(GRIDS_TAG))
    payload = NVRCPayload(config, compression, space, psi, phi, layers, grids, read_structure=model)
    return header, payload


def _read_model(data: bytes):
    """The container of an NVRC file, its model section (configuration, `CompressionConfig`,
    space) and their `layout`, once the backbone has checked the configuration against the
    video."""
    container, backbone = open_container(data)
    header = container.header
    values = model_fields(backbone).parse(container.section(backbone.model_tag), "model section")
    compression = CompressionConfig(**{key: values[key] for key in COMPRESSION_FIELDS.keys})
    config = backbone.config_of(values)
    if problem := backbone.check(config, header):
        raise BitstreamError(f"model: {problem}")
    return container, config, compression, values["space"], layout(config, compression, header)


def _check_grid_positions(planned: NVRC) -> None:
    """At most `MAX_PARAMETERS` grid positions in block layout, padding included (6.1)."""
    positions = planned.grid_coders.positions
    if positions > MAX_PARAMETERS:
        raise BitstreamError(f"grids: {positions} positions in blocks, more than {MAX_PARAMETERS}")


def part_bytes(data: bytes) -> dict[str, int]:
    """Bytes of the file by part: the container's framing and model section, psi, each phi
    group, layers and grids (Fig. 4's split of the real file; parses, decodes nothing)."""
    container, backbone = open_container(data)
    sizes = {"header": len(data) - sum(len(d) for _, d in container.sections)}
    sizes["model"] = len(container.section(backbone.model_tag))
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
    ``rate_split``, the bytes and rate of each part (`part_bytes`, the split of Fig. 4)."""
    header = Container.from_bytes(data).header
    return {**describe_container(data), "rate_split": rate_table(part_bytes(data), header)}


def decode_memory(data: bytes) -> int:
    """About the bytes the decoder needs at once, from the header and the model section
    alone: the network and one frame's synthesis (`network_memory`) and, while the grids are
    decoded, the context model's buffers (`grid_coding.ContextEvaluator`: each layer's
    float64 input at every padded block position of every partition)."""
    container, _, compression, _, planned = _read_model(data)
    need = network_memory(planned.net, container.header)
    if compression.grid_model != "context":
        return need
    positions = BlockGeometry(compression.block, compression.context_kernel).size
    hidden = 0 if compression.context_pointwise else compression.context_blocks - 1
    inputs = 1 + compression.context_width * hidden  # a pointwise model buffers symbols only
    return need + 8 * sum(planned.grid_coders.partitions) * positions * inputs


# ------------------------------------------------------------------------------ quantiser


def quantize_with_learned_steps(model: NVRC, space: str) -> NVRCPayload:
    """The payload of a trained model: psi to float16, phi to symbols under psi's steps (or
    float16), theta to symbols under the steps that `CodingPlan` derives from that phi, so
    the symbols are those of the model the decoder will hold."""
    model = model.cpu().eval()
    psi = model.psi.detach().half().numpy()
    phi = model.hierarchy.to_integers(dict(model.named_parameters()), psi)
    plan = CodingPlan(model, psi, phi)
    params = dict(model.net.named_parameters())
    layers = {}
    for name in model.layer_names:
        step = plan.layer_step(name)
        layers[name] = symbols_of(params[name].detach().double().reshape(step.shape) / step, name)
    grids = []
    for level, (name, coder) in enumerate(zip(model.grid_names, model.grid_coders, strict=True)):
        blocks = coder.layout.to_blocks(params[name].detach().double())
        grids.append(symbols_of(blocks / plan.grid_step(level), name) * coder.valid.numpy())
    return NVRCPayload(model.net.config, model.config, space, psi, phi, layers, grids)
