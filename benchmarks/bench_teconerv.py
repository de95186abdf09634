"""TeCoNeRV's ablations at CPU scale, on held-out real clips, with the committed CPU models.

Every number is a real encode (`inrcodec.codecs.teconerv.codec.encode`): bpp from the file's
size, PSNR / SSIM (RGB, BT.601) of the decoder's output against the coded source, and
frames per second of encoding (input frames to bytes) and decoding (bytes to frames). The
clips are the held-out video cut into segments of ``--frames`` frames; the coded size is the
models' training size, 192x128 (resize on the shorter side and centre-crop, Appendix A), so
that NeRV-Enc* outputs whole frames, as in the paper's 480p comparison.

1. Table 3: NeRV-Enc* against the patch-tubelet model, each with and without residuals, and
   TeCoNeRV (patch-tubelet + temporal-coherence fine-tuning), at 4 bits.
2. Table 6: residuals none / from the first clip / from the previous clip at 4-8 bits.
3. Fig. 3 / Appendix B: PSNR against bpp of every model size x 4-8 bits, and each method's
   Pareto front (a point stays only if it beats every cheaper point of its method).
4. Table 7 / Sec. 5.3: the native 176x144 size, which the 64x64 tubelets do not divide, with
   and without overlap, crop against blend.

    python benchmarks/bench_teconerv.py --video build/teconerv/corpus/val/carphone_pristine.mp4 \
        --json build/bench_teconerv.json --plot docs/teconerv_rd.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from inrcodec.codecs.teconerv.codec import encode
from inrcodec.codecs.teconerv.model_file import PACKAGED_MODELS
from inrcodec.io import read_video
from inrcodec.metrics import compare

#: method -> model files, the larger first (Fig. 3 uses two sizes per method)
METHODS = {
    "NeRV-Enc*": ["nerv-enc-cpu"],
    "Patch-Tubelet": ["patch-tubelet-cpu", "patch-tubelet-cpu-small"],
    "TeCoNeRV": ["teconerv-cpu", "teconerv-cpu-small"],
}
TRAIN_SIZE = (128, 192)  # (height, width) the CPU models were trained at


def measure(clips, model: str, **options) -> dict:
    """One setting over every clip: bpp of all bytes over all pixels, mean PSNR / SSIM over
    frames, frames per second over all clips."""
    total = {"bytes": 0, "pixels": 0, "frames": 0, "encode": 0.0, "decode": 0.0}
    psnr, ssim = [], []
    for clip in clips:
        result = encode(
            clip, model=PACKAGED_MODELS / f"{model}.safetensors", progress=False, **options
        )
        quality = compare(result.source, result.reconstruction, "rgb")
        frames = result.source.num_frames
        psnr += [quality.means["psnr"]] * frames
        ssim += [quality.means["ssim"]] * frames
        total["bytes"] += result.num_bytes
        total["pixels"] += frames * result.source.width * result.source.height
        total["frames"] += frames
        total["encode"] += result.encode_seconds
        total["decode"] += result.decode_seconds
    return {
        "model": model,
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
        "bpp": 8 * total["bytes"] / total["pixels"],
        "psnr": sum(psnr) / len(psnr),
        "ssim": sum(ssim) / len(ssim),
        "encode_fps": total["frames"] / total["encode"],
        "decode_fps": total["frames"] / total["decode"],
    }


def pareto_front(points: list[dict]) -> list[dict]:
    """Points in ascending bpp, each kept only if its PSNR beats every cheaper kept point."""
    front: list[dict] = []
    for p in sorted(points, key=lambda p: (p["bpp"], -p["psnr"])):
        if not front or p["psnr"] > front[-1]["psnr"]:
            front.append(p)
    return front


def row(label: str, p: dict) -> str:
    return (
        f"| {label} | {p['psnr']:.2f} / {p['ssim']:.4f} | {p['bpp']:.4f} | "
        f"{p['encode_fps']:.0f} / {p['decode_fps']:.0f} |"
    )


HEAD = "| setting | PSNR / SSIM | bpp | FPS enc / dec |\n|---|---|---|---|"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="held-out video")
    parser.add_argument("--frames", type=int, default=40, help="frames per clip (40)")
    parser.add_argument("--clips", type=int, default=3, help="clips cut from the video (3)")
    parser.add_argument("--json", type=Path, help="write every point here")
    parser.add_argument("--plot", type=Path, help="draw the RD points and Pareto fronts here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    video = read_video(args.video)
    clips = [
        video[i * args.frames : (i + 1) * args.frames].load()
        for i in range(min(args.clips, video.num_frames // args.frames))
    ]
    print(f"{len(clips)} clips of {args.frames} frames of {args.video.name}, coded at 192x128")
    coded = {"resize": TRAIN_SIZE}
    results: dict[str, list[dict]] = {"table3": [], "table6": [], "rd": [], "overlap": []}

    print("\nTable 3 (4 bits)\n" + HEAD)
    for label, model, residual in [
        ("NeRV-Enc*", "nerv-enc-cpu", "none"),
        ("NeRV-Enc* + residuals", "nerv-enc-cpu", "previous"),
        ("Patch-Tubelet", "patch-tubelet-cpu", "none"),
        ("Patch-Tubelet + residuals", "patch-tubelet-cpu", "previous"),
        ("TeCoNeRV (L_temp) + residuals", "teconerv-cpu", "previous"),
    ]:
        p = measure(clips, model, bits=4, residual=residual, **coded)
        results["table3"].append({"label": label, **p})
        print(row(label, p))

    print("\nTable 6 (TeCoNeRV)\n| residuals | " + " | ".join(f"{b} bits" for b in range(4, 9)))
    print("|---" * 6 + "|")
    for residual in ("none", "first", "previous"):
        points = [
            measure(clips, "teconerv-cpu", bits=b, residual=residual, **coded) for b in range(4, 9)
        ]
        results["table6"] += points
        cells = " | ".join(f"{p['psnr']:.2f} dB, {p['bpp']:.4f}" for p in points)
        print(f"| {residual} | {cells} |")

    print("\nFig. 3: Pareto fronts over model sizes x 4-8 bits (residuals from the previous clip)")
    fronts = {}
    for method, models in METHODS.items():
        points = [
            measure(clips, model, bits=b, residual="previous", **coded)
            for model in models
            if (PACKAGED_MODELS / f"{model}.safetensors").is_file()
            for b in range(4, 9)
        ]
        results["rd"] += [{"method": method, **p} for p in points]
        fronts[method] = pareto_front(points)
        front = ", ".join(
            f"{p['bpp']:.4f} bpp {p['psnr']:.2f} dB ({p['model']} {p['bits']}b)"
            for p in fronts[method]
        )
        print(f"  {method}: {front}")

    print("\nNative 176x144 (tubelets do not divide it), TeCoNeRV at 4 bits\n" + HEAD)
    for label, overlap, fusion in [
        ("no overlap (last tubelet snapped)", (0, 0), "crop"),
        ("overlap 16, crop", (16, 16), "crop"),
        ("overlap 16, blend", (16, 16), "blend"),
        ("overlap 32, crop", (32, 32), "crop"),
        ("overlap 32, blend", (32, 32), "blend"),
    ]:
        p = measure(clips, "teconerv-cpu", bits=4, overlap=overlap, fusion=fusion)
        results["overlap"].append({"label": label, **p})
        print(row(label, p))

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results["rd"], fronts, args.plot)


def plot(points: list[dict], fronts: dict[str, list[dict]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    for (method, front), colour in zip(fronts.items(), ("C0", "C1", "C2"), strict=False):
        mine = [p for p in points if p["method"] == method]
        ax.scatter([p["bpp"] for p in mine], [p["psnr"] for p in mine], s=12, c=colour, alpha=0.4)
        ax.plot([p["bpp"] for p in front], [p["psnr"] for p in front], "o-", c=colour, label=method)
    ax.set_xlabel("bpp (file size)")
    ax.set_ylabel("PSNR RGB (dB)")
    ax.set_title("Held-out carphone, 192x128: model sizes x 4-8 bits, Pareto fronts")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
