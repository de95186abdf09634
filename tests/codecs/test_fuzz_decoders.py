"""The decoder fuzzer (benchmarks/fuzz_decoders.py): its valid files, the fields it traces, the
mutations that reach the parsers, the outcomes of its worker pool, its rule for symbols the
file does not hold, and a short run over every registered file codec."""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_decoder_bounds import constant_tensors, golden

from conftest import REPO
from inrcodec.codecs import api
from inrcodec.codecs.api import DecoderMemoryError
from inrcodec.codecs.registry import file_codecs
from inrcodec.coding import BitstreamError, Container, encode_quantized
from inrcodec.coding.varint import ByteReader

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.integration]

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def fuzz():
    """The script as a module, importable by name, as its forked workers import it."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("fuzz_decoders")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def cache(request) -> Path:
    """The valid files, kept between test sessions in pytest's cache."""
    return Path(request.config.cache.mkdir("fuzz_decoders"))


@pytest.fixture(scope="module")
def valid(fuzz, cache) -> dict[str, bytes]:
    return {kind: fuzz.valid_file(kind, cache) for kind in fuzz.TINY_ENCODES}


@pytest.fixture(scope="module")
def traces(fuzz, valid):
    return {codec: fuzz.trace(data) for codec, data in valid.items()}


def test_every_file_codec_has_a_small_valid_file(fuzz, valid):
    assert {codec for codec, _, _ in fuzz.TINY_ENCODES.values()} == set(file_codecs())
    for kind, data in valid.items():
        header = Container.from_bytes(data).header
        assert len(data) < 16_000, kind
        assert api.decode(data).num_frames == header.frame_count == fuzz.TINY_ENCODES[kind][1]


def test_the_trace_finds_every_field_where_it_lies(traces):
    for codec, (parts, fields) in traces.items():
        assert {parts.groups[f.piece] for f in fields} == set(parts.groups), codec
        labels = {f.label for f in fields}
        assert {"width", "height", "frame_count", "section count"} <= labels, codec
        for field in fields:
            if field.kind in ("uvarint", "svarint"):
                reader = ByteReader(parts.pieces[field.piece][field.start : field.end])
                value = (
                    reader.uvarint("v")
                    if field.kind == "uvarint"
                    else reader.svarint("v", -(2**63), 2**63)
                )
                assert value == field.value and not reader.remaining, (codec, field)
    labels = {codec: {f.label for f in fields} for codec, (_, fields) in traces.items()}
    assert {"channels[0]", "expansions[0]", "stem.weight length"} <= labels["hinerv"]
    assert {"grid_size T", "coding_version", "layer_em length"} <= labels["nvrc"]
    assert {"unique parameters of layer[0]", "clip 1 length"} <= labels["teconerv"]


def test_random_damage_is_caught_by_the_crcs_and_aimed_damage_is_not(fuzz, traces):
    for codec, (parts, fields) in traces.items():
        payload_cases = 0
        for index in range(200):
            case = fuzz.mutate(random.Random(f"test {codec} {index}"), parts, fields)
            if case.target is None:
                with pytest.raises(BitstreamError):
                    Container.from_bytes(case.data)
            elif case.piece.endswith("payload"):
                Container.from_bytes(case.data)  # the framing holds: the damage reaches the codec
                payload_cases += 1
        assert payload_cases > 50, codec


def test_replacement_values_include_the_edges(fuzz):
    assert fuzz.replacement_values(4, signed=False) == [
        0,
        1,
        2,
        3,
        5,
        8,
        64,
        2**16,
        2**20,
        2**24,
        2**31,
        2**32,
        2**64 - 1,
    ]
    assert -(2**63) in fuzz.replacement_values(-3, signed=True)


