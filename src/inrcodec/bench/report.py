"""A Markdown report of a results file: setup, BD-rate tables, RD plots, every measured point."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inrcodec.atomic import write_atomic
from inrcodec.bench.bdrate import METHODS, bd_rate_table
from inrcodec.bench.plots import plot_rd
from inrcodec.bench.results import available_metrics, curve_of, is_failure, read_results
from inrcodec.bench.spec import point_key
from inrcodec.errors import InrcodecError

#: What BD-rates are measured against by default, the first found: x265 veryslow's curve, or
#: any x265 curve (the slowest preset is the usual anchor of a codec comparison).
DEFAULT_ANCHORS = ("x265-veryslow", "x265")


class ReportError(InrcodecError):
    """A report that cannot be made: no results, or an anchor that is not among them."""


def write_report(
    results_path: str | Path,
    out_dir: str | Path,
    anchor: str | None = None,
    method: str = "pchip",
    log_rate: bool = False,
) -> Path:
    """Write ``report.md`` and its plots (``rd_<metric>.png/.svg``, bpp on a log axis with
    ``log_rate``) into ``out_dir``.

    ``anchor`` names the curve BD-rates are measured against (`find_anchor`): by default the
    x265 curve. Failure records are not measurements: only the points that still have no
    result are listed. Every quality metric all the records hold is reported.
    """
    everything = read_results(results_path, failures=True)
    records = [record for record in everything if not is_failure(record)]
    if not records:
        raise ReportError(f"{results_path}: no results")
    _check_consistent(records, results_path)
    anchor = find_anchor(records, anchor, results_path)
    metrics = available_metrics(records)
    out_dir = Path(out_dir)
    for metric in metrics:
        plot_rd(records, metric, out_dir / f"rd_{metric}", log_rate=log_rate)
    lines = [
        "# Benchmark report",
        "",
        f"{len(records)} points from `{results_path}`, reported "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}.",
        *_setup(records),
        *_bd_rates(records, anchor, method, metrics),
        *_plots(metrics, log_rate),
        *_points(records, metrics),
        *_failures(everything),
    ]
    report = out_dir / "report.md"
    write_atomic(report, ("\n".join(lines) + "\n").encode())
    return report


def find_anchor(records: list[dict[str, Any]], anchor: str | None, results_path) -> str:
    """The curve that ``anchor`` names: a curve, a codec label, or a registry codec name with
    one curve (``x265`` for a curve labelled ``x265-veryslow``); by default the first of
    `DEFAULT_ANCHORS` found, and without one the first curve in alphabetical order."""
    curves = sorted({curve_of(record) for record in records})
    by_name: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for name in (curve_of(record), record["label"], record["codec"]):
            by_name[name].add(curve_of(record))
    if anchor is None:
        defaults = [sorted(by_name[name]) for name in DEFAULT_ANCHORS if name in by_name]
        return (defaults or [curves])[0][0]
    found = sorted(by_name.get(anchor, ()))
    if len(found) == 1:
        return found[0]
    if found:
        raise ReportError(f"--anchor {anchor} names several curves ({', '.join(found)}): pick one")
    codecs = sorted({record["codec"] for record in records})
    raise ReportError(
        f"--anchor {anchor} is not in {results_path}; curves there: {', '.join(curves)} "
        f"(codecs: {', '.join(codecs)})"
    )


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
                f"`{Path(r['path']).name}`",  # the file, not the folders of whoever ran it
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
    shared = _shared(r["versions"] for r in records)
    lines += ["", "### Codecs", ""]
    lines += _table(
        ["codec", "curve", "registry name", "rate points", "options", "settings", "versions"],
        [_codec_row(label, rs, shared) for label, rs in sorted(by_label.items())],
    )
    hosts = "; ".join(sorted({_pairs(r["host"]) for r in records}))
    window = ", ".join(sorted({str(r["ms_ssim_window"]) for r in records}))
    lines += [
        "",
        "Settings list what every point of a codec shares; those that change from point to "
        "point (the rate control, the coder's command line, measured sizes) are named only: "
        "each point's are in the results file.",
        "",
        f"Software of every point: {_pairs(shared)}. Host: {hosts}. Times are wall-clock "
        "seconds of the codec's own encode and decode.",
        "",
        "Quality is measured by inrcodec on the decoded video against the source: RGB via "
        f"{', '.join(sorted({r['rgb_matrix'].upper() for r in records}))} (PSNR over the three "
        "channels, MS-SSIM averaged over them); YUV PSNR per native plane combined 6:1:1; VMAF "
        "(libvmaf's vmaf_v0.6.1 model) and XPSNR (luma) by the bundled ffmpeg on the same "
        f"frames, where the results hold them. MS-SSIM window: {window}. Rate: bpp = 8 x bytes "
        "/ (frames x width x height).",
    ]
    return lines


def _codec_row(label: str, records: list[dict[str, Any]], shared_versions: dict) -> list[str]:
    """A codec entry's row: what its points share, the names of what differs between them,
    and the versions that are not every point's (`shared_versions`)."""
    settings = [r["settings"] for r in records]
    versions = [
        {k: v for k, v in r["versions"].items() if k not in shared_versions} for r in records
    ]
    first = records[0]
    rate_points = ", ".join(str(p) for p in sorted({r["rate_point"] for r in records}))
    return [
        label,
        curve_of(first),
        first["codec"],
        f"{first['rate_parameter']} {rate_points}",
        _pairs(first["options"]),
        _pairs(_shared(settings), _varying(settings)),
        _pairs(_shared(versions), _varying(versions)),
    ]


