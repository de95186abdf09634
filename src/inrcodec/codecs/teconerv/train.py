"""Training the hypernetwork: pre-training, then fine-tuning with or without temporal coherence.

TeCoNeRV Sec. 3-4 and Appendix D.2, with the reference code's details:

- loss: MSE between a clip and its HypoNeRV reconstruction (eq. 1);
- Adam, learning rate 1e-4, multiplied by 0.1 from 90 % and again from 98 % of the epochs
  (the reference code's "step" schedule); fine-tuning starts a fresh optimiser from the
  pre-trained weights (``init``);
- fine-tuning with the temporal-coherence loss (eq. 2-4) draws pairs of consecutive clips at
  the same tubelet position; the reconstruction loss is taken on the first clip, and
  ``L_temp`` is, per HypoNeRV layer, the mean absolute difference between the two clips'
  parameters, summed over layers (the reference code's ``nn.L1Loss`` per layer, so that
  lambda_temp = 0.1 means what the paper means). Targets (Table 12): "mod" the modulated
  weights with the (shared) biases in the mean, as the reference; "uniq" the unique
  parameters; "both" half the sum of the two.
- an epoch draws ``clips_per_video`` clips of every training video (the paper: 1; a small
  corpus wants more), see `data.ClipSamples`.

Multi-process: under ``torchrun`` (a process group initialised by `init_distributed`) the model
is wrapped in DistributedDataParallel (NCCL on GPUs, gloo on CPU), each step's global batch is
split evenly across the ranks, and only rank 0 validates and writes files. At the end every
rank's weight digest is gathered and rank 0 checks they agree (recorded in the final state).

Files, in ``run_dir``: ``checkpoint.safetensors`` (+ ``state.json``), the resumable training
state (`inrcodec.codecs.training.checkpoints`); ``model.safetensors`` + ``model.json``, the trained
network alone (weights and the small JSON configuration the codec loads, `save_model` /
`load_model`); ``history.json``, the validation curve. The sample order is a pure function of
(seed, epoch) and the RNG states are checkpointed, so a resumed run repeats the uninterrupted
one step for step (same machine and thread count).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from inrcodec.atomic import atomic_file
from inrcodec.errors import InrcodecError
from inrcodec.nets.hypernet import HypernetConfig, Hypernetwork

from ..training.checkpoints import CHECKPOINT_NAME
from ..training.run import ProgressLog, RunCheckpoint, resolve_device
from .data import ClipSamples, validation_tubelets
from .model_file import load_model, save_model
from .presets import Preset

__all__ = [
    "MODEL_NAME",
    "TEMPORAL_TARGETS",
    "HypernetTrainConfig",
    "HypernetTrainResult",
    "TeCoNeRVTrainError",
    "init_distributed",
    "temporal_loss",
    "train",
    "validate",
]

MODEL_NAME = "model.safetensors"
_FORMAT = "inrcodec.teconerv.train/1"
TEMPORAL_TARGETS = ("mod", "uniq", "both")


class TeCoNeRVTrainError(InrcodecError):
    """A training request that cannot run: bad options, a mismatched checkpoint or model."""


@dataclass(frozen=True)
class HypernetTrainConfig:
    epochs: int = 150
    clips_per_video: int = 1
    batch: int = 32  # global: split across ranks
    lr: float = 1e-4
    lr_milestones: tuple[float, ...] = (0.9, 0.98)  # fractions of the epochs; x0.1 at each
    temporal_lambda: float = 0.0  # 0.1 for TeCoNeRV's fine-tuning
    temporal_target: str = "mod"
    seed: int = 0
    validate_every: int = 0  # steps; 0: at the end of every epoch
    checkpoint_every: int = 0  # steps; 0: at the end of every epoch
    val_clips: int | None = 4  # clips per validation video (None: all)
    log_every: int = 10
    workers: int = 0  # DataLoader processes per rank
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.clips_per_video < 1 or self.batch < 1 or self.lr <= 0:
            raise TeCoNeRVTrainError("epochs, clips_per_video, batch and lr must be positive")
        if self.temporal_lambda < 0:
            raise TeCoNeRVTrainError("temporal_lambda must be >= 0")
        if self.temporal_target not in TEMPORAL_TARGETS:
            raise TeCoNeRVTrainError(
                f"temporal_target must be one of {TEMPORAL_TARGETS}, got {self.temporal_target!r}"
            )

    @property
    def pairs(self) -> bool:
        return self.temporal_lambda > 0

    def lr_at(self, epoch: int) -> float:
        """The reference's step decay: epochs are counted from 1 there."""
        passed = sum(epoch + 1 >= m * self.epochs for m in self.lr_milestones)
        return self.lr * 0.1**passed

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> HypernetTrainConfig:
        data = dict(data)
        data["lr_milestones"] = tuple(data["lr_milestones"])
        return cls(**data)


