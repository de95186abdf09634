"""NVRC on the latent-grid backbone: its file (model section tag 6), bit-exact decoding in fresh
processes on one and two threads, its rate split, and refusal of damaged files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import inrcodec
from inrcodec.cli import main
from inrcodec.codecs.nvrc import codec
from inrcodec.codecs.nvrc.backbones import LATENT
from inrcodec.codecs.nvrc.bitstream import GRIDS_TAG, model_fields, part_bytes, read_payload
from inrcodec.coding import BitstreamError, Container

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]

FRAMES = 6


@pytest.fixture(scope="module")
def clip(sample_y4m):
    return inrcodec.read_video(sample_y4m, frames=FRAMES).load()


@pytest.fixture(scope="module")
def encoded(clip):
    return codec.encode(clip, "nvrc-latent", 2000.0, steps=60, device="cpu", progress=False)


def test_the_file_names_the_latent_backbone_and_decodes_to_the_encoders_frames(encoded, clip):
    data = encoded.bitstream
    assert [tag for tag, _ in Container.from_bytes(data).sections] == [6, 2, 3, 4, 5]
    _, payload = read_payload(data)
    assert payload.config.scales[0] == 0 and len(payload.config.scales) > 3
    assert any(np.count_nonzero(g) for g in payload.grids)  # it coded content
    decoded = inrcodec.decode(data)
    for got, want in zip(decoded.planes, encoded.reconstruction.planes, strict=True):
        np.testing.assert_array_equal(got, want)
    assert sum(part_bytes(data).values()) == len(data)
    assert part_bytes(data)["grids"] > part_bytes(data)["layers"]


def test_the_estimate_follows_the_file(encoded):
    assert abs(encoded.settings["rate_gap"]) < 0.02
    assert encoded.settings["trained_steps"] == 60


_FRESH_DECODER = """
import sys, hashlib, torch
torch.set_num_threads(int(sys.argv[1]))
import inrcodec
video = inrcodec.decode(open(sys.argv[2], "rb").read())
print(hashlib.sha256(b"".join(p.tobytes() for p in video.planes)).hexdigest())
"""


def test_fresh_processes_on_one_and_two_threads_decode_the_same_frames(encoded, tmp_path):
    path = tmp_path / "latent.inrc"
    path.write_bytes(encoded.bitstream)
    digests = {
        subprocess.run(
            [sys.executable, "-c", _FRESH_DECODER, str(threads), str(path)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for threads in (1, 2)
    }  # fmt: skip
    assert len(digests) == 1


def test_info_describes_a_latent_file(encoded, tmp_path, capsys):
    path = tmp_path / "latent.inrc"
    path.write_bytes(encoded.bitstream)
    assert main(["info", str(path)]) == 0
    assert "grids" in capsys.readouterr().out


def _with_model(data: bytes, **change) -> bytes:
    container = Container.from_bytes(data)
    fields = model_fields(LATENT)
    values = fields.parse(container.section(LATENT.model_tag), "model")
    section = fields.write({**values, **change})
    pairs = [(t, section if t == LATENT.model_tag else p) for t, p in container.sections]
    return Container(container.codec, container.header, pairs).to_bytes()


@pytest.mark.parametrize(
    "change",
    [
        lambda v: {"hidden": (v["hidden"][0] + 1, *v["hidden"][1:])},  # other layer shapes
        lambda v: {k: v[k][:-1] for k in ("scales", "strides", "channels")},  # a level less
        lambda v: {"strides": (2, *v["strides"][1:])},  # other grid shapes
    ],
)
def test_a_model_section_that_does_not_match_the_data_is_refused(encoded, change):
    container = Container.from_bytes(encoded.bitstream)
    values = model_fields(LATENT).parse(container.section(LATENT.model_tag), "model")
    with pytest.raises(BitstreamError):
        read_payload(_with_model(encoded.bitstream, **change(values)))


def test_damaged_grid_symbols_are_refused(encoded):
    container = Container.from_bytes(encoded.bitstream)
    grids = bytearray(container.section(GRIDS_TAG))
    grids[len(grids) // 2] ^= 0x5A
    pairs = [(t, bytes(grids) if t == GRIDS_TAG else p) for t, p in container.sections]
    with pytest.raises(BitstreamError):
        read_payload(Container(container.codec, container.header, pairs).to_bytes())


def test_the_encoder_keeps_the_temporal_design_whose_trial_costs_least(clip, tmp_path):
    """`choose_network` on a still video: every design is tried, the one with the lowest
    recorded R + lambda MSE is trained (here the long strides: the same picture in fewer
    latents), the choice is kept in the run's folder and a resumed run takes it from there.
    Without a trial share and without the rule on still content, the preset's network."""
    from dataclasses import replace

    from inrcodec.codecs.nvrc.train import CHOICE_FILE, default_schedule, train
    from inrcodec.io import Video
    from inrcodec.nets.latent import candidates

    still = Video(tuple(np.repeat(p[:1], 8, axis=0) for p in clip.planes), clip.format)
    designs = candidates("nvrc-latent", 8, still.height, still.width)
    assert len(designs) == 2
    options = dict(steps=40, progress=False, device="cpu")
    preset_only = replace(default_schedule("nvrc-latent"), still_psnr=0.0)
    trained = train(still, "nvrc-latent", 300.0, schedule=preset_only, **options)
    assert trained.model.net.config == designs[0]
    trials = replace(preset_only, candidate_share=0.3)
    result = train(still, "nvrc-latent", 300.0, schedule=trials, run_dir=tmp_path, **options)
    record = json.loads((tmp_path / CHOICE_FILE).read_text())
    assert len(record["scores"]) == 2
    assert record["choice"] == min((0, 1), key=record["scores"].__getitem__) == 1
    assert result.model.net.config == designs[1]
    interrupted = tmp_path / "interrupted"  # chose, then stopped before any checkpoint
    interrupted.mkdir()
    (interrupted / CHOICE_FILE).write_text(json.dumps({"choice": 0, "scores": []}))
    resumed = train(still, "nvrc-latent", 300.0, schedule=trials, run_dir=interrupted,
                    resume=True, **options)  # fmt: skip
    assert resumed.model.net.config == designs[0]  # read, not tried again


