"""Command-line options as codecs declare them: each codec lists the `Option`s of
``inrcodec encode`` (and ``decode``) it takes, and the command adds each flag once, grouped by
the codecs that take it, so the command itself knows no codec (docs/design.md, "Adding a
codec")."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    """One flag of ``inrcodec encode`` / ``decode``. Its value reaches the codec's
    ``encode_options`` under `dest`; an option the user did not give is None (False for a
    switch), so each codec applies its own default."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    switch: bool = False  # a flag without a value (store_true)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser) -> None:
        """Add the flag to an argparse parser or argument group."""
        if self.switch:
            parser.add_argument(self.flag, action="store_true", help=self.help)
            return
        parser.add_argument(
            self.flag,
            dest=self.dest,
            type=self.type,
            choices=self.choices,
            metavar=self.metavar,
            help=self.help,
        )


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> (width, height)."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}")
    return int(width), int(height)


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a video: the frame range, and the facts a raw
    .yuv file name does not give (`open_input` reads them)."""
    group = parser.add_argument_group(
        "input", "frame range, and the facts a raw .yuv file name does not give"
    )
    group.add_argument("--start", type=int, default=0, help="first frame to read (default 0)")
    group.add_argument("--frames", type=int, help="number of frames to read (default: all)")
    group.add_argument("--size", type=parse_size, metavar="WxH", help="raw yuv frame size")
    group.add_argument("--chroma", choices=("420", "444"), help="raw yuv chroma format")
    group.add_argument("--bit-depth", type=int, help="raw yuv bit depth")
    group.add_argument("--fps", type=Fraction, help="raw yuv frame rate, e.g. 50 or 30000/1001")


def open_input(path: Path, args: argparse.Namespace):
    """The video at ``path``, read with the `add_input_options` in ``args``."""
    from inrcodec.io import VideoFormatError, read_video

    if not path.exists():
        raise VideoFormatError(f"{path}: no such file or folder")
    return read_video(
        path,
        start=args.start,
        frames=args.frames,
        size=args.size,
        chroma=args.chroma,
        bit_depth=args.bit_depth,
        fps=args.fps,
    )


#: The network preset of a codec that fits a network (its names: `inrcodec.nets.hinerv.PRESETS`).
PRESET_OPTION = Option("--preset", "network preset (default: the codec's CPU preset)")

#: The options of every codec that fits a network to the video (HiNeRV, NVRC).
TRAINING_OPTIONS = (
    Option(
        "--steps",
        "training steps of all stages together (default: 3000 for the -cpu presets, by "
        "frame size for nvrc-latent (885 M trained pixels, 3000-6500 steps), the paper's "
        "epochs for the paper presets)",
        type=int,
        metavar="N",
    ),
    Option("--space", "training space (default rgb)", choices=("rgb", "yuv")),
    Option("--seed", "random seed (default 0)", type=int),
    Option("--run-dir", "folder for training checkpoints", type=Path),
    Option("--resume", "continue an interrupted run from --run-dir", switch=True),
)


def training_options(values: dict[str, Any]) -> dict[str, Any]:
    """`encode` keywords of the `TRAINING_OPTIONS`, with their defaults."""
    if values.get("resume") and values.get("run_dir") is None:
        from .base import CodecError

        raise CodecError("--resume needs --run-dir")
    return {
        "steps": values.get("steps"),
        "space": values.get("space") or "rgb",
        "seed": values.get("seed") or 0,
        "run_dir": values.get("run_dir"),
        "resume": bool(values.get("resume")),
    }
