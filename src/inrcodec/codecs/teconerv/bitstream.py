"""The TeCoNeRV payload: per clip and tubelet position, each layer's quantised unique
parameters or residuals (docs/bitstream.md section 7, "TeCoNeRV payload").

Two sections in the shared container (codec id TECONERV):

* tag 1, *setup* (`SETUP_FIELDS`): the model's identity (a hash of its base parameters, and
  its name), the clip length, the tubelet size, the overlap and fusion, the bit width, the
  residual mode and keyframe interval, and the unique-parameter count of every HypoNeRV layer;
* tag 2, *clips*: every clip, each prefixed with its byte length (so a reader can skip to a
  keyframe); a clip is, per tubelet position (row by row) and per layer with unique
  parameters, the tensor's float16 ``low`` and ``step`` (`inrcodec.quant.uniform`) and its
  symbols under the smallest i.i.d. model (`inrcodec.coding.encode_smallest`).

A keyframe clip holds full unique parameters, any other clip residuals (Sec. 3.3). Nothing
here predicts, dequantises or synthesises; the decoder never uses pickle or torch.load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from inrcodec.codecs.info import describe_container, rate_table
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
from inrcodec.coding.container import MAX_DIMENSION
from inrcodec.coding.fields import Ascii, Check, Choice, Counted, Raw, Table, Tuple, UInt
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
MAX_KEYFRAME_INTERVAL = 2**20
MAX_LAYERS = 64
MAX_UNIQUE = 2**24  # unique parameters of one layer
MIN_TENSOR_BYTES = 6  # low, step, length, model code: every tensor costs at least this
_AXES = ("height", "width")


def _overlap_within_tube(values) -> str | None:
    for axis, overlap, size in zip(_AXES, values["overlap"], values["tube"], strict=True):
        if overlap >= size:
            return f"overlap {axis}: {overlap}, not smaller than the tubelet ({size})"
    return None


def _some_unique_parameters(values) -> str | None:
    return None if any(values["unique_counts"]) else "setup: no layer has unique parameters"


#: The setup section (docs/bitstream.md 7.1); the keys are `TeCoNeRVPayload` fields.
SETUP_FIELDS = Table(
    Raw("model_hash", HASH_BYTES, "model hash"),
    Ascii("model_name", MAX_NAME_BYTES, "model name"),
    UInt("clip_frames", 1, MAX_CLIP_FRAMES, "clip frames"),
    Tuple("tube", *(UInt(axis, 1, MAX_DIMENSION) for axis in _AXES), label="tubelet"),
    Tuple("overlap", *(UInt(axis, 0, MAX_DIMENSION - 1) for axis in _AXES)),
    Choice("fusion", FUSIONS),
    UInt("bits", MIN_BITS, MAX_BITS),
    Choice("residual", RESIDUALS, "residual mode"),
    UInt("keyframe_interval", 0, MAX_KEYFRAME_INTERVAL, "keyframe interval"),
    Counted(
        UInt("layers", 1, MAX_LAYERS),
        UInt("unique_counts", 0, MAX_UNIQUE, "unique parameters of layer"),
    ),
    checks=(
        Check(_overlap_within_tube, "tube", "overlap"),
        Check(_some_unique_parameters, "unique_counts"),
    ),
)


@dataclass(frozen=True)
class CodedTensor:
    """One layer's unique parameters (or residual) of one tubelet in one clip."""

    symbols: np.ndarray  # int32, 1-D, in [0, 2^bits - 1]
    low: np.float16
    step: np.float16


@dataclass(frozen=True, kw_only=True)
class TeCoNeRVPayload:
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
    clips: Sequence[list[list[CodedTensor]]]  # clip -> position -> layer with unique ones

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


def write_payload(stream: TeCoNeRVPayload, header: VideoHeader) -> bytes:
    """The complete file: container with the setup and clips sections."""
    setup = SETUP_FIELDS.write(SETUP_FIELDS.values_of(stream))
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
    sections = [(SETUP_TAG, setup), (CLIPS_TAG, b"".join(clips))]
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


# ----------------------------------------------------------------------------------- reader


def read_payload(data: bytes) -> tuple[VideoHeader, TeCoNeRVPayload]:
    """Parse a TeCoNeRV file. Any malformed input raises `BitstreamError`."""
    container, setup = read_head(data)
    return container.header, read_clips(container, setup)


def read_head(data: bytes) -> tuple[Container, TeCoNeRVPayload]:
    """The container of a TeCoNeRV file and its setup (no clips parsed yet, so that a decoder
    can check the setup against its model first)."""
    container = Container.of_codec(data, CodecId.TECONERV, (SETUP_TAG, CLIPS_TAG), "TeCoNeRV")
    return container, read_setup(container.section(SETUP_TAG))


def read_clips(container: Container, setup: TeCoNeRVPayload) -> TeCoNeRVPayload:
    """``setup`` with the clips of ``container`` (`read_head`), as `CodedClips`: every clip is
    read here once (a malformed one raises `BitstreamError` now), then again when it is asked
    for. Before a tensor is read, the section and each clip must hold the fewest bytes of their
    tensors (`MIN_TENSOR_BYTES`)."""
    header = container.header
    reader = ByteReader(container.section(CLIPS_TAG))
    positions = setup.tiling(header).count
    counts = [n for n in setup.unique_counts if n]
    clip_total = clip_count(header.frame_count, setup.clip_frames)
    least = positions * len(counts) * MIN_TENSOR_BYTES
    reader.need(clip_total * (1 + least), f"clips section ({clip_total} clips)")
    parts = []
    for index in range(clip_total):
        length = reader.uvarint(f"clip {index} length", reader.remaining)
        parts.append(reader.take(length, f"clip {index}"))
    reader.expect_end("clips section")
    clips = CodedClips(parts, positions, counts, setup.bits)
    for _ in clips:  # each clip read and dropped: a decoder holds one at a time
        pass
    return replace(setup, clips=clips)


