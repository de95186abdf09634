"""benchmarks/bench_latent_design.py: its BD-rate of two or three points, and that every
variant names fields its presets and configs have."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import fields
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bench_latent_design.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_latent_design", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bd_rate_of_a_few_points(bench):
    anchor = [(0.1, 30.0), (0.2, 33.0), (0.4, 35.0)]
    assert bench.bd_rate(anchor, anchor) == pytest.approx(0.0)
    half = [(r / 2, p) for r, p in anchor]
    assert bench.bd_rate(anchor, half) == pytest.approx(-50.0)
    # one point 1 dB better at the same rate, the other the same: the gain is where they differ
    better = [(0.1, 31.0), (0.2, 33.0)]
    assert -25.0 < bench.bd_rate(anchor[:2], better) < 0.0
    assert math.isnan(bench.bd_rate([(0.1, 20.0), (0.2, 21.0)], [(0.1, 30.0), (0.2, 31.0)]))


def test_every_variant_changes_known_settings(bench):
    from inrcodec.codecs.nvrc.model import CompressionConfig
    from inrcodec.codecs.training.fitting import TrainConfig

    compression_fields = {f.name for f in fields(CompressionConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    for compression, network, options in bench.VARIANTS.values():
        assert set(compression) <= compression_fields
        assert set(network) <= set(bench._NETWORK_FIELDS)
        assert set(options) <= train_fields
