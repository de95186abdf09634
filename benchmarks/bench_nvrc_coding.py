"""NVRC model compression on this CPU: encode and decode time of the entropy-coding step, file
size and the gap between the estimated (eq. 9) and the actually coded rate. Run by hand:

    .venv/bin/python benchmarks/bench_nvrc_coding.py [--presets nvrc-s1 nvrc-s2 nvrc-s3] \
        [--frames 600] [--threads 2] [--repeats 1] [--json results.json]
    .venv/bin/python benchmarks/bench_nvrc_coding.py --small     # nvrc-cpu, 32x144x176: smoke

What is timed (wall clock, `time.perf_counter`, best of ``--repeats``), per preset at
1920x1080 and ``--frames`` frames (600: a UVG sequence):

* encode = `quantize_with_learned_steps` (phi and theta to symbols) + `write_payload`
  (entropy coding of psi, phi, layers and grids, the grid context model run over every block
  at once);
* decode = `read_payload` (parse, build the decoder's network structure, entropy-decode phi,
  layers, and the grids with the sequential fixed-point context model over the 1024 raster
  positions of a 16x8x8 block);
  the ``grids`` columns are the part spent in `_grid_bytes` / `_read_grids` (timed by wrapping
  those two module functions; nothing else changes).

Not timed: building the model, the synthetic parameters below, the rate estimate
(`NVRC.rate_report`, reported separately) and video synthesis (`codec.compress` would add both;
it is not used). The decoded payload must equal the encoder's (`same_integers`), else the run
fails. The paper's numbers (Table 2, rate points 1-2 = NVRC-S2, 1080p): 22.9 s to encode and
37.0 s to decode, research code on an RTX 4090 (FP16); the target here is under 10 s for each on
``--threads`` (2) CPU threads. constriction's coder itself is single-threaded.

**The parameters are synthetic.** A 1080p model cannot be trained on this CPU, so the fresh
model (`train.build`, seed 0) is given values whose symbol statistics resemble a trained
model's; entropy-coding time hardly depends on the values (it is per symbol, the context model
a fixed cost per position), sizes and rates do. Exactly what is changed (all seeded by
``--seed``, deterministic):

1. grid log-steps (initially -4): + N(0, 0.05) per (block, channel);
2. feature grids (theta_grid), in units of their own block's step: ``a S + L``, S a smooth
   random field (unit-variance Gaussian noise box-filtered three times, 3x3x3 over T, H, W
   with replicated edges; renormalised to unit std), ``a = --grid-smooth`` (2), L Laplace
   noise of scale ``--grid-laplace`` (2) steps: spatially correlated symbols of std ~3.5 steps;
3. context models (grid_em): every conv weight (causal taps only) and bias + N(0, 0.05),
   except the last conv's weights: + N(0, 0.05 / sqrt(fan-in)), so its outputs move by ~0.05
   (it starts at zero: the untrained model predicts N(0, 1) everywhere); its log-scale bias
   also + log(std of the level's symbols), so the predicted scale matches the data. Nothing
   is fitted: the model predicts little, so the grid bits are about those of one Gaussian of
   the right scale per level (~3.9 bits a value), more than a trained model would need;
4. layer coders (layer_quant, layer_em): log-steps and log-scales + N(0, 0.05) per entry;
   means + N(0, 0.05 std(theta)) in value units (``mean_out`` divided by ``sigma_in`` where
   eq. 6 multiplies by it);
5. psi recomputed from the perturbed phi (`NVRC._init_psi`: per-tensor mean and std, log-step
   -4), as at construction.

Layer weights (theta_layer) stay as initialised (Kaiming-uniform, biases zero), coded with the
initial steps ``std / 4``: about 4 bits per weight, zero bits for the zero biases.

Rate: *estimated* = `model.eval(); model.rate_report()` (the float models of training, eq. 9,
true rounding); *coded* = 8 x the file bytes of psi, phi, layers and grids (`part_bytes`
without the container header and the model section); gap = coded / estimated - 1. bpp is the
whole file over frames x 1080 x 1920 pixels. Peak RSS is `ru_maxrss` of the process running the
preset (each preset runs in its own spawned process), read after building (model + synthetic
values), after coding, and after the rate estimate.

Memory: the context models run one block position at a time over all partitions (the encoder
as the decoder), with three padded float64 buffers of all partitions; peak RSS is reported.

Timings are wall clock and sensitive to other load: with ``--threads 2`` on two cores that
other processes also use, torch's threads wait on each other and times can grow several-fold;
the load average is printed at the start and the end (compare with ``--threads 1``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

PAPER = {"preset": "nvrc-s2", "encode_s": 22.9, "decode_s": 37.0, "device": "RTX 4090, FP16"}
TARGET_S = 10.0
DEFAULT_PRESETS = ("nvrc-s1", "nvrc-s2", "nvrc-s3")
SMALL = {"preset": "nvrc-cpu", "frames": 32, "height": 144, "width": 176, "fps": 30}
#: File parts (`part_bytes`) and the `NVRC.rate_report` group each is compared with.
PARTS = ("psi", "grid_quant", "grid_em", "layer_quant", "layer_em", "layers", "grids")


def rss_mib() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------- synthetic values


def _normal(shape, std, generator):
    import torch

    return torch.randn(shape, generator=generator) * std


def _laplace(shape, scale, generator):
    import torch

    u = torch.rand(shape, generator=generator, dtype=torch.float64) - 0.5
    u = u.clamp(-0.5 + 1e-12, 0.5 - 1e-12)
    return (-scale * torch.sign(u) * torch.log1p(-2 * u.abs())).float()


def _smooth_field(size, generator):
    """Unit-std spatially correlated noise of shape ``(T, H, W, C)``, channels independent."""
    import torch
    import torch.nn.functional as F

    t, h, w, c = size
    x = torch.randn((c, 1, t, h, w), generator=generator)
    for _ in range(3):
        x = F.avg_pool3d(F.pad(x, (1,) * 6, mode="replicate"), 3, stride=1)
    x = x / x.std().clamp_min(1e-12)
    return x[:, 0].permute(1, 2, 3, 0).contiguous()


def make_realistic(model, args) -> dict:
    """Give the fresh `NVRC` model trained-like statistics (module docstring, steps 1-5);
    returns the std of each grid level's symbols."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(args.seed)
    noise = args.phi_noise
    params = dict(model.net.named_parameters())
    symbol_std = []
    with torch.no_grad():
        for name, coder in zip(model.grid_names, model.grid_coders, strict=True):
            layout = coder.layout
            if isinstance(coder.log_steps, nn.Parameter):  # 1. grid log-steps
                coder.log_steps.add_(_normal(coder.log_steps.shape, noise, g))
            size = layout.size  # 2. the grid, in units of its blocks' steps
            symbols = args.grid_smooth * _smooth_field(size, g)
            symbols += _laplace(size, args.grid_laplace, g)
            symbol_std.append(float(symbols.std()))
            step = torch.exp(layout.broadcast(coder.log_steps.detach()))
            params[name].copy_(layout.from_blocks(layout.to_blocks(symbols) * step))
            if hasattr(coder, "context"):  # 3. context model
                convs = coder.context.convs
                for i, conv in enumerate(convs):
                    mask = coder.context.weight_mask(i)
                    fan_in = float(mask.sum()) * conv.weight.shape[1]
                    std = noise / math.sqrt(fan_in) if i == len(convs) - 1 else noise
                    conv.weight.add_(_normal(conv.weight.shape, std, g) * mask)
                    conv.bias.add_(_normal(conv.bias.shape, noise, g))
                convs[-1].bias[1] += math.log(symbol_std[-1])
        for name in model.layer_names:  # 4. layer coders
            coder = model.layer_coders[name.replace(".", "-")]
            value = params[name].detach()
            std = max(float(value.std()) if value.numel() > 1 else 0.0, 1e-3)
            local = dict(coder.named_parameters())
            for leaf, phi in local.items():
                if leaf.startswith(("log_step", "log_scale")):
                    phi.add_(_normal(phi.shape, noise, g))
            for leaf, phi in local.items():
                if leaf == "mean_out" and "mean_in" in local:  # eq. 6: mean_out * sigma_in
                    scale_in = torch.exp(local["log_scale_in"]).mean()
                    phi.add_(_normal(phi.shape, noise * std, g) / scale_in)
                elif leaf.startswith("mean"):
                    phi.add_(_normal(phi.shape, noise * std, g))
    model._init_psi()  # 5. psi from the perturbed phi, as at construction
    return {"grid_symbol_std": symbol_std}


