"""The latent backbone's design choices at a short budget: each variant of its network, its
context model or its training precision against the default, as BD-rate over two or three
rate points per clip. Run by hand (not part of CI; at 1000 steps a run takes 2-3 minutes on
carphone and 5-6 on bikes, on one thread):

    .venv/bin/python benchmarks/bench_latent_design.py run \
        --clips samples/carphone_176x144_32f.y4m build/cpu_rd/bikes_320x136_64f.y4m \
        --lambdas 30 300 --variants default refine-2 --steps 1000 --jobs 2 \
        --out build/latent_design.jsonl
    .venv/bin/python benchmarks/bench_latent_design.py report build/latent_design.jsonl

Every run trains `nvrc-latent` (its content rule chooses the temporal design) for ``--steps``
steps from the same seed, one torch thread each, ``--jobs`` at a time; ``--frames A:B`` trains
frames A to B-1 only. Rates are the entropy models' estimates (eq. 9, true rounding; the file
is within 0.5 % of them), PSNR is RGB, of the video decoded from the quantised model. BD-rate
is the harness's (`inrcodec.bench.bdrate`, PCHIP; with two points, log-rate linear in PSNR)
over the PSNR range both curves cover. Each finished run appends one JSON line to ``--out``;
runs already there are skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from inrcodec.bench import bdrate

#: name -> (CompressionConfig fields, network fields of the latent presets, training options).
VARIANTS = {
    "default": ({}, {}, {}),
    "refine-2": ({}, {"refine": 2}, {}),  # Cool-chic's two residual 3x3 convolutions
    "synthesis-16": ({}, {"hidden": (16, 16)}, {}),
    "synthesis-32": ({}, {"hidden": (32, 32)}, {}),
    "context-width-16": ({"context_width": 16}, {}, {}),
    "context-kernel-5": ({"context_kernel": 5}, {}, {}),  # 62 causal taps instead of 13
    "context-per-level": ({"context_shared": False}, {}, {}),
    "bf16": ({}, {}, {"amp": "bf16"}),  # the synthesis in bfloat16 autocast
}
_NETWORK_FIELDS = ("scales", "strides", "channels", "hidden", "refine")


def run_one(clip: str, lam: float, variant: str, steps: int, frames: str | None) -> dict:
    """Train one variant at one lambda (in a fresh process: it changes the latent presets)."""
    import torch

    from inrcodec.io import read_video
    from inrcodec.nets import latent

    torch.set_num_threads(1)
    train = importlib.import_module("inrcodec.codecs.nvrc.train")
    compression, network, options = VARIANTS[variant]
    for name, fields in latent._PRESETS.items():  # this process's presets only
        named = zip(_NETWORK_FIELDS, fields, strict=True)
        latent._PRESETS[name] = tuple(network.get(k, v) for k, v in named)
    video = read_video(clip)
    if frames:
        first, end = map(int, frames.split(":"))
        video = video[first:end]
    comp = replace(train.default_compression("nvrc-latent"), **compression)
    started = time.perf_counter()
    result = train.train(
        video, "nvrc-latent", lam, steps=steps, compression=comp, progress=False, device="cpu",
        **options,
    )  # fmt: skip
    return {
        "clip": Path(clip).stem, "frames": frames, "lambda": lam, "variant": variant,
        "steps": steps, "bpp": result.bpp, "psnr": result.psnr,
        "seconds": time.perf_counter() - started, "network": result.model.net.config.name,
    }  # fmt: skip


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["clip"], r["frames"], r["lambda"], r["variant"], r["steps"]))
    jobs = [
        (clip, lam, variant, args.steps, args.frames)
        for variant in args.variants
        for lam in args.lambdas
        for clip in args.clips
        if (Path(clip).stem, args.frames, lam, variant, args.steps) not in done
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        for record in pool.map(run_one, *zip(*jobs, strict=True)) if jobs else ():
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


def bd_rate(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> float:
    """`inrcodec.bench.bdrate.bd_rate` (PCHIP) of (bpp, PSNR) points; NaN where undefined."""
    try:
        return bdrate.bd_rate(*zip(*anchor, strict=True), *zip(*test, strict=True))
    except bdrate.BDRateError:
        return math.nan


def report(args: argparse.Namespace) -> None:
    curves = defaultdict(dict)  # (clip, frames, steps, variant) -> lambda -> record
    for line in Path(args.results).read_text().splitlines():
        r = json.loads(line)
        curves[(r["clip"], r["frames"], r["steps"], r["variant"])][r["lambda"]] = r
    for (clip, frames, steps, variant), points in sorted(curves.items(), key=str):
        shown = "  ".join(
            f"λ {lam:g}: {r['bpp']:.4f} @ {r['psnr']:.2f} ({r['seconds']:.0f} s)"
            for lam, r in sorted(points.items())
        )
        anchor = curves.get((clip, frames, steps, "default"), {})
        bd = ""
        common = sorted(anchor.keys() & points.keys())
        if variant != "default" and len(common) >= 2:
            pairs = [[(c[lam]["bpp"], c[lam]["psnr"]) for lam in common] for c in (anchor, points)]
            bd = f"  BD-rate {bd_rate(*pairs):+.1f} % (λ {', '.join(f'{x:g}' for x in common)})"
        print(f"{clip} [{frames or 'all'}] {steps} steps, {variant}: {shown}{bd}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run")
    go.add_argument("--clips", nargs="+", required=True)
    go.add_argument("--lambdas", nargs="+", type=float, default=[30.0, 300.0])
    go.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    go.add_argument("--steps", type=int, default=1000)
    go.add_argument("--frames", help="A:B, frames A to B-1 only")
    go.add_argument("--jobs", type=int, default=2)
    go.add_argument("--out", required=True)
    show = commands.add_parser("report")
    show.add_argument("results")
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
