"""The codecs that write inrcodec files (NVRC, HiNeRV, TeCoNeRV), their shared interface
(`base`) and their registry (`registry`); `api` is their Python face. Names are imported
lazily, so that the command line's option tables (`options`) load without the video I/O."""

from inrcodec.lazy import lazy_getattr

_LAZY = {
    **dict.fromkeys(("Codec", "CodecError", "Coded", "EncodeResult", "FileCodec"), "base"),
    **dict.fromkeys(("CODECS", "CodecEntry"), "registry"),
}

__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
