"""What a benchmark runs: sequences x codecs x rate points, from YAML or from command-line flags.

The whole spec is checked before anything runs (`plan`): every codec is built through
`get_codec` (an unknown name raises `CodecError` listing the known ones), every rate point goes
through the codec's `check_rate_point`, and every sequence is opened (lazily, so this is cheap)
with its frame range. A typo found after an hour of encoding is no use to anyone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from inrcodec.bench.codecs import get_codec
from inrcodec.codecs import Codec
from inrcodec.errors import InrcodecError
from inrcodec.io import VideoFormatError, read_video


class SpecError(InrcodecError):
    """A benchmark spec that cannot run: a missing key, a wrong type, an unreadable sequence."""


#: Keys a sequence entry may hold besides ``path``, ``name``, ``start`` and ``frames``: the
#: facts `read_video` needs for raw ``.yuv`` files whose names do not carry them.
RAW_KEYS = ("size", "chroma", "bit_depth", "fps")
_SEQUENCE_KEYS = {"path", "name", "start", "frames", *RAW_KEYS}
_CODEC_KEYS = {"codec", "label", "curve", "options", "rate_points"}
_TOP_KEYS = {"sequences", "codecs", "start", "frames"}


@dataclass(frozen=True)
class Sequence:
    """One source clip: ``frames`` frames of ``path`` from ``start`` (resolved by `plan`)."""

    name: str
    path: str
    start: int = 0
    frames: int | None = None
    read_options: dict[str, Any] = field(default_factory=dict)

    def read(self):
        return read_video(self.path, start=self.start, frames=self.frames, **self.read_options)


@dataclass(frozen=True)
class CodecRun:
    """One codec entry: registry name, constructor options, rate points (None: its defaults;
    a name stands for a codec's named rate point, `Codec.named_rate_point`).

    ``curve`` names the RD curve in reports (default: the label); entries that share a curve
    are one curve, e.g. one entry per network size of an INR codec."""

    codec: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    rate_points: list[int | float | str] | None = None
    curve: str | None = None


@dataclass(frozen=True)
class Spec:
    sequences: list[Sequence]
    codecs: list[CodecRun]


@dataclass(frozen=True)
class Point:
    """One measurement: a codec at one rate point on one sequence."""

    codec: CodecRun
    rate_point: int | float
    sequence: Sequence

    def identity(self) -> dict[str, Any]:
        """The fields that identify this point in a results file (see `point_key`)."""
        return {
            "codec": self.codec.codec,
            "label": self.codec.label,
            "curve": self.codec.curve or self.codec.label,
            "options": self.codec.options,
            "rate_point": self.rate_point,
            "sequence": self.sequence.name,
            "path": self.sequence.path,
            "start": self.sequence.start,
            "frames": self.sequence.frames,
        }

    def describe(self) -> str:
        return f"{self.codec.label} @ {self.rate_point} on {self.sequence.name}"


def point_key(record: dict[str, Any]) -> str:
    """What makes two results the same point: codec, options, rate point, sequence, range.

    The label and the curve are left out on purpose: they only name things in reports. A rate
    point counts by its value: 4 and 4.0 (a named rate point's lambda) are one point.
    """
    fields = ("codec", "options", "rate_point", "sequence", "path", "start", "frames")
    rate = record["rate_point"]
    record = {
        **record,
        "rate_point": int(rate) if isinstance(rate, float) and rate.is_integer() else rate,
    }
    return json.dumps([record[name] for name in fields], sort_keys=True)


def load_spec(path: str | Path) -> Spec:
    """Read a YAML spec; relative sequence paths are relative to the spec file's folder."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    return parse_spec(data, base=path.parent, source=str(path))


def parse_spec(data: Any, base: Path = Path("."), source: str = "spec") -> Spec:
    """Build a `Spec` from plain data (what YAML gives), checking every key and type."""
    _check_mapping(data, _TOP_KEYS, source)
    defaults = {key: data[key] for key in ("start", "frames") if key in data}
    sequences = [
        _parse_sequence(entry, defaults, base, f"{source}: sequences[{i}]")
        for i, entry in enumerate(_nonempty_list(data, "sequences", source))
    ]
    codecs = [
        _parse_codec(entry, f"{source}: codecs[{i}]")
        for i, entry in enumerate(_nonempty_list(data, "codecs", source))
    ]
    _check_unique([s.name for s in sequences], "sequence name", source)
    _check_unique(
        [c.label for c in codecs], "codec label (give entries of one codec a label)", source
    )
    return Spec(sequences, codecs)


def plan(spec: Spec) -> list[Point]:
    """Check everything the spec names and list its points, sequence by sequence."""
    sequences = [_resolve_frames(sequence) for sequence in spec.sequences]
    runs = []  # (codec entry, rate point), named rate points resolved
    for run in spec.codecs:
        codec = get_codec(run.codec, **run.options)
        for rate_point in run.rate_points or codec.default_rate_points():
            runs.append(_resolve_rate_point(codec, run, rate_point))
    return [Point(run, rate_point, sequence) for sequence in sequences for run, rate_point in runs]


def _resolve_rate_point(codec: Codec, run: CodecRun, rate_point: int | float | str):
    """``(run, rate point)`` with a named rate point replaced by what it stands for
    (`Codec.named_rate_point`: its options join the entry's), the rate point checked."""
    if isinstance(rate_point, str):
        options, rate_point = codec.named_rate_point(rate_point)
        clash = sorted(key for key in options if run.options.get(key, options[key]) != options[key])
        if clash:
            raise SpecError(
                f"codec {run.label!r}: its rate point sets {', '.join(clash)}, which its "
                "options set otherwise"
            )
        run = replace(run, options={**run.options, **options})
        codec = get_codec(run.codec, **run.options)
    codec.check_rate_point(rate_point)
    return run, rate_point


def _resolve_frames(sequence: Sequence) -> Sequence:
    """The sequence with its frame count fixed (``frames: None`` means to the end)."""
    try:
        video = sequence.read()
    except (OSError, VideoFormatError) as error:
        raise SpecError(
            f"sequence {sequence.name!r}: cannot read {sequence.path}: {error}"
        ) from None
    return Sequence(
        sequence.name, sequence.path, sequence.start, video.num_frames, sequence.read_options
    )


def _parse_sequence(entry: Any, defaults: dict, base: Path, where: str) -> Sequence:
    if isinstance(entry, str):
        entry = {"path": entry}
    _check_mapping(entry, _SEQUENCE_KEYS, where)
    if not isinstance(entry.get("path"), str):
        raise SpecError(f"{where}: needs a 'path' (a string)")
    entry = {**defaults, **entry}
    path = Path(os.path.abspath(base / entry["path"]))  # as written: symlinks not followed
    name = entry.get("name", path.stem)
    start, frames = entry.get("start", 0), entry.get("frames")
    if not _is_int(start) or start < 0:
        raise SpecError(f"{where}: start must be a frame index >= 0, got {start!r}")
    if frames is not None and (not _is_int(frames) or frames < 1):
        raise SpecError(f"{where}: frames must be a positive count, got {frames!r}")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: name must be a non-empty string, got {name!r}")
    read_options = {key: entry[key] for key in RAW_KEYS if key in entry}
    return Sequence(name, str(path), start, frames, read_options)


def _parse_codec(entry: Any, where: str) -> CodecRun:
    if isinstance(entry, str):
        entry = {"codec": entry}
    _check_mapping(entry, _CODEC_KEYS, where)
    codec = entry.get("codec")
    if not isinstance(codec, str):
        raise SpecError(f"{where}: needs 'codec' (a registered codec name)")
    options = entry.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise SpecError(f"{where}: options must be a mapping of names to values")
    rate_points = entry.get("rate_points")
    if rate_points is not None and (
        not isinstance(rate_points, list)
        or not rate_points
        or not all(_is_number(r) or isinstance(r, str) for r in rate_points)
    ):
        raise SpecError(f"{where}: rate_points must be a non-empty list of numbers or names")
    label = entry.get("label", codec)
    curve = entry.get("curve", label)
    for key, name in (("label", label), ("curve", curve)):
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}: {key} must be a non-empty string")
    return CodecRun(codec, label, options, rate_points, curve)


def _check_mapping(data: Any, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {sorted(allowed)}")


def _nonempty_list(data: dict, key: str, where: str) -> list:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise SpecError(f"{where}: '{key}' must be a non-empty list")
    return value


def _check_unique(names: list[str], what: str, where: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SpecError(f"{where}: repeated {what}: {', '.join(repeated)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
