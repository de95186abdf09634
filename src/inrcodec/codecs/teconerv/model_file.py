"""TeCoNeRV model files: a trained hypernetwork alone, as training writes it and the codec
reads it, and the folders a decoder looks for them in.

``NAME.safetensors`` holds the network's weights and, in its metadata, a small JSON
configuration (`MODEL_FORMAT`, the preset, the network configuration, the training size and
free-form ``info``), also written readable next to it as ``NAME.json``.

The CPU models ship inside the package (`PACKAGED_MODELS`). A decoder given no model file
searches `model_folders`: the folders listed in ``INRCODEC_TECONERV_MODELS`` (separated by
`os.pathsep`, searched in order), then the packaged models.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from inrcodec.atomic import atomic_file, write_atomic
from inrcodec.errors import InrcodecError
from inrcodec.nets.hypernet import HypernetConfig, Hypernetwork

from ..weights import load_weights
from .presets import Preset

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_FORMAT",
    "MODEL_PATH_VARIABLE",
    "PACKAGED_MODELS",
    "TeCoNeRVModelError",
    "load_model",
    "model_folders",
    "save_model",
]

MODEL_FORMAT = "inrcodec.teconerv.model/1"
#: The committed CPU models (docs/teconerv.md); the default is the temporal-coherence one.
PACKAGED_MODELS = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = PACKAGED_MODELS / "teconerv-cpu.safetensors"
MODEL_PATH_VARIABLE = "INRCODEC_TECONERV_MODELS"


class TeCoNeRVModelError(InrcodecError):
    """A file that is not a TeCoNeRV model file (or one of an unknown format)."""


def save_model(
    net: Hypernetwork, path: str | os.PathLike, preset: Preset, *, dtype=None, info=None
):
    """The network alone: ``model.safetensors`` holding its weights (cast to `dtype` if given,
    e.g. float16 for small committed checkpoints) and a JSON configuration in the file's
    metadata and, readable, next to it (``<name>.json``)."""
    path = Path(path)
    config = {
        "format": MODEL_FORMAT,
        "preset": preset.name,
        "net": preset.net.to_json(),
        "train_size": list(preset.train_size),
        "full_frame": preset.full_frame,
        "info": info or {},
    }
    tensors = {
        k: (v.detach().to("cpu", dtype=dtype or v.dtype)).contiguous()
        for k, v in net.state_dict().items()
    }
    text = json.dumps(config, sort_keys=True)
    write_atomic(path, save(tensors, metadata={"inrcodec.model": text}))
    with atomic_file(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_model(path: str | os.PathLike) -> tuple[Hypernetwork, dict]:
    """A network written by `save_model` (float32, eval mode) and its configuration. Only the
    safetensors file is read (weights, and the configuration from its metadata)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            config = json.loads((f.metadata() or {})["inrcodec.model"])
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise TeCoNeRVModelError(f"{path}: not a TeCoNeRV model file ({exc})") from exc
    if config.get("format") != MODEL_FORMAT:
        raise TeCoNeRVModelError(f"{path}: unknown model format {config.get('format')!r}")
    net = Hypernetwork(HypernetConfig.from_json(config["net"]))
    load_weights(net, {f"model.{k}": v for k, v in tensors.items()})
    return net.eval(), config


def model_folders() -> list[Path]:
    """Where a decoder looks for a file's model: the folders in ``INRCODEC_TECONERV_MODELS``
    (in order, empty entries skipped), then `PACKAGED_MODELS`."""
    listed = os.environ.get(MODEL_PATH_VARIABLE, "").split(os.pathsep)
    return [Path(folder) for folder in listed if folder] + [PACKAGED_MODELS]
