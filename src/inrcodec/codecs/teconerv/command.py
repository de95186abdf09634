"""TeCoNeRV on the command line: the options of ``inrcodec encode --codec teconerv`` and
``decode``, and ``inrcodec train teconerv`` (`inrcodec.codecs.registry`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..options import Option, parse_size
from .bitstream import RESIDUALS
from .tiling import FUSIONS

MODEL_OPTION = Option(
    "--model", "TeCoNeRV model file (default: the committed model, or the one a file names)",
    type=Path,
)  # fmt: skip
ENCODE_OPTIONS = (
    MODEL_OPTION,
    Option("--bits", "quantisation bits, 2-16 (default 4; the paper 4-8)", type=int),
    Option("--residual", "residuals between clips (default previous)", choices=RESIDUALS),
    Option("--keyframe-interval", "full parameters every N clips (default 0)", type=int),
    Option("--overlap", "tubelet overlap: N or H,W pixels (default 0)"),
    Option("--fusion", "overlap fusion (default crop)", choices=FUSIONS),
    Option("--resize", "resize and centre-crop to WxH first", type=parse_size, metavar="WxH"),
    Option("--batch", "tubelets per forward pass (default 16)", type=int),
)
DECODE_OPTIONS = (MODEL_OPTION,)


def encode_options(values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`codec.encode`'s keywords from the options' values, and the setting in words."""
    from .codec import DEFAULT_BITS, check_options, parse_overlap

    bits = DEFAULT_BITS if values.get("bits") is None else values["bits"]
    residual = values.get("residual") or "previous"
    interval = values.get("keyframe_interval") or 0
    overlap = parse_overlap(values.get("overlap") or "0")
    fusion = values.get("fusion") or "crop"
    check_options(bits, residual, interval, fusion)
    resize = values.get("resize")
    options = dict(
        model=values.get("model"),
        bits=bits,
        residual=residual,
        keyframe_interval=interval,
        overlap=overlap,
        fusion=fusion,
        resize=None if resize is None else resize[::-1],  # WxH -> (height, width)
        batch=values.get("batch") or 16,
    )
    keyframes = f"a keyframe every {interval} clips" if interval else "the first clip a keyframe"
    setting = (
        f"{bits} bits, residuals {residual}, {keyframes}, "
        f"overlap {overlap[0]},{overlap[1]} ({fusion})"
    )
    return options, setting


def add_train_parser(commands) -> None:
    """``inrcodec train teconerv``: train the hypernetwork on a corpus."""
    p = commands.add_parser(
        "teconerv",
        help="train TeCoNeRV's hypernetwork on a folder of videos (torchrun for many GPUs)",
        description="Pre-train or fine-tune a TeCoNeRV / NeRV-Enc* hypernetwork on every video "
        "under --data (docs/teconerv.md). Under torchrun the global batch is split across the "
        "processes (DistributedDataParallel; NCCL on GPUs, gloo on CPU).",
    )
    p.add_argument("--data", type=Path, required=True, help="folder tree of training videos")
    p.add_argument("--val", type=Path, help="folder tree of held-out videos (validation PSNR)")
    p.add_argument("--preset", default="teconerv-cpu", help="model preset (teconerv-cpu)")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, model)")
    p.add_argument("--init", type=Path, help="start from this model.safetensors (fine-tuning)")
    p.add_argument("--epochs", type=int, default=150, help="epochs (150; fine-tuning: 50)")
    p.add_argument("--clips-per-video", type=int, default=1, help="clips per video per epoch")
    p.add_argument("--batch", type=int, help="global batch (default: the preset's)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (1e-4)")
    p.add_argument(
        "--temporal-lambda", type=float, default=0.0, help="lambda_temp of eq. 2 (0; paper 0.1)"
    )
    p.add_argument(
        "--temporal-target",
        choices=("mod", "uniq", "both"),
        default="mod",
        help="parameters L_temp compares (Table 12; default mod)",
    )
    p.add_argument("--validate-every", type=int, default=0, help="steps (default: each epoch)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps (default: each epoch)")
    p.add_argument("--val-clips", type=int, default=4, help="clips per validation video (4)")
    p.add_argument("--cache", type=Path, help="decoded-frame cache (default: OUT/../cache)")
    p.add_argument("--max-frames", type=int, help="decode at most this many frames per video")
    p.add_argument("--decode-workers", type=int, default=2, help="decoding processes (2)")
    p.add_argument("--workers", type=int, default=0, help="data-loading processes per rank (0)")
    p.add_argument("--threads", type=int, help="torch threads per process")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--stop-at", type=int, help="leave after this step with a checkpoint (--resume goes on)"
    )
    p.add_argument(
        "--export", type=Path, help="also write the trained model here in float16 (half size)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from inrcodec.atomic import check_destination

    from .train import train_corpus

    if args.export is not None:
        check_destination(args.export)  # before the training, not after it
    result = train_corpus(
        data=args.data,
        preset_name=args.preset,
        out=args.out,
        val=args.val,
        init=args.init,
        cache=args.cache,
        max_frames=args.max_frames,
        decode_workers=args.decode_workers,
        threads=args.threads,
        resume=args.resume,
        progress=not args.no_progress,
        export=args.export,
        stop_at=args.stop_at,
        epochs=args.epochs,
        clips_per_video=args.clips_per_video,
        batch=args.batch,
        lr=args.lr,
        temporal_lambda=args.temporal_lambda,
        temporal_target=args.temporal_target,
        validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every,
        val_clips=args.val_clips,
        workers=args.workers,
        device=args.device,
        seed=args.seed,
    )
    if result is not None:  # rank 0
        model = args.out / "model.safetensors"
        print(f"{result.steps} steps in {result.seconds:.0f} s; model: {model}")
        if result.history:
            last = result.history[-1]
            print(
                f"validation PSNR {last['psnr']:.2f} dB "
                f"(base parameters only: {last['psnr_base_only']:.2f} dB)"
            )
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # A torchrun worker ends here, its work written and its process group left: the
        # interpreter's teardown of torch's C++ threads sometimes ends in std::terminate
        # (SIGABRT, "terminate called without an active exception"), which torchrun reports
        # as a failed job. Leave without that teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
