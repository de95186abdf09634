"""Loading named tensors (of a training checkpoint or a model file) into a module: keys match
exactly, or without the wrappers that parametrizations and pruning add, so the weights of a
plain network load into the same network after ``torch.nn.utils.parametrize`` or ``prune``
(and back). Nothing here trains; the TeCoNeRV decoder loads its model with it."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from inrcodec.errors import InrcodecError


class WeightsError(InrcodecError):
    """Tensors that do not fit the module: a parameter missing, an extra entry, a shape."""


def canonical_key(key: str) -> str:
    """A state-dict key without parametrization / pruning wrappers:
    ``a.parametrizations.weight.original`` and ``a.weight_orig`` -> ``a.weight``."""
    key = re.sub(r"\.parametrizations\.([^.]+)\.original$", r".\1", key)
    return re.sub(r"_orig$", "", key)


def match_keys(keys: Sequence[str], wanted: Sequence[str]) -> dict[str, str]:
    """Map each key of `wanted` (the model's) to a key of `keys` (the file's): exact names
    first, else names without parametrization / pruning wrappers."""
    keys = set(keys)
    by_canonical: dict[str, str] = {}
    for k in keys:
        by_canonical.setdefault(canonical_key(k), k)
    out = {}
    for w in wanted:
        k = w if w in keys else by_canonical.get(canonical_key(w))
        if k is not None:
            out[w] = k
    return out


def load_weights(model: nn.Module, tensors: dict) -> None:
    """Copy the ``model.``-prefixed `tensors` (a checkpoint's or a model file's) into
    `model`'s state, matched by `match_keys`; every parameter must be there with its shape,
    and nothing else."""
    saved = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    own = model.state_dict()
    params = {n for n, _ in model.named_parameters()}
    mapping = match_keys(list(saved), list(own))
    missing = sorted(k for k in params if k not in mapping)
    if missing:
        raise WeightsError(f"checkpoint lacks parameters {missing[:5]}")
    used = set(mapping.values())
    extra = sorted(k for k in saved if k not in used)
    if extra:
        raise WeightsError(f"checkpoint has entries the model lacks: {extra[:5]}")
    for key, value in own.items():  # buffers absent from the file (e.g. new masks) stay
        if key in mapping:
            src = saved[mapping[key]]
            if src.shape != value.shape:
                raise WeightsError(
                    f"{key}: checkpoint shape {tuple(src.shape)}, model {tuple(value.shape)}"
                )
            with torch.no_grad():
                value.copy_(src)
