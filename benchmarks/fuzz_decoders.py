"""Fuzz the decoder of every registered file codec with damaged and aimed-at files.

Run: .venv/bin/python benchmarks/fuzz_decoders.py [--cases N] [--seed S] [--codec NAME]
     [--timeout SECONDS] [--memory-mb MB] [--workers W] [--out DIR] [--cache DIR]

Per kind of file of `TINY_ENCODES` (each codec of `inrcodec.codecs.registry.file_codecs()`,
NVRC once per backbone) the fuzzer

1. builds one small valid file (`TINY_ENCODES`: a tiny preset, a few steps, a few frames of
   the bundled clip) and keeps it in ``--cache``; a cached file that no longer decodes is
   built again;
2. decodes it once with `inrcodec.coding.varint.ByteReader` instrumented (`trace`), which
   records the bytes of every field the readers consume (varints and takes, with the name the
   reader gives it), and maps them onto the file's parts: the header, and per section its tag,
   length and payload;
3. makes ``--cases`` mutated files (`mutate`): random damage of the whole file (bit flips,
   truncation, insertion, deletion: the CRCs should catch it), and aimed mutations of one traced
   field, after which every section length and CRC is recomputed (docs/bitstream.md) so the
   damage reaches the parsers: a varint replaced by another value (0, 1, +-1, x2, x16, /2,
   2^16 ... 2^32, the largest), written non-canonically, bits flipped inside a field, float16
   specials or random bytes written into a take, bytes inserted after a field or the field
   deleted. The aimed field is drawn section first (the header and every section alike), so
   the small sections that shape everything after them are hit as often as the big ones;
4. describes each case as ``inrcodec info`` does (the codec's ``describe``), then decodes it
   with `inrcodec.codecs.api.decode` under the resource limits a run agrees to (`MAX_PIXELS`,
   `MAX_MEMORY`), in a pool of worker processes (`Workers`), each on one torch thread, under
   ``--timeout`` and an address-space limit (``RLIMIT_AS``: what the worker maps after its
   imports plus ``--memory-mb``); a worker that dies or runs out of time is replaced;
5. prints the outcomes per codec and writes a reproducer for every case that is not clean to
   ``--out``: ``<codec>-<case>-<outcome>.inrc`` and ``.txt`` (the mutation in one line, and
   what the decoder did).

Outcomes, and the rule (`OUTCOMES`, `FAILURES`): *clean* is a `BitstreamError` or another
`InrcodecError` with a message. *decoded* is a video the file may legitimately hold: a mutated
file can be another valid file (a changed quantisation step or frame rate, a flipped bit in an
entropy-coded word that still seals), so a decode fails only where it breaks what a decoder
must guarantee, and is then a *wrong decode*: the video's format or frame count is not the
header's, or an entropy decoder returned more symbols than its payload holds (`SymbolLedger`:
symbols decoded from the coder's sealed state that the payload's own model finds less likely
than 2^-24), or ``info`` refused the file that decodes. Every other outcome, of ``info`` or of
the decode, is a failure: *exception* (any other exception, or an inrcodec error without a
message), *timeout*, *memory* (`MemoryError`, the decoder's `DecoderMemoryError` included, or
torch's failed allocation, under the limits: a decoder allocates in proportion to its input
or to what the limits it checked allow, and these files are a few kilobytes) and *crash* (the
worker died).

The default suite runs a short run (tests/codecs/test_fuzz_decoders.py); the issue's closing run is
``--cases 30000``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import signal
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import inrcodec
from inrcodec.codecs import api
from inrcodec.codecs.header import format_of
from inrcodec.codecs.nvrc.model import CompressionConfig
from inrcodec.codecs.registry import file_codecs, module_for_file
from inrcodec.coding import MAGIC, Container, QuantizedDecoder
from inrcodec.coding.tables import means_from_indices, scales_from_indices
from inrcodec.coding.varint import ByteReader, encode_svarint, encode_uvarint
from inrcodec.errors import InrcodecError, is_out_of_memory

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "carphone_176x144_32f.y4m"

#: Per kind of file: its codec, the frames of the sample clip and the `api.encode` options of
#: its small valid file; every file codec has one, NVRC one per backbone. NVRC's grid blocks
#: are 4x4x4 instead of 16x8x8, so that a full decode takes 0.2 s (the context model runs once
#: per block position); TeCoNeRV's 10 frames are two clips, the second coded as residuals.
TINY_ENCODES: dict[str, tuple[str, int, dict]] = {
    "nvrc": (
        "nvrc",
        4,
        dict(
            preset="nvrc-tiny",
            lam=1.0,
            steps=10,
            compression=CompressionConfig(block=(4, 4, 4), context_width=4, context_kernel=3),
        ),
    ),
    "nvrc-latent": ("nvrc", 4, dict(preset="nvrc-latent", lam=300.0, steps=10)),
    "hinerv": ("hinerv", 4, dict(preset="hinerv-tiny", steps=3)),
    "teconerv": ("teconerv", 10, dict()),
}

OUTCOMES = ("clean", "decoded", "wrong decode", "exception", "timeout", "memory", "crash")
FAILURES = OUTCOMES[2:]

_CRC_BYTES = 4
_VARINTS = ("uvarint", "svarint")
_FLOAT16_SPECIALS = (0.0, -0.0, 1.0, -1.0, 65504.0, 2.0**-24, float("inf"), float("nan"))
SEALED_RUN_BITS = 24


# ------------------------------------------------------------------------- the valid files


def valid_file(kind: str, cache: Path) -> bytes:
    """The small valid file of ``kind`` (`TINY_ENCODES`), from ``cache`` if it is there and
    still decodes."""
    path = cache / f"{kind}.inrc"
    if path.is_file():
        data = path.read_bytes()
        try:
            api.decode(data)
            return data
        except InrcodecError:
            pass
    codec, frames, options = TINY_ENCODES[kind]
    video = inrcodec.read_video(SAMPLE, frames=frames).load()
    data = api.encode(video, codec, device="cpu", progress=False, **options).bitstream
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


# ------------------------------------------------------------------------ the file's parts


@dataclass(frozen=True)
class Parts:
    """A file cut into the parts its CRCs cover: ``pieces[0]`` is the header (magic to section
    count), then per section its tag varint, its length varint and its payload. ``names``
    say what each piece is, ``groups`` which section it belongs to ("header" or "section T")."""

    pieces: tuple[bytes, ...]
    names: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def of(cls, data: bytes) -> Parts:
        container = Container.from_bytes(data)
        head = (
            len(MAGIC)
            + 1
            + len(encode_uvarint(container.codec))
            + len(container.header.to_bytes())
            + len(encode_uvarint(len(container.sections)))
        )
        pieces, names, groups = [data[:head]], ["header"], ["header"]
        for tag, payload in container.sections:
            pieces += [encode_uvarint(tag), encode_uvarint(len(payload)), payload]
            names += [f"section {tag} tag", f"section {tag} length", f"section {tag} payload"]
            groups += [f"section {tag}"] * 3
        parts = cls(tuple(pieces), tuple(names), tuple(groups))
        assert parts.assemble() == data
        return parts

    def starts(self) -> list[int]:
        """The file offset of every piece."""
        starts, at = [], 0
        for index, piece in enumerate(self.pieces):
            starts.append(at)
            at += len(piece) + (_CRC_BYTES if index == 0 or index % 3 == 0 else 0)
        return starts

    def assemble(self) -> bytes:
        """The file of these pieces with every CRC computed (docs/bitstream.md section 2)."""
        out = [self.pieces[0], _crc(self.pieces[0])]
        for index in range(1, len(self.pieces), 3):
            framed = b"".join(self.pieces[index : index + 3])
            out += [framed, _crc(framed)]
        return b"".join(out)

    def replace(self, index: int, piece: bytes) -> Parts:
        """These parts with piece ``index`` replaced; a new payload gets its new length."""
        pieces = list(self.pieces)
        pieces[index] = piece
        if self.names[index].endswith("payload"):
            pieces[index - 1] = encode_uvarint(len(piece))
        return Parts(tuple(pieces), self.names, self.groups)


def _crc(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(_CRC_BYTES, "little")


# ------------------------------------------------------------------------------- tracing


@dataclass(frozen=True)
class Field:
    """One field a reader consumed: bytes ``[start, end)`` of piece ``piece``, read by
    ``kind`` (a `ByteReader` method), named ``label`` by the reader; ``value`` for varints."""

    piece: int
    start: int
    end: int
    kind: str
    label: str
    value: int | None


@contextmanager
def _reads_recorded(data: bytes, reads: list[tuple[int, int, str, str, object]]):
    """Record ``(file start, file end, method, label, result)`` of every outermost read of a
    `ByteReader` whose bytes are a range of ``data``: the file itself, or a copy or view of a
    range an earlier reader took (the most recent one with those bytes)."""
    originals = {
        name: getattr(ByteReader, name)
        for name in ("__init__", "uvarint", "svarint", "take", "u32le", "rest")
    }
    taken = [(0, len(data))]
    depth = 0

    def init(self, source):
        originals["__init__"](self, source)
        content = bytes(source)
        self.fuzz_base = next(
            (s for s, n in reversed(taken) if n == len(content) and data[s : s + n] == content),
            None,
        )

    def recorded(name):
        method = originals[name]

        def read(self, *args, **kwargs):
            nonlocal depth
            start = self.position
            depth += 1
            try:
                result = method(self, *args, **kwargs)
            finally:
                depth -= 1
            if self.fuzz_base is not None:
                span = (self.fuzz_base + start, self.fuzz_base + self.position)
                if name in ("take", "rest"):
                    taken.append((span[0], span[1] - span[0]))
                if depth == 0:
                    label = next((a for a in (*args, *kwargs.values()) if isinstance(a, str)), name)
                    reads.append((*span, name, label, result))
            return result

        return read

    ByteReader.__init__ = init
    for name in originals:
        if name != "__init__":
            setattr(ByteReader, name, recorded(name))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(ByteReader, name, method)


def trace(data: bytes) -> tuple[Parts, list[Field]]:
    """Decode the valid file ``data`` once and return its parts and every field the readers
    consumed, in the pieces that hold them (CRCs, which the fuzzer recomputes, left out)."""
    reads: list[tuple[int, int, str, str, object]] = []
    with _reads_recorded(data, reads):
        api.decode(data)
    parts = Parts.of(data)
    starts = parts.starts()
    fields, seen = [], set()
    for start, end, kind, label, result in reads:
        piece = next(
            (i for i, s in enumerate(starts) if s <= start and end <= s + len(parts.pieces[i])),
            None,
        )
        if piece is None or end == start or (start, end, kind) in seen:
            continue
        seen.add((start, end, kind))
        value = result if kind in _VARINTS else None
        fields.append(Field(piece, start - starts[piece], end - starts[piece], kind, label, value))
    return parts, fields


# ----------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Case:
    """One mutated file and what was done to it (one line); ``target`` names the aimed field
    (``None`` for random damage) for the summary, ``piece`` the part of the file it lies in."""

    data: bytes
    description: str
    target: str | None = None
    piece: str | None = None


def replacement_values(value: int, signed: bool) -> list[int]:
    """Other values for a varint field that held ``value``, within what the kind can hold."""
    candidates = [0, 1, value - 1, value + 1, 2 * value, 16 * value, value // 2]
    candidates += [2**16, 2**20, 2**24, 2**31, 2**32]
    if signed:
        candidates += [-value, -1, -(2**31), -(2**63), 2**63 - 1]
        low, high = -(2**63), 2**63 - 1
    else:
        candidates += [2**64 - 1]
        low, high = 0, 2**64 - 1
    return sorted({v for v in candidates if low <= v <= high and v != value})


def _flip_bits(data: bytes, start: int, end: int, rng: random.Random, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        bit = rng.randrange(8 * (end - start))
        out[start + bit // 8] ^= 1 << bit % 8
    return bytes(out)


def _random_bytes(rng: random.Random, count: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(count))


def _damage(rng: random.Random, data: bytes) -> Case:
    """Random damage of the whole file; no CRC recomputed."""
    kind = rng.choice(("flip", "truncate", "insert", "delete"))
    at = rng.randrange(len(data))
    if kind == "flip":
        count = rng.randint(1, 8)
        return Case(_flip_bits(data, 0, len(data), rng, count), f"{count} random bit flips")
    if kind == "truncate":
        return Case(data[:at], f"truncated to {at} of {len(data)} bytes")
    count = rng.randint(1, 16)
    if kind == "insert":
        return Case(
            data[:at] + _random_bytes(rng, count) + data[at:],
            f"{count} bytes inserted at {at}",
        )
    return Case(data[:at] + data[at + count :], f"{count} bytes deleted at {at}")


def _aimed(rng: random.Random, parts: Parts, fields: list[Field]) -> Case:
    """One traced field changed, every length and CRC recomputed."""
    kind = rng.choices(("value", "overlong", "bits", "bytes", "resize"), (9, 1, 3, 2, 1))[0]
    eligible = [
        f
        for f in fields
        if (f.kind in _VARINTS) == (kind in ("value", "overlong")) or kind in ("bits", "resize")
    ]
    if kind == "overlong":
        eligible = [f for f in eligible if f.end - f.start < 10]
    group = rng.choice(sorted({parts.groups[f.piece] for f in eligible}))
    field = rng.choice([f for f in eligible if parts.groups[f.piece] == group])
    piece = parts.pieces[field.piece]
    head, old, tail = piece[: field.start], piece[field.start : field.end], piece[field.end :]
    span = f"bytes {field.start}-{field.end} of {parts.names[field.piece]}"
    where = f"{field.label!r} ({field.kind}, {span})"
    if kind == "value":
        signed = field.kind == "svarint"
        new_value = rng.choice(replacement_values(field.value, signed))
        new = (encode_svarint if signed else encode_uvarint)(new_value)
        change = f"{field.value} -> {new_value}"
    elif kind == "overlong":
        new = old[:-1] + bytes([old[-1] | 0x80, 0])
        change = f"{field.value} written in {len(new)} bytes (non-canonical)"
    elif kind == "bits":
        count = rng.randint(1, 3)
        new = _flip_bits(old, 0, len(old), rng, count)
        change = f"{count} bits flipped" + (
            f": {old.hex()} -> {new.hex()}" if len(old) <= 8 else ""
        )
    elif kind == "bytes" and len(old) >= 2:
        slot = 2 * rng.randrange(len(old) // 2)
        special = rng.choice(_FLOAT16_SPECIALS)
        new = old[:slot] + struct.pack("<e", special) + old[slot + 2 :]
        change = f"float16 {special} written at byte {slot}"
    elif kind == "bytes":
        new = _random_bytes(rng, len(old))
        change = f"{old.hex()} -> {new.hex()}"
    elif rng.random() < 0.5:
        count = rng.randint(1, 4)
        new = old + _random_bytes(rng, count)
        change = f"{count} bytes inserted after it"
    else:
        new = b""
        change = "deleted"
    case = parts.replace(field.piece, head + new + tail).assemble()
    description = f"{where}: {change}; lengths and CRCs recomputed"
    return Case(case, description, f"{group} {field.label}", parts.names[field.piece])


def mutate(rng: random.Random, parts: Parts, fields: list[Field]) -> Case:
    """One case: random damage one time in five, else an aimed mutation."""
    if rng.random() < 0.2:
        return _damage(rng, parts.assemble())
    return _aimed(rng, parts, fields)


def cases(codec: str, data: bytes, count: int, seed: int) -> Iterator[tuple[int, Case]]:
    """``count`` numbered cases for ``codec``'s valid file; case ``i`` depends on the seed, the
    codec and ``i`` only, so any one can be made again."""
    parts, fields = trace(data)
    for index in range(count):
        yield index, mutate(random.Random(f"{seed} {codec} {index}"), parts, fields)


# ------------------------------------------------------------------ decoding in a worker


def _upper_tail(z: np.ndarray, family: str) -> np.ndarray:
    """P(Z > z) of the standard Gaussian or Laplace (z may be infinite)."""
    if family == "gaussian":
        return 0.5 * torch.special.erfc(torch.from_numpy(z / np.sqrt(2.0))).numpy()
    half = 0.5 * np.exp(-np.abs(z))
    return np.where(z >= 0, half, 1.0 - half)


def coded_bits(symbols, mean_index, scale_index, low: int, high: int, family: str) -> float:
    """``-log2 p`` summed over ``symbols`` under the model constriction's ANS coder uses for
    them (measured: the continuous mass of each integer's unit interval, the tails added to the
    support's ``low`` and ``high``, at least 2^-24), from the table indices of the payload."""
    x = np.asarray(symbols, dtype=np.float64)
    means = means_from_indices(np.broadcast_to(mean_index, x.shape))
    scales = scales_from_indices(np.broadcast_to(scale_index, x.shape))
    with np.errstate(over="ignore", invalid="ignore"):
        lower = np.where(x == low, -np.inf, (x - 0.5 - means) / scales)
        upper = np.where(x == high, np.inf, (x + 0.5 - means) / scales)
        right = lower + upper >= 0  # the side of the mean, to avoid cancellation
        mass = np.where(
            right,
            _upper_tail(lower, family) - _upper_tail(upper, family),
            _upper_tail(-upper, family) - _upper_tail(-lower, family),
        )
    return float(-np.log2(np.maximum(mass, 2.0**-24)).sum())


class SymbolLedger:
    """Keeps the symbols every `QuantizedDecoder` returns, and their models, once `install`
    has wrapped the class's methods: every quantised payload, whichever codec reads it, goes
    through it (a histogram payload records its symbol count and cannot return more).

    A decoder asked for more symbols than a payload holds goes on decoding from the coder's
    sealed state, where the lowest symbol of the support comes out for free, for ever, and the
    seal still checks. An encoder produces that state only for a tensor that ends in a run of
    its lowest symbol, which its own model makes as likely as the product of those symbols'
    probabilities. `overdrawn` names a payload whose trailing run of the lowest symbol is less
    likely than 2^-`SEALED_RUN_BITS` under the payload's models (`coded_bits`): symbols the
    file does not hold."""

    def __init__(self) -> None:
        self.payloads: list[list] = []  # [family, low, high, [(symbols, means, scales)]]

    def install(self) -> None:
        """Wrap `QuantizedDecoder` for good (in a worker)."""
        init, decode = QuantizedDecoder.__init__, QuantizedDecoder.decode
        ledger = self

        def kept_init(decoder, data, count, distribution="gaussian"):
            init(decoder, data, count, distribution)
            decoder.fuzz_entry = [distribution, decoder.low, decoder.high, []]
            ledger.payloads.append(decoder.fuzz_entry)

        def kept_decode(decoder, mean_index, scale_index):
            symbols = decode(decoder, mean_index, scale_index)
            if decoder.high != decoder.low:  # indices of any shape, flat as the symbols
                shape = np.shape(mean_index)
                flat = [np.broadcast_to(i, shape).reshape(-1) for i in (mean_index, scale_index)]
                decoder.fuzz_entry[-1].append((symbols, *flat))
            return symbols

        QuantizedDecoder.__init__ = kept_init
        QuantizedDecoder.decode = kept_decode

    def overdrawn(self) -> str | None:
        for family, low, high, chunks in self.payloads:
            if not chunks:
                continue
            symbols, means, scales = (np.concatenate(part) for part in zip(*chunks, strict=True))
            run = len(symbols) - len(np.trim_zeros(symbols - low, "b"))
            if not run:
                continue
            bits = coded_bits(symbols[-run:], means[-run:], scales[-run:], low, high, family)
            if bits > SEALED_RUN_BITS:
                return (
                    f"{run} of {len(symbols)} symbols decoded from the coder's sealed state (a "
                    f"run of the lowest, {low}, of probability 2^-{bits:.0f})"
                )
        return None


#: The decoder resource limits a fuzzing run agrees to (`api.decode`'s ``max_pixels`` and
#: ``max_memory``): about 165 frames of 176x144, twenty times the largest valid file's video,
#: and a quarter of the workers' default address space beyond their imports. A mutated header
#: that asks for more (e.g. 65 535 frames, or one frame of 2048x2048) must be refused by the
#: limits, as `inrcodec decode --max-pixels` and ``--max-memory`` would refuse it for a user
#: who agreed to that much.
MAX_PIXELS = 2**22
MAX_MEMORY = 2**28


def decode_case(data: bytes, ledger: SymbolLedger) -> tuple[str, str]:
    """Describe (``inrcodec info``) and decode one case here and classify it (module
    docstring): ``(outcome, detail)``."""
    described, about = attempt(lambda: _described(data))
    if described in FAILURES:
        return described, f"info: {about}"
    outcome, detail = attempt(lambda: _decoded(data, ledger))
    if outcome == "decoded" and described == "clean":
        return "wrong decode", f"info refused a file that decodes: {about}"
    return outcome, detail


def _described(data: bytes) -> tuple[str, str]:
    _, module = module_for_file(Container.from_bytes(data).codec)
    return "described", f"{len(module.describe(data))} entries"


def _decoded(data: bytes, ledger: SymbolLedger) -> tuple[str, str]:
    ledger.payloads.clear()
    video = api.decode(data, max_pixels=MAX_PIXELS, max_memory=MAX_MEMORY)
    header = Container.from_bytes(data).header
    if video.format != format_of(header) or video.num_frames != header.frame_count:
        return "wrong decode", (
            f"{video.num_frames} frames of {video.format}, but the header says "
            f"{header.frame_count} frames of {format_of(header)}"
        )
    if problem := ledger.overdrawn():
        return "wrong decode", problem
    return "decoded", f"{video.num_frames} frames"


def attempt(run) -> tuple[str, str]:
    """``run()``'s own ``(outcome, detail)``, or the outcome of what it raised."""
    try:
        return run()
    except InrcodecError as error:
        if isinstance(error, MemoryError):  # the decoder's own report of a failed allocation
            return "memory", f"{type(error).__name__}: {error}"
        if str(error):
            return "clean", f"{type(error).__name__}: {error}"
        return "exception", f"{type(error).__name__} without a message"
    except BaseException as error:  # noqa: BLE001 - Rust panics are BaseExceptions
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        outcome = "memory" if is_out_of_memory(error) else "exception"
        return outcome, f"{type(error).__name__}: {error}"


def _serve(connection, memory_mb: int) -> None:
    """A worker: one torch thread, no core files, quiet, an address-space limit of what it
    maps now plus ``memory_mb``; then decode every file it is sent until the pipe closes."""
    torch.set_num_threads(1)
    tqdm.set_lock(threading.RLock())  # not its default, a semaphore that a killed worker leaks
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = mapped + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    ledger = SymbolLedger()
    ledger.install()
    while True:
        try:
            data = connection.recv_bytes()
        except EOFError:
            return
        outcome, detail = decode_case(data, ledger)
        connection.send((outcome, detail[:500]))


class _Worker:
    def __init__(self, context, memory_mb: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory_mb), daemon=True)
        self.process.start()
        child.close()
        self.case: int | None = None
        self.deadline = 0.0

    def submit(self, case: int, data: bytes, timeout: float) -> None:
        self.case, self.deadline = case, time.monotonic() + timeout
        self.connection.send_bytes(data)

    def stop(self, grace: float = 0.0) -> None:
        """Close the pipe, give the worker ``grace`` seconds to exit, then kill it."""
        self.connection.close()
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Workers:
    """``count`` worker processes forked from a server that has imported every decoder (a
    replacement starts in milliseconds); `run` decodes cases on them, each under ``timeout``
    seconds and ``memory_mb`` of address space beyond the imports."""

    def __init__(self, count: int, timeout: float, memory_mb: int):
        self.context = multiprocessing.get_context("forkserver")
        decoders = [f"{entry.module}.codec" for entry in file_codecs().values()]
        # and what `describe` imports when it runs (the rate's bpp), outside the memory limit
        self.context.set_forkserver_preload([__name__, *decoders, "inrcodec.metrics"])
        self.timeout, self.memory_mb = timeout, memory_mb
        self.idle = [_Worker(self.context, memory_mb) for _ in range(count)]

    def run(self, jobs: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, str, str]]:
        """``(case, outcome, detail)`` of every ``(case, file)``, in the order they finish."""
        jobs, busy = iter(jobs), []
        while True:
            while self.idle and (job := next(jobs, None)) is not None:
                worker = self.idle.pop()
                worker.submit(*job, self.timeout)
                busy.append(worker)
            if not busy:
                return
            soonest = min(worker.deadline for worker in busy)
            ready = wait([w.connection for w in busy], max(0.0, soonest - time.monotonic()))
            for worker in list(busy):
                if worker.connection in ready:
                    try:
                        outcome, detail = worker.connection.recv()
                    except EOFError:
                        worker.process.join()
                        outcome, detail = "crash", _death(worker.process.exitcode)
                elif time.monotonic() >= worker.deadline:
                    outcome, detail = "timeout", f"no answer in {self.timeout:g} s"
                else:
                    continue
                busy.remove(worker)
                case = worker.case
                if outcome in ("crash", "timeout"):
                    worker.stop()
                    worker = _Worker(self.context, self.memory_mb)
                self.idle.append(worker)
                yield case, outcome, detail

    def close(self) -> None:
        for worker in self.idle:
            worker.stop(grace=5)
        self.idle = []


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"the worker died of {signal.Signals(-exitcode).name}"
    return f"the worker exited with status {exitcode}"


