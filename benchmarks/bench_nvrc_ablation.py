"""NVRC's ablation study (Kwan et al. 2024, Sec. 4.4, Table 3) at CPU scale: BD-rate (PSNR) of
each variant against the full NVRC. Run by hand (not part of CI):

    .venv/bin/python benchmarks/bench_nvrc_ablation.py [--video CLIP.y4m] [--frames 32] \
        [--points nvrc-cpu-xs:4 ...] [--variants full v1 v2 v3 v4 v5] [--steps 3000] \
        [--jobs 2] [--out nvrc_ablation.jsonl] [--space rgb] [--device cpu]

Variants (`inrcodec.codecs.nvrc.presets.ABLATIONS`): V1 per-tensor Gaussian for the layers, V2
per-level Gaussian for the grids, V3 both, V4 phi_quant / phi_em stored as float16 instead of
entropy coded, V5 fixed grid quantisation steps (log-step -4), and ``no-alternating`` (R + lambda
D at every step; the paper reports "almost no impact", no number). Every (variant, rate point)
pair is one training run of ``--steps`` steps (split as the preset's schedule splits them) on the
first ``--frames`` frames of the clip, all from the same seed. Rate points are any
``PRESET:LAMBDA`` or named ones (`rate_point`); by default the HiNeRV presets' CPU points
(`HINERV_CPU_RATE_POINTS`: network size and lambda together, as Table 6). The
paper used two UVG 1080p sequences, four rate points and the full schedule, so expect the signs,
not the magnitudes, to carry over.

Rates are the entropy models' estimates (eq. 9, true rounding) in bits per pixel, not file
sizes (the file adds a few hundred bytes of headers, the same for every variant; the codec's
file is within 0.5 % of the estimate). PSNR is that of the video decoded from the quantised
model, in the training space (``--space``).

Each finished run appends one JSON line to ``--out`` (one write, flushed and fsynced); on a
restart the runs already there, with the same clip, frames, space and steps, are skipped, so an
interrupted benchmark resumes at run granularity. Runs go to ``--jobs`` spawned processes with
one torch thread each.

CPU budget: 6 variants x 4 rate points = 24 runs; at the default 3000 steps on the bundled clip
(32 QCIF frames) a run takes 2-5 minutes on one thread, about an hour for the table on two free
cores; docs/nvrc.md gives the measured table and its budget.

Scale caveat: at CPU widths every layer but a few falls back from dual-axis to single-axis or
per-tensor models (rows and columns under 128 entries), so V1 changes little there; and the
grid context model, although shrunk (`SMALL_COMPRESSION`), weighs about as much as a small
clip's grid values, where the paper's 1080p grids (2 M values) dwarf it.
Smoke test, about half a minute:

    .venv/bin/python benchmarks/bench_nvrc_ablation.py --frames 4 --steps 20 \
        --points nvrc-tiny:1 nvrc-tiny:2 nvrc-tiny:4 nvrc-tiny:8 --variants full v4 --jobs 1 \
        --out /tmp/smoke.jsonl
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from inrcodec.bench.bdrate import BDRateError, bd_rate
from inrcodec.codecs.nvrc.presets import (
    ABLATIONS,
    HINERV_CPU_RATE_POINTS,
    NVRCError,
    rate_point,
)

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "carphone_176x144_32f.y4m"
DEFAULT_VARIANTS = ("full", "v1", "v2", "v3", "v4", "v5")
#: Table 3, BD-rate (%, PSNR) against the full NVRC; "no-alternating": Sec. 4.4, no number.
PAPER_BD_RATE = {"v1": 12.85, "v2": 9.79, "v3": 21.84, "v4": 22.12, "v5": 1.05}
PAPER_NEAR_ZERO = {"no-alternating"}
DESCRIPTIONS = {
    "full": "context grids, dual-axis layers",
    "v1": "per-tensor Gaussian layers",
    "v2": "per-level Gaussian grids",
    "v3": "Gaussian grids and layers",
    "v4": "phi stored as float16",
    "v5": "fixed grid steps",
    "no-alternating": "R + lambda D every step",
    "no-stage0": "no float fit first",
    "soft-layers": "soft rounding + noise on layers",
}
#: Fields that must match for a line of ``--out`` to count as a finished run of this benchmark.
CONFIG_KEYS = ("video", "frames", "space", "steps", "patch_target")


def run_one(config: dict, variant: str, point: tuple[str, float]) -> dict:
    """One training run in a worker process; returns its JSON record."""
    import torch

    from inrcodec.codecs.nvrc.train import train
    from inrcodec.io import read_video

    torch.set_num_threads(1)
    preset, lam = point
    video = read_video(config["video"], frames=config["frames"]).load()
    started = time.perf_counter()
    result = train(
        video,
        preset,
        lam,
        space=config["space"],
        ablation=variant,
        steps=config["steps"],
        progress=False,
        device=config["device"],
        seed=0,
        **({"patch_target": config["patch_target"]} if config["patch_target"] else {}),
    )
    seconds = time.perf_counter() - started
    report = result.report
    return {
        **{k: config[k] for k in CONFIG_KEYS},
        "variant": variant,
        "preset": preset,
        "lambda": lam,
        "bpp": result.bpp,
        "psnr": result.psnr,
        "seconds": seconds,
        "device": config["device"],
        "bits": report["bits"],
        "rate_groups": {g: v["bits"] for g, v in report["groups"].items()},
        "stages": {k: v.to_json() for k, v in result.stages.items()},
    }


def load_results(path: Path, config: dict) -> dict[tuple[str, tuple[str, float]], dict]:
    """Finished runs of this configuration in ``path``: (variant, (preset, lambda)) -> record."""
    done: dict[tuple[str, tuple[str, float]], dict] = {}
    if not path.exists():
        return done
    with path.open() as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a torn last line of a killed run
                print(f"# {path}:{number}: skipping an unreadable line", file=sys.stderr)
                continue
            if all(record.get(k) == config[k] for k in CONFIG_KEYS):
                done[record["variant"], (record["preset"], float(record["lambda"]))] = record
    return done


def append_record(path: Path, record: dict) -> None:
    """One line, one write, flushed and fsynced (after a newline if a killed run left the file
    without one)."""
    torn = path.exists() and path.stat().st_size > 0 and path.read_bytes()[-1:] != b"\n"
    with path.open("a") as f:
        f.write(("\n" if torn else "") + json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def bd_cell(anchor: list[dict], test: list[dict]) -> tuple[float | None, str]:
    """BD-rate (%, PSNR) of ``test`` against ``anchor``, or None and the reason."""
    try:
        value = bd_rate(
            [r["bpp"] for r in anchor],
            [r["psnr"] for r in anchor],
            [r["bpp"] for r in test],
            [r["psnr"] for r in test],
            method="pchip",
        )
    except BDRateError as error:
        return None, f"n/a: {error}"
    return value, f"{value:+.2f}%"


def monotone(curve: list[dict]) -> bool:
    """Whether PSNR rises strictly with bpp along a curve sorted by bpp."""
    return all(a["psnr"] < b["psnr"] for a, b in zip(curve, curve[1:], strict=False))


def print_report(results: dict, variants, points) -> None:
    print()
    print("Rates are the entropy models' estimates (eq. 9, true rounding) in bits per pixel,")
    print("not file sizes; PSNR is of the decoded quantised model, in the training space.")
    print()
    print("| variant | preset | lambda | bpp (estimated) | PSNR (dB) | seconds |")
    print("|---|---|---|---|---|---|")
    for variant in variants:
        for preset, lam in points:
            r = results.get((variant, (preset, lam)))
            if r is None:
                print(f"| {variant} | {preset} | {lam:g} | missing | missing | |")
            else:
                print(
                    f"| {variant} | {preset} | {lam:g} | {r['bpp']:.4f} | {r['psnr']:.2f} "
                    f"| {r['seconds']:.0f} |"
                )
    curves = {
        v: sorted((results[v, p] for p in points if (v, p) in results), key=lambda r: r["bpp"])
        for v in variants
    }
    print()
    print("BD-rate (PSNR, PCHIP) against the full NVRC; paper: Table 3 (UVG Jockey + ReadySetGo).")
    print()
    print("| variant | BD-rate vs full (PSNR, ours) | paper BD-rate | sign agrees? |")
    print("|---|---|---|---|")
    for variant in variants:
        label = f"{variant} ({DESCRIPTIONS[variant]})"
        if variant == "full":
            print(f"| {label} | 0.00% (anchor) | 0.00% | - |")
            continue
        if "full" not in curves or not curves["full"]:
            value, cell = None, "n/a: no runs of the full model (add `full` to --variants)"
        else:
            value, cell = bd_cell(curves["full"], curves[variant])
        if variant in PAPER_BD_RATE:
            paper = PAPER_BD_RATE[variant]
            paper_cell = f"{paper:+.2f}%"
            agrees = "n/a" if value is None else ("yes" if (value > 0) == (paper > 0) else "no")
        elif variant in PAPER_NEAR_ZERO:
            paper_cell = '"~0" (no number)'
            agrees = "n/a (paper ~0)"
        else:
            paper_cell, agrees = "not in the paper", "-"
        print(f"| {label} | {cell} | {paper_cell} | {agrees} |")
    bumpy = [v for v, curve in curves.items() if not monotone(curve)]
    if bumpy:
        print()
        print(
            f"Warning: PSNR does not rise with bpp along the curve of {', '.join(bumpy)} "
            "(too little training, or lambdas too close); their BD-rates are unreliable."
        )


def parse_point(text: str, space: str) -> tuple[str, float]:
    """A named rate point (`rate_point`) or ``PRESET:LAMBDA``."""
    preset, sep, lam = text.partition(":")
    if not sep:
        return rate_point(text, space)
    if not float(lam) > 0:
        raise ValueError(f"lambda must be positive in {text!r}")
    return preset, float(lam)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE)
    parser.add_argument("--frames", type=int, default=32, help="first frames of the clip")
    parser.add_argument(
        "--points",
        nargs="+",
        help="rate points: PRESET:LAMBDA or named (cpu1-cpu4, 1-6: `rate_point`); default: "
        "the HiNeRV presets' CPU points",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(DEFAULT_VARIANTS),
        choices=list(ABLATIONS),
        help="ablations of Table 3 (and no-alternating); `full` is the BD-rate anchor",
    )
    parser.add_argument("--steps", type=int, default=3000, help="total steps of all stages")
    parser.add_argument(
        "--patch-target", type=int, help="patch side (default: the preset's; 120: 72x88 patches)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs (1 thread each)")
    parser.add_argument("--out", type=Path, default=Path("nvrc_ablation.jsonl"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--space", choices=("rgb", "yuv"), default="rgb")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.steps < 2:
        parser.error("--steps must be at least 2 (one per stage)")
    try:
        named = [parse_point(p, args.space) for p in args.points or ()]
        points = list(dict.fromkeys(named or HINERV_CPU_RATE_POINTS[args.space].values()))
    except (ValueError, NVRCError) as error:
        parser.error(f"--points: {error}")

    variants = list(dict.fromkeys(args.variants))
    config = {
        "video": str(args.video.resolve()),
        "frames": args.frames,
        "space": args.space,
        "steps": args.steps,
        "patch_target": args.patch_target,
        "device": args.device,
    }
    results = load_results(args.out, config)
    todo = [(v, p) for v in variants for p in points if (v, p) not in results]
    skipped = len(variants) * len(points) - len(todo)
    print(
        f"# NVRC ablation: {args.frames} frames of {args.video.name}, "
        f"{args.space}, {args.steps} steps a run, on {args.device}"
    )
    print(f"# {len(todo)} run(s) to do, {skipped} already in {args.out} (skipped)")

    failed = 0
    if todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = {pool.submit(run_one, config, v, p): (v, p) for v, p in todo}
            for future in as_completed(futures):
                variant, point = futures[future]
                name = f"{point[0]} lambda={point[1]:g}"
                try:
                    record = future.result()
                except Exception as error:  # report and go on with the other runs
                    failed += 1
                    print(f"# {variant} {name} failed: {error!r}", file=sys.stderr)
                    continue
                append_record(args.out, record)
                results[variant, point] = record
                print(
                    f"# done {variant} {name}: {record['bpp']:.4f} bpp (estimated), "
                    f"{record['psnr']:.2f} dB, {record['seconds']:.0f} s",
                    flush=True,
                )

    print_report(results, variants, points)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
