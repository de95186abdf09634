"""Parameters and MACs of the HiNeRV / NVRC presets against the papers (docs/hinerv.md).

Run: .venv/bin/python benchmarks/bench_hinerv_macs.py [--frames 600] [--size 1920x1080]

Models are built on the meta device (no memory). MACs count convolutions and linear layers
per 1080p frame, for a whole-frame forward and for 120x120 patches (the training/evaluation
patch size of both papers), whose overlapping context is recomputed by every patch.
"""

from __future__ import annotations

import argparse

import torch

from inrcodec.nets import HiNeRV, count_parameters, macs_per_frame, preset

# NVRC Table 5 (parameters) and Table 2 (GMAC/frame; rate points 1-2 / 3-4 / 5-6 = S2 / S3 / S4).
PAPER = {
    "nvrc-s1": (2.14e6, None),
    "nvrc-s2": (6.35e6, 359.6e9),
    "nvrc-s3": (14.19e6, 842.8e9),
    "nvrc-s4": (31.41e6, 1929.0e9),
}
NAMES = ("hinerv-s", "hinerv-m", "hinerv-l", "hinerv-xl", "hinerv-xxl", *PAPER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    print(f"{args.frames} frames of {width}x{height}")
    header = (
        "preset",
        "params",
        "grids",
        "paper",
        "diff",
        "GMAC/frame",
        "120x120",
        "paper",
        "diff",
    )
    print("{:<11} {:>9} {:>8} {:>8} {:>7} {:>11} {:>9} {:>8} {:>7}".format(*header))
    for name in NAMES:
        config = preset(name, args.frames, height, width)
        with torch.device("meta"):
            model = HiNeRV(config, args.frames, height, width)
        params = count_parameters(model)
        grids = sum(p.numel() for p in model.grid_parameters())
        macs = macs_per_frame(config, height, width)
        macs_patch = macs_per_frame(config, height, width, patch=(120, 120))
        paper_p, paper_m = PAPER.get(name, (None, None))

        def rel(a, b):
            return f"{100 * (a / b - 1):+.1f}%" if b else "-"

        print(
            f"{name:<11} {params / 1e6:>8.3f}M {grids / 1e6:>7.3f}M "
            f"{f'{paper_p / 1e6:.2f}M' if paper_p else '-':>8} {rel(params, paper_p):>7} "
            f"{macs / 1e9:>11.1f} {macs_patch / 1e9:>9.1f} "
            f"{f'{paper_m / 1e9:.1f}' if paper_m else '-':>8} {rel(macs, paper_m):>7}"
        )


if __name__ == "__main__":
    main()
