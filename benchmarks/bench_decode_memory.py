"""Peak memory of ``inrcodec decode`` against the frame count: HiNeRV-tiny files of 176x144
video, 32 and 512 frames (more with ``--frames``), each decoded to y4m by the command in a
fresh process; prints the process's peak resident set size and the decode's wall time. Run
by hand:

    .venv/bin/python benchmarks/bench_decode_memory.py [--frames 32 512] [--size 176x144] \
        [--threads 1]

The files hold a freshly initialised network, quantised and coded as the encoder codes one
(`compress.quantize_per_channel`, `write_payload`): the same decoder work as a trained one
without the training. The network grows with the frame count too (its temporal grids), so
the figure that matters is how the peak grows beyond that. The decoder runs on ``--threads``
threads (default 1: on a shared machine, spinning OpenMP threads make times meaningless).
Beside the peak it prints the decoder's own estimate of what it needs at once
(`decode_memory`, which `--max-memory` is checked against), which leaves out what the
process holds before it decodes (the interpreter, torch: the peak of the smallest file).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from inrcodec.codecs.hinerv import compress
from inrcodec.codecs.hinerv.bitstream import HiNeRVPayload, decode_memory, write_payload
from inrcodec.codecs.network_section import parameter_specs
from inrcodec.coding import VideoHeader
from inrcodec.nets.hinerv import HiNeRV, preset


def hinerv_file(frames: int, height: int, width: int) -> bytes:
    """A HiNeRV-tiny file of ``frames`` frames of ``width`` x ``height`` (untrained, 6 bits)."""
    config = preset("hinerv-tiny", frames, height, width)
    torch.manual_seed(0)
    model = HiNeRV(config, frames, height, width)
    names = [name for name, _ in parameter_specs(config, frames, height, width)]
    tensors = compress.quantize_per_channel(model, 6, names)
    header = VideoHeader(width=width, height=height, frame_count=frames, fps_num=30)
    return write_payload(HiNeRVPayload(config, "rgb", 6, tensors), header)


def decode_peak(path: Path, output: Path, threads: int) -> tuple[int, float]:
    """Peak RSS (bytes) and wall seconds of ``inrcodec decode path -o output``."""
    command = [sys.executable, "-m", "inrcodec.cli", "decode", str(path), "-o", str(output)]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"decode failed: {process.stderr.read().decode()}")
    return usage.ru_maxrss * 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[32, 512])
    parser.add_argument("--size", default="176x144", help="WxH (default 176x144)")
    parser.add_argument("--threads", type=int, default=1, help="decoder threads (default 1)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    print(
        f"# inrcodec decode, HiNeRV-tiny {width}x{height}, {args.threads} thread(s), "
        f"torch {torch.__version__}"
    )
    print(
        f"{'frames':>7} {'file B':>9} {'y4m MB':>8} {'peak RSS MB':>12} {'estimate MB':>12} "
        f"{'seconds':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for frames in args.frames:
            source, output = Path(folder) / f"{frames}.inrc", Path(folder) / f"{frames}.y4m"
            data = hinerv_file(frames, height, width)
            source.write_bytes(data)
            peak, seconds = decode_peak(source, output, args.threads)
            size = output.stat().st_size
            print(
                f"{frames:7d} {len(data):9d} {size / 1e6:8.1f} {peak / 1e6:12.1f} "
                f"{decode_memory(data) / 1e6:12.1f} {seconds:8.1f}"
            )


if __name__ == "__main__":
    main()
