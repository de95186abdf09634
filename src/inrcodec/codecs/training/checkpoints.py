"""Training checkpoints shared by every trainer: safetensors, never pickle.

A checkpoint file holds the model's ``state_dict()`` (prefix ``model.``; keys as they are,
parametrizations and pruning masks included), the optimiser's moment tensors by parameter name
(``optim.``) and the torch RNG states (``rng.``), plus a small JSON document in the file's
safetensors metadata (its ``format``, step, configuration, results), so weights and state are
replaced together by one atomic rename. ``state.json`` next to it is a readable copy of that
JSON, never read back. Nothing goes through ``torch.load``. A trainer writes one with
`save_checkpoint` and continues from it with `resume_checkpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import nn

from inrcodec.errors import InrcodecError

from ...atomic import atomic_file, write_atomic
from ..weights import load_weights, match_keys

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "load_optimizer",
    "read_checkpoint",
    "resume_checkpoint",
    "save_checkpoint",
    "state_tensors",
]

CHECKPOINT_NAME = "checkpoint.safetensors"
STATE_NAME = "state.json"
_METADATA_KEY = "inrcodec.train"


class CheckpointError(InrcodecError):
    """A checkpoint that is not ours, of another kind, or does not fit the model."""


def state_tensors(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """Model state_dict (prefix ``model.``), Adam state by parameter name (``optim.``) and
    the torch RNG states (``rng.``), as contiguous CPU tensors that share no storage."""
    out = {
        f"model.{k}": v.detach().to("cpu", copy=True).contiguous()
        for k, v in model.state_dict().items()
    }
    if optimizer is not None:
        names = {id(p): n for n, p in model.named_parameters()}
        for p, state in optimizer.state.items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    out[f"optim.{names[id(p)]}.{key}"] = (
                        value.detach().to("cpu", copy=True).contiguous()
                    )
    out["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def save_checkpoint(
    path: Path,
    fmt: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: dict,
) -> None:
    """Checkpoint a run: `model`'s weights, `optimizer`'s moments, the RNG states and the JSON
    `state` (with ``format = fmt``) in one file written atomically, plus its readable copy."""
    state = {"format": fmt, **state}
    meta = {_METADATA_KEY: json.dumps(state, sort_keys=True)}
    write_atomic(path, save(state_tensors(model, optimizer), metadata=meta))
    with atomic_file(path.with_name(STATE_NAME)) as tmp:
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def read_checkpoint(path: Path, fmt: str) -> tuple[dict, dict]:
    """Tensors and JSON state of a checkpoint whose state says ``format == fmt``."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if _METADATA_KEY not in meta:
            raise CheckpointError(f"{path} is not an inrcodec training checkpoint")
        state = json.loads(meta[_METADATA_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if state.get("format") != fmt:
        raise CheckpointError(f"{path}: unknown checkpoint format {state.get('format')!r}")
    return tensors, state


def resume_checkpoint(
    path: Path,
    fmt: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    check: Callable[[dict], None],
) -> dict:
    """Continue a run from its checkpoint and return the JSON state.

    Reads `path` (format `fmt`), lets `check(state)` refuse it (it raises when the run's
    configuration changed), loads the weights and, for an unfinished run, the optimiser's
    moments and the torch RNG states (CPU, and the CUDA devices present), so the run goes on
    as if uninterrupted.
    """
    tensors, state = read_checkpoint(path, fmt)
    check(state)
    load_weights(model, tensors)
    if not state["finished"]:
        load_optimizer(model, optimizer, tensors)
        _restore_rng(tensors)
    return state


def _restore_rng(tensors: dict) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    if torch.cuda.is_available():
        for key, rng in tensors.items():
            device = int(key.rsplit(".", 1)[1]) if key.startswith("rng.cuda.") else None
            if device is not None and device < torch.cuda.device_count():
                torch.cuda.set_rng_state(rng, device)


def load_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer, tensors: dict) -> None:
    saved: dict[str, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            name, _, key = k[len("optim.") :].rpartition(".")
            saved.setdefault(name, {})[key] = v
    named = list(model.named_parameters())
    mapping = match_keys(list(saved), [n for n, _ in named])
    index = {id(p): i for i, p in enumerate(optimizer.param_groups[0]["params"])}
    sd = optimizer.state_dict()
    sd["state"] = {index[id(p)]: saved[mapping[n]] for n, p in named if n in mapping}
    optimizer.load_state_dict(sd)