def test_the_workers_classify_decodes_errors_timeouts_and_memory(fuzz, valid):
    truncated = valid["hinerv"][:-1]
    pool = fuzz.Workers(2, timeout=60, memory_mb=1024)
    try:
        results = sorted(pool.run(enumerate([valid["hinerv"], truncated, valid["teconerv"]])))
    finally:
        pool.close()
    assert [outcome for _, outcome, _ in results] == ["decoded", "clean", "decoded"]
    assert results[1][2].startswith("BitstreamError: section 1 (tag 2) CRC32: needs 4 bytes")
    pool = fuzz.Workers(1, timeout=0.01, memory_mb=1024)
    try:  # the second case runs on the worker that replaced the first
        assert [r[1] for r in pool.run(enumerate([valid["nvrc"]] * 2))] == ["timeout"] * 2
    finally:
        pool.close()
    pool = fuzz.Workers(1, timeout=60, memory_mb=4)
    try:
        assert [r[1] for r in pool.run([(0, valid["hinerv"])])] == ["memory"]
    finally:
        pool.close()


def test_a_failed_allocation_or_a_foreign_exception_fails_a_case(fuzz):
    assert fuzz.attempt(lambda: np.empty(2**62, np.uint8))[0] == "memory"
    assert fuzz.attempt(lambda: torch.empty(2**62, dtype=torch.uint8))[0] == "memory"
    assert fuzz.attempt(lambda: {}["x"]) == ("exception", "KeyError: 'x'")

    def refused():
        raise BitstreamError("refused")

    def out_of_memory():
        raise DecoderMemoryError("out of memory decoding 1 frame")

    assert fuzz.attempt(refused) == ("clean", "BitstreamError: refused")
    assert fuzz.attempt(out_of_memory)[0] == "memory"  # an inrcodec error, yet a failure


def test_info_is_fuzzed_too(fuzz):
    """The file of tensors declaring 2^24 symbols that `inrcodec info` once decoded (2.5 GB):
    decode refuses it before any clip, so only a fuzzer that runs ``info`` saw the memory."""
    pool = fuzz.Workers(1, timeout=60, memory_mb=256)
    try:
        [(_, outcome, detail)] = pool.run([(0, constant_tensors(golden("teconerv"), 2**24))])
    finally:
        pool.close()
    assert outcome == "clean" and detail.startswith("BitstreamError: decoding this file needs")


def test_the_coders_model_is_measured_right(fuzz):
    rng = np.random.default_rng(1)
    means, scales = rng.integers(-500, 500, 4000), rng.integers(30, 120, 4000)
    for family in ("gaussian", "laplace"):
        draw = rng.normal if family == "gaussian" else rng.laplace
        symbols = np.rint(draw(fuzz.means_from_indices(means), fuzz.scales_from_indices(scales)))
        symbols = symbols.astype(np.int32)
        coded = 8 * len(encode_quantized(symbols, means, scales, family))
        bits = fuzz.coded_bits(symbols, means, scales, symbols.min(), symbols.max(), family)
        assert coded - 100 < bits <= coded, (family, bits, coded)  # measured: 30-50 bits less


def test_the_ledger_names_a_run_of_symbols_the_payload_cannot_hold(fuzz):
    rng = np.random.default_rng(2)
    symbols = np.clip(np.rint(rng.normal(0, 10, 200)), -31, 31).astype(np.int32)
    means, scales = np.zeros(200, np.int64), np.full(200, 92)  # 0 and 9.9: the data's model
    ledger = fuzz.SymbolLedger()
    ledger.payloads.append(["gaussian", -31, 31, [(symbols, means, scales)]])
    symbols[-2:] = -31  # two trailing lowest symbols: a tensor may end so (2^-11 here)
    assert ledger.overdrawn() is None
    symbols[-8:] = -31
    assert ledger.overdrawn().startswith("8 of 200 symbols decoded from the coder's sealed state")


def test_a_short_run_finds_only_clean_errors_and_legitimate_decodes(fuzz, cache, tmp_path):
    reports = fuzz.fuzz(fuzz.TINY_ENCODES, 300, seed=0, out=tmp_path, cache=cache)
    for report in reports:
        assert sum(report.counts.values()) == 300
        assert report.counts["decoded"] > 0  # aimed mutations reach the end of decoding
    assert not any(report.failures for report in reports), fuzz.table(reports)
