"""HiNeRV / NVRC network (inrcodec.nets.hinerv): patch stitching, shapes, sizes, gradients."""

import pytest
import torch
import torch.nn.functional as F

from inrcodec.nets import HiNeRV, count_parameters, macs_per_frame, preset
from inrcodec.nets.hinerv import PRESETS, size_class

FAMILIES = ("hinerv-tiny", "nvrc-tiny")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(name, frames, height, width, seed=0):
    """A model with every parameter random (not the near-zero init), so that any context
    error shows in the output."""
    torch.manual_seed(seed)
    model = HiNeRV(preset(name, frames, height, width), frames, height, width)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def _naive_forward(model, t):
    """Whole-frame forward written independently with F.interpolate and 'same' padding."""
    cfg, frames = model.config, model.frames
    hb, wb = model.base_size

    def resize(grid, size):  # (T, H, W, C) -> (C, T', H', W')
        return F.interpolate(grid.permute(3, 0, 1, 2)[None], size, mode="trilinear")[0]

    if cfg.stem_on_grids:
        x, lo = model.stem.bias, 0
        for g in model.grids:
            w = model.stem.weight[:, lo : lo + g.shape[-1]]
            lo += g.shape[-1]
            y = F.conv3d(g.permute(3, 0, 1, 2)[None], w, padding="same")[0]
            x = x + resize(y.permute(1, 2, 3, 0), (frames, hb, wb))[:, t].permute(1, 2, 3, 0)
    else:
        x = torch.cat([resize(g, (frames, hb, wb))[:, t] for g in model.grids]).transpose(0, 1)
        x = F.conv2d(x, model.stem.weight[:, :, 0], model.stem.bias, padding="same")
        x = x.permute(0, 2, 3, 1)
    for stage in model.stages:
        s = stage.stride
        x = F.layer_norm(x, x.shape[-1:], eps=1e-6).permute(0, 3, 1, 2)
        x = F.interpolate(x, scale_factor=s, mode="bilinear").permute(0, 2, 3, 1)
        feats = []
        for g in stage.local_grids:
            g = F.interpolate(g.flatten(1).T[None], frames, mode="linear")[0]
            feats.append(g[:, t].T.unflatten(1, (s, s, -1)))
        pattern = stage.local_linear(torch.cat(feats, dim=-1))
        x = x + pattern.repeat(1, x.shape[1] // s, x.shape[2] // s, 1)
        for block in stage.blocks:
            y = F.conv2d(x.permute(0, 3, 1, 2), block.dwconv.weight, padding="same",
                         groups=x.shape[-1]).permute(0, 2, 3, 1)  # fmt: skip
            y = block.fc2(F.gelu(block.fc1(F.layer_norm(y, y.shape[-1:], eps=1e-6))))
            x = x + y if block.residual else y
    y = torch.sigmoid(model.head(x)).permute(0, 3, 1, 2)
    return y[:, :, : model.height, : model.width]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("size", [(144, 176), (60, 100)])
def test_stitched_patches_equal_whole_frame(name, size):
    height, width = size
    model = _model(name, 7, height, width)
    t = torch.tensor([0, 3, 6])
    with torch.no_grad():
        whole = model(t, (0, 0, model.padded_height, model.padded_width))
        assert torch.equal(model(t), whole[:, :, :height, :width])
        for ph, pw in [(16, 32), (24, 40)]:  # stride-aligned, and not
            stitched = torch.zeros_like(whole)
            for top, left, h, w in model.patches(ph, pw):
                stitched[:, :, top : top + h, left : left + w] = model(t, (top, left, h, w))
            torch.testing.assert_close(stitched, whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", FAMILIES)
def test_whole_frame_matches_naive_implementation(name):
    model = _model(name, 5, 60, 100)
    t = torch.tensor([0, 2, 4])
    with torch.no_grad():
        torch.testing.assert_close(model(t), _naive_forward(model, t), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("frames", [1, 7, 32])
@pytest.mark.parametrize("size", [(144, 176), (60, 100), (36, 64), (17, 23)])
def test_output_shapes(name, frames, size):
    height, width = size
    model = HiNeRV(preset(name, frames, height, width), frames, height, width)
    stride = model.config.total_stride
    assert model.padded_height % stride == 0 and model.padded_height - height < stride
    assert model.padded_width % stride == 0 and model.padded_width - width < stride
    with torch.no_grad():
        assert model(torch.tensor([frames - 1, 0])).shape == (2, 3, height, width)
        corner = (model.padded_height - stride, model.padded_width - stride, stride, stride)
        assert model(torch.tensor([0]), corner).shape == (1, 3, stride, stride)
    tiles = model.patches(2 * stride, 3 * stride)
    assert sum(h * w for _, _, h, w in tiles) == model.padded_height * model.padded_width


def test_bad_arguments():
    model = HiNeRV(preset("hinerv-tiny", 4, 32, 32), 4, 32, 32)
    with pytest.raises(ValueError):
        model(torch.tensor([4]))
    with pytest.raises(ValueError):
        model(torch.tensor([0]), (16, 0, 32, 16))
    with pytest.raises(ValueError):
        preset("nvrc-s9", 4, 32, 32)


# Counts at 1920x1080, 600 frames. NVRC's Table 5 (S1..S4: 2.14/6.35/14.19/31.41 M) is matched
# within 4% for S2..S4; S1 is 31% above it (docs/hinerv.md discusses both). HiNeRV's UVG
# configurations follow the reference code (github.com/hmkx/HiNeRV) exactly.
PAPER_COUNTS = {
    "hinerv-s": 3_188_933,
    "hinerv-m": 6_489_553,
    "hinerv-l": 12_818_953,
    "hinerv-xl": 25_649_557,
    "hinerv-xxl": 50_726_919,
    "nvrc-s1": 2_811_103,
    "nvrc-s2": 6_122_125,
    "nvrc-s3": 13_749_699,
    "nvrc-s4": 30_566_947,
}
NVRC_TABLE5 = {"nvrc-s2": 6.35e6, "nvrc-s3": 14.19e6, "nvrc-s4": 31.41e6}


@pytest.mark.parametrize("name", PAPER_COUNTS)
def test_paper_preset_parameter_counts(name):
    config = preset(name, 600, 1080, 1920)
    with torch.device("meta"):
        model = HiNeRV(config, 600, 1080, 1920)
    assert count_parameters(model) == PAPER_COUNTS[name]
    if name in NVRC_TABLE5:
        assert abs(PAPER_COUNTS[name] / NVRC_TABLE5[name] - 1) < 0.04


def test_paper_grid_shapes_at_1080p():
    grids = preset("nvrc-s3", 600, 1080, 1920).grid_level_sizes()
    assert grids == [(200, 45, 80, 4), (100, 22, 40, 8), (50, 11, 20, 16), (25, 5, 10, 32)]
    grids = preset("hinerv-s", 600, 1080, 1920).grid_level_sizes()
    assert grids == [(150, 18, 32, 2), (75, 18, 32, 4)]


def test_macs_match_nvrc_table2():
    """Table 2: 359.6 GMAC/frame for rate points 1-2 (S2)."""
    macs = macs_per_frame(preset("nvrc-s2", 600, 1080, 1920), 1080, 1920)
    assert macs == 358_010_817_696
    assert abs(macs / 359.6e9 - 1) < 0.01


def test_paper_preset_builds_and_runs_a_patch():
    torch.manual_seed(0)
    model = HiNeRV(preset("nvrc-s2", 600, 1080, 1920), 600, 1080, 1920)
    assert sum(p.numel() * p.element_size() for p in model.parameters()) < 40e6
    with torch.no_grad():
        y = model(torch.tensor([599]), (1056, 1896, 24, 24))
    assert y.shape == (1, 3, 24, 24) and y.isfinite().all()


@pytest.mark.parametrize("name", FAMILIES)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = HiNeRV(preset(name, 7, 60, 100), 7, 60, 100)
    model(torch.tensor([1, 5]), (16, 16, 32, 48)).mean().backward()
    for p_name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, p_name
    assert all(p.grad.abs().sum() > 0 for p in model.grid_parameters())


def test_deterministic_with_seed():
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = HiNeRV(preset("nvrc-tiny", 7, 60, 100), 7, 60, 100)
        outputs.append(model(torch.tensor([2])))
    assert torch.equal(*outputs)


def test_initialisation_as_reference():
    model = HiNeRV(preset("hinerv-tiny", 7, 60, 100), 7, 60, 100)
    for name, p in model.named_parameters():
        if "grids" in name:
            assert p.abs().max() <= 1e-3
        if name.endswith("bias"):
            assert not p.any()


def test_every_preset_resolves():
    for name in PRESETS:
        config = preset(name, 3, 50, 70)
        assert config.grid_size[1] * config.total_stride >= 50


def test_cpu_presets_keep_only_grid_levels_with_four_positions_a_side():
    # nvrc-cpu at 176x144: grid (T, 9, 11) halved per level; the 4th level would be 1x1x1
    assert [preset("nvrc-cpu", t, 144, 176).grid_levels for t in (8, 32, 600)] == [1, 2, 2]
    assert preset("nvrc-cpu", 600, 1080, 1920).grid_levels == 4  # large videos keep all four
    assert preset("nvrc-s2", 8, 144, 176).grid_levels == 4  # paper presets are untouched
    assert preset("hinerv-cpu", 32, 144, 176).grid_levels == 2
    assert size_class("nvrc-cpu-xs") == size_class("hinerv-cpu") == "cpu"
    assert (size_class("nvrc-tiny"), size_class("nvrc-s2")) == ("tiny", "paper")
    widths = [preset(f"nvrc-cpu{s}", 32, 144, 176).channels[0] for s in ("-xs", "-s", "", "-l")]
    assert widths == [24, 32, 48, 64]
