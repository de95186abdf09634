"""Fingerprints of NVRC's training and files, to show that a change of code changes nothing.

    python benchmarks/nvrc_fingerprint.py --out before.json      # on the old code
    python benchmarks/nvrc_fingerprint.py --compare before.json  # on the new code

Every run trains one (preset, lambda, ablation) on the first frames of the bundled clip from
seed 0, in a fresh process with one torch thread, then writes the file and decodes it. Its
fingerprint is the SHA-256 of every trained tensor (model state, by name), of the file's
bytes and of the decoded frames, with the training PSNR and rate as numbers. ``--compare``
runs the same list and prints each run's differences (exit status 1 if any): equal hashes
mean bit-identical training and byte-identical files.

Runs: every NVRC preset (``nvrc-tiny``, the ``-cpu*`` sizes with their CPU schedule, the
paper's S1-S4 on a few steps of its own schedule) and every ablation of `ABLATIONS` on
``nvrc-cpu-xs``. About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "carphone_176x144_32f.y4m"

#: (preset, lambda, ablation, frames, steps)
RUNS = (
    ("nvrc-tiny", 1.0, "full", 4, 20),
    ("nvrc-cpu-xs", 4.0, "full", 8, 60),
    ("nvrc-cpu-s", 8.0, "full", 8, 60),
    ("nvrc-cpu", 16.0, "full", 8, 60),
    ("nvrc-cpu-l", 32.0, "full", 8, 60),
    ("nvrc-s1", 1.0, "full", 4, 4),
    ("nvrc-s2", 2.0, "full", 4, 3),
    ("nvrc-s3", 4.0, "full", 3, 2),
    ("nvrc-s4", 8.0, "full", 3, 2),
    *(("nvrc-cpu-xs", 4.0, ablation, 8, 60)
      for ablation in ("v1", "v2", "v3", "v4", "v5", "no-alternating", "no-stage0",
                       "soft-layers")),
)  # fmt: skip


def _digest(arrays) -> str:
    sha = hashlib.sha256()
    for name, array in arrays:
        sha.update(name.encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def fingerprint(run: tuple) -> dict:
    """Train, encode and decode one run (a fresh process: `main` uses spawn)."""
    import torch

    from inrcodec import read_video
    from inrcodec.codecs.header import header_of
    from inrcodec.codecs.nvrc.codec import compress, decode
    from inrcodec.codecs.nvrc.train import train

    torch.set_num_threads(1)
    preset, lam, ablation, frames, steps = run
    video = read_video(SAMPLE)[:frames].load()
    result = train(video, preset, lam, ablation=ablation, steps=steps, progress=False,
                   device="cpu", seed=0)  # fmt: skip
    state = result.model.state_dict()
    compressed = compress(result.model, header_of(video))
    decoded = decode(compressed.bitstream)
    return {
        "run": list(run),
        "state": _digest((k, v.detach().cpu().contiguous().numpy()) for k, v in state.items()),
        "state_keys": len(state),
        "file": hashlib.sha256(compressed.bitstream).hexdigest(),
        "bytes": len(compressed.bitstream),
        "decoded": _digest((str(i), plane) for i, plane in enumerate(decoded.planes)),
        "psnr": result.psnr,
        "bpp": result.bpp,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the fingerprints here (JSON)")
    group.add_argument("--compare", type=Path, help="compare with fingerprints written before")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        prints = pool.map(fingerprint, RUNS, chunksize=1)
    if args.out:
        args.out.write_text(json.dumps(prints, indent=1) + "\n")
        print(f"{len(prints)} fingerprints -> {args.out}")
        return 0
    before = {tuple(p["run"]): p for p in json.loads(args.compare.read_text())}
    changed = 0
    for now in prints:
        old = before.get(tuple(now["run"]))
        diff = [k for k in now if old is None or old.get(k) != now[k]]
        changed += bool(diff)
        print(f"{'same' if not diff else 'DIFFERENT ' + ', '.join(diff):40} {now['run']}")
    print(f"{len(prints) - changed} of {len(prints)} runs identical")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
