"""A second representation under NVRC, through the representation interface alone.

`ToyGrids` is a minimal network (two feature grids, sampled at the frame and upsampled, and one
linear layer), written here and nowhere in the package; registered as a `Backbone`, it goes
through NVRC's training, encode, the file, ``inrcodec info`` and decode with no line of NVRC
knowing it: a backbone plugs in without edits to NVRC (docs/nvrc.md, "Adding a backbone").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import inrcodec
from inrcodec.cli import main
from inrcodec.codecs.nvrc import backbones, codec
from inrcodec.codecs.nvrc.bitstream import part_bytes, read_payload
from inrcodec.codecs.nvrc.train import build
from inrcodec.codecs.synthesis import reconstruct, to_video
from inrcodec.coding import BitstreamError, Container
from inrcodec.coding.fields import Table, UInt
from inrcodec.metrics import compare
from inrcodec.nets.representation import Representation

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]

TOY_TAG = 1000  # a model-section tag no real backbone uses
GAIN = 10.0  # so that a hundred small Adam steps visibly fit the clip


@dataclass(frozen=True)
class ToyConfig:
    name: str
    levels: int
    channels: int


class ToyGrids(nn.Module):
    """Grid level j: ``(ceil(T / 2^j), ceil(H / 2^(j+2)), ceil(W / 2^(j+2)), C)``, the slice
    nearest the frame, upsampled bilinearly; then a linear layer (times `GAIN`) and a
    sigmoid."""

    def __init__(self, config: ToyConfig, frames: int, height: int, width: int):
        super().__init__()
        self.config, self.frames, self.height, self.width = config, frames, height, width
        self.padded_height, self.padded_width = height, width
        sizes = [
            (math.ceil(frames / 2**j), math.ceil(height / 2 ** (j + 2)),
             math.ceil(width / 2 ** (j + 2)), config.channels)
            for j in range(config.levels)
        ]  # fmt: skip
        self.grids = nn.ParameterList(nn.Parameter(torch.randn(s) * 0.1) for s in sizes)
        self.head = nn.Linear(config.levels * config.channels, 3)

    def forward(self, frame_indices, patch=None):
        t = frame_indices.reshape(-1).long()
        features = []
        for grid in self.grids:
            slices = grid[t * grid.shape[0] // self.frames].permute(0, 3, 1, 2)
            features.append(F.interpolate(slices, (self.height, self.width), mode="bilinear"))
        x = torch.sigmoid(GAIN * self.head(torch.cat(features, 1).permute(0, 2, 3, 1)))
        x = x.permute(0, 3, 1, 2)
        if patch is not None:
            top, left, h, w = patch
            x = x[..., top : top + h, left : left + w]
        return x

    def patches(self, patch_height, patch_width):
        return [(0, 0, self.height, self.width)]

    def grid_names(self):
        return [f"grids.{i}" for i in range(len(self.grids))]

    @staticmethod
    def matrix_shape(name, shape):
        return (shape[0], 1) if len(shape) == 1 else (shape[0], shape[1])

    def macs_per_pixel(self):
        return 3 * self.config.levels * self.config.channels

    def peak_activations(self):  # the upsampled levels, concatenated, and the head
        return (2 * self.config.levels * self.config.channels + 6) * self.height * self.width


TOY = backbones.Backbone(
    name="toy",
    model_tag=TOY_TAG,
    config_type=ToyConfig,
    fields=Table(UInt("levels", 1, 4), UInt("channels", 1, 8)),
    build=ToyGrids,
    presets=("nvrc-toy",),
    preset=lambda name, frames, height, width: ToyConfig(name, 2, 2),
    size_class=lambda name: "tiny",
)


@pytest.fixture(scope="module")
def toy_backbone():
    backbones.register(TOY)
    yield TOY
    backbones.unregister(TOY.name)


@pytest.fixture(scope="module")
def clip(sample_y4m):
    return inrcodec.read_video(sample_y4m, frames=4).load()


@pytest.fixture(scope="module")
def encoded(toy_backbone, clip):
    return codec.encode(clip, "nvrc-toy", 4.0, steps=100, device="cpu", progress=False)


def test_the_toy_network_is_a_representation():
    net = ToyGrids(ToyConfig("toy", 2, 2), 4, 32, 48)
    assert isinstance(net, Representation)
    assert [tuple(net.get_parameter(n).shape) for n in net.grid_names()] == [
        (4, 8, 12, 2), (2, 4, 6, 2)
    ]  # fmt: skip


def test_a_second_backbone_trains_encodes_and_decodes_through_nvrc(encoded, clip):
    data = encoded.bitstream
    container = Container.from_bytes(data)
    assert [tag for tag, _ in container.sections] == [TOY_TAG, 2, 3, 4, 5]
    header, payload = read_payload(data)
    assert payload.config == ToyConfig("nvrc-toy", 2, 2)
    assert set(payload.layers) == {"head.weight", "head.bias"}
    assert [g.shape[2:] for g in payload.grids] == [(16, 8, 8)] * 2
    decoded = inrcodec.decode(data)
    for got, want in zip(decoded.planes, encoded.reconstruction.planes, strict=True):
        np.testing.assert_array_equal(got, want)
    untrained = build((4, 144, 176), "nvrc-toy", seed=0).net
    before = to_video(reconstruct(untrained, 4).numpy(), clip.format, "rgb")
    gain = compare(clip, decoded).means["psnr"] - compare(clip, before).means["psnr"]
    assert gain > 1  # it learned the clip, through the quantised, coded parameters
    assert sum(part_bytes(data).values()) == len(data)
    assert abs(encoded.settings["rate_gap"]) < 0.05


def test_inrcodec_info_describes_a_second_backbone_file(encoded, tmp_path, capsys):
    path = tmp_path / "toy.inrc"
    path.write_bytes(encoded.bitstream)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nvrc" in out and "grids" in out and "layers" in out


def test_a_file_of_an_unknown_backbone_is_refused(encoded):
    backbones.unregister(TOY.name)
    try:
        with pytest.raises(BitstreamError, match=f"no known representation .* tag {TOY_TAG}"):
            inrcodec.decode(encoded.bitstream)
    finally:
        backbones.register(TOY)


def test_backbones_must_not_clash(toy_backbone):
    with pytest.raises(ValueError, match="clashes"):
        backbones.register(backbones.Backbone(**{**TOY.__dict__, "name": "toy2"}))