def test_without_a_trial_still_content_takes_the_static_presets_network(clip):
    """The preset's rule (`Schedule.still_psnr`): frames that match their successors 4 frames
    on (here 27 dB) take `nvrc-latent-static`'s long strides, and the file is the one that
    preset writes (same network, seed and training); frames that change (the last two
    inverted) keep the preset's short strides, and so does still content above
    `Schedule.still_max_lambda`."""
    from inrcodec.codecs.nvrc.train import default_schedule, still_psnr
    from inrcodec.codecs.training.fitting import VideoTarget
    from inrcodec.io import Video
    from inrcodec.nets.latent import preset

    schedule = default_schedule("nvrc-latent")
    assert still_psnr(VideoTarget.from_video(clip), schedule) > schedule.still_psnr
    options = dict(steps=20, device="cpu", progress=False)
    chosen = codec.encode(clip, "nvrc-latent", 300.0, **options)
    static = codec.encode(clip, "nvrc-latent-static", 300.0, **options)
    assert chosen.bitstream == static.bitstream
    static_config = preset("nvrc-latent-static", FRAMES, 144, 176)
    assert read_payload(chosen.bitstream)[1].config == static_config
    flicker = [p.copy() for p in clip.planes]
    for plane in flicker:
        plane[4:] = 255 - plane[4:]
    moving = Video(tuple(flicker), clip.format)
    assert still_psnr(VideoTarget.from_video(moving), schedule) < schedule.still_psnr
    moving_file = codec.encode(moving, "nvrc-latent", 300.0, **options).bitstream
    assert read_payload(moving_file)[1].config == preset("nvrc-latent", FRAMES, 144, 176)
    high_rate = codec.encode(clip, "nvrc-latent", 2 * schedule.still_max_lambda, **options)
    assert read_payload(high_rate.bitstream)[1].config == preset("nvrc-latent", FRAMES, 144, 176)
