"""The HiNeRV codec (baseline): model compression (`compress`: pruning, Quant-Noise, per-channel
quantisation), the bitstream and the codec (docs/hinerv-codec.md); the network is fitted by
`inrcodec.codecs.training.fitting` and decoded by `inrcodec.codecs.synthesis`. Names are imported
lazily, so importing this package does not pull in torch.
"""

from __future__ import annotations

from inrcodec.codecs.registry import codec_exports
from inrcodec.lazy import lazy_getattr

_LAZY = {
    **codec_exports("HiNeRVCodec"),
    "HiNeRVPayload": "bitstream",
    "QuantNoise": "compress",
    "prune": "compress",
    "quantize_per_channel": "compress",
    "dequantized_state": "compress",
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
