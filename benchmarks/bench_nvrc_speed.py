"""NVRC training throughput on this machine: milliseconds per step and GFLOP/s of the network.

    .venv/bin/python benchmarks/bench_nvrc_speed.py [--preset nvrc-cpu] [--steps 45]
        [--patch-target 400] [--threads 2]

On the bundled clip, times `fit` (the training loop every stage uses) for the network alone
(NVRC's stage 0, no quantisation), for stage 1 as trained (alternating K = 8: eight distortion
steps, one rate step, on quantised parameters) and for stage 1 without alternation (R + lambda D
every step), after two warm-up steps each. ``--patch-target 120`` trains 72x88 patches, four a
step (the paper's layout, the CPU presets' before whole frames); the default 400 trains one
whole frame a step (`preset_training`). GFLOP/s counts the network only: 3 x 2 x MACs per trained
pixel (forward + backward, 2 FLOPs a MAC, patch context included), so the quantisation and rate
overhead shows as lower GFLOP/s. Runs with the API of earlier versions too, for before/after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from inrcodec.codecs.nvrc.objective import RateDistortion
from inrcodec.codecs.nvrc.train import build
from inrcodec.codecs.training.fitting import TrainConfig, VideoTarget, fit, patch_size_for
from inrcodec.io import read_video
from inrcodec.nets.hinerv import count_parameters, macs_per_frame
from inrcodec.quant import Rounding

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "carphone_176x144_32f.y4m"


def timed_fit(model, target, steps: int, patch_target: int, **kwargs) -> float:
    """Seconds per step of `steps` training steps (after two warm-up steps; `fit`'s own clock,
    which leaves out its closing evaluation)."""
    base = dict(device="cpu", checkpoint_every=0, patch_target=patch_target)
    fit(model, target, TrainConfig(steps=2, **base), progress=False, **kwargs)
    config = TrainConfig(steps=steps, log_every=steps, **base)
    return 1.0 / fit(model, target, config, progress=False, **kwargs).steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nvrc-cpu")
    parser.add_argument("--steps", type=int, default=45, help="timed steps (a multiple of 9)")
    parser.add_argument("--patch-target", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    video = read_video(SAMPLE).load()
    t, h, w = video.num_frames, video.height, video.width
    model = build((t, h, w), args.preset)
    target = VideoTarget.from_video(video)
    net = model.net
    patch = patch_size_for(net.padded_height, net.padded_width, args.patch_target)
    positions = len(net.patches(*patch))
    pixels_macs = macs_per_frame(net.config, h, w, patch)  # one frame's worth of patches a step
    print(f"# {args.preset} on {video.describe()}: {count_parameters(net)} network parameters,")
    print(f"# {positions} patch(es) of {patch[0]}x{patch[1]} a step, {args.threads} threads,")
    print(f"# torch {torch.__version__}; network {pixels_macs / 1e6:.1f} M MACs a step")
    print("| step | ms/step | network GFLOP/s |")
    print("|---|---|---|")

    def report(label: str, seconds: float) -> None:
        gflops = 3 * 2 * pixels_macs / seconds / 1e9
        print(f"| {label} | {seconds * 1e3:.1f} | {gflops:.2f} |", flush=True)

    report("network alone (float)", timed_fit(net, target, args.steps, args.patch_target))
    model.rounding = Rounding("soft", temperature=0.5, noise=2.0)
    for label, period in (("stage 1, alternating (K = 8)", 9), ("stage 1, R + lambda D", 1)):
        term = RateDistortion(model.rate, 1.0, period)
        report(label, timed_fit(model, target, args.steps, args.patch_target, objective=term))


if __name__ == "__main__":
    main()
