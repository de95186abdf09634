"""VMAF and XPSNR, the metrics video engineers compare codecs in beside PSNR and MS-SSIM,
measured by the ffmpeg the baselines run (`inrcodec.baselines.ffmpeg`): its ``libvmaf`` filter
with libvmaf's default model (vmaf_v0.6.1) and its ``xpsnr`` filter (Helmrich et al.), on
exactly the frames given (both videos are written as y4m files and read back by ffmpeg).

Values are per frame; a sequence score is their mean, as for every inrcodec metric
(docs/metrics.md). XPSNR comes per plane; ``xpsnr_y`` is the one reports plot.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from inrcodec.io import Video, convert_video, write_video
from inrcodec.metrics import PSNR_MAX_DB, MetricError

from .ffmpeg import run_ffmpeg

#: The per-frame values `ffmpeg_metrics` returns.
FFMPEG_METRICS = ("vmaf", "xpsnr_y", "xpsnr_u", "xpsnr_v")
_XPSNR_ROW = re.compile(r"XPSNR y:\s*(\S+)\s+XPSNR u:\s*(\S+)\s+XPSNR v:\s*(\S+)")


def ffmpeg_metrics(reference: Video, distorted: Video) -> dict[str, np.ndarray]:
    """Per-frame VMAF and XPSNR (`FFMPEG_METRICS`) of ``distorted`` against ``reference``,
    two videos of one size, frame count, chroma format and bit depth (RGB is measured as
    Y'CbCr 4:4:4 of its own matrix). Identical frames give XPSNR `PSNR_MAX_DB`."""
    a, b = reference.format, distorted.format
    if (a.width, a.height, a.chroma, a.bit_depth) != (b.width, b.height, b.chroma, b.bit_depth):
        raise MetricError(
            f"VMAF and XPSNR compare videos of one format: the reference is "
            f"{reference.describe()}, the distorted {distorted.describe()}"
        )
    if reference.num_frames != distorted.num_frames:
        raise MetricError(
            f"reference has {reference.num_frames} frames, distorted has {distorted.num_frames}"
        )
    with tempfile.TemporaryDirectory(prefix="inrcodec-metrics-") as folder:
        folder = Path(folder)
        for video, name in ((reference, "reference.y4m"), (distorted, "distorted.y4m")):
            if video.format.chroma == "rgb":
                video = convert_video(video, chroma="444")
            write_video(video, folder / name)
        inputs = ["-i", "distorted.y4m", "-i", "reference.y4m"]  # libvmaf: main, then reference
        threads = os.cpu_count() or 1
        vmaf = f"libvmaf=log_fmt=json:log_path=vmaf.json:n_threads={threads}"
        run_ffmpeg([*inputs, "-lavfi", vmaf, "-f", "null", "-"], "measure VMAF", cwd=folder)
        run_ffmpeg(
            [*inputs, "-lavfi", "xpsnr=stats_file=xpsnr.txt", "-f", "null", "-"],
            "measure XPSNR",
            cwd=folder,
        )
        frames = json.loads((folder / "vmaf.json").read_text())["frames"]
        rows = _XPSNR_ROW.findall((folder / "xpsnr.txt").read_text())
    if not len(frames) == len(rows) == reference.num_frames:
        raise MetricError(
            f"ffmpeg measured {len(frames)} (VMAF) and {len(rows)} (XPSNR) of "
            f"{reference.num_frames} frames"
        )
    xpsnr = np.minimum(np.array(rows, dtype=np.float64), PSNR_MAX_DB)  # "inf": identical
    return {
        "vmaf": np.array([frame["metrics"]["vmaf"] for frame in frames], dtype=np.float64),
        **{name: xpsnr[:, index] for index, name in enumerate(FFMPEG_METRICS[1:])},
    }