@dataclass
class HypernetTrainResult:
    steps: int
    seconds: float
    losses: list[tuple[int, float]]  # (step, mean training loss of the window ending there)
    history: list[dict]  # validation points
    rank_digests: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- objective


def temporal_loss(
    net: Hypernetwork,
    unique: tuple[list, list],
    weights: tuple[list, list],
    target: str,
) -> torch.Tensor:
    """``L_temp`` (eq. 4) between two clips: per layer the mean absolute difference, summed
    over the layers (see the module notes for the three targets)."""

    def modulated() -> torch.Tensor:
        total = weights[0][0].new_zeros(())
        for w1, w2, bias in zip(*weights, net.hypo.biases, strict=True):
            # the mean over weights and the shared (equal) biases, as the reference's L1Loss
            count = w1.shape[0] * (w1.shape[1] + 1) * bias.numel()
            total = total + (w1 - w2).abs().sum() / count
        return total

    def pre_modulation() -> torch.Tensor:
        terms = [(u1 - u2).abs().mean() for u1, u2 in zip(*unique, strict=True) if u1 is not None]
        return torch.stack(terms).sum()

    if target == "mod":
        return modulated()
    if target == "uniq":
        return pre_modulation()
    return (modulated() + pre_modulation()) / 2


class _Objective(nn.Module):
    """One training step's forward pass (what DistributedDataParallel wraps): the MSE of the
    first clip of each sample, and ``L_temp`` when samples are pairs."""

    def __init__(self, net: Hypernetwork, target: str):
        super().__init__()
        self.net, self.target = net, target

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, clips = batch.shape[:2]
        first = batch[:, 0]
        if clips == 1:
            recon, _, _ = self.net(first)
            return ((recon - first) ** 2).mean(), recon.new_zeros(())
        both = self.net.unique(batch.transpose(0, 1).flatten(0, 1))  # clip 1s, then clip 2s
        unique = (
            [u if u is None else u[:b] for u in both],
            [u if u is None else u[b:] for u in both],
        )
        weights = tuple(self.net.hypo.clip_weights(u) for u in unique)
        recon = self.net.hypo(weights[0])
        mse = ((recon - first) ** 2).mean()
        return mse, temporal_loss(self.net, unique, weights, self.target)


# ----------------------------------------------------------------------------- validation


@torch.no_grad()
def validate(
    net: Hypernetwork,
    videos: dict[str, np.ndarray],
    max_clips: int | None = 4,
    batch: int = 16,
) -> dict:
    """PSNR (mean over frames of the per-frame PSNR on the tubelet grid) of each held-out
    video, for the hypernetwork and for the trivial reference: the HypoNeRV with the shared
    base parameters only (no unique parameters), the same output for every clip."""
    cfg = net.config.hypo
    device = net.hypo.weights[0].device
    was_training = net.training
    net.eval()
    base = net.hypo(net.hypo.clip_weights([None] * cfg.depth))[0]
    per_video = {}
    for name, frames in videos.items():
        clips, where = validation_tubelets(frames, (cfg.height, cfg.width), cfg.frames, max_clips)
        mse, ref = [], []
        for part in clips.split(batch):
            part = part.to(device)
            mse.append(((net(part)[0] - part) ** 2).mean(dim=(2, 3, 4)).double().cpu())
            ref.append(((base - part) ** 2).mean(dim=(2, 3, 4)).double().cpu())
        # `where` runs clip by clip over the same grid: a frame's MSE is the mean over its
        # clip's tubelets (all of one area)
        clips_n = len({start for start, _, _ in where})
        frame_mse, frame_ref = (
            torch.cat(x).view(clips_n, -1, cfg.frames).mean(1) for x in (mse, ref)
        )
        per_video[name] = {
            "psnr": float((-10 * torch.log10(frame_mse.clamp_min(1e-10))).mean()),
            "psnr_base_only": float((-10 * torch.log10(frame_ref.clamp_min(1e-10))).mean()),
        }
    net.train(was_training)
    mean = {
        k: float(np.mean([v[k] for v in per_video.values()])) for k in ("psnr", "psnr_base_only")
    }
    return {**mean, "videos": per_video}


