"""Results files (truncated last lines), RD plots and the Markdown report."""

from __future__ import annotations

import json
import re

import pytest

from conftest import REPO
from fake_codec import write_small_clip
from inrcodec.bench import (
    ReportError,
    ResultsError,
    ResultWriter,
    bd_rate_table,
    parse_spec,
    plan,
    read_results,
    run_points,
    write_report,
)
from inrcodec.bench.plots import rd_curves
from inrcodec.cli import main
from inrcodec.codecs import CODECS, CodecEntry

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def results(sample_y4m, tmp_path_factory):
    """Two sequences, an anchor and a codec that runs other rate points (fewer bits per step)."""
    folder = tmp_path_factory.mktemp("bench")
    clip = write_small_clip(sample_y4m, folder / "small.y4m", frames=8)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(CODECS, "fake", CodecEntry("fake_codec", "FakeCodec"))
        spec = parse_spec(
            {
                "frames": 2,
                "sequences": [{"path": str(clip), "name": "head"}, {"path": str(clip), "start": 6}],
                "codecs": [
                    {"codec": "fake", "label": "anchor", "rate_points": [4, 8, 16, 32]},
                    {"codec": "fake", "label": "finer", "rate_points": [3, 6, 12, 24]},
                ],
            }
        )
        path = folder / "results.jsonl"
        assert not run_points(plan(spec), path, progress=False).failures
    return path


def test_report_writes_markdown_and_plots(results, tmp_path):
    report = write_report(results, tmp_path / "report", anchor="anchor")
    text = report.read_text()
    assert "## BD-rate against anchor" in text
    assert "piecewise cubic Hermite (PCHIP)" in text
    titles = ("PSNR RGB (dB)", "PSNR YUV 6:1:1 (dB)", "MS-SSIM RGB", "VMAF", "XPSNR Y (dB)")
    for title in titles:
        assert f"### {title}\n" in text
    assert "| codec | head | small | average |" in text
    finer_rows = [
        line for line in text.splitlines() if line.startswith("| finer | ") and "%" in line
    ]
    assert len(finer_rows) == len(titles)
    points = [line for line in text.splitlines() if re.match(r"\| \w+ \| \w+ \| step \d+ \|", line)]
    assert len(points) == 16
    for metric in ("psnr_rgb", "psnr_yuv", "ms_ssim_rgb", "vmaf", "xpsnr_y"):
        assert "![" in text and f"(rd_{metric}.png)" in text
        for suffix in (".png", ".svg"):
            assert (tmp_path / "report" / f"rd_{metric}{suffix}").stat().st_size > 1000


