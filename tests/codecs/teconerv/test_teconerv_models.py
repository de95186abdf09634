"""TeCoNeRV model files (`model_file`): the format's round trip, and the committed CPU
checkpoints shipped in the package: they load, stay small, and on the held-out sample clip do what
docs/teconerv.md reports (margins measured there on more clips)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import REPO
from inrcodec.codecs.teconerv.data import ClipCache
from inrcodec.codecs.teconerv.model_file import (
    PACKAGED_MODELS,
    TeCoNeRVModelError,
    load_model,
    save_model,
)
from inrcodec.codecs.teconerv.presets import preset
from inrcodec.codecs.teconerv.train import temporal_loss, validate
from inrcodec.nets.hypernet import Hypernetwork

SAMPLE_Y4M = REPO / "samples" / "carphone_176x144_32f.y4m"

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> np.ndarray:
    cache = ClipCache(tmp_path_factory.mktemp("cache"), (128, 192))
    return np.array(cache.prepare([SAMPLE_Y4M], progress=False)[0])


def test_model_file_round_trip_and_bad_files(tmp_path):
    tiny = preset("teconerv-tiny")
    torch.manual_seed(3)
    net = Hypernetwork(tiny.net)
    save_model(net, tmp_path / "m.safetensors", tiny, info={"note": "x"})
    loaded, config = load_model(tmp_path / "m.safetensors")
    assert config["preset"] == "teconerv-tiny" and config["info"] == {"note": "x"}
    assert json.loads((tmp_path / "m.json").read_text()) == config
    for key, value in net.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])

    save_model(net, tmp_path / "half.safetensors", tiny, dtype=torch.float16)
    half, _ = load_model(tmp_path / "half.safetensors")
    assert half.weight_tokens.dtype == torch.float32
    torch.testing.assert_close(half.weight_tokens, net.weight_tokens, atol=2e-3, rtol=1e-3)

    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(TeCoNeRVModelError, match="not a TeCoNeRV model"):
        load_model(tmp_path / "junk.safetensors")


def test_checkpoints_are_the_five_models_and_small():
    files = sorted(p.name for p in PACKAGED_MODELS.glob("*.safetensors"))
    presets = {name: load_model(PACKAGED_MODELS / name)[1]["preset"] for name in files}
    assert presets == {"nerv-enc-cpu.safetensors": "nerv-enc-cpu",
                       "patch-tubelet-cpu.safetensors": "teconerv-cpu",
                       "patch-tubelet-cpu-small.safetensors": "teconerv-cpu-small",
                       "teconerv-cpu.safetensors": "teconerv-cpu",
                       "teconerv-cpu-small.safetensors": "teconerv-cpu-small"}  # fmt: skip
    # float16 copies: together about as large as a few seconds of raw video, no more
    assert sum(p.stat().st_size for p in PACKAGED_MODELS.iterdir()) < 24 * 2**20


def consecutive_distance(net, clip: np.ndarray) -> float:
    """Eq. 4 on the modulated weights between clips 0-7 and 8-15 at tubelet (0, 0)."""
    h, w = net.config.hypo.height, net.config.hypo.width
    x = torch.from_numpy(clip[:16, :h, :w].copy()).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        unique = net.unique(x.view(2, 8, 3, h, w))
        weights = net.hypo.clip_weights(unique)
        pair_u = ([u if u is None else u[:1] for u in unique],
                  [u if u is None else u[1:] for u in unique])  # fmt: skip
        pair_w = ([w[:1] for w in weights], [w[-1:] for w in weights])
        return float(temporal_loss(net, pair_u, pair_w, "mod"))


def test_models_on_the_held_out_sample_clip(clip):
    teco, _ = load_model(PACKAGED_MODELS / "teconerv-cpu.safetensors")
    patch, _ = load_model(PACKAGED_MODELS / "patch-tubelet-cpu.safetensors")
    for net in (teco, patch):
        result = validate(net, {"sample": clip})
        assert result["psnr"] > result["psnr_base_only"] + 5  # docs: +7.3 dB on 8 clips
    # temporal coherence: consecutive clips' weights much closer after TeCoNeRV's fine-tuning
    assert consecutive_distance(teco, clip) < 0.5 * consecutive_distance(patch, clip)