# ----------------------------------------------------------------------------- a run


@dataclass(frozen=True)
class Failure:
    """A case that was not clean, and the name of its reproducer in ``--out``."""

    case: int
    outcome: str
    detail: str
    description: str
    target: str | None
    reproducer: str


@dataclass
class Report:
    """One codec's run: the cases per outcome, the failures, the seconds it took."""

    codec: str
    counts: Counter
    failures: list[Failure]
    seconds: float = 0.0


def fuzz_codec(codec: str, data: bytes, workers: Workers, count: int, seed: int, out: Path):
    """Run ``count`` cases of ``codec``'s valid file ``data`` on ``workers``; write a
    reproducer to ``out`` for every failure."""
    started = time.perf_counter()
    pending: dict[int, Case] = {}

    def jobs():
        for index, case in cases(codec, data, count, seed):
            pending[index] = case
            yield index, case.data

    report = Report(codec, Counter(), [])
    for index, outcome, detail in workers.run(jobs()):
        case = pending.pop(index)
        report.counts[outcome] += 1
        if outcome in FAILURES:
            name = f"{codec}-{index:06d}-{outcome.replace(' ', '-')}"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.inrc").write_bytes(case.data)
            (out / f"{name}.txt").write_text(f"{case.description} => {outcome}: {detail}\n")
            report.failures.append(
                Failure(index, outcome, detail, case.description, case.target, name)
            )
    report.seconds = time.perf_counter() - started
    return report