class CodedClips(Sequence):
    """A file's clips (clip -> position -> layer with unique parameters, as
    `TeCoNeRVPayload.clips`), each read from its bytes when it is asked for: a decoder holds
    the symbols of one clip at a time, however many the file has."""

    def __init__(self, parts: list, positions: int, counts: list[int], bits: int):
        self.parts, self.positions, self.counts, self.bits = parts, positions, counts, bits

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        reader = ByteReader(self.parts[index])
        index %= len(self)
        layers = len(self.counts)
        reader.need(
            self.positions * layers * MIN_TENSOR_BYTES,
            f"clip {index} ({self.positions} x {layers} tensors)",
        )
        clip = [
            [
                _read_tensor(reader, count, self.bits, f"clip {index} tubelet {p} layer {k}")
                for k, count in enumerate(self.counts)
            ]
            for p in range(self.positions)
        ]
        reader.expect_end(f"clip {index}")
        return clip


def _read_tensor(reader: ByteReader, count: int, bits: int, name: str) -> CodedTensor:
    low, step = np.frombuffer(reader.take(4, f"{name} range"), dtype="<f2").astype(np.float16)
    if not (np.isfinite(low) and np.isfinite(step) and step >= 0):
        raise BitstreamError(f"{name}: the range must be finite with a step >= 0")
    length = reader.uvarint(f"{name} length", reader.remaining)
    symbols = decode_smallest(bytes(reader.take(length, f"{name} symbols")), (count,), name)
    if count and not 0 <= symbols.min() <= symbols.max() < 2**bits:
        raise BitstreamError(f"{name}: symbols outside the {bits}-bit range")
    return CodedTensor(symbols, low, step)


def read_setup(data: bytes) -> TeCoNeRVPayload:
    """The setup section (with no clips), checked against sane limits."""
    return TeCoNeRVPayload(**SETUP_FIELDS.parse(data, "setup section"), clips=[])


def rate_split(data: bytes) -> dict:
    """The file's bytes by part, without decoding symbols: ``container`` (header, setup,
    section framing), ``clip lengths``, ``ranges`` (low and step of every tensor),
    ``models`` (tensor lengths, model codes and parameters, histogram counts), ``symbols``
    (the entropy-coded words); and how many tensors chose each entropy model. It reads the
    file's structure and no symbol, so its work is proportional to the file's bytes."""
    container, setup = read_head(data)
    header = container.header
    reader = ByteReader(container.section(CLIPS_TAG))
    tensors = setup.tiling(header).count * sum(1 for n in setup.unique_counts if n)
    parts = dict.fromkeys(("clip lengths", "ranges", "models", "symbols"), 0)
    chosen = dict.fromkeys(ENTROPY_MODELS, 0)
    for index in range(clip_count(header.frame_count, setup.clip_frames)):
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
        clip.expect_end(f"clip {index}")
    reader.expect_end("clips section")
    parts["container"] = len(data) - sum(parts.values())
    return {"bytes": parts, "entropy_models": chosen, "tensors_per_clip": tensors}


def part_bytes(data: bytes) -> dict[str, int]:
    """The file's bytes by part (`rate_split`'s ``bytes``)."""
    return rate_split(data)["bytes"]


def decode_memory(data: bytes) -> int:
    """About the bytes the decoder needs at once, from the header and the setup alone: one
    clip's symbols and its parameters as reconstructed (float32, with the residuals'
    references), and its synthesis: its tubelets (float32, as made and as joined), its frames
    and their output planes (`OUTPUT_BYTES`). The model itself, which the file names but does
    not hold, is not counted."""
    from inrcodec.codecs.synthesis import OUTPUT_BYTES  # torch: not for the command's start

    container, setup = read_head(data)
    header = container.header
    tiling = setup.tiling(header)
    tube_h, tube_w = setup.tube
    parameters = 4 * 4 * tiling.count * sum(setup.unique_counts)
    tubelets = 2 * 4 * 3 * tiling.count * tube_h * tube_w
    frame = (4 * 3 + OUTPUT_BYTES) * header.height * header.width
    return parameters + setup.clip_frames * (tubelets + frame)


def describe(data: bytes) -> dict:
    """What ``inrcodec info`` shows of a TeCoNeRV file: `describe_container`, then the setup
    (``model``, ``tubelets``, ``bits``, ``residual``, ``keyframe_interval``), ``rate_split``
    (the bytes and rate of each part, `rate_split`) and ``entropy_models`` (how many tensors
    chose each). Like `rate_split`, it decodes no symbol: a tensor's declared count costs
    nothing here, and `decode` checks the symbols against the model."""
    container, stream = read_head(data)
    header = container.header
    split = rate_split(data)
    tiling = stream.tiling(header)
    (tube_h, tube_w), (overlap_h, overlap_w) = stream.tube, stream.overlap
    return {
        **describe_container(data),
        "model": f"{stream.model_name} (hash {stream.model_hash.hex()})",
        "tubelets": f"{tube_w}x{tube_h}x{stream.clip_frames}, "
        f"{len(tiling.cols)}x{len(tiling.rows)} per clip, overlap "
        f"{overlap_w}x{overlap_h} ({stream.fusion})",
        "bits": stream.bits,
        "residual": stream.residual,
        "keyframe_interval": stream.keyframe_interval,
        "rate_split": rate_table(split["bytes"], header),
        "entropy_models": split["entropy_models"],
    }
