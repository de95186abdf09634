"""The HiNeRV codec's options on the command line, and how they become `codec.encode`'s
keywords (`inrcodec.codecs.registry`)."""

from __future__ import annotations

from typing import Any

from ..options import PRESET_OPTION, TRAINING_OPTIONS, Option, training_options
from .presets import DEFAULT_BITS, DEFAULT_PRESET

ENCODE_OPTIONS = (
    PRESET_OPTION,
    Option("--bits", f"quantisation bits, 2-16 (default {DEFAULT_BITS})", type=int),
    *TRAINING_OPTIONS,
)
DECODE_OPTIONS: tuple[Option, ...] = ()


def encode_options(values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`codec.encode`'s keywords from the options' values, and the setting in words."""
    from .codec import check_options

    bits = DEFAULT_BITS if values.get("bits") is None else values["bits"]
    options = {"preset": values.get("preset") or DEFAULT_PRESET, "bits": bits}
    options |= training_options(values)
    check_options(options["preset"], bits, options["space"])
    return options, f"{bits} bits"
