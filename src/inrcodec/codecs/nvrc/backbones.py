"""The representations NVRC can compress, as files name them and decoders rebuild them.

NVRC compresses any network that declares its grids and layers
(`inrcodec.nets.representation.Representation`); a **backbone** adds what a file needs: how
the network's configuration is written (a field table, `inrcodec.coding.fields`), the tag of
the model section that holds it (the tag names the backbone: docs/bitstream.md 6.1), how the
network is built for a video, which configurations cannot represent a video, and the presets
an encoder starts from.

`HINERV` (tag 1) is the paper's backbone. Adding one takes a network that implements the
interface and one `Backbone` given to `register` (docs/nvrc.md, "Adding a backbone").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inrcodec.codecs.network_section import MAX_PARAMETERS, NETWORK, finer_than_video
from inrcodec.coding import BitstreamError, VideoHeader
from inrcodec.coding.container import MAX_FRAMES
from inrcodec.coding.fields import Counted, Table, UInt
from inrcodec.nets import hinerv, latent
from inrcodec.nets.representation import Representation

__all__ = [
    "BACKBONES", "HINERV", "LATENT", "MAX_PARAMETERS", "Backbone", "register", "unregister"
]  # fmt: skip


@dataclass(frozen=True)
class Backbone:
    """A representation as NVRC files hold it.

    ``fields``: every field of the configuration but ``name`` (written first, as NVRC's
    model section's `NAME`), declared once for writer and reader; ``config_type(name=...,
    **fields)`` builds a configuration from them and raises ValueError when it is invalid.
    ``build(config, frames, height, width)``: the network. ``check(config, header)``: why the
    configuration cannot represent the video of ``header`` (a problem to refuse before
    anything is built), or None. ``presets``: preset names; ``preset(name, frames, height,
    width)``: a configuration; ``size_class(name)``: "paper", "cpu" or "tiny", which picks
    the training defaults (`inrcodec.codecs.nvrc.presets`); ``candidates(name, frames,
    height, width)``: the configurations an encoder may choose between by measurement (the
    preset's first; `inrcodec.codecs.nvrc.train`), by default the preset's alone.
    """

    name: str
    model_tag: int
    config_type: type
    fields: Table
    build: Callable[[Any, int, int, int], Representation]
    presets: tuple[str, ...]
    preset: Callable[[str, int, int, int], Any]
    size_class: Callable[[str], str]
    check: Callable[[Any, VideoHeader], str | None] = lambda config, header: None
    candidates: Callable[[str, int, int, int], list] | None = None

    def configs(self, name: str, frames: int, height: int, width: int) -> list:
        """The configurations an encoder may choose between (`candidates`), the preset's
        first."""
        if self.candidates is None:
            return [self.preset(name, frames, height, width)]
        return self.candidates(name, frames, height, width)

    def values_of(self, config) -> dict:
        """The ``name`` and `fields` values of a configuration."""
        return {"name": config.name, **self.fields.values_of(config)}

    def config_of(self, values) -> Any:
        """The configuration of read values; `BitstreamError` if it is invalid."""
        try:
            return self.config_type(**{key: values[key] for key in ("name", *self.fields.keys)})
        except ValueError as error:
            raise BitstreamError(f"model: invalid configuration ({error})") from None


HINERV = Backbone(
    name="hinerv",
    model_tag=1,
    config_type=hinerv.HiNeRVConfig,
    fields=NETWORK,
    build=hinerv.HiNeRV,
    presets=tuple(p for p in hinerv.PRESETS if p.startswith("nvrc-")),
    preset=hinerv.preset,
    size_class=hinerv.size_class,
    check=finer_than_video,
)

MAX_LATENT_LEVELS = 12
MAX_LATENT_SCALE = 14  # 2^14 = MAX_DIMENSION: one position
MAX_LATENT_CHANNELS = 16
MAX_HIDDEN_LAYERS = 8
MAX_HIDDEN_WIDTH = 256
MAX_REFINE = 4

LATENT = Backbone(
    name="latent",
    model_tag=6,
    config_type=latent.LatentConfig,
    fields=Table(
        Counted(
            UInt("levels", 1, MAX_LATENT_LEVELS),
            UInt("scales", 0, MAX_LATENT_SCALE),
            UInt("strides", 1, MAX_FRAMES),
            UInt("channels", 1, MAX_LATENT_CHANNELS),
        ),
        Counted(UInt("hidden layers", 0, MAX_HIDDEN_LAYERS), UInt("hidden", 1, MAX_HIDDEN_WIDTH)),
        UInt("refine", 0, MAX_REFINE),
    ),
    build=latent.LatentGrids,
    presets=latent.PRESETS,
    preset=latent.preset,
    size_class=latent.size_class,
    candidates=latent.candidates,
)
#: The registered backbones by name (`register`).
BACKBONES: dict[str, Backbone] = {b.name: b for b in (HINERV, LATENT)}


def register(backbone: Backbone) -> None:
    """Make a backbone known to NVRC's encoder and decoder; its name, model-section tag and
    presets must be new."""
    for other in BACKBONES.values():
        clash = other.name == backbone.name or other.model_tag == backbone.model_tag
        if clash or set(other.presets) & set(backbone.presets):
            raise ValueError(f"backbone {backbone.name!r} clashes with {other.name!r}")
    BACKBONES[backbone.name] = backbone


def unregister(name: str) -> None:
    BACKBONES.pop(name, None)


def by_tag(tag: int) -> Backbone | None:
    """The backbone whose model section has ``tag``, if any."""
    return next((b for b in BACKBONES.values() if b.model_tag == tag), None)


def by_config(config) -> Backbone:
    """The backbone of a configuration (by its type)."""
    for backbone in BACKBONES.values():
        if isinstance(config, backbone.config_type):
            return backbone
    raise ValueError(f"no NVRC backbone takes a {type(config).__name__}")


def by_preset(name: str) -> Backbone | None:
    """The backbone that has preset ``name``, if any."""
    return next((b for b in BACKBONES.values() if name in b.presets), None)


def all_presets() -> list[str]:
    return [p for b in BACKBONES.values() for p in b.presets]
