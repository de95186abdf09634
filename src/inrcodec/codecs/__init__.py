"""Codecs behind one interface (`Codec`), found by name with `get_codec`."""

from .base import CODECS, Codec, CodecError, Coded, get_codec

__all__ = ["CODECS", "Codec", "CodecError", "Coded", "get_codec"]
