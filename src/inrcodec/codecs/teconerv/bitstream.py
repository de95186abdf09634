"""The TeCoNeRV payload: per clip and tubelet position, each layer's quantised unique
parameters or residuals (docs/bitstream.md section 7, "TeCoNeRV payload").

Two sections in the shared container (codec id TECONERV):

* tag 1, *setup*: the model's identity (a hash of its base parameters, and its name), the
  clip length, the tubelet size, the overlap and fusion, the bit width, the residual mode and
  keyframe interval, and the unique-parameter count of every HypoNeRV layer;
* tag 2, *clips*: every clip, each prefixed with its byte length (so a reader can skip to a
  keyframe); a clip is, per tubelet position (row by row) and per layer with unique
  parameters, the tensor's float16 ``low`` and ``step`` (`inrcodec.quant.uniform`) and its
  symbols under the smallest i.i.d. model (`inrcodec.coding.encode_smallest`).

A keyframe clip holds full unique parameters, any other clip residuals (Sec. 3.3). Nothing
here predicts, dequantises or synthesises; the decoder never uses pickle or torch.load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from inrcodec.coding import (
    ENTROPY_MODELS,
    BitstreamError,
    CodecId,
    Container,
    VideoHeader,
    decode_smallest,
    encode_smallest,
    smallest_model,
)
from inrcodec.coding.smallest import coded_bytes
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.quant.uniform import MAX_BITS, MIN_BITS

from .tiling import FUSIONS, Tiling

SETUP_TAG = 1
CLIPS_TAG = 2

RESIDUALS = ("none", "first", "previous")
HASH_BYTES = 16
MAX_NAME_BYTES = 64
MAX_CLIP_FRAMES = 256
MAX_LAYERS = 64
MAX_UNIQUE = 2**24  # unique parameters of one layer
MIN_TENSOR_BYTES = 6  # low, step, length, model code: every tensor costs at least this


@dataclass(frozen=True)
class CodedTensor:
    """One layer's unique parameters (or residual) of one tubelet in one clip."""

    symbols: np.ndarray  # int32, 1-D, in [0, 2^bits - 1]
    low: np.float16
    step: np.float16


@dataclass(frozen=True)
class TeCoNeRVStream:
    """Everything a TeCoNeRV decoder needs besides the video header and the model."""

    model_hash: bytes
    model_name: str
    clip_frames: int
    tube: tuple[int, int]  # (h, w)
    overlap: tuple[int, int]
    fusion: str
    bits: int
    residual: str  # "none", "first" (keyframe's parameters) or "previous" (closed loop)
    keyframe_interval: int  # 0: the first clip only
    unique_counts: tuple[int, ...]  # per HypoNeRV layer, 0 for a base-only layer
    clips: list[list[list[CodedTensor]]]  # clip -> position -> layer with unique parameters

    def is_keyframe(self, clip: int) -> bool:
        """Whether ``clip`` holds full parameters (Sec. 3.3, and random access)."""
        if self.residual == "none" or clip == 0:
            return True
        return self.keyframe_interval > 0 and clip % self.keyframe_interval == 0

    def tiling(self, header: VideoHeader) -> Tiling:
        return Tiling((header.height, header.width), self.tube, self.overlap)


def clip_count(frames: int, clip_frames: int) -> int:
    return math.ceil(frames / clip_frames)


# ----------------------------------------------------------------------------------- writer


def write_stream(stream: TeCoNeRVStream, header: VideoHeader) -> bytes:
    """The complete file: container with the setup and clips sections."""
    _check_setup(stream)
    positions = stream.tiling(header).count
    counts = [n for n in stream.unique_counts if n]
    if len(stream.clips) != clip_count(header.frame_count, stream.clip_frames):
        raise ValueError(f"{len(stream.clips)} clips for {header.frame_count} frames")
    clips = []
    for index, clip in enumerate(stream.clips):
        if len(clip) != positions or any(len(tensors) != len(counts) for tensors in clip):
            raise ValueError(f"clip {index}: expected {positions} positions x {len(counts)} layers")
        parts = []
        for tensors in clip:
            for tensor, count in zip(tensors, counts, strict=True):
                parts.append(_tensor_bytes(tensor, count, stream.bits))
        data = b"".join(parts)
        clips.append(encode_uvarint(len(data)) + data)
    sections = [(SETUP_TAG, _setup_bytes(stream)), (CLIPS_TAG, b"".join(clips))]
    return Container(CodecId.TECONERV, header, sections).to_bytes()


