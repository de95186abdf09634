"""The toy codec's one option on the command line."""

from inrcodec.codecs.options import Option

ENCODE_OPTIONS = (Option("--step", "quantisation step of every plane (default 16)", type=int),)
DECODE_OPTIONS: tuple[Option, ...] = ()


def encode_options(values: dict) -> tuple[dict, str]:
    step = values.get("step") or 16
    return {"step": step}, f"step {step}"
