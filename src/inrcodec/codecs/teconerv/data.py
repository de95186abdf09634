"""The training corpus: videos in a folder tree, a cache of their decoded frames, and samples.

- `find_videos`: every video `inrcodec.io.read_video` reads under a folder (a Kinetics-style
  ``class/video.mp4`` tree works; so do y4m, raw yuv with the size in the name, PNG folders).
- `ClipCache`: each video decoded once, resized on its shorter side and centre-cropped to the
  training resolution (TeCoNeRV Sec. 4.1), stored as uint8 RGB ``(T, H, W, 3)`` ``.npy`` and
  memory-mapped afterwards. Missing entries are decoded by a pool of worker processes; later
  epochs and later runs read the cache only. Disk: ``T * H * W * 3`` bytes per video
  (``max_frames`` bounds T).
- `ClipSamples`: epoch e draws, for every video, ``clips_per_video`` random clips of ``frames``
  consecutive frames at a random tubelet position (any offset), or pairs of consecutive clips
  at the same position for temporal-coherence fine-tuning (eq. 3). The draw is a pure function
  of (seed, epoch), so a resumed run sees the same samples.
- `validation_tubelets`: every complete clip (starts 0, N, 2N, ...) at every position of the
  non-overlapping tubelet grid of held-out videos.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inrcodec.atomic import atomic_file
from inrcodec.errors import InrcodecError
from inrcodec.io import read_video, video_to_rgb
from inrcodec.io.media import SUFFIXES as CONTAINER_SUFFIXES

from ..progress import progress_bar
from .resize import resize_and_crop

__all__ = [
    "ClipCache",
    "ClipSamples",
    "CorpusError",
    "find_videos",
    "validation_tubelets",
]

VIDEO_SUFFIXES = (".y4m", ".yuv", *CONTAINER_SUFFIXES)
_CONVERT_CHUNK = 16  # frames converted to float at a time while filling the cache


class CorpusError(InrcodecError):
    """A training corpus that cannot be used: no videos, too short, too small, unreadable."""


def find_videos(root: str | os.PathLike) -> list[Path]:
    """All videos under `root`, sorted: video files by suffix, and folders of PNG frames."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder of videos")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(folder)
        if here != root and any(f.lower().endswith(".png") for f in files):
            found.append(here)
            continue
        found += [here / f for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    if not found:
        raise CorpusError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)} or PNG folders)")
    return sorted(found)


def _decode(path: Path, size: tuple[int, int], max_frames: int | None) -> np.ndarray:
    video = read_video(path)  # y4m / yuv / PNG are read lazily; containers decode in full
    video = video[: max_frames or video.num_frames]
    out = np.empty((video.num_frames, *size, 3), np.uint8)
    for start in range(0, video.num_frames, _CONVERT_CHUNK):
        part = slice(start, min(start + _CONVERT_CHUNK, video.num_frames))
        rgb = torch.from_numpy(video_to_rgb(video, part)).permute(0, 3, 1, 2)
        small = resize_and_crop(rgb, size).clamp(0, 1).mul(255).round()
        out[part] = small.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def _fill(job: tuple[Path, Path, tuple[int, int], int | None]) -> None:
    source, target, size, max_frames = job
    frames = _decode(source, size, max_frames)
    with atomic_file(target) as tmp, open(tmp, "wb") as f:
        np.save(f, frames)


