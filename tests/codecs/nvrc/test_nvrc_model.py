"""NVRC's entropy models, quantisation and rates (Kwan et al. 2024, Sec. 3.1-3.3, eqs. 2-7, 9).

The references below are computed independently of the code under test: eq. (2)'s step
expansion with `repeat_interleave`, eqs. (5)-(7) as written in the paper, and the discretised
Gaussian in float64 with scipy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn
from torch.func import functional_call

from inrcodec.codecs.nvrc.gaussian import MIN_PROBABILITY, SCALE_MAX, gaussian_bits
from inrcodec.codecs.nvrc.grid_coding import ContextModel, causal_mask
from inrcodec.codecs.nvrc.layer_coding import LayerCoder
from inrcodec.codecs.nvrc.model import GROUPS, HARD, NVRC, CompressionConfig
from inrcodec.codecs.nvrc.train import build
from inrcodec.coding import information_content
from inrcodec.coding.tables import SCALE_MIN, SCALE_TABLE, mean_indices, scale_indices
from inrcodec.nets.hinerv import HiNeRV, preset
from inrcodec.quant import Rounding

matrix_shape = HiNeRV.matrix_shape

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ("nvrc-tiny", 8, 32, 48)
CPU = ("nvrc-cpu", 32, 144, 176)  # two grid levels (`nets.hinerv._useful_levels`)


def make(args=CPU, seed: int = 0, **config) -> NVRC:
    torch.manual_seed(seed)
    net = HiNeRV(preset(*args), *args[1:])
    return NVRC(net, CompressionConfig(**config) if config else None)


# ----------------------------------------------------------------------------- references


def ref_bits(symbols, mean, scale) -> np.ndarray:
    """-log2 P(s) with P = Phi((s + 1/2 - m) / sigma) - Phi((s - 1/2 - m) / sigma), float64,
    the scale bounded to the coder's table range and P floored at 2**-24 as the coder does.
    Above the mean the same difference is taken with survival functions (no cancellation)."""
    s, m, sc = (np.asarray(a, dtype=np.float64) for a in (symbols, mean, scale))
    sc = np.clip(sc, SCALE_MIN, SCALE_MAX)
    hi, lo = (s + 0.5 - m) / sc, (s - 0.5 - m) / sc
    p = np.where(s >= m, norm.sf(lo) - norm.sf(hi), norm.cdf(hi) - norm.cdf(lo))
    return -np.log2(np.maximum(p, MIN_PROBABILITY))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def causal_taps(name: str, value: torch.Tensor) -> np.ndarray:
    """Boolean mask of the coded entries of a phi tensor: for context-model weights the taps
    before the kernel centre in raster order (the centre too after the first layer)."""
    shape = tuple(value.shape)
    if ".context.convs." not in name or not name.endswith(".weight"):
        return np.ones(shape, dtype=bool)
    layer, k = int(name.split(".")[4]), shape[-1]
    raster = np.arange(k**3).reshape(k, k, k)
    return np.broadcast_to(raster < k**3 // 2 + (layer > 0), shape)


def expected_phi_hat(model: NVRC) -> dict[str, torch.Tensor]:
    """Sec. 3.3: a Gaussian-coded phi tensor is round(phi / step) * step with its psi step
    (psi in float16); the others are stored as float16."""
    named = dict(model.named_parameters())
    psi = model.psi.detach().half().float()
    out = {}
    for name in model.phi_names():
        p = named[name].detach()
        taps = torch.from_numpy(causal_taps(name, p).copy())
        if name in model.coded_phi:
            step = torch.exp(psi[model.coded_phi.index(name), 0])
            out[name] = torch.round(p / step) * step * taps
        else:
            out[name] = p.half().float() * taps
    return out


def grid_step(model: NVRC, i: int, phi: dict) -> torch.Tensor:
    """Eq. (2): the per-block step expanded to the grid's (T, H, W, C), from the quantised
    log-steps in `phi` (the coder's own, unquantised, when `phi` lacks them)."""
    coder = model.grid_coders[i]
    log_steps = phi.get(f"grid_coders.{i}.log_steps", coder.log_steps.detach())
    bt, bh, bw = coder.layout.block
    t, h, w, _ = coder.layout.size
    full = torch.exp(log_steps)
    full = full.repeat_interleave(bt, 0).repeat_interleave(bh, 1).repeat_interleave(bw, 2)
    return full[:t, :h, :w]


def layer_log_step(phi: dict, prefix: str) -> torch.Tensor:
    """log of eq. (5)'s delta_out[i] * delta_in[j] (an absent axis is a factor 1)."""
    out, inn = phi.get(prefix + "log_step_out"), phi.get(prefix + "log_step_in")
    total = 0.0
    if out is not None:
        total = total + out[:, None]
    if inn is not None:
        total = total + inn[None, :]
    return total


def layer_model_ref(phi: dict, prefix: str):
    """Eqs. (6)-(7), or one axis / one tensor where the other vectors are absent; float64."""
    keys = ("mean_out", "mean_in", "log_scale_out", "log_scale_in")
    get = {k: _np(phi[prefix + k]) for k in keys if prefix + k in phi}
    if "mean_out" in get and "mean_in" in get:
        s_in = np.exp(get["log_scale_in"])[None, :]
        mean = get["mean_out"][:, None] * s_in + get["mean_in"][None, :]
        scale = np.exp(get["log_scale_out"])[:, None] * s_in
    elif "mean_out" in get:
        mean, scale = get["mean_out"][:, None], np.exp(get["log_scale_out"])[:, None]
    else:
        mean, scale = get["mean_in"][None, :], np.exp(get["log_scale_in"])[None, :]
    return mean, scale


def expected_theta_hat(model: NVRC, phi: dict) -> dict[str, torch.Tensor]:
    """Hard-quantised network parameters: round(theta / delta) * delta (eqs. 2-5)."""
    params = {n: p.detach() for n, p in model.net.named_parameters()}
    out = {}
    for i, name in enumerate(model.grid_names):
        step = grid_step(model, i, phi)
        out[name] = torch.round(params[name] / step) * step
    for name in model.layer_names:
        rows, cols = matrix_shape(name, tuple(params[name].shape))
        step = torch.exp(layer_log_step(phi, f"layer_coders.{name.replace('.', '-')}."))
        w = params[name].reshape(rows, cols)
        out[name] = (torch.round(w / step) * step).reshape(params[name].shape)
    return out


def randomise(model: NVRC, seed: int = 1, log_steps=(-5.0, -3.0)) -> None:
    """Non-trivial grids and phi: grid steps varying per block within `log_steps`, grids of
    about 1.2 steps' spread (symbols in -4..4, so no symbol lies in the far tail of the
    initial context model N(0, 1): see `test_gaussian_bits_float32_tail`), and layer steps,
    means and scales perturbed by a fraction of the layer's spread (again no far tails)."""
    g = torch.Generator().manual_seed(seed)
    low, high = log_steps
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("grid_coders.") and name.endswith("log_steps"):
                p.copy_(low + (high - low) * torch.rand(p.shape, generator=g))
        for coder in model.layer_coders.values():
            phi = dict(coder.named_parameters())
            sigma = float(torch.exp(coder.model(phi)[1]).mean())  # the model's scale
            for name, p in phi.items():
                noise = torch.randn(p.shape, generator=g)
                if name == "mean_out" and coder.model_axes[1]:  # eq. 6: times sigma_in
                    p.add_(noise * 0.3 * sigma / float(torch.exp(phi["log_scale_in"]).mean()))
                elif name.startswith("mean_"):
                    p.add_(noise * 0.3 * sigma)
                else:
                    p.add_(noise * 0.2)
        for i, grid in enumerate(model.net.grids):
            z = (torch.randn(grid.shape, generator=g) * 1.2).clamp(-4.2, 4.2)
            grid.copy_(z * grid_step(model, i, {}))


# ----------------------------------------------------------------------------- gaussian_bits


def _scipy_case(n: int = 20_000):
    rng = np.random.default_rng(0)
    mean = rng.uniform(-20, 20, n)
    scale = np.exp(rng.uniform(np.log(0.2), np.log(50), n))
    symbols = np.round(mean + scale * rng.standard_normal(n) * 2)
    symbols[:50] = np.round(mean[:50] + 7 * scale[:50] + 3)  # far tail: probability floored
    return symbols, mean, scale


def test_gaussian_bits_matches_scipy_float64():
    symbols, mean, scale = _scipy_case()
    bits = gaussian_bits(*(torch.tensor(a, dtype=torch.float64) for a in (symbols, mean, scale)))
    assert bits.dtype == torch.float64 and bits.shape == symbols.shape
    ref = ref_bits(symbols, mean, scale)
    assert (ref[:50] == 24).all()  # the floor
    np.testing.assert_allclose(_np(bits), ref, rtol=0, atol=1e-9)


def test_gaussian_bits_matches_scipy_float32_up_to_14_bits():
    """float32 (the training dtype) agrees to 2e-3 bits wherever a symbol costs at most 14
    bits (probability >= 2**-14); the far tail is `test_gaussian_bits_float32_tail`."""
    symbols, mean, scale = _scipy_case()
    bits = gaussian_bits(*(torch.tensor(a, dtype=torch.float32) for a in (symbols, mean, scale)))
    assert bits.dtype == torch.float32
    ref = ref_bits(symbols, mean, scale)
    body = ref <= 14
    assert body.mean() > 0.9
    np.testing.assert_allclose(_np(bits)[body], ref[body], rtol=0, atol=2e-3)


def test_gaussian_bits_float32_tail():
    """Far-tail symbols keep their precision in float32 (erfc, not ndtr)."""
    mean = torch.linspace(4.0, 6.0, 201, dtype=torch.float64)
    symbols, scale = torch.zeros_like(mean), torch.ones_like(mean)
    b64 = gaussian_bits(symbols, mean, scale)
    np.testing.assert_allclose(_np(b64), ref_bits(0.0, _np(mean), 1.0), rtol=0, atol=1e-9)
    b32 = gaussian_bits(symbols.float(), mean.float(), scale.float())
    np.testing.assert_allclose(_np(b32), _np(b64), rtol=0, atol=0.02)


def test_gaussian_bits_sum_of_a_quantised_tensor():
    torch.manual_seed(1)
    theta = torch.randn(64, 48, dtype=torch.float64) * 0.07 + 0.01
    step, mean, scale = 0.004, 0.005, 0.06  # value units
    symbols = torch.round(theta / step)
    total = gaussian_bits(symbols, torch.tensor(mean / step), torch.tensor(scale / step)).sum()
    s = _np(symbols)
    probs = norm.cdf((s + 0.5) * step, mean, scale) - norm.cdf((s - 0.5) * step, mean, scale)
    assert float(total) == pytest.approx(-np.log2(probs).sum(), rel=1e-9)
    # More symbols than bits would be wasteful: about the Gaussian's differential entropy.
    entropy = 0.5 * math.log2(2 * math.pi * math.e * (scale / step) ** 2) * symbols.numel()
    assert float(total) == pytest.approx(entropy, rel=0.05)


def test_gaussian_bits_agree_with_the_coders_information_content():
    """With table means (k / 64) and table scales, the training rate is the coder's rate.

    `information_content` renormalises the density to the support [min, max] of the symbols;
    two far outliers (+-400) make that support hold all the mass of every model (means within
    +-20, scales at most 0.11 * 1.05**70 ~ 3.4), so the renormalisation factor is 1 to float64
    precision and the two agree to 1e-6 bits on every symbol (the outliers cost 24 bits in
    both: the probability floor)."""
    rng = np.random.default_rng(2)
    n = 5_000
    mean = rng.integers(-20 * 64, 20 * 64, n) / 64.0
    scale = SCALE_TABLE[rng.integers(0, 71, n)]
    symbols = np.round(mean + scale * rng.standard_normal(n) * 1.5).astype(np.int64)
    symbols[0], symbols[1] = -400, 400
    mi, si = mean_indices(mean), scale_indices(scale)
    assert np.array_equal(mi / 64.0, mean) and np.array_equal(SCALE_TABLE[si], scale)
    ic = information_content(symbols, mi, si)
    bits = gaussian_bits(*(torch.tensor(a, dtype=torch.float64) for a in (symbols, mean, scale)))
    np.testing.assert_allclose(_np(bits), ic, rtol=0, atol=1e-6)
    assert ic[0] == ic[1] == pytest.approx(24.0)


def test_gaussian_bits_scale_bounds():
    symbols = torch.tensor([0.0, 1.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    mean = torch.tensor([0.0, 0.0, 0.2, 0.4, 1.7], dtype=torch.float64)
    at_min = gaussian_bits(symbols, mean, torch.full((5,), SCALE_MIN, dtype=torch.float64))
    for small in (0.1, 0.05, 1e-4, 0.0):
        below = gaussian_bits(symbols, mean, torch.full((5,), small, dtype=torch.float64))
        assert torch.equal(below, at_min)
    huge = gaussian_bits(symbols, mean, torch.full((5,), 1e9, dtype=torch.float64))
    at_max = gaussian_bits(symbols, mean, torch.full((5,), SCALE_MAX, dtype=torch.float64))
    assert torch.equal(huge, at_max)


def test_gaussian_bits_lower_bound_passes_gradients_that_raise_the_scale():
    # A symbol one unit from the mean: a larger scale is cheaper (gradient < 0), and below
    # the bound that gradient still reaches the scale.
    one, zero = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    scale = torch.tensor([0.05, 0.5], dtype=torch.float64, requires_grad=True)
    gaussian_bits(one, zero, scale).sum().backward()
    assert (scale.grad < 0).all()
    # The symbol at the mean: a smaller scale is cheaper, but below the bound the scale
    # cannot go lower, so no gradient reaches it; above the bound it does.
    scale = torch.tensor([0.05, 0.5], dtype=torch.float64, requires_grad=True)
    gaussian_bits(zero, zero, scale).sum().backward()
    assert scale.grad[0] == 0 and scale.grad[1] > 0


# ----------------------------------------------------------------------------- context model


def test_causal_mask():
    first, rest = causal_mask(5, False), causal_mask(5, True)
    assert first.shape == rest.shape == (1, 1, 5, 5, 5)
    assert int(first.sum()) == 62 and int(rest.sum()) == 63
    # Raster order (t, then h, then w): the centre (2, 2, 2) is tap 62.
    assert first[0, 0, 2, 2, 2] == 0 and rest[0, 0, 2, 2, 2] == 1
    flat_first, flat_rest = first.flatten(), rest.flatten()
    assert (flat_first[:62] == 1).all() and (flat_first[62:] == 0).all()
    assert (flat_rest[:63] == 1).all() and (flat_rest[63:] == 0).all()
    # e.g. (t - 1, h + 2, w + 2) is before the centre, (t, h + 1, w - 2) after it.
    assert first[0, 0, 1, 4, 4] == 1 and first[0, 0, 2, 3, 0] == 0
    assert int(causal_mask(3, False).sum()) == 13


def test_context_model_shapes_and_initial_output():
    model = ContextModel()
    x = torch.randint(-3, 4, (6, 1, 16, 8, 8)).float()
    mean, log_scale = model(x)
    assert mean.shape == log_scale.shape == (6, 1, 16, 8, 8)
    # The last convolution starts at zero: mean 0, scale 1 symbol everywhere.
    assert (mean == 0).all() and (log_scale == 0).all()
    with pytest.raises(ValueError):
        ContextModel(kernel=4)
    with pytest.raises(ValueError):
        ContextModel(blocks=0)


def _random_context_model(seed: int = 0) -> ContextModel:
    torch.manual_seed(seed)
    model = ContextModel(width=8, kernel=5, blocks=3).double()
    with torch.no_grad():
        nn.init.normal_(model.convs[-1].weight, std=0.1)
        nn.init.normal_(model.convs[-1].bias, std=0.1)
    return model


@pytest.mark.parametrize("position", [(7, 3, 4), (0, 0, 0), (15, 7, 7), (3, 7, 0)])
def test_context_model_is_causal_within_a_partition(position):
    model = _random_context_model()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(-4, 5, (3, 1, 16, 8, 8), generator=g).double()
    row = 1
    y = x.clone()
    y[row, 0, *position] += 5.0
    with torch.no_grad():
        before, after = model(x), model(y)
    p = np.ravel_multi_index(position, (16, 8, 8))
    for out_x, out_y in zip(before, after, strict=True):
        a, b = out_x[row, 0].flatten(), out_y[row, 0].flatten()
        # Nothing at or before p in raster order sees the change...
        torch.testing.assert_close(a[: p + 1], b[: p + 1], rtol=0, atol=1e-12)
        # ...something after it does (the next position reads p through a tap)...
        if p + 1 < a.numel():
            assert (a[p + 1 :] - b[p + 1 :]).abs().max() > 1e-6
            assert (a[p + 1] - b[p + 1]).abs() > 1e-9
        # ...and the other partitions are untouched.
        for other in (0, 2):
            torch.testing.assert_close(out_x[other], out_y[other], rtol=0, atol=1e-12)


def test_context_model_partitions_are_independent():
    model = _random_context_model(2)
    g = torch.Generator().manual_seed(3)
    x = torch.randint(-4, 5, (4, 1, 16, 8, 8), generator=g).double()
    y = x.clone()
    y[2] = torch.randint(-4, 5, (1, 16, 8, 8), generator=g).double()
    with torch.no_grad():
        (mx, sx), (my, sy) = model(x), model(y)
        alone_mean, alone_scale = model(x[3:4])
    keep = [0, 1, 3]
    torch.testing.assert_close(mx[keep], my[keep], rtol=0, atol=1e-12)
    torch.testing.assert_close(sx[keep], sy[keep], rtol=0, atol=1e-12)
    assert (mx[2] - my[2]).abs().max() > 1e-6
    # A partition's output does not depend on the batch it is in.
    torch.testing.assert_close(mx[3:4], alone_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(sx[3:4], alone_scale, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", [3, 5])
def test_one_slice_of_a_pointwise_model_is_that_slice_of_the_whole_model(kernel):
    """`ContextModel.last_slice` (training's per-slice rate) against `forward` on the whole
    partition: the same mean and log-scale at every slice, the partition's start included."""
    torch.manual_seed(4)
    model = ContextModel(width=8, kernel=kernel, blocks=3, pointwise=True).double()
    with torch.no_grad():
        for i, conv in enumerate(model.convs):
            nn.init.normal_(conv.weight, std=0.3)
            conv.weight.mul_(model.weight_mask(i))
    x = torch.randint(-4, 5, (5, 1, 6, 8, 8), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        whole = model(x.double())
        radius = model.radius
        padded = torch.cat([x.new_zeros((5, 1, radius, 8, 8)), x], dim=2).double()
        for t in range(6):
            one = model(padded[:, :, t : t + radius + 1], last_slice=True)
            for got, want in zip(one, whole, strict=True):
                assert got.shape == (5, 1, 1, 8, 8)
                torch.testing.assert_close(got, want[:, :, t : t + 1], rtol=0, atol=1e-12)
    assert whole[0].std() > 0.1 and whole[1].std() > 0.1  # a non-trivial model


def test_the_rate_of_the_slices_every_frame_reads_is_the_whole_rate():
    """Training's rate from the slices a batch of frames reads (latent grids: `last_slice`
    of the shared pointwise model) against eq. (9) over the whole grids (`forward`)."""
    model = build((6, 16, 24), "nvrc-latent")
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("net.grids."):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)  # symbols of about +-2
            elif "context.convs" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    model.train()
    model.rounding = (HARD, HARD)
    model.batch_rate = True
    with torch.no_grad():
        model(torch.arange(6))
        batch, whole = model.last_batch_rate, model.rate()
    torch.testing.assert_close(batch, whole, rtol=1e-5, atol=0)
    assert whole * model.pixels > 500  # the grids cost bits


# ----------------------------------------------------------------------------- layer coding


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("stem.bias", (48,), (48, 1)),
        ("stages.0.blocks.0.dwconv.weight", (48, 1, 3, 3), (48, 9)),
        ("stem.weight", (48, 30, 3, 3, 3), (48, 810)),
        ("stages.0.local_grids.1", (4, 2, 2, 8), (16, 8)),
        ("stages.2.local_grids.0", (8, 2, 2, 1), (32, 1)),
        ("stages.0.blocks.0.fc1.weight", (192, 48), (192, 48)),
        ("head.weight", (3, 6), (3, 6)),
    ],
)
def test_matrix_shape(name, shape, expected):
    assert matrix_shape(name, shape) == expected


@pytest.mark.parametrize(
    ("shape", "step_axes", "vectors"),
    [
        ((256, 200), (256, 200), {"out": 256, "in": 200}),  # dual-axis
        ((256, 9), (0, 9), {"in": 9}),  # each column has 256 >= 128 entries
        ((48, 300), (48, 0), {"out": 48}),  # each row has 300 >= 128 entries
        ((48, 9), (1, 0), {"out": 1}),  # per-tensor
    ],
)
def test_layer_coder_axis_fallback(shape, step_axes, vectors):
    torch.manual_seed(0)
    value = torch.randn(shape) * 0.02
    coder = LayerCoder(value, *shape, CompressionConfig())
    assert coder.step_axes == step_axes and coder.model_axes == step_axes
    params = {n: tuple(p.shape) for n, p in coder.named_parameters()}
    expected = {}
    for side, size in vectors.items():
        for kind in ("log_step", "mean", "log_scale"):
            expected[f"{kind}_{side}"] = (size,)
    assert params == expected
    phi = dict(coder.named_parameters())
    # Initialisation: step = std * layer_step_ratio, scale = std, mean 0, split evenly over
    # the axes.
    std, ratio = float(value.std()), CompressionConfig().layer_step_ratio
    step = torch.broadcast_to(torch.exp(coder.log_step(phi)), shape)
    torch.testing.assert_close(step, torch.full(shape, std * ratio), rtol=1e-5, atol=0)
    mean, log_scale = coder.model(phi)
    scale = torch.broadcast_to(torch.exp(log_scale), shape)
    torch.testing.assert_close(scale, torch.full(shape, std), rtol=1e-5, atol=0)
    assert (mean == 0).all()
    # layer_model="gaussian": per-tensor model, the steps keep their axes.
    gauss = LayerCoder(value, *shape, CompressionConfig(layer_model="gaussian"))
    assert gauss.step_axes == step_axes and gauss.model_axes == (1, 0)


def test_layer_coder_eqs_5_to_7():
    torch.manual_seed(1)
    coder = LayerCoder(torch.randn(256, 200) * 0.02, 256, 200, CompressionConfig())
    with torch.no_grad():
        for p in coder.parameters():
            p.add_(torch.randn(p.shape) * 0.5)
    phi = {n: p.detach().double() for n, p in coder.named_parameters()}
    # eq. (5): delta[i, j] = delta_out[i] * delta_in[j]
    expected_step = torch.outer(torch.exp(phi["log_step_out"]), torch.exp(phi["log_step_in"]))
    torch.testing.assert_close(torch.exp(coder.log_step(phi)), expected_step, rtol=1e-12, atol=0)
    mean, log_scale = coder.model(phi)
    scale = torch.exp(log_scale)
    mu_out, mu_in = phi["mean_out"], phi["mean_in"]
    s_out, s_in = torch.exp(phi["log_scale_out"]), torch.exp(phi["log_scale_in"])
    assert mean.shape == scale.shape == (256, 200)
    for i, j in [(0, 0), (17, 123), (255, 199), (100, 5)]:
        # eq. (6): mu_out[i] * sigma_in[j] + mu_in[j]; eq. (7): sigma_out[i] * sigma_in[j]
        assert float(mean[i, j]) == pytest.approx(float(mu_out[i] * s_in[j] + mu_in[j]))
        assert float(scale[i, j]) == pytest.approx(float(s_out[i] * s_in[j]))
    torch.testing.assert_close(mean, torch.outer(mu_out, s_in) + mu_in[None, :])
    torch.testing.assert_close(scale, torch.outer(s_out, s_in))


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("args", [TINY, CPU], ids=["tiny", "cpu"])
def test_parameter_groups(args):
    model = make(args)
    names = [n for n, _ in model.net.named_parameters()]
    grids = [f"grids.{i}" for i in range(len(model.net.grids))]
    assert model.grid_names == grids
    assert sorted(model.layer_names) == sorted(n for n in names if not n.startswith("grids."))
    assert not set(model.grid_names) & set(model.layer_names)
    assert any("local_grids" in n for n in model.layer_names)
    params = dict(model.net.named_parameters())
    for i, name in enumerate(grids):
        assert model.grid_coders[i].layout.size == tuple(params[name].shape)
    for name in model.layer_names:
        coder = model.layer_coders[name.replace(".", "-")]
        rows, cols = matrix_shape(name, tuple(params[name].shape))
        assert (coder.rows, coder.cols) == (rows, cols)
        assert rows * cols == params[name].numel()
        per_row, per_col = cols >= 128, rows >= 128
        if per_row or per_col:
            assert coder.step_axes == (rows if per_row else 0, cols if per_col else 0)
        else:
            assert coder.step_axes == (1, 0)
    # phi tensors of at least 16 values are Gaussian-coded, one psi row each.
    named = dict(model.named_parameters())
    assert model.coded_phi == [n for n in model.phi_names() if named[n].numel() >= 16]
    assert model.psi.shape == (len(model.coded_phi), 3)


def test_cpu_preset_axes():
    model = make(CPU)
    coders = model.layer_coders
    assert coders["stem-weight"].step_axes == (48, 0)  # (48, 162): per row
    assert coders["stages-0-blocks-0-fc1-weight"].step_axes == (0, 48)  # (192, 48): per column
    assert coders["stages-0-blocks-0-dwconv-weight"].step_axes == (1, 0)  # (48, 9)
    assert coders["stem-bias"].step_axes == (1, 0)


def test_eval_forward_is_the_network_on_hard_quantised_parameters():
    model = make(CPU)
    randomise(model)
    model.rounding = Rounding("soft", 0.5, 2.0)  # ignored in eval mode
    model.eval()
    frames = torch.tensor([0, 5])
    theta_hat = expected_theta_hat(model, expected_phi_hat(model))
    with torch.no_grad():
        out = model(frames)
        again = model(frames)
        expected = functional_call(model.net, theta_hat, (frames,))
        unquantised = model.net(frames)
    assert out.shape == (2, 3, 144, 176)
    assert torch.equal(out, again)  # no noise in eval mode
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert (out - unquantised).abs().max() > 1e-4  # quantisation is not a no-op
    values, bits = model.quantized()
    assert bits is None
    for name, v in values.items():
        torch.testing.assert_close(v, theta_hat[name], rtol=0, atol=1e-7, msg=name)


def test_grid_values_are_multiples_of_per_block_steps():
    model = make(CPU)
    randomise(model)
    model.eval()
    phi = expected_phi_hat(model)
    with torch.no_grad():
        values, _ = model.quantized()
    grid = model.net.grids[0].detach()
    assert tuple(grid.shape) == (11, 9, 11, 2)  # two blocks along H and W
    step = grid_step(model, 0, phi)
    symbols = values["grids.0"] / step
    torch.testing.assert_close(symbols, torch.round(symbols), rtol=0, atol=1e-4)
    torch.testing.assert_close(symbols, torch.round(grid / step), rtol=0, atol=1e-4)
    assert (symbols.abs() > 0.5).float().mean() > 0.5  # non-trivial symbols
    # Eq. (2): one step per 16x8x8 block and channel. Changing the step of block (0, 1, 0),
    # channel 1 changes exactly the values of rows 8.., columns 0..7, channel 1.
    with torch.no_grad():
        model.grid_coders[0].log_steps[0, 1, 0, 1] += 0.7
        changed = model.quantized()[0]["grids.0"] != values["grids.0"]
    region = torch.zeros_like(changed)
    region[:, 8:, :8, 1] = True
    assert not changed[~region].any()
    assert changed[region].float().mean() > 0.5


def test_rate_bits_match_independent_reference():
    model = make(CPU)
    randomise(model)
    model.eval()
    phi = expected_phi_hat(model)
    with torch.no_grad():
        bits = {k: float(v) for k, v in model.rate_bits().items()}
    assert set(bits) == set(GROUPS)
    params = {n: p.detach() for n, p in model.net.named_parameters()}
    # Grids: the context model starts at mean 0, scale 1 symbol; padding is not coded.
    grid_ref = 0.0
    for i, name in enumerate(model.grid_names):
        s = torch.round(params[name] / grid_step(model, i, phi))
        assert s.abs().max() <= 4  # no symbol in the far tail (see `randomise`)
        grid_ref += ref_bits(_np(s), 0.0, 1.0).sum()
    assert bits["grids"] == pytest.approx(grid_ref, rel=1e-5)
    # Layers: eqs. (5)-(7), means and scales divided by the step.
    layer_ref = 0.0
    for name in model.layer_names:
        prefix = f"layer_coders.{name.replace('.', '-')}."
        rows, cols = matrix_shape(name, tuple(params[name].shape))
        step = torch.exp(layer_log_step(phi, prefix))
        s = torch.round(params[name].reshape(rows, cols) / step)
        mean, scale = layer_model_ref(phi, prefix)
        step = _np(torch.broadcast_to(step, (rows, cols)))
        ref = ref_bits(_np(s), mean / step, scale / step)
        assert ref.max() < 16, name  # no symbol in the far tail (see `randomise`)
        layer_ref += ref.sum()
    assert bits["layers"] == pytest.approx(layer_ref, rel=1e-4)
    # phi: Gaussian-coded with psi's per-tensor step, mean and scale, or 16 bits a value.
    psi = model.psi.detach().half().double().numpy()
    named = dict(model.named_parameters())
    phi_ref = dict.fromkeys(("grid_quant", "grid_em", "layer_quant", "layer_em"), 0.0)
    for name in model.phi_names():
        kind = "grid" if name.startswith("grid_coders.") else "layer"
        group = kind + ("_quant" if ".log_step" in name else "_em")
        taps = causal_taps(name, named[name])
        if name in model.coded_phi:
            log_step, mean, log_scale = psi[model.coded_phi.index(name)]
            step = math.exp(log_step)
            s = np.round(_np(named[name]) / step)[taps]
            phi_ref[group] += ref_bits(s, mean / step, math.exp(log_scale) / step).sum()
        else:
            phi_ref[group] += 16 * taps.sum()
    for group, ref in phi_ref.items():
        assert bits[group] == pytest.approx(ref, rel=1e-4, abs=1e-3), group
    assert bits["psi"] == 16 * model.psi.numel()


@pytest.mark.parametrize("args", [TINY, CPU], ids=["tiny", "cpu"])
def test_rate_report(args):
    model = make(args)
    randomise(model)
    model.train()
    report = model.rate_report()
    assert model.training  # state kept
    groups = report["groups"]
    assert list(groups) == list(GROUPS)
    assert report["bits"] == pytest.approx(sum(g["bits"] for g in groups.values()), rel=1e-9)
    _, frames, height, width = args
    assert report["bpp"] == pytest.approx(report["bits"] / (frames * height * width), rel=1e-9)
    for g in groups.values():
        assert g["bits"] >= 0
        assert g["bits_per_value"] == pytest.approx(g["bits"] / max(g["values"], 1))
    # Counts: grid padding excluded.
    assert groups["grids"]["values"] == sum(g.numel() for g in model.net.grids)
    assert groups["layers"]["values"] == sum(
        p.numel() for n, p in model.net.named_parameters() if not n.startswith("grids.")
    )
    assert groups["psi"]["values"] == model.psi.numel()
    assert groups["psi"]["bits"] == 16 * model.psi.numel()
    phi = {n: p for n, p in model.named_parameters() if n.startswith(("grid_", "layer_"))}
    assert len(phi) == len(model.phi_names())
    phi_groups = ("grid_quant", "grid_em", "layer_quant", "layer_em")
    coded = sum(int(causal_taps(n, p).sum()) for n, p in phi.items())  # masked taps excluded
    assert coded == sum(groups[g]["values"] for g in phi_groups)
    # rate() is the same total per pixel (eq. 9), under the same (hard) rounding in eval mode.
    model.eval()
    with torch.no_grad():
        assert float(model.rate()) == pytest.approx(report["bpp"], rel=1e-5)


def test_cpu_grid_counts():
    assert make(("nvrc-cpu", 8, 144, 176)).counts()["grids"] == 3 * 9 * 11 * 2  # one level
    counts = make(CPU).counts()
    assert counts["grids"] == 11 * 9 * 11 * 2 + 5 * 4 * 5 * 4  # the 3rd level would be 2x2x2


def test_half_phi_coding():
    model = make(CPU, phi_coding="half")
    assert model.coded_phi == [] and model.psi.numel() == 0
    groups = model.rate_report()["groups"]
    assert groups["psi"]["bits"] == 0 and groups["psi"]["values"] == 0
    for g in ("grid_quant", "grid_em", "layer_quant", "layer_em"):
        assert groups[g]["values"] > 0
        assert groups[g]["bits"] == 16 * groups[g]["values"]


def test_fixed_grid_steps():
    model = make(CPU, learn_grid_steps=False)
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.endswith("log_steps") for n in names)
    for coder in model.grid_coders:
        assert (coder.log_steps == -4.0).all()  # a buffer at the fixed value (V5)
    groups = model.rate_report()["groups"]
    assert groups["grid_quant"]["bits"] == 0 and groups["grid_quant"]["values"] == 0


def test_gaussian_grid_model():
    model = make(CPU, grid_model="gaussian")
    assert not any("context" in n for n, _ in model.named_parameters())
    for coder in model.grid_coders:
        assert not hasattr(coder, "context")
        assert coder.mean.shape == coder.log_scale.shape == ()
    groups = model.rate_report()["groups"]
    # One mean and one log-scale per level, each stored as float16.
    assert groups["grid_em"]["values"] == 2 * len(model.grid_coders)
    assert groups["grid_em"]["bits"] == 16 * 2 * len(model.grid_coders)
    # The level's Gaussian, in value units, is divided by the step.
    randomise(model, log_steps=(-4.1, -3.9))
    with torch.no_grad():
        for coder in model.grid_coders:
            coder.mean.fill_(0.2 * math.exp(-4))
            coder.log_scale.fill_(math.log(1.3 * math.exp(-4)))
    model.eval()
    phi = expected_phi_hat(model)
    ref = 0.0
    for i, grid in enumerate(model.net.grids):
        step = grid_step(model, i, phi)
        s = torch.round(grid.detach() / step)
        mean, scale = phi[f"grid_coders.{i}.mean"], torch.exp(phi[f"grid_coders.{i}.log_scale"])
        ref += ref_bits(_np(s), _np(mean / step), _np(scale / step)).sum()
    with torch.no_grad():
        assert float(model.rate_bits()["grids"]) == pytest.approx(ref, rel=1e-5)


def test_gaussian_layer_model():
    model = make(CPU, layer_model="gaussian")
    for coder in model.layer_coders.values():
        assert coder.model_axes == (1, 0)
        assert coder.mean_out.shape == coder.log_scale_out.shape == (1,)
        assert not hasattr(coder, "mean_in")
    assert model.layer_coders["stem-weight"].step_axes == (48, 0)  # steps keep their axes
    assert model.rate_report()["bits"] > 0


def test_rate_is_differentiable():
    model = make(CPU)
    with torch.no_grad():  # exercise the context models' whole gradient path
        for coder in model.grid_coders:
            nn.init.normal_(coder.context.convs[-1].weight, std=0.05)
    model.train()
    model.rounding = Rounding("soft", 0.5, 2.0)
    rate = model.rate()
    assert rate.ndim == 0 and float(rate.detach()) > 0
    rate.backward()
    named = dict(model.named_parameters())
    for name, p in named.items():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    nonzero = [
        "net.grids.0",
        "net.grids.1",
        "net.stem.weight",
        "net.stages.0.blocks.0.fc1.weight",
        "net.stages.1.local_grids.0",
        "grid_coders.0.log_steps",
        "grid_coders.1.log_steps",
        "layer_coders.stem-weight.log_step_out",
        "layer_coders.stages-0-blocks-0-fc1-weight.log_step_in",
        "layer_coders.stages-0-blocks-0-fc1-weight.mean_in",
        "layer_coders.stem-weight.log_scale_out",
        "psi",
    ]
    for i in range(len(model.grid_coders)):
        for j in range(3):
            nonzero += [f"grid_coders.{i}.context.convs.{j}.weight"]
            nonzero += [f"grid_coders.{i}.context.convs.{j}.bias"]
    for name in nonzero:
        assert named[name].grad.abs().max() > 0, name
