"""NVRC on the command line: the rate control of ``inrcodec encode --codec nvrc`` (a lambda
with a preset, or a named rate point), and ``inrcodec train nvrc``
(`inrcodec.codecs.registry`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..options import (
    PRESET_OPTION,
    TRAINING_OPTIONS,
    Option,
    add_input_options,
    open_input,
    training_options,
)
from .presets import DEFAULT_RATE_POINT, resolve

RATE_OPTIONS = (
    Option("--lambda", "rate-distortion trade-off (with --preset)", type=float),
    Option(
        "--rate-point",
        "named rate point instead of --preset/--lambda: 1-6 (Table 6, paper presets) or "
        f"cpu1-cpu4 (CPU scale: the latent backbone in RGB); encode's default "
        f"{DEFAULT_RATE_POINT}",
    ),
    Option("--ablation", "full (default), v1-v5, no-alternating, no-stage0, soft-layers"),
)
ENCODE_OPTIONS = (PRESET_OPTION, *RATE_OPTIONS, *TRAINING_OPTIONS)
DECODE_OPTIONS: tuple[Option, ...] = ()


def rate(values: dict[str, Any], default: str | None) -> tuple[str, float]:
    """(preset, lambda) from the options' values (`presets.resolve`)."""
    space = values.get("space") or "rgb"
    return resolve(values.get("rate_point"), values.get("preset"), values.get("lambda"), space,
                   default)  # fmt: skip


def encode_options(values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`codec.encode`'s keywords from the options' values, and the setting in words."""
    preset, lam = rate(values, DEFAULT_RATE_POINT)
    ablation = values.get("ablation") or "full"
    options = {"preset": preset, "lam": lam, "ablation": ablation, **training_options(values)}
    return options, f"lambda {lam:g}, ablation {ablation}"


def add_train_parser(commands) -> None:
    """``inrcodec train nvrc``: fit NVRC and report the estimated rate split."""
    parser = commands.add_parser(
        "nvrc",
        help="fit NVRC to a video on R + lambda D and report its estimated rate split",
        description="Fit NVRC (network, quantisation and entropy models) to the video on "
        "R + lambda D (docs/nvrc.md). Prints PSNR of the quantised model, the estimated rate "
        "(eq. 9) and its split by group. `encode --codec nvrc` writes the bitstream.",
    )
    parser.add_argument("input", type=Path)
    for option in (PRESET_OPTION, *RATE_OPTIONS, *TRAINING_OPTIONS):
        option.add_to(parser)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--report", type=Path, help="also write the results as JSON here")
    add_input_options(parser)
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from inrcodec.atomic import atomic_file, check_destination

    from .train import train

    if args.report is not None:
        check_destination(args.report)  # before the training, not after it
    values = vars(args)
    preset, lam = rate(values, None)
    options = training_options(values)
    video = open_input(args.input, args).load()
    ablation = args.ablation or "full"
    result = train(
        video,
        preset,
        lam,
        ablation=ablation,
        progress=not args.no_progress,
        device=args.device,
        **options,
    )
    space = options["space"]
    print(f"nvrc {preset}, lambda {lam:g}, {space}, ablation {ablation}")
    print(f"  PSNR {space.upper():4} {result.psnr:9.4f} dB (quantised model)")
    print(f"  rate       {result.bpp:9.4f} bpp (estimated, eq. 9)")
    print(f"  {'group':12} {'bits':>12} {'values':>10} {'bits/value':>11}")
    for group, row in result.report["groups"].items():
        print(f"  {group:12} {row['bits']:12.0f} {row['values']:10d} {row['bits_per_value']:11.3f}")
    if args.report is not None:
        with atomic_file(args.report) as tmp:
            tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0
