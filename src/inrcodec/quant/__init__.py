"""Quantisation for training and coding: rounding surrogates and uniform quantisers.

`rounding`: soft-round, Kumaraswamy noise, Quant-Noise and straight-through rounding (NVRC
Sec. 3.4, App. A.2); `uniform`: per-tensor uniform quantisation to 2^bits levels (TeCoNeRV App. B).
Nothing here knows about networks or coders. Names are imported lazily: `uniform` needs only
numpy, so the bitstream readers that use it do not load torch.
"""

from inrcodec.lazy import lazy_getattr

_LAZY = {
    "Rounding": "rounding",
    "half_ste": "rounding",
    "kumaraswamy_noise": "rounding",
    "soft_round": "rounding",
    "ste_round": "rounding",
    "dequantize_uniform": "uniform",
    "quantize_uniform": "uniform",
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
