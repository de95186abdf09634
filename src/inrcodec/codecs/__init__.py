"""The codecs that write inrcodec files (NVRC, HiNeRV, TeCoNeRV), their shared interface
(`base`) and their registry (`registry`); `api` is their Python face."""

from .base import Codec, CodecError, Coded, EncodeResult, FileCodec
from .registry import CODECS, CodecEntry

__all__ = ["CODECS", "Codec", "CodecEntry", "CodecError", "Coded", "EncodeResult", "FileCodec"]
