"""Validation PSNR curves of TeCoNeRV training runs, from their ``history.json`` files.

Prints a Markdown table (per run: steps, first and last validation PSNR, the base-only
reference, and the margin over it) and, with ``--plot``, draws the curves of the pre-training
and fine-tuning runs one after the other on a common step axis.

    python benchmarks/teconerv_curves.py \
        pre=build/teconerv/runs/teconerv-cpu-pretrain \
        patch-tubelet=build/teconerv/runs/patch-tubelet-cpu:pre \
        --plot docs/teconerv_validation.png

``name=RUN[:PARENT]``: a run folder, labelled `name`; with ``:PARENT`` its steps are counted
after the last step of the run labelled PARENT (a fine-tuning after its pre-training).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="name=RUN_FOLDER[:PARENT_NAME]")
    parser.add_argument("--plot", type=Path, help="write the curves here (PNG or SVG)")
    args = parser.parse_args()

    histories, offsets, ends = {}, {}, {}
    for item in args.runs:
        name, _, rest = item.partition("=")
        folder, _, parent = rest.partition(":")
        histories[name] = json.loads((Path(folder) / "history.json").read_text())
        offsets[name] = (offsets[parent] + ends[parent]) if parent else 0
        # the run's last step: its checkpoint's (a stopped run may end after its last validation)
        ends[name] = json.loads((Path(folder) / "state.json").read_text())["step"]

    print("| run | steps | val PSNR first → last (dB) | base-only reference (dB) | margin (dB) |")
    print("|---|---|---|---|---|")
    for name, h in histories.items():
        first, last = h[0], h[-1]
        margin = last["psnr"] - last["psnr_base_only"]
        print(
            f"| {name} | {offsets[name]}-{offsets[name] + ends[name]} | {first['psnr']:.2f} → "
            f"{last['psnr']:.2f} | {last['psnr_base_only']:.2f} | {margin:+.2f} |"
        )

    if args.plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, h in histories.items():
            steps = [offsets[name] + e["step"] for e in h]
            line = ax.plot(steps, [e["psnr"] for e in h], marker=".", label=name)[0]
            ax.plot(
                steps,
                [e["psnr_base_only"] for e in h],
                linestyle=":",
                color=line.get_color(),
                label=f"{name}: base only",
            )
        ax.set_xlabel("training step (fine-tuning continues its pre-training)")
        ax.set_ylabel("validation PSNR, RGB (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