def test_report_from_the_cli_with_default_anchor_and_errors(results, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["bench", "report", str(results), "-o", str(out), "--method", "cubic"]) == 0
    text = (out / "report.md").read_text()
    assert "## BD-rate against anchor" in text  # no x265: the first label
    assert "VCEG-M33" in text
    assert main(["bench", "report", str(results), "--anchor", "x265", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "inrcodec: error: --anchor x265 is not in" in err and "anchor, finer" in err


def test_the_anchor_is_the_x265_curve_by_default_and_found_by_codec_or_label(tmp_path, capsys):
    """The committed CPU results hold two x265 curves, x265-veryslow and x265-medium: the
    default is veryslow (once the report fell back to the alphabetically first curve,
    hinerv); ``--anchor x265`` names both and is refused."""
    results = REPO / "benchmarks" / "results" / "cpu_rd.jsonl"
    assert main(["bench", "report", str(results), "--anchor", "x265", "-o", str(tmp_path)]) == 2
    assert "names several curves (x265-medium, x265-veryslow): pick one" in capsys.readouterr().err
    for anchor in (None, "x265-veryslow"):
        out = tmp_path / str(anchor)
        args = ["bench", "report", str(results), "-o", str(out)]
        assert main(args + (["--anchor", anchor] if anchor else [])) == 0
        text = (out / "report.md").read_text()
        assert "## BD-rate against x265-veryslow" in text
        bd_rows = [line.split(" | ")[0] for line in text.splitlines() if line.endswith("% |")]
        assert "| x264-veryslow" in bd_rows and "| x265-veryslow" not in bd_rows
    assert main(["bench", "report", str(results), "--anchor", "nvrc-cpu2", "-o", str(out)]) == 0
    assert "## BD-rate against nvrc\n" in (out / "report.md").read_text()


def test_mixed_configurations_in_one_file_are_refused(results, tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    other = json.loads(lines[0]) | {"options": {"delay": 1}}
    mixed.write_text("".join(lines) + json.dumps(other) + "\n")
    with pytest.raises(ReportError, match="differently configured runs of anchor at 4 on head"):
        write_report(mixed, tmp_path / "r")


def test_average_curves_only_where_rate_points_match(results):
    records = read_results(results)
    per_sequence, average = rd_curves(records, "psnr_rgb")
    assert sorted(per_sequence) == ["head", "small"]
    assert [len(average[label]) for label in ("anchor", "finer")] == [4, 4]
    head_4, small_4 = (
        next(
            r
            for r in records
            if r["sequence"] == s and r["label"] == "anchor" and r["rate_point"] == 4
        )
        for s in ("head", "small")
    )
    assert average["anchor"][-1] == pytest.approx(
        ((head_4["bpp"] + small_4["bpp"]) / 2, (head_4["psnr_rgb"] + small_4["psnr_rgb"]) / 2)
    )
    partial = [r for r in records if not (r["sequence"] == "head" and r["rate_point"] == 3)]
    assert rd_curves(partial, "psnr_rgb")[1]["finer"] is None


def test_a_truncated_last_line_is_ignored_then_cut_off(results, tmp_path):
    path = tmp_path / "results.jsonl"
    complete = results.read_bytes()
    path.write_bytes(complete + b'{"codec": "fake", "rate_po')
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert len(read_results(path)) == 16
    with ResultWriter(path) as writer:
        writer.append({"extra": 1})
    assert path.read_bytes() == complete + b'{"extra": 1}\n'
    assert read_results(path)[-1] == {"extra": 1}


def test_a_damaged_line_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"a": 1}\n{"b": \n{"c": 3}\n')
    with pytest.raises(ResultsError, match="line 2"):
        read_results(path)


def test_entries_that_share_a_curve_are_one_curve(results, tmp_path):
    """ "finer" split into two entries (as one entry per network size) of one curve gives the
    same BD-rates and average curve as one entry; records without a curve (older files) use
    their label."""
    records = read_results(results)
    split = []
    for record in records:
        if record["label"] == "finer":
            part = "a" if record["rate_point"] < 10 else "b"
            record = record | {"label": f"finer-{part}", "options": {"part": part}}
        else:
            record = {k: v for k, v in record.items() if k != "curve"}
        split.append(record)
    path = tmp_path / "split.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in split))
    for metric in ("psnr_rgb", "ms_ssim_rgb"):
        assert bd_rate_table(split, "anchor", metric) == bd_rate_table(records, "anchor", metric)
    assert rd_curves(split, "psnr_rgb") == rd_curves(records, "psnr_rgb")
    text = write_report(path, tmp_path / "report").read_text()
    assert "| finer-a | finer | fake | step 3, 6 |" in text
    assert "| finer-b | finer | fake | step 12, 24 |" in text
    assert len([line for line in text.splitlines() if line.startswith("| finer | ")]) == 5


@pytest.mark.integration
def test_the_report_of_the_cpu_results_is_short_and_its_plots_follow_the_bd_rate(tmp_path):
    """None of what the report once had: codec cells of hundreds of characters (every point's
    ffmpeg arguments, raw floats, None), absolute paths, zigzagging curves of two network
    sizes, a squeezed linear rate axis, and a one-sequence report that repeated its panel as
    the average."""
    from inrcodec.bench.plots import rd_figure
    from inrcodec.bench.results import pareto_front

    results = REPO / "benchmarks" / "results" / "cpu_rd.jsonl"
    text = write_report(results, tmp_path / "report", log_rate=True).read_text()
    setup = text.split("### Codecs", 1)[1].split("## BD-rate", 1)[0]
    rows = [line for line in setup.splitlines() if line.startswith("| ")]
    cells = [cell for row in rows for cell in row.split(" | ")]
    assert max(map(len, cells)) < 140, max(cells, key=len)
    assert "ffmpeg_args: -c:v" not in setup and "None" not in setup
    assert "estimated_bits: 1" not in setup  # values that differ by point are named, not listed
    assert "per point: estimated_bits, lambda, rate_gap" in setup
    assert "/work/" not in text.split("## BD-rate", 1)[0].split("\n", 3)[3]  # no folders
    assert "| carphone | `carphone_176x144_32f.y4m` |" in text
    assert "hinerv, nvrc, nvrc-hinerv: curves joining several codec entries" in text
    assert "bpp on a logarithmic axis" in text

    records = read_results(results)
    figure = rd_figure(records, "psnr_rgb", log_rate=True)
    panels = [ax for ax in figure.axes if ax.axison]
    assert [ax.get_title() for ax in panels][-1] == "average over sequences"
    assert all(ax.get_xscale() == "log" for ax in panels)
    bikes = next(ax for ax in panels if ax.get_title() == "bikes")  # where the sizes cross
    hinerv = [r for r in records if r["curve"] == "hinerv" and r["sequence"] == "bikes"]
    points = [(r["bpp"], r["psnr_rgb"]) for r in hinerv]
    line = next(line for line in bikes.lines if line.get_label() == "hinerv")
    assert list(zip(*line.get_data(), strict=True)) == pareto_front(points) != sorted(points)

    one = [r for r in records if r["sequence"] == "carphone"]
    panels = [ax for ax in rd_figure(one, "psnr_rgb").axes if ax.axison]
    assert [ax.get_title() for ax in panels] == ["carphone"]
    assert panels[0].get_xscale() == "linear"