@dataclass(frozen=True)
class ClipCache:
    """Decoded frames at ``size = (height, width)`` in ``folder`` (see the module notes)."""

    folder: Path
    size: tuple[int, int]
    max_frames: int | None = None

    def entry(self, video: Path) -> Path:
        """The cache file of `video`: named by its path, size and modification time, so an
        edited video is decoded again."""
        video = Path(video).resolve()
        stat = video.stat()
        key = f"{video}|{stat.st_size}|{stat.st_mtime_ns}|{self.size}|{self.max_frames}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(self.folder) / f"{video.stem}-{digest}-{self.size[0]}x{self.size[1]}.npy"

    def prepare(self, videos: Sequence[Path], workers: int = 1, progress: bool = True) -> list:
        """Decode every video not yet cached (in `workers` processes), then return the frames
        of all, memory-mapped, in the order given."""
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        jobs = [(v, self.entry(v), self.size, self.max_frames) for v in videos]
        todo = [j for j in jobs if not j[1].exists()]
        if todo:
            bar = None
            if progress:
                bar = progress_bar(len(todo), "decoding corpus", "video")
            try:
                if workers > 1 and len(todo) > 1:
                    with ProcessPoolExecutor(min(workers, len(todo))) as pool:
                        for _ in pool.map(_fill, todo):
                            bar is not None and bar.update()
                else:
                    for job in todo:
                        _fill(job)
                        bar is not None and bar.update()
            except InrcodecError as exc:
                raise CorpusError(f"cannot read a training video: {exc}") from exc
            finally:
                if bar is not None:
                    bar.close()
        return [np.load(j[1], mmap_mode="r") for j in jobs]


@dataclass(frozen=True)
class Sample:
    video: int
    start: int
    top: int
    left: int


class ClipSamples(torch.utils.data.Dataset):
    """Training samples of one epoch; item i is float32 ``(clips, frames, 3, h, w)`` in [0, 1]
    with ``clips`` = 2 (consecutive, same position) when `pairs`, else 1."""

    def __init__(
        self,
        videos: Sequence[np.ndarray],
        tubelet: tuple[int, int],
        frames: int,
        clips_per_video: int,
        *,
        pairs: bool = False,
        seed: int = 0,
    ):
        self.videos = list(videos)
        self.tubelet, self.frames = tubelet, frames
        self.clips_per_video, self.pairs, self.seed = clips_per_video, pairs, seed
        span = frames * (2 if pairs else 1)
        short = [i for i, v in enumerate(self.videos) if v.shape[0] < span]
        if short or not self.videos:
            raise CorpusError(
                f"every training video needs at least {span} frames; "
                f"{len(short)} of {len(self.videos)} have fewer"
            )
        h, w = self.videos[0].shape[1:3]
        if h < tubelet[0] or w < tubelet[1]:
            raise CorpusError(f"{tubelet[1]}x{tubelet[0]} tubelets do not fit {w}x{h} frames")
        self.samples: list[Sample] = []

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch `epoch`'s samples (shuffled), a pure function of (seed, epoch)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        span = self.frames * (2 if self.pairs else 1)
        th, tw = self.tubelet
        out = []
        for v, frames in enumerate(self.videos):
            n, h, w = frames.shape[:3]
            for _ in range(self.clips_per_video):
                start, top, left = (
                    int(torch.randint(hi + 1, (), generator=g)) for hi in (n - span, h - th, w - tw)
                )
                out.append(Sample(v, start, top, left))
        order = torch.randperm(len(out), generator=g).tolist()
        self.samples = [out[i] for i in order]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> torch.Tensor:
        s = self.samples[index]
        th, tw = self.tubelet
        span = self.frames * (2 if self.pairs else 1)
        rows, cols = slice(s.top, s.top + th), slice(s.left, s.left + tw)
        block = self.videos[s.video][s.start : s.start + span, rows, cols]
        x = torch.from_numpy(np.array(block)).permute(0, 3, 1, 2).float() / 255
        return x.view(-1, self.frames, 3, th, tw)


def validation_tubelets(
    frames: np.ndarray, tubelet: tuple[int, int], clip: int, max_clips: int | None = None
) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """Every complete clip of `frames` (at most `max_clips`) at every position of the
    non-overlapping tubelet grid (rows and columns beyond the last whole tubelet are not
    covered): ``(K, clip, 3, h, w)`` and the (start, top, left) of each."""
    th, tw = tubelet
    n, h, w = frames.shape[:3]
    starts = list(range(0, n - clip + 1, clip))[:max_clips]
    where = [
        (s, top, left)
        for s in starts
        for top in range(0, h - th + 1, th)
        for left in range(0, w - tw + 1, tw)
    ]
    if not where:
        raise CorpusError(f"a validation video of {n} frames has no complete {clip}-frame clip")
    clips = np.stack([frames[s : s + clip, y : y + th, x : x + tw] for s, y, x in where])
    return torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float() / 255, where