def _tensor_bytes(tensor: CodedTensor, count: int, bits: int) -> bytes:
    symbols = np.asarray(tensor.symbols)
    if symbols.shape != (count,):
        raise ValueError(f"expected {count} symbols, got shape {symbols.shape}")
    if count and not 0 <= symbols.min() <= symbols.max() < 2**bits:
        raise ValueError(f"symbols outside [0, {2**bits - 1}]")
    side = np.array([tensor.low, tensor.step], dtype="<f2").tobytes()
    coded = encode_smallest(symbols)
    return side + encode_uvarint(len(coded)) + coded


def _setup_bytes(s: TeCoNeRVStream) -> bytes:
    name = s.model_name.encode("ascii")
    fields = [
        s.clip_frames,
        *s.tube,
        *s.overlap,
        FUSIONS.index(s.fusion),
        s.bits,
        RESIDUALS.index(s.residual),
        s.keyframe_interval,
        len(s.unique_counts),
        *s.unique_counts,
    ]
    out = [s.model_hash, encode_uvarint(len(name)), name]
    return b"".join(out) + b"".join(encode_uvarint(v) for v in fields)


def _check_setup(s: TeCoNeRVStream) -> None:
    if len(s.model_hash) != HASH_BYTES:
        raise ValueError(f"the model hash must have {HASH_BYTES} bytes")
    if not s.model_name.isascii() or len(s.model_name) > MAX_NAME_BYTES:
        raise ValueError(f"model name must be ASCII of at most {MAX_NAME_BYTES} bytes")
    if s.fusion not in FUSIONS or s.residual not in RESIDUALS:
        raise ValueError(f"fusion must be one of {FUSIONS}, residual one of {RESIDUALS}")
    if not MIN_BITS <= s.bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [{MIN_BITS}, {MAX_BITS}]")
    if not (1 <= s.clip_frames <= MAX_CLIP_FRAMES and 1 <= len(s.unique_counts) <= MAX_LAYERS):
        raise ValueError("clip length or layer count out of range")
    if not any(s.unique_counts) or max(s.unique_counts) > MAX_UNIQUE:
        raise ValueError("unique parameter counts out of range")
    if any(not 0 <= o < t for o, t in zip(s.overlap, s.tube, strict=True)):
        raise ValueError("the overlap must be smaller than the tubelet")


# ----------------------------------------------------------------------------------- reader


def read_stream(data: bytes) -> tuple[VideoHeader, TeCoNeRVStream]:
    """Parse a TeCoNeRV file. Any malformed input raises `BitstreamError`."""
    container = Container.of_codec(data, CodecId.TECONERV, (SETUP_TAG, CLIPS_TAG), "TeCoNeRV")
    header = container.header
    setup = read_setup(container.section(SETUP_TAG))
    reader = ByteReader(container.section(CLIPS_TAG))
    positions = setup.tiling(header).count
    counts = [n for n in setup.unique_counts if n]
    clips = []
    for index in range(clip_count(header.frame_count, setup.clip_frames)):
        # bound the work by the bytes that remain before any allocation
        if positions * len(counts) * MIN_TENSOR_BYTES > reader.remaining:
            raise BitstreamError(f"clip {index}: truncated ({reader.remaining} bytes left)")
        length = reader.uvarint(f"clip {index} length", reader.remaining)
        clip_reader = ByteReader(reader.take(length, f"clip {index}"))
        clip = [
            [
                _read_tensor(clip_reader, count, setup.bits, f"clip {index} tubelet {p} layer {k}")
                for k, count in enumerate(counts)
            ]
            for p in range(positions)
        ]
        clip_reader.expect_end(f"clip {index}")
        clips.append(clip)
    reader.expect_end("clips section")
    return header, replace(setup, clips=clips)


