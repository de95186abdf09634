"""The latent-grid network (inrcodec.nets.latent): decoding against an independent trilinear
implementation, sizes, presets, the representation interface."""

import pytest
import torch
import torch.nn.functional as F

from inrcodec.nets.latent import PRESETS, LatentConfig, LatentGrids, candidates, preset
from inrcodec.nets.representation import Representation

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = LatentConfig("test", scales=(0, 1, 3), strides=(1, 2, 5), channels=(1, 2, 1), hidden=(6,))


def random_network(config=CONFIG, frames=9, height=20, width=27, seed=0) -> LatentGrids:
    torch.manual_seed(seed)
    net = LatentGrids(config, frames, height, width)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    return net


def reference(net: LatentGrids, t: torch.Tensor) -> torch.Tensor:
    """Each grid resampled to (frames, height, width) in one trilinear interpolation (linear
    in time is separable from bilinear in space), then the MLP written out."""
    size = (net.frames, net.height, net.width)
    levels = [
        F.interpolate(g.permute(3, 0, 1, 2)[None], size, mode="trilinear")[0] for g in net.grids
    ]
    x = torch.cat(levels)[:, t].permute(1, 2, 3, 0)  # (B, H, W, C)
    for i, layer in enumerate(net.synthesis):
        x = x @ layer.weight.T + layer.bias
        if i < len(net.synthesis) - 1:
            x = F.gelu(x)
    return (x + 0.5).permute(0, 3, 1, 2)


def test_frames_match_a_trilinear_reference():
    net = random_network()
    t = torch.tensor([0, 4, 8, 3])
    with torch.no_grad():
        torch.testing.assert_close(net(t), reference(net, t), rtol=1e-5, atol=1e-5)


def test_grid_sizes_follow_scales_strides_and_channels():
    net = random_network()
    assert [tuple(g.shape) for g in net.grids] == [(9, 20, 27, 1), (5, 10, 14, 2), (2, 3, 4, 1)]
    assert net.grid_names() == ["grids.0", "grids.1", "grids.2"]
    assert [tuple(p.shape) for p in net.synthesis.parameters()] == [(6, 4), (6,), (3, 6), (3,)]


def test_frames_read_two_slices_of_every_level():
    """Each frame's two nearest slices, the second also where its weight is 0."""
    net = random_network()
    slices = net.grid_slices(torch.tensor([3, 4]))
    assert slices[0].tolist() == [3, 4, 5]
    assert slices[1].tolist() == [1, 2, 3]  # 5 slices: frame 3 at 1.44, frame 4 on slice 2
    assert slices[2].tolist() == [0, 1]  # 2 slices: frames 3 and 4 at 0.28 and 0.5
    assert net.grid_slices(torch.tensor([8]))[0].tolist() == [8]  # the last: no next one


def test_patches_are_cut_from_whole_frames():
    net = random_network()
    t = torch.tensor([2, 7])
    with torch.no_grad():
        whole = net(t)
        for patch in net.patches(8, 10):
            top, left, h, w = patch
            torch.testing.assert_close(net(t, patch), whole[..., top : top + h, left : left + w])
    assert len(net.patches(8, 10)) == 9


def test_it_is_a_representation_with_matrices_and_macs():
    net = random_network()
    assert isinstance(net, Representation)
    assert net.matrix_shape("synthesis.0.weight", (6, 4)) == (6, 4)
    assert net.matrix_shape("synthesis.1.bias", (3,)) == (3, 1)
    # MLP 4*6 + 6*3, 4 per upsampled channel, 2 per channel position and frame for time
    lerp = 2 * (20 * 27 + 10 * 14 * 2 + 3 * 4) / (20 * 27)
    assert net.macs_per_pixel() == pytest.approx(24 + 18 + 16 + lerp)


def test_a_fresh_network_is_mid_grey_and_every_parameter_learns():
    torch.manual_seed(0)
    net = LatentGrids(CONFIG, 9, 20, 27)
    with torch.no_grad():
        assert torch.equal(net(torch.arange(9)), torch.full((9, 3, 20, 27), 0.5))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    target = torch.rand(9, 3, 20, 27, generator=torch.Generator().manual_seed(1))
    # The last layer starts at zero, the grids learn from step two, the first layer (whose
    # input is the grids) from step three.
    for _ in range(3):
        optimiser.zero_grad()
        (net(torch.arange(9)) - target).square().mean().backward()
        optimiser.step()
    assert all(p.grad.abs().sum() > 0 for p in net.parameters())


def test_presets_drop_levels_coarser_than_the_frame():
    assert "nvrc-latent" in PRESETS
    small = preset("nvrc-latent", 32, 36, 44)  # 2^6 = 64 > 44: the coarsest level is gone
    assert max(2**s for s in small.scales) < 44
    assert all(stride <= 32 for stride in small.strides)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nvrc-latent-huge", 8, 16, 16)


def test_candidates_are_the_preset_then_distinct_temporal_designs():
    own, *others = candidates("nvrc-latent", 64, 136, 320)
    assert own == preset("nvrc-latent", 64, 136, 320) and others
    for other in others:  # the same levels and synthesis, other strides, within the video
        assert (other.scales, other.channels) == (own.scales, own.channels)
        assert other.hidden == own.hidden
        assert other.strides != own.strides and max(other.strides) <= 64
    static = preset("nvrc-latent-static", 64, 136, 320)  # the long strides, as a preset
    assert others[0].strides == static.strides and min(static.strides) > max(own.strides[:2])
    assert candidates("nvrc-latent", 1, 136, 320) == [preset("nvrc-latent", 1, 136, 320)]


@pytest.mark.parametrize(
    "change",
    [{"scales": (0, 1)}, {"strides": (1, 0, 1)}, {"scales": (-1, 1, 3)}, {"hidden": (0,)}],
)
def test_invalid_configurations_are_refused(change):
    values = {**CONFIG.__dict__, **change}
    with pytest.raises(ValueError):
        LatentConfig(**values)
