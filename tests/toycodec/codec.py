"""Encode, decode and describe the toy codec's files, and its harness class."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from inrcodec.codecs import CodecError, EncodeResult, FileCodec
from inrcodec.codecs.header import format_of, header_of
from inrcodec.codecs.info import describe_container
from inrcodec.coding import (
    BitstreamError,
    CodecId,
    Container,
    VideoHeader,
    decode_smallest,
    encode_smallest,
)
from inrcodec.coding.varint import ByteReader, encode_uvarint
from inrcodec.io import Video, VideoChunks

PLANES_TAG = 1
MAX_STEP = 256


def expected_frames(video: Video, step: int) -> Video:
    """What decoding a toy file of ``video`` gives, computed without the codec."""
    planes = tuple(
        np.minimum((p.astype(np.int64) // step) * step + step // 2, video.format.peak).astype(
            p.dtype
        )
        for p in video.planes
    )
    return Video(planes, video.format)


@dataclass(frozen=True)
class ToyPayload:
    """The quantisation step and each plane's codes (``plane // step``)."""

    step: int
    codes: tuple[np.ndarray, ...]


def encode(video: Video, *, step: int = 16, device: str = "cpu", progress: bool = True):
    if not 1 <= step <= MAX_STEP:
        raise CodecError(f"toy: step must lie in [1, {MAX_STEP}], got {step}")
    started = time.perf_counter()
    codes = tuple(plane.astype(np.int64) // step for plane in video.planes)
    data = write_payload(ToyPayload(step, codes), header_of(video))
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    decoded = decode(data)
    return EncodeResult(
        bitstream=data,
        reconstruction=decoded,
        source=video,
        encode_seconds=encode_seconds,
        decode_seconds=time.perf_counter() - started,
        preset="toy",
        settings={"step": step},
        parts=part_bytes(data),
    )


def write_payload(payload: ToyPayload, header: VideoHeader) -> bytes:
    section = [encode_uvarint(payload.step)]
    for codes in payload.codes:
        coded = encode_smallest(codes)
        section += [encode_uvarint(len(coded)), coded]
    return Container(CodecId.TEST, header, [(PLANES_TAG, b"".join(section))]).to_bytes()


def read_payload(data: bytes) -> tuple[VideoHeader, ToyPayload]:
    container = Container.of_codec(data, CodecId.TEST, (PLANES_TAG,), "toy")
    fmt = format_of(container.header)
    reader = ByteReader(container.section(PLANES_TAG))
    step = reader.uvarint("step", MAX_STEP, min_value=1)
    codes = []
    for index, shape in enumerate(fmt.plane_shapes()):
        length = reader.uvarint(f"plane {index} length", reader.remaining)
        frames_shape = (container.header.frame_count, *shape)
        codes.append(decode_smallest(bytes(reader.take(length, "plane")), frames_shape, "plane"))
    reader.expect_end("planes section")
    if any(c.min() < 0 for c in codes):
        raise BitstreamError("toy: negative code")
    return container.header, ToyPayload(step, tuple(codes))


def part_bytes(data: bytes) -> dict[str, int]:
    planes = len(Container.from_bytes(data).section(PLANES_TAG))
    return {"container": len(data) - planes, "planes": planes}


def decode(data: bytes, *, device: str = "cpu") -> Video:
    header, payload = read_payload(data)
    fmt = format_of(header)
    step = payload.step
    planes = (np.minimum(c * step + step // 2, fmt.peak).astype(fmt.dtype) for c in payload.codes)
    return Video(tuple(planes), fmt)


def decode_frames(data: bytes, *, device: str = "cpu") -> VideoChunks:
    """The toy decodes every frame at once: one chunk."""
    return VideoChunks.of(decode(data, device=device))


def decode_memory(data: bytes) -> int:
    """The toy holds every frame at once: its int32 codes and its planes."""
    header = Container.of_codec(data, CodecId.TEST, (PLANES_TAG,), "toy").header
    return 8 * header.frame_count * format_of(header).frame_samples


def describe(data: bytes) -> dict:
    container = Container.of_codec(data, CodecId.TEST, (PLANES_TAG,), "toy")
    step = ByteReader(container.section(PLANES_TAG)).uvarint("step", MAX_STEP, min_value=1)
    return {**describe_container(data), "step": step}


class ToyCodec(FileCodec):
    """The harness face: the rate point is the step."""

    name = "toy"
    rate_parameter = "step"

    def default_rate_points(self) -> list[int]:
        return [4, 8, 16, 32]

    def check_rate_point(self, rate_point) -> None:
        if not isinstance(rate_point, int) or not 1 <= rate_point <= MAX_STEP:
            raise CodecError(f"toy: step must be an integer in [1, {MAX_STEP}]")
