"""The codecs the harness runs, by name: the conventional baselines
(`inrcodec.baselines.BASELINES`) and the registered codecs (`inrcodec.codecs.registry.CODECS`,
which tests and tools may extend at run time)."""

from __future__ import annotations

from typing import Any

from inrcodec.baselines import BASELINES
from inrcodec.codecs import CODECS, Codec, CodecEntry, CodecError


def harness_codecs() -> dict[str, CodecEntry]:
    """Every codec the harness can run, by name."""
    return {**BASELINES, **CODECS}


def get_codec(name: str, **options: Any) -> Codec:
    """An instance of the codec registered as ``name``, with ``options`` for its constructor."""
    codecs = harness_codecs()
    if name not in codecs:
        raise CodecError(f"unknown codec {name!r}; known codecs: {', '.join(sorted(codecs))}")
    codec_class = codecs[name].harness_class()
    try:
        return codec_class(**options)
    except TypeError as error:
        raise CodecError(f"bad options for codec {name!r}: {error}") from None
