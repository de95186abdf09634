"""Uniform quantisation of a tensor to ``2^bits`` levels over its own range (TeCoNeRV App. B).

A tensor ``x`` becomes symbols ``q`` in ``[0, 2^bits - 1]`` and two side values, its lowest
value ``low`` and the step ``step``, both float16 (what a bitstream stores): ``low`` is rounded
down and ``step`` up, so ``[low, low + (2^bits - 1) step]`` covers ``[min x, max x]`` and no
value is clipped. The value of a symbol is ``float32(low) + float32(q) * float32(step)``,
computed the same way by encoder and decoder (`dequantize_uniform`).

The TeCoNeRV reference code divides the range into ``2^bits`` steps, i.e. ``2^bits + 1``
levels (symbols 0 ... 2^bits), and takes the range over the nonzero entries only; here there
are exactly ``2^bits`` levels and zeros count like every other value.
"""

from __future__ import annotations

import numpy as np

MIN_BITS, MAX_BITS = 2, 16
_F16_MAX = float(np.finfo(np.float16).max)


def quantize_uniform(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.float16, np.float16]:
    """``(symbols (int32, x's shape), low, step)`` of a finite float array."""
    if not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [{MIN_BITS}, {MAX_BITS}], got {bits}")
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return np.zeros(x.shape, np.int32), np.float16(0), np.float16(0)
    lowest, highest = float(x.min()), float(x.max())
    if not (np.isfinite([lowest, highest]).all() and max(-lowest, highest) < _F16_MAX / 2):
        raise ValueError(f"values in [{lowest}, {highest}] do not fit float16 side values")
    low = np.float16(lowest)
    if float(low) > lowest:
        low = np.nextafter(low, np.float16(-np.inf))
    levels = 2**bits - 1
    step = np.float16((highest - float(low)) / levels)
    if float(low) + levels * float(step) < highest:
        step = np.nextafter(step, np.float16(np.inf))
    if step == 0:
        return np.zeros(x.shape, np.int32), low, step
    q = np.rint((x - np.float32(low)) / np.float32(step))
    return np.clip(q, 0, levels).astype(np.int32), low, step


def dequantize_uniform(symbols: np.ndarray, low: np.float16, step: np.float16) -> np.ndarray:
    """The float32 values of `quantize_uniform`'s symbols."""
    return np.float32(low) + np.asarray(symbols).astype(np.float32) * np.float32(step)
