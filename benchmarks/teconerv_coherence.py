"""How temporally coherent are a hypernetwork's weights? PSNR and L_temp on a held-out video.

For each model file and each position of the non-overlapping tubelet grid, the consecutive
8-frame clips of the video (0-7, 8-15, ...) are encoded; the table gives the validation PSNR
(as in training) and the mean, over consecutive pairs, of eq. 4's distance on the modulated
weights ("mod") and on the unique parameters ("uniq"), the quantities the temporal-coherence
loss lowers and the residual coding of the codec exploits.

    python benchmarks/teconerv_coherence.py src/inrcodec/codecs/teconerv/models/*.safetensors \
        --video build/teconerv/corpus/val/carphone_pristine.mp4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from inrcodec.codecs.teconerv.data import ClipCache
from inrcodec.codecs.teconerv.model_file import load_model
from inrcodec.codecs.teconerv.train import temporal_loss, validate


@torch.no_grad()
def coherence(net, frames, max_clips: int) -> dict[str, float]:
    cfg = net.config.hypo
    n, h, w = frames.shape[:3]
    starts = list(range(0, n - cfg.frames + 1, cfg.frames))[:max_clips]
    totals = {"mod": 0.0, "uniq": 0.0}
    pairs = 0
    for top in range(0, h - cfg.height + 1, cfg.height):
        for left in range(0, w - cfg.width + 1, cfg.width):
            block = frames[:, top : top + cfg.height, left : left + cfg.width]
            clips = torch.stack(
                [torch.from_numpy(block[s : s + cfg.frames].copy()) for s in starts]
            )
            clips = clips.permute(0, 1, 4, 2, 3).float() / 255
            unique = net.unique(clips)
            weights = net.hypo.clip_weights(unique)
            for i in range(len(starts) - 1):
                u = ([x if x is None else x[i : i + 1] for x in unique],
                     [x if x is None else x[i + 1 : i + 2] for x in unique])  # fmt: skip
                wt = ([x[min(i, x.shape[0] - 1)][None] for x in weights],
                      [x[min(i + 1, x.shape[0] - 1)][None] for x in weights])  # fmt: skip
                for target in totals:
                    totals[target] += float(temporal_loss(net, u, wt, target))
                pairs += 1
    return {k: v / pairs for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=8, help="clips per position (8)")
    parser.add_argument("--cache", type=Path, default=Path("build/teconerv/runs/cache"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    print("| model | preset | val PSNR (dB) | base only (dB) | L_temp mod | L_temp uniq |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        net, config = load_model(path)
        size = tuple(config["train_size"])
        frames = ClipCache(args.cache, size).prepare([args.video], progress=False)[0]
        quality = validate(net, {"video": frames}, args.clips)
        c = coherence(net, frames, args.clips)
        print(
            f"| {path.stem} | {config['preset']} | {quality['psnr']:.2f} | "
            f"{quality['psnr_base_only']:.2f} | {c['mod']:.5f} | {c['uniq']:.4f} |"
        )


if __name__ == "__main__":
    main()
