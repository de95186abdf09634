"""Wall time of the `inrcodec` commands that run no network, whole process included
(target: `--help` under 0.5 s). Each command runs ``--repeat`` times through the
installed entry point; prints the median and the fastest run of each, and whether it loaded
torch (which alone takes seconds).

    .venv/bin/python benchmarks/bench_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "carphone_176x144_32f.y4m"
ENTRY_POINT = "import sys; from inrcodec.cli import main; sys.exit(main())"  # as pip writes it


def commands(folder: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "--version": ["--version"],
        "info VIDEO": ["info", str(SAMPLE)],
        "convert (8 frames)": ["convert", str(SAMPLE), str(folder / "out.y4m"), "--frames", "8"],
        "encode --help": ["encode", "--help"],
    }


def wall_time(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", ENTRY_POINT, *args], check=True, capture_output=True)
    return time.perf_counter() - started


def loads_torch(args: list[str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY_POINT, *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command (10)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        for name, argv in commands(Path(folder)).items():
            times = [wall_time(argv) for _ in range(args.repeat)]
            print(
                f"{name:20} median {statistics.median(times):6.3f} s, fastest {min(times):6.3f} s"
                f" ({args.repeat} runs), torch {'loaded' if loads_torch(argv) else 'not loaded'}"
            )


if __name__ == "__main__":
    main()
