"""TeCoNeRV networks (inrcodec.nets.hyponerv, inrcodec.nets.hypernet) and their presets:
the paper's parameter counts, shapes, the modulation layout, the tokenizer, batch independence."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from inrcodec.codecs.teconerv.presets import PRESETS, preset
from inrcodec.errors import InrcodecError
from inrcodec.nets.hypernet import (
    ClipTokenizer,
    HypernetConfig,
    Hypernetwork,
    TransformerConfig,
    count_parameters,
)
from inrcodec.nets.hyponerv import (
    HypoNeRV,
    HypoNeRVConfig,
    NetworkConfigError,
    expand_unique,
    modulate,
    pixel_shuffle_rect,
    time_encoding,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = preset("teconerv-tiny").net  # 16x16 tubelets, 8-pixel squares, layers of 4 channels


def _meta(name):
    with torch.device("meta"):
        return Hypernetwork(preset(name).net)


def _randomised(config, seed=0):
    """A hypernetwork with every parameter random, so that layout errors show."""
    torch.manual_seed(seed)
    net = Hypernetwork(config)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    return net


# ---------------------------------------------------------------- paper sizes (Appendix D.4/D.5)

# name, then base, unique and total parameters: an int is the exact count, a string the paper's
# figure the count rounds to. The paper's "131.0K" (320x240 base) is 130.9K and its "289.0K"
# (720p unique) 289.3K: those are checked to the nearest thousand.
PAPER_SIZES = [
    ("teconerv-320x160", 65194, 15876, 41_278_638),
    ("teconerv-320x240", 130856, 25040, "41.5M"),
    ("teconerv-384x270", 137476, 29760, "41.6M"),
    ("nerv-enc-480p-small", 171952, 31060, "42.3M"),
    ("nerv-enc-720p", "1.3M", 289296, "47.6M"),
    ("nerv-enc-480p", 436780, 96256, "42.9M"),  # the paper says 43.0M (presets notes)
]
PAPER_STATED = {  # base, unique as printed in Appendix D.4 / D.5
    "teconerv-320x160": ("65.2K", "15.9K"),
    "teconerv-320x240": ("131K", "25.0K"),
    "teconerv-384x270": ("137.5K", "29.8K"),
    "nerv-enc-480p-small": ("172.0K", "31.1K"),
    "nerv-enc-720p": ("1.3M", "289K"),
    "nerv-enc-480p": ("436.8K", "96.3K"),
}


def _rounds_to(count, figure):
    """Whether `count` printed like `figure` ("65.2K", "1.3M", "131K") gives `figure`."""
    number, unit = figure[:-1], {"K": 1e3, "M": 1e6}[figure[-1]]
    digits = len(number.partition(".")[2])
    return round(count / unit, digits) == float(number)


@pytest.mark.parametrize(("name", "base", "unique", "total"), PAPER_SIZES)
def test_paper_preset_parameter_counts(name, base, unique, total):
    cfg = preset(name).net
    net = _meta(name)
    counts = count_parameters(net.hypo), sum(cfg.unique_counts()), count_parameters(net)
    for count, want in zip(counts, (base, unique, total), strict=True):
        assert (count == want) if isinstance(want, int) else _rounds_to(count, want), (count, want)
    assert cfg.hypo.parameter_count() == counts[0]
    stated_base, stated_unique = PAPER_STATED[name]
    assert _rounds_to(counts[0], stated_base) and _rounds_to(counts[1], stated_unique)


def test_rounds_to():
    assert _rounds_to(65194, "65.2K") and not _rounds_to(65194, "65.1K")
    assert _rounds_to(130856, "131K") and not _rounds_to(130856, "131.0K")
    assert _rounds_to(1_342_300, "1.3M") and not _rounds_to(41_514_976, "41.6M")


def test_teconerv_320x160_unique_per_layer_matches_table_9():
    counts = preset("teconerv-320x160").net.unique_counts()
    assert counts == (980, 14112, 784, 0)
    assert all(map(_rounds_to, counts[:3], ("0.98K", "14.1K", "0.78K")))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_synthesises_on_meta(name):
    cfg = preset(name).net
    h, w = cfg.hypo.height, cfg.hypo.width
    with torch.device("meta"):
        net = Hypernetwork(cfg)
        recon, unique, weights = net(torch.empty(2, cfg.hypo.frames, 3, h, w))
    assert recon.shape == (2, cfg.hypo.frames, 3, h, w)
    for shape, g, d, u, wt in zip(
        cfg.hypo.layers(), cfg.tokens, cfg.token_dims, unique, weights, strict=True
    ):
        assert (u is None) == (g == 0)
        assert u is None or u.shape == (2, g, d)
        assert wt.shape == (1 if g == 0 else 2, shape.fan_in, shape.out_channels)


@pytest.mark.parametrize(
    ("name", "height", "width"),
    [
        ("teconerv-320x160", 160, 320),
        ("teconerv-320x160-small", 160, 320),
        ("teconerv-320x240", 240, 320),
        ("teconerv-384x270", 270, 384),
        ("nerv-enc-480p", 480, 640),
        ("nerv-enc-480p-small", 480, 640),
        ("nerv-enc-720p", 720, 1280),
        ("teconerv-cpu", 64, 64),
        ("nerv-enc-cpu", 128, 192),
        ("teconerv-tiny", 16, 16),
    ],
)
def test_hyponerv_output_is_the_preset_tubelet(name, height, width):
    p = preset(name)
    assert (p.net.hypo.height, p.net.hypo.width) == (height, width)
    assert p.full_frame == ((height, width) == p.train_size)
    with torch.device("meta"):
        hypo = HypoNeRV(p.net.hypo)
        out = hypo(hypo.clip_weights([None] * p.net.hypo.depth))
    assert out.shape == (1, 8, 3, height, width)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InrcodecError, match="nope") as info:
        preset("nope")
    assert all(name in str(info.value) for name in PRESETS)


# ---------------------------------------------------------------- real forward passes


@pytest.mark.parametrize("name", ["teconerv-cpu", "teconerv-tiny"])
def test_forward_shapes_and_range(name):
    cfg = preset(name).net
    net = _randomised(cfg)
    h, w = cfg.hypo.height, cfg.hypo.width
    clips = torch.rand(3, 8, 3, h, w)
    with torch.no_grad():
        recon, unique, weights = net(clips)
    assert recon.shape == (3, 8, 3, h, w)
    assert recon.dtype == torch.float32 and torch.isfinite(recon).all()
    assert recon.min() >= 0 and recon.max() <= 1
    assert recon.std() > 0.01  # random parameters: not a constant image
    assert len(unique) == len(weights) == cfg.hypo.depth
    for shape, g, d, u, wt in zip(
        cfg.hypo.layers(), cfg.tokens, cfg.token_dims, unique, weights, strict=True
    ):
        if g == 0:
            assert u is None
            assert wt.shape == (1, shape.fan_in, shape.out_channels)
        else:
            assert u.shape == (3, g, d)
            assert wt.shape == (3, shape.fan_in, shape.out_channels)
    assert unique[-1] is None  # the last layer is base-only in every TeCoNeRV preset


@pytest.mark.parametrize(
    "shape",
    [(1, 8, 3, 16, 17), (1, 8, 3, 17, 16), (1, 7, 3, 16, 16), (1, 8, 1, 16, 16), (8, 3, 16, 16)],
)
def test_hypernetwork_rejects_wrong_clip_shapes(shape):
    net = Hypernetwork(TINY)
    with pytest.raises(NetworkConfigError, match=r"clips must be \(B, 8, 3, 16, 16\)"):
        net(torch.rand(shape))


def _naive_synthesis(config, weights, biases):
    """One clip, written independently: plain conv2d with ``(out, in, k, k)`` weights read from
    the ``(fan_in, out)`` matrices (fan-in ordered input channel, kernel row, kernel column)."""
    x = time_encoding(config)[:, :, None, None]
    layers = config.layers()
    for i, (s, w, b) in enumerate(zip(layers, weights, biases, strict=True)):
        kernel = w.T.reshape(s.out_channels, s.in_channels, s.kernel, s.kernel)
        x = F.conv2d(x, kernel, b, padding=s.kernel // 2)
        n, c, h, wd = x.shape
        c //= s.stride_h * s.stride_w
        y = torch.empty(n, c, h * s.stride_h, wd * s.stride_w)
        for ch in range(c):
            for a in range(s.stride_h):
                for e in range(s.stride_w):
                    y[:, ch, a :: s.stride_h, e :: s.stride_w] = x[
                        :, ch * s.stride_h * s.stride_w + a * s.stride_w + e
                    ]
        x = F.gelu(y) if i < len(layers) - 1 else torch.tanh(y) / 2 + 0.5
    return x  # (frames, 3, H, W)


def test_batch_synthesis_equals_each_clip_alone():
    cfg = preset("teconerv-cpu").net
    hypo = _randomised(cfg).hypo
    torch.manual_seed(1)
    pairs = zip(cfg.tokens, cfg.token_dims, strict=True)
    unique = [None if g == 0 else torch.randn(3, g, d) for g, d in pairs]
    with torch.no_grad():
        weights = hypo.clip_weights(unique)
        batch = hypo(weights)
        assert batch.shape == (3, 8, 3, 64, 64)
        for b in range(3):
            own = [w[b : b + 1] if w.shape[0] > 1 else w for w in weights]
            alone = hypo(own)
            torch.testing.assert_close(batch[b : b + 1], alone, atol=1e-6, rtol=0)
            naive = _naive_synthesis(cfg.hypo, [w[0] for w in own], list(hypo.biases))
            torch.testing.assert_close(batch[b], naive, atol=1e-5, rtol=0)
        # the clips differ (their unique parameters do), so nothing above is trivially equal
        assert (batch[0] - batch[1]).abs().max() > 1e-3


def test_hypernetwork_batch_equals_each_clip_alone():
    net = _randomised(TINY)
    clips = torch.rand(3, 8, 3, 16, 16)
    with torch.no_grad():
        batch = net(clips)[0]
        for b in range(3):
            alone = net(clips[b : b + 1])[0]
            torch.testing.assert_close(batch[b : b + 1], alone, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- modulation


def test_expand_unique_repeats_each_token_in_a_row():
    b, g, d, r = 2, 3, 4, 5
    u = torch.arange(b * g * d, dtype=torch.float32).view(b, g, d)
    flat = expand_unique(u, g * d * r)
    assert flat.shape == (b, g * d * r)
    for bi in range(b):
        for n in range(g):
            for j in range(r):
                for m in range(d):
                    assert flat[bi, (n * r + j) * d + m] == u[bi, n, m]


def test_expand_unique_rejects_a_count_it_does_not_tile():
    with pytest.raises(NetworkConfigError, match="3 tokens of 4 values do not tile a layer of 30"):
        expand_unique(torch.zeros(1, 3, 4), 30)


def test_modulate_normalises_the_product_over_the_fan_in():
    torch.manual_seed(0)
    fan_in, out, g, d = 6, 4, 2, 3  # 24 weights, each token repeated 4 times
    base = torch.randn(fan_in, out)
    u = torch.randn(2, g, d)
    w = modulate(base, u)
    assert w.shape == (2, fan_in, out)
    torch.testing.assert_close(w.norm(dim=1), torch.ones(2, out))
    expected = F.normalize(base * expand_unique(u, fan_in * out).view(2, fan_in, out), dim=1)
    torch.testing.assert_close(w, expected)
    # element by element: weight (i, o) is number i * out + o of the row-major matrix
    scale = torch.empty(2, fan_in, out)
    r = fan_in * out // (g * d)
    for i in range(fan_in):
        for o in range(out):
            k = i * out + o
            scale[:, i, o] = u[:, k // (r * d), k % d]
    raw = base * scale
    torch.testing.assert_close(w, raw / raw.norm(dim=1, keepdim=True))


def test_modulate_without_unique_is_the_normalised_base():
    torch.manual_seed(0)
    base = torch.randn(5, 3)
    w = modulate(base, None)
    assert w.shape == (1, 5, 3)
    torch.testing.assert_close(w[0], base / base.norm(dim=0, keepdim=True))


# ---------------------------------------------------------------- configuration checks


def _config(tokens, dims, patch=8):
    return HypernetConfig(TINY.hypo, TINY.transformer, tokens, dims, patch)


def test_tiny_layer_sizes():
    # pe 4 -> (k1) 4x4 -> (k3) 4x4 -> (k3) 4x4 -> (k3) 3x4, each then a 2x2 PixelShuffle
    assert [(s.fan_in, s.out_channels) for s in TINY.hypo.layers()] == [
        (4, 16),
        (36, 16),
        (36, 16),
        (36, 12),
    ]
    assert _config((1, 4, 1, 0), (16, 36, 16, 0)) == TINY


@pytest.mark.parametrize(
    ("tokens", "dims", "message"),
    [
        (
            (1, 4, 1, 0),
            (16, 35, 16, 0),
            r"layer 1: 4 tokens x 35 = 140 unique parameters do not tile its 36 x 16 = 576",
        ),
        ((1, 4, 1, 0), (16, 36, 16, 5), r"layer 3: 0 tokens of dimension 5"),
        ((1, 4, 1, 0), (16, 0, 16, 0), r"layer 1: 4 tokens of dimension 0"),
        ((1, 4, 1), (16, 36, 16), r"4 layers but 3 token counts and 3 token dimensions"),
        ((1, 4, 1, 0), (16, 36, 16), r"4 layers but 4 token counts and 3 token dimensions"),
        ((0, 0, 0, 0), (0, 0, 0, 0), r"no layer has weight tokens"),
        ((1, -4, 1, 0), (16, -36, 16, 0), r"layer 1"),
    ],
)
def test_hypernet_config_errors(tokens, dims, message):
    with pytest.raises(NetworkConfigError, match=message):
        _config(tokens, dims)


def test_hypernet_config_rejects_squares_larger_than_the_tubelet():
    with pytest.raises(NetworkConfigError, match="squares of 32 do not fit the 16x16"):
        _config((1, 4, 1, 0), (16, 36, 16, 0), patch=32)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kernels": (1, 2, 3, 3)}, "odd"),
        ({"kernels": (1, 3, 3, -1)}, "odd and positive"),
        ({"pe_dim": 5}, "pe_dim must be even"),
        ({"pe_dim": 0}, "pe_dim must be even"),
        ({"strides_h": (2, 2, 2)}, "4 kernels, 3 and 4 strides"),
        ({"strides_w": (2, 2, 2, 2, 2)}, "4 kernels, 4 and 5 strides"),
        ({"strides_w": (2, 2, 0, 2)}, "strides must be positive"),
        ({"channels": 0}, "must be positive"),
    ],
)
def test_hyponerv_config_errors(changes, message):
    fields = TINY.hypo.to_json() | changes
    with pytest.raises(NetworkConfigError, match=message):
        HypoNeRVConfig(**fields)


def test_transformer_config_rejects_non_positive_sizes():
    with pytest.raises(NetworkConfigError):
        TransformerConfig(width=0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_config_json_round_trip(name):
    cfg = preset(name).net
    data = json.loads(json.dumps(cfg.to_json()))
    assert HypernetConfig.from_json(data) == cfg
    assert HypoNeRVConfig.from_json(data["hypo"]) == cfg.hypo


def test_config_from_malformed_json():
    data = TINY.to_json()
    del data["patch"]
    with pytest.raises(NetworkConfigError, match="malformed"):
        HypernetConfig.from_json(data)
    with pytest.raises(NetworkConfigError, match="malformed"):
        HypernetConfig.from_json(TINY.to_json() | {"transformer": {"wdth": 3}})


# ---------------------------------------------------------------- building blocks


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_pixel_shuffle_rect_equals_pixel_shuffle_for_square_strides(stride):
    torch.manual_seed(0)
    x = torch.randn(2, 5 * stride * stride, 3, 4)
    assert torch.equal(pixel_shuffle_rect(x, stride, stride), F.pixel_shuffle(x, stride))


@pytest.mark.parametrize(("sh", "sw"), [(2, 3), (3, 2), (1, 4), (5, 4)])
def test_pixel_shuffle_rect_places_each_channel(sh, sw):
    n, c, h, w = 2, 3, 2, 3
    x = torch.arange(n * c * sh * sw * h * w, dtype=torch.float32).view(n, c * sh * sw, h, w)
    y = pixel_shuffle_rect(x, sh, sw)
    assert y.shape == (n, c, h * sh, w * sw)
    for b in range(n):
        for ch in range(c):
            for i in range(sh):
                for j in range(sw):
                    for row in range(h):
                        for col in range(w):
                            got = y[b, ch, row * sh + i, col * sw + j]
                            assert got == x[b, ch * sh * sw + i * sw + j, row, col]


@pytest.mark.parametrize(
    ("frames", "pe_dim", "sigma"), [(8, 6, 16.0), (5, 2, 1024.0), (8, 14, 1024.0)]
)
def test_time_encoding(frames, pe_dim, sigma):
    cfg = HypoNeRVConfig(
        pe_dim=pe_dim,
        channels=4,
        kernels=(1,),
        strides_h=(2,),
        strides_w=(2,),
        frames=frames,
        pe_sigma=sigma,
    )
    enc = time_encoding(cfg)
    assert enc.shape == (frames, pe_dim)
    half = pe_dim // 2
    freqs = [sigma ** (k / (half - 1)) if half > 1 else 1.0 for k in range(half)]
    assert freqs[0] == 1.0 and math.isclose(freqs[-1], sigma if half > 1 else 1.0)
    for i in range(frames):
        x = -1 + (2 * i + 1) / frames
        for k, f in enumerate(freqs):
            tol = 1e-6 * max(1.0, f) * 5
            assert abs(enc[i, k].item() - math.cos(math.pi * x * f)) < tol
            assert abs(enc[i, half + k].item() - math.sin(math.pi * x * f)) < tol


def test_time_encoding_frame_coordinates_are_pixel_centres():
    # frequency 1 only: frames sit at -7/8, -5/8, ..., 7/8, symmetric about 0
    cfg = HypoNeRVConfig(pe_dim=2, channels=4, kernels=(1,), strides_h=(2,), strides_w=(2,))
    enc = time_encoding(cfg)
    x = torch.atan2(enc[:, 1], enc[:, 0]) / math.pi
    torch.testing.assert_close(x, torch.arange(-7, 8, 2) / 8)


# ---------------------------------------------------------------- tokenizer


def test_tokenizer_reads_each_square_of_each_frame():
    torch.manual_seed(0)
    tok = ClipTokenizer(TINY)
    assert (TINY.squares_per_frame, TINY.data_tokens) == (4, 32)
    clips = torch.rand(2, 8, 3, 16, 16)
    with torch.no_grad():
        out = tok(clips)
        assert out.shape == (2, 32, TINY.transformer.width)
        for t in range(8):
            for r in range(2):
                for c in range(2):
                    square = clips[:, t, :, r * 8 : r * 8 + 8, c * 8 : c * 8 + 8].reshape(2, -1)
                    k = t * 4 + r * 2 + c
                    expected = tok.project(square) + tok.position[k]
                    torch.testing.assert_close(out[:, k], expected)


@pytest.mark.parametrize(
    ("frame", "channel", "row", "col"), [(0, 0, 0, 0), (5, 1, 9, 3), (7, 2, 15, 15), (3, 0, 7, 8)]
)
def test_tokenizer_token_depends_only_on_its_square(frame, channel, row, col):
    torch.manual_seed(0)
    tok = ClipTokenizer(TINY)
    clips = torch.rand(1, 8, 3, 16, 16)
    changed = clips.clone()
    changed[0, frame, channel, row, col] += 0.5
    with torch.no_grad():
        diff = (tok(changed) - tok(clips)).abs().amax(dim=-1)[0]
    assert diff.nonzero().flatten().tolist() == [frame * 4 + (row // 8) * 2 + col // 8]


def test_384x270_tokenizer_ignores_the_bottom_14_rows():
    cfg = preset("teconerv-384x270").net
    assert 270 == 8 * 32 + 14
    assert (cfg.squares_per_frame, cfg.data_tokens) == (8 * 12, 8 * 96)
    torch.manual_seed(0)
    tok = ClipTokenizer(cfg)
    clips = torch.rand(1, 8, 3, 270, 384)
    with torch.no_grad():
        before = tok(clips)
        bottom = clips.clone()
        bottom[:, :, :, 256:] = torch.rand(1, 8, 3, 14, 384)
        assert torch.equal(tok(bottom), before)
        last_read = clips.clone()
        last_read[0, 2, 1, 255, 100] += 0.5  # frame 2, square row 7, column 3
        diff = (tok(last_read) - before).abs().amax(dim=-1)[0]
    assert diff.nonzero().flatten().tolist() == [2 * 96 + 7 * 12 + 3]