def fuzz(
    codecs: Iterable[str],
    count: int,
    *,
    seed: int = 0,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    workers: int = 2,
    out: Path,
    cache: Path,
) -> list[Report]:
    """`fuzz_codec` for each of ``codecs`` on one pool of ``workers``."""
    files = {codec: valid_file(codec, cache) for codec in codecs}
    pool = Workers(workers, timeout, memory_mb)
    try:
        return [fuzz_codec(codec, data, pool, count, seed, out) for codec, data in files.items()]
    finally:
        pool.close()


def table(reports: list[Report]) -> str:
    """The outcomes per codec, then every failing target with its count and one reproducer."""
    lines = [
        "| codec | cases | " + " | ".join(OUTCOMES) + " | seconds |",
        "|---" * (len(OUTCOMES) + 3) + "|",
    ]
    for r in reports:
        cells = " | ".join(str(r.counts[outcome]) for outcome in OUTCOMES)
        lines.append(f"| {r.codec} | {sum(r.counts.values())} | {cells} | {r.seconds:.0f} |")
    groups: dict[tuple[str, str, str], list[Failure]] = {}
    for r in reports:
        for failure in r.failures:
            key = (r.codec, failure.outcome, failure.target or "random damage")
            groups.setdefault(key, []).append(failure)
    if groups:
        lines += [
            "",
            "| codec | outcome | mutated field | cases | first reproducer: what happened |",
        ]
        lines.append("|---" * 5 + "|")
        for (codec, outcome, target), failures in sorted(groups.items()):
            first = failures[0]
            lines.append(
                f"| {codec} | {outcome} | {target} | {len(failures)} | "
                f"{first.reproducer}: {first.detail[:120]} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per codec (1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case (10)")
    parser.add_argument(
        "--memory-mb", type=int, default=1024, help="address space per worker beyond its imports"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "fuzz" / "reproducers")
    parser.add_argument("--cache", type=Path, default=REPO / "build" / "fuzz" / "valid")
    parser.add_argument(
        "--codec",
        action="append",
        choices=list(TINY_ENCODES),
        help="a kind of file: a codec, or nvrc-latent; repeatable (all)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    reports = fuzz(
        args.codec or list(TINY_ENCODES),
        args.cases,
        seed=args.seed,
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        workers=args.workers,
        out=args.out,
        cache=args.cache,
    )
    print(table(reports))
    sys.exit(1 if any(r.failures for r in reports) else 0)


if __name__ == "__main__":
    main()
