"""BD-rate: known values, the interpolation methods, and curves where it is undefined."""

from __future__ import annotations

import pytest

from conftest import REPO
from inrcodec.bench import BDRateError, bd_rate, bd_rate_table
from inrcodec.bench.bdrate import MIN_POINTS

RATES = [1000.0, 1800.0, 3300.0, 6100.0]
PSNR = [32.1, 34.8, 37.2, 39.5]


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_a_curve_against_itself_is_zero(method):
    assert bd_rate(RATES, PSNR, RATES, PSNR, method) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_ten_percent_fewer_bits_everywhere_is_minus_ten_percent(method):
    cheaper = [0.9 * rate for rate in RATES]
    assert bd_rate(RATES, PSNR, cheaper, PSNR, method) == pytest.approx(-10.0, abs=1e-6)
    assert bd_rate(cheaper, PSNR, RATES, PSNR, method) == pytest.approx(100 / 9, abs=1e-6)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_a_hand_computed_case_over_a_partial_overlap(method):
    # log2(rate) is linear in quality for both curves, so both interpolations are exact:
    # anchor log2 r = (q - 30) / 2 on 30..36 dB, test log2 r = (q - 30) / 4 on 30..42 dB.
    # Over the overlap 30..36 the mean log2 difference is -(1/6) * integral_0^6 x/4 dx = -0.75,
    # so BD-rate = 2**-0.75 - 1 = -40.54 %.
    anchor = ([1, 2, 4, 8], [30, 32, 34, 36])
    test = ([1, 2, 4, 8], [30, 34, 38, 42])
    assert bd_rate(*anchor, *test, method) == pytest.approx((2**-0.75 - 1) * 100, abs=1e-9)


def test_point_order_does_not_matter():
    shuffled = [2, 0, 3, 1]
    rates = [RATES[i] * 0.8 for i in shuffled]
    psnr = [PSNR[i] + 0.3 for i in shuffled]
    assert bd_rate(RATES, PSNR, rates, psnr) == pytest.approx(
        bd_rate(RATES, PSNR, sorted(rates), sorted(psnr))
    )


def test_pchip_and_cubic_differ_on_a_bent_curve():
    psnr = [30.0, 31.0, 36.0, 37.0]
    pchip = bd_rate(RATES, PSNR, RATES, psnr, "pchip")
    cubic = bd_rate(RATES, PSNR, RATES, psnr, "cubic")
    assert abs(pchip - cubic) > 0.1


def test_undefined_cases_raise_with_a_reason():
    with pytest.raises(BDRateError, match="no overlap in quality"):
        bd_rate(RATES, PSNR, RATES, [q + 10 for q in PSNR])
    with pytest.raises(BDRateError, match="cubic needs at least 4"):
        bd_rate(RATES[:3], PSNR[:3], RATES, PSNR, "cubic")
    with pytest.raises(BDRateError, match="pchip needs at least 2"):
        bd_rate(RATES[:1], PSNR[:1], RATES, PSNR)
    with pytest.raises(BDRateError, match="same quality"):
        bd_rate(RATES, [30, 30, 31, 32], RATES, PSNR)
    with pytest.raises(BDRateError, match="positive"):
        bd_rate([0, *RATES[1:]], PSNR, RATES, PSNR)


def record(label, sequence, bpp, psnr):
    return {"label": label, "sequence": sequence, "bpp": bpp, "psnr_rgb": psnr}


def test_the_table_has_per_sequence_values_an_average_and_reasons_for_n_a():
    records = [
        *(record("anchor", s, r, q) for s in ("a", "b") for r, q in zip(RATES, PSNR, strict=True)),
        *(
            record("half", s, r / 2, q)
            for s in ("a", "b")
            for r, q in zip(RATES, PSNR, strict=True)
        ),
        *(record("apart", "a", r, q + 20) for r, q in zip(RATES, PSNR, strict=True)),
    ]
    table = bd_rate_table(records, "anchor", "psnr_rgb")
    assert table["half"] == pytest.approx({"a": -50, "b": -50, "average": -50})
    assert table["apart"]["a"].startswith("n/a: no overlap in quality")
    assert table["apart"]["b"] == "n/a: no points"
    assert table["apart"]["average"] == "n/a: 2 sequence(s) n/a"
    with pytest.raises(BDRateError, match="no results"):
        bd_rate_table(records, "missing", "psnr_rgb")


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("metric", ["psnr_rgb", "psnr_yuv", "ms_ssim_rgb"])
def test_our_bd_rates_are_those_of_the_bjontegaard_package(method, metric):
    """The field's tool (FAU-LMS ``bjontegaard``, checked against the JVET CTC sheets) gives
    the same figures on every curve of the committed CPU results, against x265."""
    import warnings

    import bjontegaard

    from inrcodec.bench import read_results
    from inrcodec.bench.results import curve_points

    results = REPO / "benchmarks" / "results" / "cpu_rd.jsonl"
    curves = curve_points(read_results(results), metric)
    compared = 0
    for (curve, sequence), points in curves.items():
        if curve == "x265-veryslow" or len(points) < MIN_POINTS[method]:
            continue
        rates_and_qualities = [
            *zip(*curves["x265-veryslow", sequence], strict=True), *zip(*points, strict=True)
        ]
        with warnings.catch_warnings():  # it warns when the quality ranges overlap little
            warnings.simplefilter("ignore")
            theirs = bjontegaard.bd_rate(
                *rates_and_qualities, method=method, require_matching_points=False
            )
        # 1e-7: on MS-SSIM's narrow range the two cubic fits round differently
        assert bd_rate(*rates_and_qualities, method) == pytest.approx(theirs, rel=1e-7)
        compared += 1
    assert compared >= 9  # hinerv, svtav1 and x264 on three clips (nvrc too for pchip)