# ----------------------------------------------------------------------------- the loop


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1): NCCL when CUDA is
    available, else gloo. Returns (rank, world size); (0, 1) outside torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def distributed() -> Iterator[tuple[int, int]]:
    """`init_distributed` for one job, leaving the process group when the job ends: gloo's
    threads must be joined before the interpreter exits, or C++ ends the process with
    ``std::terminate`` (SIGABRT) after the work is done."""
    rank, world = init_distributed()
    try:
        yield rank, world
    finally:
        if world > 1 and dist.is_initialized():
            dist.barrier()  # every rank done with its collectives before any tears down
            dist.destroy_process_group()


def _digest(net: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def train(
    preset: Preset,
    net: Hypernetwork,
    videos: Sequence[np.ndarray],
    config: HypernetTrainConfig,
    *,
    run_dir: str | os.PathLike,
    val_videos: dict[str, np.ndarray] | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[int, int], None] | None = None,
    stop_at: int | None = None,
) -> HypernetTrainResult:
    """Train `net` (built from ``preset.net``, holding its initial or pre-trained weights) on
    the training `videos` (uint8 ``(T, H, W, 3)`` at ``preset.train_size``, `data.ClipCache`).

    ``resume=True`` continues from ``run_dir``'s checkpoint (configuration must match); a
    finished run returns its result at once. `callback(step, total)` runs before each step.
    ``stop_at``: leave after that step with a checkpoint (a time-boxed job; ``resume=True``
    continues it exactly), the result then has fewer steps than the schedule.
    """
    if net.config != preset.net:
        raise TeCoNeRVTrainError("the network was not built from this preset")
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    if config.batch % world:
        raise TeCoNeRVTrainError(f"batch {config.batch} does not split over {world} processes")
    device = resolve_device(config.device)
    samples, per_epoch = _samples(preset, videos, config)
    total = config.epochs * per_epoch
    validate_every = config.validate_every or per_epoch
    checkpoint_every = config.checkpoint_every or per_epoch

    net.to(device).train()
    model = _step_model(net, config.temporal_target, device, world)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr_at(0))

    path = Path(run_dir) / CHECKPOINT_NAME
    checkpoint = RunCheckpoint(path, _FORMAT, net, optimizer)
    torch.manual_seed(config.seed)  # the same on every rank (nothing random is drawn yet)
    state = checkpoint.resume(partial(_check_saved_run, path, preset, config)) if resume else None
    start, history, losses = 0, [], []
    if state is not None:
        history = state["history"]
        if state["finished"]:
            net.eval()
            return HypernetTrainResult(
                state["step"], state["seconds"], [], history, state["digests"]
            )
        start = state["step"]
        if stop_at is not None and start >= stop_at:
            return HypernetTrainResult(start, state["seconds"], [], history)
    log = ProgressLog(total, start, config.log_every, "train teconerv", progress and rank == 0)
    run = _Run(preset, config, checkpoint, rank, world, per_epoch, total, history, val_videos, log)
    with log:
        if rank == 0 and start == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not history:
                run.validate(0, None)
        loader = None
        for step in range(start, total):
            if callback is not None:
                callback(step, total)
            if loader is None or step % per_epoch == 0:
                epoch, first = divmod(step, per_epoch)
                loader = _epoch_loader(samples, epoch, first, per_epoch, config, rank, world)
                for group in optimizer.param_groups:
                    group["lr"] = config.lr_at(epoch)
            mse, temporal = model(next(loader).to(device, non_blocking=True))
            loss = mse + config.temporal_lambda * temporal
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            log.add(loss=loss)
            done, last = step + 1, None
            if (means := log.flush(done, mse=mse)) is not None:
                last = means["loss"]
                losses.append((done, last))
                psnr = -10 * math.log10(max(means["mse"], 1e-10))
                log.show(done, loss=f"{last:.5f}", psnr=f"{psnr:.2f}")
            if done % validate_every == 0 or done == total:
                run.validate(done, last if last is not None else loss.item())
            if done < total and (done % checkpoint_every == 0 or done == stop_at):
                run.save(done, False)
            if done == stop_at:
                break
    if stop_at is not None and stop_at < total:
        return HypernetTrainResult(stop_at, checkpoint.seconds(), losses, history)

    digests = _rank_digests(net, world)
    seconds = checkpoint.seconds()
    run.save(total, True, digests)
    net.eval()
    return HypernetTrainResult(total, seconds, losses, history, digests)


