"""Wall time of `inrcodec bench run --ray` (an embedded local Ray of 2 CPUs) against `--jobs 2`.

One spec of 12 cheap points (x264, x265 and SVT-AV1 at 4 rate points each on the bundled
32-frame clip), each run as the whole command (start-up included) into a fresh results file,
the two alternating ``--repeat`` times. Prints every wall time, the medians and Ray's overhead.

    .venv/bin/python benchmarks/bench_ray.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = {
    "sequences": [str(REPO / "samples" / "carphone_176x144_32f.y4m")],
    "codecs": [
        {"codec": "x264", "rate_points": [22, 27, 32, 37]},
        {"codec": "x265", "rate_points": [22, 27, 32, 37]},
        {"codec": "svtav1", "rate_points": [23, 35, 47, 59]},
    ],
}
MODES = {"--jobs 2": ["--jobs", "2"], "--ray --jobs 2": ["--ray", "--jobs", "2"]}


def run(folder: Path, name: str, flags: list[str]) -> float:
    results = folder / f"{name}.jsonl"
    command = [sys.executable, "-m", "inrcodec.cli", "bench", "run", str(folder / "spec.yaml")]
    command += ["-o", str(results), "--no-progress", *flags]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - started
    lines = results.read_text().splitlines()
    assert len(lines) == 12 and not any('"error"' in line for line in lines), lines
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode (default 3)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "spec.yaml").write_text(json.dumps(SPEC))  # JSON is YAML
        for i in range(args.repeat):
            for mode, flags in MODES.items():
                seconds = run(folder, f"{len(times[mode])}-{mode.replace(' ', '')}", flags)
                times[mode].append(seconds)
                print(f"run {i + 1}: {mode:15} {seconds:6.2f} s")
    jobs, ray = (statistics.median(times[mode]) for mode in MODES)
    print(f"median of {args.repeat}: --jobs 2 {jobs:.2f} s, --ray {ray:.2f} s; Ray adds "
          f"{ray - jobs:+.2f} s ({(ray - jobs) / jobs:+.0%}) for 12 points")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