def _bd_rates(
    records: list[dict[str, Any]], anchor: str, method: str, metrics: dict[str, str]
) -> list[str]:
    joined = sorted(
        curve
        for curve in {curve_of(r) for r in records}
        if len({r["label"] for r in records if curve_of(r) == curve}) > 1
    )
    lines = [
        "",
        f"## BD-rate against {anchor}",
        "",
        f"Method: {method}, {METHODS[method]}; rate in bpp. Negative: fewer bits than "
        f"{anchor} for the same quality. Average: mean over sequences of the per-sequence values.",
    ]
    if joined:
        lines += [
            "",
            f"{', '.join(joined)}: curves joining several codec entries (network sizes); their "
            "BD-rates and plotted lines use each sequence's Pareto front of those entries' points "
            "(the points no other point beats in both rate and quality).",
        ]
    for metric, title in metrics.items():
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


def _plots(metrics: dict[str, str], log_rate: bool) -> list[str]:
    axis = "a logarithmic axis (--log-rate)" if log_rate else "a linear axis (--log-rate: log)"
    lines = [
        "",
        "## RD curves",
        "",
        f"bpp on {axis}. Lines: what BD-rate integrates; dots: every measured point.",
    ]
    for metric, title in metrics.items():
        lines += ["", f"![{title}](rd_{metric}.png)", "", f"[SVG](rd_{metric}.svg)"]
    return lines


#: How the points table prints each metric.
_POINT_COLUMNS = {
    "psnr_rgb": ("PSNR RGB", ".3f"),
    "psnr_yuv": ("PSNR YUV", ".3f"),
    "ms_ssim_rgb": ("MS-SSIM RGB", ".5f"),
    "vmaf": ("VMAF", ".2f"),
    "xpsnr_y": ("XPSNR Y", ".3f"),
}


def _points(records: list[dict[str, Any]], metrics: dict[str, str]) -> list[str]:
    rows = sorted(records, key=lambda r: (r["sequence"], r["label"], r["bpp"]))
    columns = [(metric, *_POINT_COLUMNS[metric]) for metric in metrics]
    return [
        "",
        "## Points",
        "",
        *_table(
            ["sequence", "codec", "rate point", "bytes", "bpp",
             *(name for _, name, _ in columns), "enc s", "dec s"],
            [
                [
                    r["sequence"],
                    r["label"],
                    f"{r['rate_parameter']} {r['rate_point']}",
                    str(r["bytes"]),
                    f"{r['bpp']:.4f}",
                    *(format(r[metric], spec) for metric, _, spec in columns),
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


def _shared(mappings) -> dict[str, Any]:
    """The entries every mapping holds with one value."""
    mappings = list(mappings)
    first = mappings[0]
    return {k: v for k, v in first.items() if all(m.get(k, object()) == v for m in mappings)}


def _varying(mappings) -> list[str]:
    """The keys whose values differ between the mappings (or that some lack)."""
    mappings = list(mappings)
    shared = _shared(mappings)
    return sorted({k for m in mappings for k in m} - set(shared))


def _pairs(mapping: dict[str, Any], varying: list[str] = ()) -> str:
    """``key: value`` pairs, short: no None values, floats to 4 significant digits, nested
    mappings inline; then the names of ``varying`` keys."""
    pairs = [f"{k}: {_short(v)}" for k, v in sorted(mapping.items()) if v is not None]
    if varying:
        pairs.append(f"per point: {', '.join(varying)}")
    return ", ".join(pairs) or "-"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_short(v)}" for k, v in value.items())
    return str(value)


def _percent(value: float | str) -> str:
    return f"{value:+.2f} %" if isinstance(value, float) else value


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [row(header), row(["---"] * len(header)), *(row(r) for r in rows)]