def _samples(
    preset: Preset, videos: Sequence[np.ndarray], config: HypernetTrainConfig
) -> tuple[ClipSamples, int]:
    """The training samples and the steps of an epoch."""
    hypo = preset.net.hypo
    samples = ClipSamples(
        videos,
        (hypo.height, hypo.width),
        hypo.frames,
        config.clips_per_video,
        pairs=config.pairs,
        seed=config.seed,
    )
    per_epoch = len(videos) * config.clips_per_video // config.batch
    if per_epoch < 1:
        raise TeCoNeRVTrainError(
            f"an epoch of {len(videos)} videos x {config.clips_per_video} clips is smaller than "
            f"the batch of {config.batch}; raise clips_per_video"
        )
    return samples, per_epoch


def _step_model(net: Hypernetwork, target: str, device: torch.device, world: int) -> nn.Module:
    """A step's forward pass (`_Objective`), wrapped in DistributedDataParallel when there are
    several processes."""
    model = _Objective(net, target)
    if world == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _check_saved_run(path: Path, preset: Preset, config: HypernetTrainConfig, state: dict) -> None:
    saved = HypernetTrainConfig.from_json(state["config"])
    free = {"device": config.device, "workers": config.workers, "log_every": config.log_every}
    if replace(saved, **free) != config or HypernetConfig.from_json(state["net"]) != preset.net:
        raise TeCoNeRVTrainError(
            f"{path}: cannot resume, the configuration differs (only the device, workers "
            "and log_every may change)"
        )


def _epoch_loader(
    samples: ClipSamples,
    epoch: int,
    first: int,
    per_epoch: int,
    config: HypernetTrainConfig,
    rank: int,
    world: int,
) -> Iterator[torch.Tensor]:
    """This rank's share of each batch of `epoch`, from its step `first` on."""
    samples.set_epoch(epoch)
    local = config.batch // world
    batches = [
        list(range(s * config.batch + rank * local, s * config.batch + (rank + 1) * local))
        for s in range(first, per_epoch)
    ]
    loader = torch.utils.data.DataLoader(samples, batch_sampler=batches, num_workers=config.workers)
    return iter(loader)


