"""Quantisation for training and coding: rounding surrogates and uniform quantisers.

`rounding`: soft-round, Kumaraswamy noise, Quant-Noise and straight-through rounding (NVRC
Sec. 3.4, App. A.2); `uniform`: per-tensor uniform quantisation to 2^bits levels (TeCoNeRV App. B).
Nothing here knows about networks or coders.
"""

from inrcodec.quant.rounding import (
    Rounding,
    half_ste,
    kumaraswamy_noise,
    soft_round,
    ste_round,
)
from inrcodec.quant.uniform import dequantize_uniform, quantize_uniform

__all__ = [
    "Rounding",
    "dequantize_uniform",
    "half_ste",
    "kumaraswamy_noise",
    "quantize_uniform",
    "soft_round",
    "ste_round",
]
