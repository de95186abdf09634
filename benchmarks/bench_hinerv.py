"""HiNeRV throughput on this machine: training steps/s and GFLOP/s, decoding frames/s, and the
complexity (MACs/frame) of the paper presets at 1080p. Run by hand:

    .venv/bin/python benchmarks/bench_hinerv.py [--preset hinerv-cpu] [--steps 20] [--frames 8]

Training FLOPs are estimated as 3 x 2 x MACs per trained pixel (forward + backward, 2 FLOPs a
MAC), with the MACs of the patches actually trained (`macs_per_frame` with the patch, context
included). Decoding FLOPs are 2 x MACs of a whole frame.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from inrcodec.codecs.synthesis import reconstruct
from inrcodec.codecs.training.fitting import TrainConfig, VideoTarget, fit, patch_size_for
from inrcodec.io import read_video
from inrcodec.nets.hinerv import HiNeRV, count_parameters, macs_per_frame, preset

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "carphone_176x144_32f.y4m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="hinerv-cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--frames", type=int, default=32, help="frames of the sample clip")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    video = read_video(SAMPLE, frames=args.frames).load()
    t, h, w = video.num_frames, video.height, video.width
    config = preset(args.preset, t, h, w)
    torch.manual_seed(0)
    model = HiNeRV(config, t, h, w)
    target = VideoTarget.from_video(video)
    patch = patch_size_for(model.padded_height, model.padded_width)
    positions = len(model.patches(*patch))
    batch = min(positions, t)  # TrainConfig's default: one frame's worth of pixels a step

    print(
        f"# HiNeRV on {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"# {args.preset} on {video.describe()}: {count_parameters(model)} parameters")
    warm = TrainConfig(steps=2, device=args.device, checkpoint_every=0)
    fit(model, target, warm, progress=False)  # warm-up (allocator, kernels)
    run = TrainConfig(
        steps=args.steps, device=args.device, checkpoint_every=0, log_every=args.steps
    )
    started = time.perf_counter()
    fit(model, target, run, progress=False)
    seconds = time.perf_counter() - started  # includes one full-video evaluation at the end
    eval_started = time.perf_counter()
    reconstruct(model, t)
    eval_seconds = time.perf_counter() - eval_started
    train_seconds = max(seconds - eval_seconds, 1e-9)
    patch_macs = macs_per_frame(config, h, w, patch) / positions  # per patch, with context
    flops = 3 * 2 * patch_macs * batch * args.steps
    frame_macs = macs_per_frame(config, h, w)
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| training patch | {patch[0]}x{patch[1]}, {batch} per step |")
    print(f"| training steps/s | {args.steps / train_seconds:.2f} |")
    print(f"| training GFLOP/s (3 x 2 x MACs) | {flops / train_seconds / 1e9:.2f} |")
    print(f"| decoding frames/s (whole frames) | {t / eval_seconds:.2f} |")
    print(f"| decoding GFLOP/s | {2 * frame_macs * t / eval_seconds / 1e9:.2f} |")
    print(f"| MACs/pixel ({w}x{h}) | {frame_macs / (w * h):.0f} |")
    print()
    print("| preset (1920x1080, 600 frames) | parameters | GMACs/frame | kMACs/pixel |")
    print("|---|---|---|---|")
    for name in ("hinerv-s", "hinerv-m", "hinerv-l", "hinerv-xl", "hinerv-xxl"):
        big = preset(name, 600, 1080, 1920)
        with torch.device("meta"):
            params = count_parameters(HiNeRV(big, 600, 1080, 1920))
        macs = macs_per_frame(big, 1080, 1920)
        per_pixel = macs / (1920 * 1080)
        print(f"| {name} | {params / 1e6:.2f} M | {macs / 1e9:.1f} | {per_pixel / 1e3:.1f} |")


if __name__ == "__main__":
    main()