def _read_tensor(reader: ByteReader, count: int, bits: int, name: str) -> CodedTensor:
    low, step = np.frombuffer(reader.take(4, f"{name} range"), dtype="<f2").astype(np.float16)
    if not (np.isfinite(low) and np.isfinite(step) and step >= 0):
        raise BitstreamError(f"{name}: the range must be finite with a step >= 0")
    length = reader.uvarint(f"{name} length", reader.remaining)
    symbols = decode_smallest(bytes(reader.take(length, f"{name} symbols")), (count,), name)
    if count and not 0 <= symbols.min() <= symbols.max() < 2**bits:
        raise BitstreamError(f"{name}: symbols outside the {bits}-bit range")
    return CodedTensor(symbols, low, step)


def read_setup(data: bytes) -> TeCoNeRVStream:
    """The setup section (with no clips), checked against sane limits."""
    r = ByteReader(data)
    model_hash = bytes(r.take(HASH_BYTES, "model hash"))
    raw = bytes(r.take(r.uvarint("model name length", MAX_NAME_BYTES), "model name"))
    if not raw.isascii():
        raise BitstreamError("model name: not ASCII")
    clip_frames = r.uvarint("clip frames", MAX_CLIP_FRAMES, min_value=1)
    tube = tuple(r.uvarint(f"tubelet {axis}", 16384, min_value=1) for axis in ("height", "width"))
    overlap = tuple(
        r.uvarint(f"overlap {axis}", size - 1)
        for axis, size in zip(("height", "width"), tube, strict=True)
    )
    fusion = FUSIONS[r.uvarint("fusion", len(FUSIONS) - 1)]
    bits = r.uvarint("bits", MAX_BITS, min_value=MIN_BITS)
    residual = RESIDUALS[r.uvarint("residual mode", len(RESIDUALS) - 1)]
    keyframe_interval = r.uvarint("keyframe interval", 2**20)
    layers = r.uvarint("layers", MAX_LAYERS, min_value=1)
    counts = tuple(r.uvarint(f"layer {i} unique parameters", MAX_UNIQUE) for i in range(layers))
    r.expect_end("setup section")
    if not any(counts):
        raise BitstreamError("setup: no layer has unique parameters")
    return TeCoNeRVStream(
        model_hash,
        raw.decode("ascii"),
        clip_frames,
        tube,
        overlap,
        fusion,
        bits,
        residual,
        keyframe_interval,
        counts,
        [],
    )


def rate_split(data: bytes) -> dict:
    """The file's bytes by part, without decoding symbols: ``container`` (header, setup,
    section framing), ``clip lengths``, ``ranges`` (low and step of every tensor),
    ``models`` (tensor lengths, model codes and parameters, histogram counts), ``symbols``
    (the entropy-coded words); and how many tensors chose each entropy model."""
    container = Container.of_codec(data, CodecId.TECONERV, (SETUP_TAG, CLIPS_TAG), "TeCoNeRV")
    header = container.header
    setup = read_setup(container.section(SETUP_TAG))
    reader = ByteReader(container.section(CLIPS_TAG))
    tensors = setup.tiling(header).count * sum(1 for n in setup.unique_counts if n)
    parts = dict.fromkeys(("clip lengths", "ranges", "models", "symbols"), 0)
    chosen = dict.fromkeys(ENTROPY_MODELS, 0)
    for _ in range(clip_count(header.frame_count, setup.clip_frames)):
        before = reader.remaining
        clip = ByteReader(reader.take(reader.uvarint("clip length", reader.remaining), "clip"))
        parts["clip lengths"] += before - reader.remaining - clip.remaining
        for _ in range(tensors):
            clip.take(4, "range")
            before = clip.remaining
            payload = bytes(clip.take(clip.uvarint("length", clip.remaining), "symbols"))
            words = coded_bytes(payload)
            chosen[smallest_model(payload)] += 1
            parts["ranges"] += 4
            parts["models"] += before - clip.remaining - words
            parts["symbols"] += words
    parts["container"] = len(data) - sum(parts.values())
    return {"bytes": parts, "entropy_models": chosen, "tensors_per_clip": tensors}
