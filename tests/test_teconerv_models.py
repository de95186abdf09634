"""The committed CPU checkpoints (models/teconerv/): they load, stay small, and on the held-out
sample clip do what docs/teconerv.md reports (margins measured there on more clips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inrcodec.codecs.teconerv.data import ClipCache
from inrcodec.codecs.teconerv.train import load_model, temporal_loss, validate

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models" / "teconerv"
SAMPLE_Y4M = REPO / "samples" / "carphone_176x144_32f.y4m"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> np.ndarray:
    cache = ClipCache(tmp_path_factory.mktemp("cache"), (128, 192))
    return np.array(cache.prepare([SAMPLE_Y4M], progress=False)[0])


def test_checkpoints_are_the_five_models_and_small():
    files = sorted(p.name for p in MODELS.glob("*.safetensors"))
    presets = {name: load_model(MODELS / name)[1]["preset"] for name in files}
    assert presets == {"nerv-enc-cpu.safetensors": "nerv-enc-cpu",
                       "patch-tubelet-cpu.safetensors": "teconerv-cpu",
                       "patch-tubelet-cpu-small.safetensors": "teconerv-cpu-small",
                       "teconerv-cpu.safetensors": "teconerv-cpu",
                       "teconerv-cpu-small.safetensors": "teconerv-cpu-small"}  # fmt: skip
    # float16 copies: together about as large as a few seconds of raw video, no more
    assert sum(p.stat().st_size for p in MODELS.iterdir()) < 24 * 2**20


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
    teco, _ = load_model(MODELS / "teconerv-cpu.safetensors")
    patch, _ = load_model(MODELS / "patch-tubelet-cpu.safetensors")
    for net in (teco, patch):
        result = validate(net, {"sample": clip})
        assert result["psnr"] > result["psnr_base_only"] + 5  # docs: +7.3 dB on 8 clips
    # temporal coherence: consecutive clips' weights much closer after TeCoNeRV's fine-tuning
    assert consecutive_distance(teco, clip) < 0.5 * consecutive_distance(patch, clip)
