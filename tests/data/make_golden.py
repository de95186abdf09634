"""Write the golden files of the current format version into a folder:

    python tests/data/make_golden.py OUT_DIR [--force]

* ``hinerv.inrc``: a freshly initialised `hinerv-tiny` (48x32, 4 frames, YUV space, 6 bits);
* ``nvrc.inrc``: an `nvrc-tiny` (48x32, 4 frames, RGB) with fixed grid steps (ablation V5,
  grid log-step -4.5), its grids and phi perturbed so that their symbols are not all zero;
* ``nvrc-latent.inrc``: NVRC on the `nvrc-latent` preset, trained 40 steps at lambda 300 on
  the first 4 frames of ``samples/carphone_176x144_32f.y4m``;
* ``teconerv.inrc``: a synthetic TeCoNeRV stream (3 clips, 2 coded layers, residuals from
  keyframes every 2 clips, blend fusion) for `teconerv_model`, an untrained hypernetwork
  (to decode the file, save it with `model_file.save_model` and pass it as ``model``);
* ``info.json``: what ``inrcodec info --json`` prints of each file (without ``file``), keyed
  by the file's name without ``.inrc``.

Seeds are fixed and torch runs on one thread, so two runs write the same bytes. An existing
folder that is not empty is refused unless ``--force``; each file is written under a
temporary name, then renamed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import inrcodec
from inrcodec.atomic import write_atomic
from inrcodec.cli import describe_bitstream
from inrcodec.codecs.hinerv import bitstream as hinerv
from inrcodec.codecs.hinerv.compress import quantize_per_channel
from inrcodec.codecs.network_section import parameter_specs
from inrcodec.codecs.nvrc import bitstream as nvrc
from inrcodec.codecs.nvrc import codec as nvrc_codec
from inrcodec.codecs.nvrc.train import build, default_compression
from inrcodec.codecs.teconerv import bitstream as teconerv
from inrcodec.codecs.teconerv.codec import model_hash
from inrcodec.codecs.teconerv.presets import preset as teconerv_preset
from inrcodec.coding import VideoHeader
from inrcodec.nets.hinerv import HiNeRV
from inrcodec.nets.hinerv import preset as hinerv_preset
from inrcodec.nets.hypernet import Hypernetwork

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "carphone_176x144_32f.y4m"
SEED = 0
SMALL = VideoHeader(width=48, height=32, frame_count=4, fps_num=25)
SMALL_SIZE = (SMALL.frame_count, SMALL.height, SMALL.width)
PHI_NOISE = 0.05  # std of the noise added to every phi tensor
GRID_NOISE_STEPS = 4.0  # std of the noise added to the grids, in grid steps
LATENT_FRAMES, LATENT_STEPS, LATENT_LAMBDA = 4, 40, 300.0

TECONERV_TINY = teconerv_preset("teconerv-tiny")
#: The model that ``teconerv.inrc`` names: `teconerv-tiny`'s 16x16x8 tubelets, unique
#: parameters in layers 1 and 3 only.
TECONERV_PRESET = replace(
    TECONERV_TINY,
    name="golden-model",
    net=replace(TECONERV_TINY.net, tokens=(0, 1, 0, 1), token_dims=(0, 12, 0, 9)),
    description="golden files: two coded layers, never trained",
)
TECONERV_HEADER = VideoHeader(
    width=40,
    height=24,
    frame_count=20,
    fps_num=30000,
    fps_den=1001,
    chroma_format="444",
    color_matrix="bt709",
    color_range="full",
)


def hinerv_file() -> bytes:
    """A freshly initialised `hinerv-tiny`, quantised to 6 bits."""
    config = hinerv_preset("hinerv-tiny", *SMALL_SIZE)
    torch.manual_seed(SEED)
    net = HiNeRV(config, *SMALL_SIZE)
    names = [name for name, _ in parameter_specs(config, *SMALL_SIZE)]
    tensors = quantize_per_channel(net, 6, names)
    return hinerv.write_payload(hinerv.HiNeRVPayload(config, "yuv", 6, tensors), SMALL)


def nvrc_file() -> bytes:
    """A fresh `nvrc-tiny` with fixed grid steps, its grids and phi perturbed (psi kept)."""
    compression = replace(
        default_compression("nvrc-tiny"), learn_grid_steps=False, grid_log_step=-4.5
    )
    model = build(SMALL_SIZE, "nvrc-tiny", compression, seed=SEED).eval()
    noise = torch.Generator().manual_seed(SEED)
    grid_noise = GRID_NOISE_STEPS * math.exp(compression.grid_log_step)
    with torch.no_grad():
        for name in model.grid_names:
            grid = model.net.get_parameter(name)
            grid.add_(grid_noise * torch.randn(grid.shape, generator=noise))
        for name in model.phi_names():
            phi = model.get_parameter(name)
            phi.add_(PHI_NOISE * torch.randn(phi.shape, generator=noise))
    return nvrc.write_payload(nvrc.quantize_with_learned_steps(model, "rgb"), SMALL)


def nvrc_latent_file() -> bytes:
    """NVRC on `nvrc-latent`, trained on the first frames of the bundled clip."""
    clip = inrcodec.read_video(SAMPLE, frames=LATENT_FRAMES).load()
    result = nvrc_codec.encode(
        clip,
        "nvrc-latent",
        LATENT_LAMBDA,
        steps=LATENT_STEPS,
        device="cpu",
        progress=False,
        seed=SEED,
    )
    return result.bitstream


def teconerv_model() -> Hypernetwork:
    """The freshly initialised hypernetwork of `TECONERV_PRESET` (its hash is in the file)."""
    torch.manual_seed(SEED)
    return Hypernetwork(TECONERV_PRESET.net).eval()


def teconerv_file() -> bytes:
    """Random symbols around the middle of the 5-bit range, for every tubelet of 3 clips:
    clips 0 and 2 are keyframes, clip 1 holds residuals against clip 0."""
    hypo = TECONERV_PRESET.net.hypo
    stream = teconerv.TeCoNeRVPayload(
        model_hash=model_hash(teconerv_model()),
        model_name=TECONERV_PRESET.name,
        clip_frames=hypo.frames,
        tube=(hypo.height, hypo.width),
        overlap=(4, 4),
        fusion="blend",
        bits=5,
        residual="first",
        keyframe_interval=2,
        unique_counts=TECONERV_PRESET.net.unique_counts(),
        clips=[],
    )
    rng = np.random.default_rng(SEED)
    counts = [count for count in stream.unique_counts if count]
    positions = stream.tiling(TECONERV_HEADER).count
    clips = []
    for index in range(teconerv.clip_count(TECONERV_HEADER.frame_count, stream.clip_frames)):
        low, high = (0.5, 1.5) if stream.is_keyframe(index) else (-0.125, 0.125)
        step = np.float16((high - low) / (2**stream.bits - 1))
        clips.append(
            [
                [
                    teconerv.CodedTensor(symbols(rng, count, stream.bits), np.float16(low), step)
                    for count in counts
                ]
                for _ in range(positions)
            ]
        )
    return teconerv.write_payload(replace(stream, clips=clips), TECONERV_HEADER)


def symbols(rng: np.random.Generator, count: int, bits: int) -> np.ndarray:
    """``count`` symbols of ``bits`` bits, rounded from a normal around the middle."""
    middle = 2 ** (bits - 1)
    values = np.rint(rng.normal(middle, middle / 3, count))
    return np.clip(values, 0, 2**bits - 1).astype(np.int32)


def golden_files() -> dict[str, bytes]:
    """The bytes of every golden file, by name (without ``.inrc``)."""
    return {
        "hinerv": hinerv_file(),
        "nvrc": nvrc_file(),
        "nvrc-latent": nvrc_latent_file(),
        "teconerv": teconerv_file(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="the folder to write the golden files in")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    args = parser.parse_args(argv)
    if args.out_dir.is_dir() and any(args.out_dir.iterdir()) and not args.force:
        parser.error(f"{args.out_dir} is not empty (give --force to overwrite its golden files)")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        files = golden_files()
    finally:
        torch.set_num_threads(threads)
    info = {}
    for name, data in files.items():
        path = args.out_dir / f"{name}.inrc"
        write_atomic(path, data)
        info[name] = {k: v for k, v in describe_bitstream(path).items() if k != "file"}
    write_atomic(args.out_dir / "info.json", (json.dumps(info, indent=2) + "\n").encode())
    print(f"{len(files)} golden files and info.json -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