@dataclass
class _Run:
    """What a run records and writes, on rank 0 only: the validation history (shown on the
    progress bar), and checkpoints with the model alone and the history beside them."""

    preset: Preset
    config: HypernetTrainConfig
    checkpoint: RunCheckpoint
    rank: int
    world: int
    per_epoch: int
    total: int
    history: list[dict]
    val_videos: dict[str, np.ndarray] | None
    log: ProgressLog

    def validate(self, step: int, train_loss: float | None) -> None:
        if self.rank != 0 or not self.val_videos:
            return
        batch, net = self.config.batch // self.world, self.checkpoint.model
        result = validate(net, self.val_videos, self.config.val_clips, batch=batch)
        epoch = step / self.per_epoch
        self.history.append({"step": step, "epoch": epoch, "train_loss": train_loss, **result})
        self.log.write(
            f"step {step} (epoch {epoch:.1f}): validation PSNR {result['psnr']:.2f} dB "
            f"(base only {result['psnr_base_only']:.2f} dB)"
        )

    def save(self, step: int, finished: bool, digests: Sequence[str] = ()) -> None:
        if self.rank != 0:
            return
        epoch, run_dir = step / self.per_epoch, self.checkpoint.path.parent
        self.checkpoint.save({"preset": self.preset.name, "net": self.preset.net.to_json(),
                              "config": self.config.to_json(), "step": step,
                              "total_steps": self.total, "epoch": epoch,
                              "world_size": self.world, "finished": finished,
                              "history": self.history, "digests": list(digests)})  # fmt: skip
        info = {"steps": step, "epochs": epoch, "history": self.history[-1:]}
        save_model(self.checkpoint.model, run_dir / MODEL_NAME, self.preset, info=info)
        with atomic_file(run_dir / "history.json") as tmp:
            tmp.write_text(json.dumps(self.history, indent=1) + "\n")


def _rank_digests(net: nn.Module, world: int) -> list[str]:
    """Every rank's weight digest; raises if the ranks ended with different weights."""
    digest = _digest(net)
    if world == 1:
        return [digest]
    digests = [None] * world
    dist.all_gather_object(digests, digest)
    if len(set(digests)) != 1:
        raise TeCoNeRVTrainError(f"the processes ended with different weights: {digests}")
    return digests


# ----------------------------------------------------------------------------- a whole job


def train_corpus(
    *,
    data: str | os.PathLike,
    preset_name: str,
    out: str | os.PathLike,
    val: str | os.PathLike | None = None,
    init: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    max_frames: int | None = None,
    decode_workers: int = 2,
    threads: int | None = None,
    resume: bool = False,
    progress: bool = True,
    export: str | os.PathLike | None = None,
    stop_at: int | None = None,
    device: str = "auto",
    batch: int | None = None,
    **options,
) -> HypernetTrainResult | None:
    """`inrcodec train teconerv`: find the videos, fill the frame cache, build (or load with
    `init`) the network and `train` it; under torchrun, one call per process. `export`: a
    float16 copy of the trained model (with its validation history). Returns the result on
    rank 0, None elsewhere."""
    from .data import ClipCache, find_videos
    from .presets import preset as get_preset

    with distributed() as (rank, world):
        if threads:
            torch.set_num_threads(threads)
        p = get_preset(preset_name)
        device = str(resolve_device(device))
        if device == "cuda" and world > 1:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        config = HypernetTrainConfig(batch=batch or p.batch, device=device, **options)
        out = Path(out)
        frames_cache = ClipCache(
            Path(cache) if cache else out.parent / "cache", p.train_size, max_frames
        )
        train_paths = find_videos(data)
        val_paths = find_videos(val) if val is not None else []
        overlap = {x.resolve() for x in train_paths} & {x.resolve() for x in val_paths}
        if overlap:
            raise TeCoNeRVTrainError(
                f"validation videos are also training videos: {sorted(overlap)[:3]}"
            )
        if rank == 0:  # fill the cache once, then every rank maps it
            frames_cache.prepare(train_paths + val_paths, decode_workers, progress)
        if world > 1:
            dist.barrier()
        videos = frames_cache.prepare(train_paths, progress=False)
        val_videos = dict(
            zip(
                (str(v) for v in val_paths),
                frames_cache.prepare(val_paths, progress=False),
                strict=True,
            )
        )
        torch.manual_seed(config.seed)
        if init is not None:
            net, saved = load_model(init)
            if net.config != p.net:
                raise TeCoNeRVTrainError(f"{init} holds a {saved['preset']} model, not {p.name}")
        else:
            net = Hypernetwork(p.net)
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        result = train(
            p,
            net,
            videos,
            config,
            run_dir=out,
            val_videos=val_videos,
            resume=resume,
            progress=progress,
            stop_at=stop_at,
        )
        if rank != 0:
            return None
        if export is not None:
            info = {"run": str(out), "steps": result.steps, "history": result.history}
            save_model(net, export, p, dtype=torch.float16, info=info)
        return result
