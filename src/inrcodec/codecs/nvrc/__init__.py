"""NVRC (Kwan et al., NeurIPS 2024): learned quantisation and entropy models trained with the
representation on R + lambda D (docs/nvrc.md).

`model`: the `NVRC` module (parameter groups, quantisers, entropy models, eq. 9 rate);
`entropy`: the Gaussian rate and the masked-3D-convolution context model; `objective`:
``R + lambda D`` and its alternation; `train`: the two-stage schedule, rate points and
ablations; `fixed_point`: the deterministic arithmetic of the coding path; `bitstream`: the
payload; `codec`: encode, compress, decode. Names are imported lazily.
"""

from __future__ import annotations

from inrcodec.lazy import lazy_getattr

_LAZY = {
    "NVRC": "model",
    "NVRCCodec": "codec",
    "compress": "codec",
    "decode": "codec",
    "encode": "codec",
    "CompressionConfig": "model",
    "ContextModel": "entropy",
    "gaussian_bits": "entropy",
    "ABLATIONS": "train",
    "NVRCError": "train",
    "NVRCTrainResult": "train",
    "RateDistortion": "objective",
    "Schedule": "train",
    "rate_point": "train",
    "train": "train",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)


# What the codec registry (`inrcodec.codecs.registry`) reads of every codec package.
_LAZY.update(
    {
        "NVRCCodec": "codec",
        "encode": "codec",
        "decode": "codec",
        "describe": "bitstream",
        "ENCODE_OPTIONS": "command",
        "DECODE_OPTIONS": "command",
        "encode_options": "command",
        "add_train_parser": "command",
    }
)
__all__ = sorted(_LAZY)
