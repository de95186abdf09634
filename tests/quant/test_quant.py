"""Rounding surrogates (NVRC Sec. 3.4, App. A.2)."""

from __future__ import annotations

import pytest
import torch

from inrcodec.quant import (
    Rounding,
    half_ste,
    kumaraswamy_noise,
    soft_round,
    ste_round,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def away_from_ties(n: int, seed: int = 0, low: float = -20.0, high: float = 20.0, gap=0.02):
    """``n`` random values whose fractional part is at least `gap` away from 1/2."""
    g = torch.Generator().manual_seed(seed)
    x = low + (high - low) * torch.rand(n, generator=g)
    frac = x - torch.floor(x)
    return torch.where((frac - 0.5).abs() < gap, x + 2 * gap, x)


# ----------------------------------------------------------------------------- soft_round


def test_soft_round_at_low_temperature_is_rounding():
    x = away_from_ties(10_000)
    assert torch.equal(soft_round(x, 1e-3), torch.round(x))


def test_soft_round_at_high_temperature_is_identity():
    x = away_from_ties(10_000, seed=1)
    torch.testing.assert_close(soft_round(x, 1e3), x, atol=1e-4, rtol=0)
    # In between it moves x towards the nearest integer without passing it.
    y = soft_round(x, 0.3)
    assert ((y - torch.round(x)).abs() <= (x - torch.round(x)).abs() + 1e-6).all()
    assert ((y - torch.round(x)).abs() < (x - torch.round(x)).abs()).float().mean() > 0.99


def test_soft_round_keeps_integers_and_half_integers():
    k = torch.arange(-5, 6, dtype=torch.float64)
    for t in (0.01, 0.3, 1.0, 10.0):
        torch.testing.assert_close(soft_round(k, t), k, atol=1e-12, rtol=0)
        torch.testing.assert_close(soft_round(k + 0.5, t), k + 0.5, atol=1e-12, rtol=0)


@pytest.mark.parametrize("temperature", [0.01, 0.1, 0.5, 2.0])
def test_soft_round_is_monotone_and_continuous(temperature):
    x = torch.linspace(-3.0, 3.0, 60_001, dtype=torch.float64)
    y = soft_round(x, temperature)
    assert (torch.diff(y) >= 0).all()
    # Continuous across the integers, where floor(x) jumps: no step larger than the slope allows.
    slope = 1.0 / (temperature * torch.tanh(torch.tensor(0.5 / temperature)))  # max at r=0
    assert torch.diff(y).max() <= float(slope) * 1e-4 + 1e-12


@pytest.mark.parametrize("temperature", [0.0, -0.5])
def test_soft_round_rejects_non_positive_temperature(temperature):
    with pytest.raises(ValueError):
        soft_round(torch.zeros(3), temperature)
    with pytest.raises(ValueError):
        Rounding("soft", temperature=temperature)(torch.zeros(3))


# ----------------------------------------------------------------------------- Kumaraswamy noise


def test_kumaraswamy_noise_range_and_uniform_case():
    torch.manual_seed(0)
    like = torch.empty(100_000)
    u = kumaraswamy_noise(like, 1.0)
    assert u.shape == like.shape and u.dtype == like.dtype
    # torch.rand is [0, 1), so -1/2 itself is reachable (probability 2**-24 per sample).
    assert (u >= -0.5).all() and (u < 0.5).all()
    assert abs(float(u.mean())) < 5e-3  # std error ~9e-4
    assert abs(float(u.var()) - 1.0 / 12.0) < 2e-3  # std error ~2.4e-4
    # Uniform: a quarter of the samples in each quarter of the interval.
    hist = torch.histc(u, bins=4, min=-0.5, max=0.5) / u.numel()
    torch.testing.assert_close(hist, torch.full((4,), 0.25), atol=1e-2, rtol=0)


def test_kumaraswamy_noise_concentrates_with_larger_a():
    torch.manual_seed(1)
    like = torch.empty(100_000)
    variances = []
    for a in (1.0, 2.0, 4.0):
        u = kumaraswamy_noise(like, a)
        assert (u >= -0.5).all() and (u < 0.5).all()
        variances.append(float(u.var()))
        # The mode is at 0 (the Kumaraswamy mode at 1/2): the central bin is the fullest.
        hist = torch.histc(u, bins=5, min=-0.5, max=0.5)
        if a > 1:
            assert int(hist.argmax()) == 2
    assert variances[0] > variances[1] + 0.01 > variances[2] + 0.02


def test_kumaraswamy_noise_rejects_a_below_one():
    with pytest.raises(ValueError):
        kumaraswamy_noise(torch.zeros(3), 0.5)


# ----------------------------------------------------------------------------- Rounding


def test_rounding_modes_are_validated():
    with pytest.raises(ValueError):
        Rounding("nearest")
    with pytest.raises(ValueError):
        Rounding("quant-noise", ratio=1.5)
    with pytest.raises(ValueError):
        Rounding("quant-noise", ratio=-0.1)


def test_hard_rounding_is_round():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(2)) * 10
    assert torch.equal(Rounding("hard")(x), torch.round(x))
    assert torch.equal(Rounding()(x), torch.round(x))


