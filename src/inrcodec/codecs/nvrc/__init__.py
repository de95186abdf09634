"""NVRC (Kwan et al., NeurIPS 2024): learned quantisation and entropy models trained with any
representation on R + lambda D (docs/nvrc.md), one module per section of the paper.

`grid_coding` (Sec. 3.1): block partition, learned steps, the context model and their coding
path; `layer_coding` (3.2): dual-axis steps and Gaussians; `hierarchy` (3.3): phi coded under
psi; `objective` (3.4): ``R + lambda D`` and its alternation; `model`: the `NVRC` module that
ties them to a representation; `backbones`: the representations files name (HiNeRV, the
latent grids); `gaussian` and `fixed_point`: the discretised Gaussian and the deterministic
arithmetic they share; `presets`: schedules, defaults, rate points and ablations; `train`:
the two-stage training; `bitstream`: the file; `codec`: encode, compress, decode. Names are
imported lazily.
"""

from __future__ import annotations

from inrcodec.codecs.registry import codec_exports
from inrcodec.lazy import lazy_getattr

_LAZY = {
    **codec_exports("NVRCCodec", train_command=True),
    "NVRC": "model",
    "CompressionConfig": "model",
    "compress": "codec",
    "Backbone": "backbones",
    "ContextModel": "grid_coding",
    "gaussian_bits": "gaussian",
    "RateDistortion": "objective",
    "ABLATIONS": "presets",
    "NVRCError": "presets",
    "Schedule": "presets",
    "rate_point": "presets",
    "NVRCTrainResult": "train",
    "train": "train",
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