# ------------------------------------------------------------------------------ one preset


class _Timed:
    """Wraps a module function and adds its wall time to ``seconds``."""

    def __init__(self, module, name: str):
        self.module, self.name, self.function = module, name, getattr(module, name)
        self.seconds = 0.0
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def run_preset(job: dict) -> dict:
    """Build, synthesise, time encode and decode, estimate; in a fresh process."""
    import torch

    from inrcodec.codecs.nvrc import bitstream
    from inrcodec.codecs.nvrc.train import build
    from inrcodec.coding import VideoHeader
    from inrcodec.nets.hinerv import count_parameters

    torch.set_num_threads(job["threads"])
    args = argparse.Namespace(**job)
    frames, height, width = job["frames"], job["height"], job["width"]
    out = {"preset": job["preset"], "frames": frames, "height": height, "width": width}
    out["threads"] = torch.get_num_threads()

    started = time.perf_counter()
    model = build((frames, height, width), job["preset"], seed=job["seed"])
    out["build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    out["synthetic"] = make_realistic(model, args)
    out["synthetic_s"] = time.perf_counter() - started
    model.eval()
    out["parameters"] = count_parameters(model.net)
    out["phi_values"] = sum(p.numel() for n, p in model.named_parameters() if n != "psi")
    out["phi_values"] -= out["parameters"]
    out["grid_values"] = sum(math.prod(c.layout.size) for c in model.grid_coders)
    out["grid_partitions"] = sum(c.layout.num_partitions for c in model.grid_coders)
    header = VideoHeader(width=width, height=height, frame_count=frames, fps_num=job["fps"])
    out["rss_build_mib"] = rss_mib()
    grid_encode = _Timed(bitstream, "_grid_bytes")
    grid_decode = _Timed(bitstream, "_read_grids")
    times = {k: [] for k in ("quantize_s", "write_s", "encode_s", "decode_s")}
    grid_times = {"encode_grids_s": [], "decode_grids_s": []}
    for _ in range(job["repeats"]):
        gc.collect()
        grid_encode.seconds = grid_decode.seconds = 0.0
        started = time.perf_counter()
        payload = bitstream.quantize_with_learned_steps(model, "rgb")
        quantized = time.perf_counter()
        data = bitstream.write_payload(payload, header, model)
        written = time.perf_counter()
        gc.collect()
        decode_started = time.perf_counter()
        decoded_header, decoded = bitstream.read_payload(data)
        decoded_at = time.perf_counter()
        if decoded_header != header or not payload.same_integers(decoded):
            raise SystemExit(
                f"{job['preset']}: the decoded payload differs from the encoder's (a bug)"
            )
        times["quantize_s"].append(quantized - started)
        times["write_s"].append(written - quantized)
        times["encode_s"].append(written - started)
        times["decode_s"].append(decoded_at - decode_started)
        grid_times["encode_grids_s"].append(grid_encode.seconds)
        grid_times["decode_grids_s"].append(grid_decode.seconds)
        del decoded
    out.update({k: min(v) for k, v in times.items()})
    out.update({k: min(v) for k, v in grid_times.items()})
    out["all_times"] = {**times, **grid_times}
    out["rss_coding_mib"] = rss_mib()

    sections = bitstream.part_bytes(data)
    out["file_bytes"] = len(data)
    out["bpp"] = 8 * len(data) / (frames * height * width)
    out["sections"] = sections
    out["coded_bits"] = 8 * sum(v for k, v in sections.items() if k not in ("header", "model"))

    started = time.perf_counter()
    model.eval()
    report = model.rate_report()
    out["estimate_s"] = time.perf_counter() - started
    out["estimated_bits"] = report["bits"]
    out["estimated_bpp"] = report["bpp"]
    out["estimated_groups"] = report["groups"]
    out["gap"] = out["coded_bits"] / report["bits"] - 1
    out["rss_peak_mib"] = rss_mib()
    return out


# ----------------------------------------------------------------------------------- output


def _target(seconds: float) -> str:
    return "yes" if seconds < TARGET_S else "no"


def print_tables(results: list[dict]) -> None:
    if not results:
        return
    print()
    print(
        "| preset | video | parameters | file bytes | bpp | encode s (quantise + write) "
        "| grids | decode s | grids | < 10 s enc/dec |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        video = f"{r['frames']}x{r['height']}x{r['width']}"
        print(
            f"| {r['preset']} | {video} | {r['parameters'] / 1e6:.2f} M | {r['file_bytes']:,} "
            f"| {r['bpp']:.5f} | {r['encode_s']:.2f} ({r['quantize_s']:.2f} + {r['write_s']:.2f})"
            f" | {r['encode_grids_s']:.2f} | {r['decode_s']:.2f} | {r['decode_grids_s']:.2f} "
            f"| {_target(r['encode_s'])} / {_target(r['decode_s'])} |"
        )
    print()
    print(
        "| preset | estimated bits (eq. 9) | coded bits | gap | estimate s "
        "| peak RSS MiB: build / coding / all |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['preset']} | {r['estimated_bits']:,.0f} | {r['coded_bits']:,} "
            f"| {100 * r['gap']:+.3f} % | {r['estimate_s']:.1f} "
            f"| {r['rss_build_mib']:.0f} / {r['rss_coding_mib']:.0f}"
            f" / {r['rss_peak_mib']:.0f} |"
        )
    print()
    print("| preset | part | values | coded bytes | estimated bytes | gap | coded bits/value |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        for part in PARTS:
            group = r["estimated_groups"][part]
            coded, estimated = r["sections"][part], group["bits"] / 8
            gap = f"{100 * (coded / estimated - 1):+.2f} %" if estimated else "-"
            per_value = 8 * coded / group["values"] if group["values"] else float("nan")
            print(
                f"| {r['preset']} | {part} | {group['values']:,} | {coded:,} "
                f"| {estimated:,.1f} | {gap} | {per_value:.3f} |"
            )
        framing = r["sections"]["header"] + r["sections"]["model"]
        print(f"| {r['preset']} | header + model (not estimated) | - | {framing:,} | - | - | - |")
    print()
    print(
        f"Paper (Table 2, {PAPER['preset']}, rate points 1-2, {PAPER['device']}): "
        f"encode {PAPER['encode_s']} s, decode {PAPER['decode_s']} s; target here: "
        f"under {TARGET_S:g} s each."
    )
    for r in results:
        if r["preset"] == PAPER["preset"]:
            print(
                f"{r['preset']} here: encode {r['encode_s']:.2f} s "
                f"({r['encode_s'] / PAPER['encode_s']:.2f}x the paper's time), decode "
                f"{r['decode_s']:.2f} s ({r['decode_s'] / PAPER['decode_s']:.2f}x); target met: "
                f"encode {_target(r['encode_s'])}, decode {_target(r['decode_s'])}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    parser.add_argument("--frames", type=int, default=600, help="video length (UVG: 600)")
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--fps", type=int, default=120)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid-smooth", type=float, default=2.0, help="smooth part, in steps")
    parser.add_argument("--grid-laplace", type=float, default=2.0, help="Laplace scale, steps")
    parser.add_argument("--phi-noise", type=float, default=0.05, help="std of phi perturbation")
    parser.add_argument("--small", action="store_true", help="nvrc-cpu at 32x144x176 only")
    parser.add_argument("--json", type=str, default=None, help="write the results here")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    base = {k: v for k, v in vars(args).items() if k not in ("presets", "small", "json")}
    if args.small:
        jobs = [{**base, **SMALL}]
    else:
        jobs = [{**base, "preset": p} for p in args.presets]

    import torch

    print(
        f"# NVRC model compression (entropy coding only) on the CPU: {args.threads} torch "
        f"threads of {os.cpu_count()} cores, torch {torch.__version__}, load average "
        f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(
        "# SYNTHETIC parameters (untrained model; grids Laplace + smooth field in units of "
        f"their steps: smooth {args.grid_smooth:g}, Laplace {args.grid_laplace:g}; phi "
        f"perturbed by {args.phi_noise:g}; layer weights as initialised): see the docstring"
    )
    results = []
    context = multiprocessing.get_context("spawn")
    for job in jobs:
        name = f"{job['preset']} at {job['frames']}x{job['height']}x{job['width']}"
        print(f"# {name} ...", flush=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            r = pool.submit(run_preset, job).result()
        results.append(r)
        print(
            f"#   {r['parameters']:,} parameters ({r['grid_values']:,} grid values in "
            f"{r['grid_partitions']:,} partitions, {r['phi_values']:,} phi values); built in "
            f"{r['build_s']:.1f} s + {r['synthetic_s']:.1f} s synthetic; encode "
            f"{r['encode_s']:.2f} s, decode {r['decode_s']:.2f} s, {r['file_bytes']:,} bytes, "
            f"gap {100 * r['gap']:+.3f} %, peak RSS {r['rss_peak_mib']:.0f} MiB",
            flush=True,
        )
    print(f"# load average at the end: {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    print_tables(results)

    if args.json:
        from inrcodec.atomic import write_atomic

        document = {
            "benchmark": "nvrc_coding",
            "synthetic_parameters": True,
            "settings": vars(args),
            "paper": PAPER,
            "target_s": TARGET_S,
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "results": results,
        }
        write_atomic(args.json, (json.dumps(document, indent=2) + "\n").encode())
        print(f"# results written to {args.json}")


if __name__ == "__main__":
    main()