def test_straight_through_rounding_codes_exactly_and_passes_the_gradient():
    x = (torch.randn(100, generator=torch.Generator().manual_seed(4)) * 10).requires_grad_()
    y = Rounding("ste")(x)
    assert torch.equal(y.detach(), torch.round(x.detach()))  # the values that will be coded
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(100))


@pytest.mark.parametrize(("temperature", "a"), [(0.5, 2.0), (0.3, 1.0), (0.05, 1.5), (2.0, 1.0)])
def test_soft_rounding_stays_near_x_and_its_rounding(temperature, a):
    torch.manual_seed(3)
    x = (torch.rand(20_000, dtype=torch.float64) - 0.5) * 40
    y = Rounding("soft", temperature, a)(x)
    # soft_round(x) lies between x and round(x); adding |u| <= 1/2 and soft-rounding again
    # lands in [round(x) - 1, round(x) + 1], and (checked numerically) within 1 of x.
    assert ((y - torch.round(x)).abs() <= 1 + 1e-9).all()
    assert ((y - x).abs() <= 1 + 1e-9).all()
    # It is noisy: two calls differ.
    assert not torch.equal(y, Rounding("soft", temperature, a)(x))


def test_soft_rounding_at_low_temperature_is_within_half_of_round():
    torch.manual_seed(4)
    x = away_from_ties(20_000, seed=4).double()
    y = Rounding("soft", 1e-3, 1.0)(x)
    # soft_round(x) == round(x); round(x) + u with u in [-1/2, 1/2) soft-rounds to within 1/2.
    assert ((y - torch.round(x)).abs() <= 0.5 + 1e-9).all()
    assert (y == torch.round(x)).double().mean() > 0.95


def test_soft_rounding_passes_a_gradient():
    torch.manual_seed(5)
    x = (torch.randn(1000) * 3).requires_grad_()
    Rounding("soft", 0.5, 2.0)(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad > 0).all()  # a composition of increasing functions


def test_quant_noise_full_ratio_rounds_everything_without_gradient():
    torch.manual_seed(6)
    x = (torch.randn(1000) * 5).requires_grad_()
    y = Rounding("quant-noise", ratio=1.0)(x)
    assert torch.equal(y, torch.round(x.detach()))
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_quant_noise_zero_ratio_is_identity_with_unit_gradient():
    torch.manual_seed(7)
    x = (torch.randn(1000) * 5).requires_grad_()
    y = Rounding("quant-noise", ratio=0.0)(x)
    assert torch.equal(y, x.detach())
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_quant_noise_half_ratio_rounds_about_half():
    torch.manual_seed(8)
    x = (away_from_ties(20_000, seed=8) + 0.0).requires_grad_()
    y = Rounding("quant-noise", ratio=0.5)(x)
    rounded = y.detach() == torch.round(x.detach())
    kept = y.detach() == x.detach()
    assert torch.equal(rounded, ~kept)  # every entry is either rounded or unchanged
    assert 0.47 < float(rounded.float().mean()) < 0.53
    y.sum().backward()
    # No straight-through estimator: the rounded entries pass no gradient, the rest pass 1.
    assert torch.equal(x.grad, kept.float())


def test_ste_round():
    x = torch.tensor([-2.7, -0.2, 0.4, 1.6, 3.0]).requires_grad_()
    y = ste_round(x)
    assert torch.equal(y.detach(), torch.round(x.detach()))
    (y * torch.arange(5.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(5.0))


def test_half_ste():
    x = (torch.randn(1000, generator=torch.Generator().manual_seed(9)) * 100).requires_grad_()
    y = half_ste(x)
    assert y.dtype == torch.float32
    assert torch.equal(y.detach(), x.detach().half().float())
    assert not torch.equal(y.detach(), x.detach())  # float16 really loses bits here
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
