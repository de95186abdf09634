"""The HiNeRV codec (baseline): losses (`losses`), coding and the bitstream; the network is
fitted by `inrcodec.codecs.fitting`, decoded by `inrcodec.codecs.synthesis`.

Names are imported lazily (module ``__getattr__``), so importing this package, or a light
sibling such as the bitstream reader, does not pull in the training machinery.
"""

from __future__ import annotations

from inrcodec.lazy import lazy_getattr

_LAZY = {
    # losses (losses.py)
    "distortion": "losses",
    "ms_ssim": "losses",
    "psnr_per_frame": "losses",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)


# The codec (codec.py), its bitstream (bitstream.py) and model compression (compress.py).
_LAZY.update(
    {
        "EncodeResult": "codec",
        "HiNeRVCodec": "codec",
        "encode": "codec",
        "decode": "codec",
        "HiNeRVPayload": "bitstream",
        "read_payload": "bitstream",
        "write_payload": "bitstream",
        "QuantNoise": "compress",
        "prune": "compress",
        "quantize": "compress",
        "dequantize": "compress",
    }
)
__all__ = sorted(_LAZY)


# What the codec registry (`inrcodec.codecs.registry`) reads of every codec package.
_LAZY.update(
    {
        "HiNeRVCodec": "codec",
        "encode": "codec",
        "decode": "codec",
        "describe": "bitstream",
        "ENCODE_OPTIONS": "command",
        "DECODE_OPTIONS": "command",
        "encode_options": "command",
    }
)
__all__ = sorted(_LAZY)
