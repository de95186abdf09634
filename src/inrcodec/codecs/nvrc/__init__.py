"""NVRC (Kwan et al., NeurIPS 2024): learned quantisation and entropy models trained with the
representation on R + lambda D (docs/nvrc.md).

`model`: the `NVRC` module (parameter groups, quantisers, entropy models, eq. 9 rate);
`entropy`: the Gaussian rate and the masked-3D-convolution context model; `objective`:
``R + lambda D`` and its alternation; `train`: the two-stage schedule, rate points and
ablations; `fixed_point`: the deterministic arithmetic of the coding path; `bitstream`: the
payload; `codec`: encode, compress, decode. Names are imported lazily.
"""

from __future__ import annotations

from inrcodec.codecs.registry import codec_exports
from inrcodec.lazy import lazy_getattr

_LAZY = {
    **codec_exports("NVRCCodec", train_command=True),
    "NVRC": "model",
    "CompressionConfig": "model",
    "compress": "codec",
    "ContextModel": "entropy",
    "gaussian_bits": "entropy",
    "RateDistortion": "objective",
    "ABLATIONS": "train",
    "NVRCError": "train",
    "NVRCTrainResult": "train",
    "Schedule": "train",
    "rate_point": "train",
    "train": "train",
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
