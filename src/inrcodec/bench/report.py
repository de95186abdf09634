"""A Markdown report of a results file: setup, BD-rate tables, RD plots, every measured point."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inrcodec.atomic import write_atomic
from inrcodec.bench.bdrate import METHODS, bd_rate_table
from inrcodec.bench.plots import plot_rd
from inrcodec.bench.results import QUALITY_METRICS, curve_of, is_failure, read_results
from inrcodec.bench.spec import point_key
from inrcodec.errors import InrcodecError

DEFAULT_ANCHOR = "x265"


class ReportError(InrcodecError):
    """A report that cannot be made: no results, or an anchor that is not among them."""


def write_report(
    results_path: str | Path,
    out_dir: str | Path,
    anchor: str | None = None,
    method: str = "pchip",
) -> Path:
    """Write ``report.md`` and its plots (``rd_<metric>.png/.svg``) into ``out_dir``.

    ``anchor`` is the curve (codec label, or the spec's ``curve``) BD-rates are measured
    against; by default ``x265`` if it is in the results, else the first in alphabetical order.
    Failure records are not measurements: only the points that still have no result are listed.
    """
    everything = read_results(results_path, failures=True)
    records = [record for record in everything if not is_failure(record)]
    if not records:
        raise ReportError(f"{results_path}: no results")
    _check_consistent(records, results_path)
    curves = sorted({curve_of(record) for record in records})
    if anchor is None:
        anchor = DEFAULT_ANCHOR if DEFAULT_ANCHOR in curves else curves[0]
    elif anchor not in curves:
        raise ReportError(
            f"anchor {anchor!r} is not in {results_path}; codecs there: {', '.join(curves)}"
        )
    out_dir = Path(out_dir)
    for metric in QUALITY_METRICS:
        plot_rd(records, metric, out_dir / f"rd_{metric}")
    lines = [
        "# Benchmark report",
        "",
        f"{len(records)} points from `{results_path}`, reported "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}.",
        *_setup(records),
        *_bd_rates(records, anchor, method),
        *_plots(),
        *_points(records),
        *_failures(everything),
    ]
    report = out_dir / "report.md"
    write_atomic(report, ("\n".join(lines) + "\n").encode())
    return report


def _check_consistent(records: list[dict[str, Any]], results_path) -> None:
    """One curve per codec label and sequence, and one frame range per sequence name: results
    of differently configured runs appended to one file must not be mixed silently."""
    seen_points: dict[tuple, str] = {}
    ranges: dict[str, tuple] = {}
    for record in records:
        key = point_key(record)
        point = (record["label"], record["sequence"], record["rate_point"])
        if seen_points.setdefault(point, key) != key:
            raise ReportError(
                f"{results_path} holds differently configured runs of {point[0]} at "
                f"{point[2]} on {point[1]} (other options or frame range); give them distinct "
                "codec labels or sequence names, or report them from separate files"
            )
        frame_range = (record["path"], record["start"], record["frames"])
        if ranges.setdefault(record["sequence"], frame_range) != frame_range:
            raise ReportError(
                f"{results_path}: sequence {record['sequence']!r} stands for different files or "
                f"frame ranges: {ranges[record['sequence']]} and {frame_range}"
            )


def _setup(records: list[dict[str, Any]]) -> list[str]:
    sequences = _first_per(records, "sequence")
    lines = ["", "## Setup", "", "### Sequences", ""]
    lines += _table(
        ["sequence", "file", "frames", "size", "format", "fps"],
        [
            [
                name,
                f"`{r['path']}`",
                f"{r['frames']} (from {r['start']})",
                f"{r['width']}x{r['height']}",
                f"{r['chroma']}, {r['bit_depth']}-bit",
                f"{r['fps']:.3f}",
            ]
            for name, r in sequences.items()
        ],
    )
    by_label = defaultdict(list)
    for record in records:
        by_label[record["label"]].append(record)
    lines += ["", "### Codecs", ""]
    lines += _table(
        ["codec", "curve", "registry name", "rate points", "options", "settings", "versions"],
        [
            [
                label,
                curve_of(rs[0]),
                rs[0]["codec"],
                f"{rs[0]['rate_parameter']} "
                + ", ".join(str(p) for p in sorted({r["rate_point"] for r in rs})),
                _pairs([rs[0]["options"]]),
                _pairs(r["settings"] for r in rs),
                _pairs(r["versions"] for r in rs),
            ]
            for label, rs in sorted(by_label.items())
        ],
    )
    hosts = _pairs(r["host"] for r in records)
    window = ", ".join(sorted({str(r["ms_ssim_window"]) for r in records}))
    lines += [
        "",
        f"Host: {hosts}. Times are wall-clock seconds of the codec's own encode and decode.",
        "",
        "Quality is measured by inrcodec on the decoded video against the source: RGB via "
        f"{', '.join(sorted({r['rgb_matrix'].upper() for r in records}))} (PSNR over the three "
        "channels, MS-SSIM averaged over them); YUV PSNR per native plane combined 6:1:1. "
        f"MS-SSIM window: {window}. Rate: bpp = 8 x bytes / (frames x width x height).",
    ]
    return lines


def _bd_rates(records: list[dict[str, Any]], anchor: str, method: str) -> list[str]:
    lines = [
        "",
        f"## BD-rate against {anchor}",
        "",
        f"Method: {method}, {METHODS[method]}; rate in bpp. Negative: fewer bits than "
        f"{anchor} for the same quality. Average: mean over sequences of the per-sequence values.",
    ]
    for metric, title in QUALITY_METRICS.items():
        table = bd_rate_table(records, anchor, metric, method)
        lines += ["", f"### {title}", ""]
        if not table:
            lines.append(f"Only {anchor} is in the results: nothing to compare.")
            continue
        columns = list(next(iter(table.values())))
        lines += _table(
            ["codec", *columns],
            [[label, *(_percent(row[c]) for c in columns)] for label, row in table.items()],
        )
    return lines


def _plots() -> list[str]:
    lines = ["", "## RD curves"]
    for metric, title in QUALITY_METRICS.items():
        lines += ["", f"![{title}](rd_{metric}.png)", "", f"[SVG](rd_{metric}.svg)"]
    return lines


def _points(records: list[dict[str, Any]]) -> list[str]:
    rows = sorted(records, key=lambda r: (r["sequence"], r["label"], r["bpp"]))
    return [
        "",
        "## Points",
        "",
        *_table(
            ["sequence", "codec", "rate point", "bytes", "bpp", "PSNR RGB", "PSNR YUV",
             "MS-SSIM RGB", "enc s", "dec s"],
            [
                [
                    r["sequence"],
                    r["label"],
                    f"{r['rate_parameter']} {r['rate_point']}",
                    str(r["bytes"]),
                    f"{r['bpp']:.4f}",
                    f"{r['psnr_rgb']:.3f}",
                    f"{r['psnr_yuv']:.3f}",
                    f"{r['ms_ssim_rgb']:.5f}",
                    f"{r['encode_seconds']:.2f}",
                    f"{r['decode_seconds']:.2f}",
                ]
                for r in rows
            ],
        ),
    ]  # fmt: skip


def _failures(records: list[dict[str, Any]]) -> list[str]:
    """The points whose last line is a failure and that have no result (a rerun retries them)."""
    measured = {point_key(r) for r in records if not is_failure(r)}
    failed = {point_key(r): r for r in records if is_failure(r) and point_key(r) not in measured}
    if not failed:
        return []
    rows = sorted(failed.values(), key=lambda r: (r["sequence"], r["label"], str(r["rate_point"])))
    return [
        "",
        "## Failed points",
        "",
        f"{len(rows)} point(s) failed and have no result; `bench run` retries them.",
        "",
        *_table(
            ["sequence", "codec", "rate point", "error", "when"],
            [
                [r["sequence"], r["label"], str(r["rate_point"]), r["error"], r["timestamp"]]
                for r in rows
            ],
        ),
    ]


def _first_per(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for record in records:
        first.setdefault(record[key], record)
    return dict(sorted(first.items()))


def _pairs(mappings) -> str:
    """``key: value`` pairs of some mappings; a key with differing values lists them all."""
    values: dict[str, set[str]] = defaultdict(set)
    for mapping in mappings:
        for key, value in mapping.items():
            values[key].add(str(value))
    return ", ".join(f"{k}: {' / '.join(sorted(v))}" for k, v in sorted(values.items())) or "-"


def _percent(value: float | str) -> str:
    return f"{value:+.2f} %" if isinstance(value, float) else value


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [row(header), row(["---"] * len(header)), *(row(r) for r in rows)]
