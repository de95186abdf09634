"""The TeCoNeRV codec: one pass of a trained hypernetwork per clip, residuals between clips,
uniform quantisation and entropy coding (TeCoNeRV Sec. 3.2-3.3, 5.2-5.3, Appendix B, E.1).

Encoding (`encode`):

1. optionally resize (shorter side) and centre-crop to a target size (Appendix A);
2. cut the video into clips of the model's length (8 frames; the last clip is padded by
   repeating its last frame, and the padding is dropped on decode) and every clip into
   patch-tubelets (`tiling.Tiling`: any frame size, with or without overlap);
3. predict the unique parameters of all tubelets of a clip, in batches;
4. per tubelet position and layer: a keyframe clip codes the parameters themselves, any other
   clip the residual against the *reconstructed* parameters of the previous clip
   (``residual="previous"``, closed loop) or of the last keyframe (``"first"``); keyframes
   every ``keyframe_interval`` clips (0: the first only) or every clip (``"none"``);
   each tensor is quantised uniformly to ``2^bits`` levels over its own range and
   entropy-coded under the smallest i.i.d. model (`bitstream`).

Decoding (`decode_frames`; `decode` collects its frames) parses, then per clip, as the frames
are read: dequantises, adds residuals up, modulates the model's base parameters, runs the
HypoNeRV per tubelet and fuses the tubelets by crop or blend. The file
names its model by a hash of the base parameters (and the hypernetwork configuration), and a
decoder given another model refuses it. `encode` reconstructs from its own closed-loop
parameters and decodes the bytes it wrote: the two must agree bit for bit.

Rate counts every byte of the file: ranges, lengths and model parameters included (the
reference code keeps those outside its bitstream). The base parameters ship with the
decoder, as in the paper, and are not counted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from inrcodec.codecs.header import format_of, header_of
from inrcodec.coding import BitstreamError
from inrcodec.io import Video, VideoChunks, VideoFormat, rgb_to_video, video_to_rgb
from inrcodec.nets.hypernet import Hypernetwork
from inrcodec.quant.uniform import MAX_BITS, MIN_BITS, dequantize_uniform, quantize_uniform

from ..base import CodecError, EncodeResult, FileCodec
from ..progress import progress_bar, stage
from .bitstream import (
    HASH_BYTES,
    RESIDUALS,
    CodedTensor,
    TeCoNeRVPayload,
    clip_count,
    part_bytes,
    read_clips,
    read_head,
    write_payload,
)
from .model_file import (
    DEFAULT_MODEL,
    MODEL_PATH_VARIABLE,
    TeCoNeRVModelError,
    load_model,
    model_folders,
)
from .resize import resize_and_crop
from .tiling import FUSIONS, Tiling

DEFAULT_BITS = 4  # the paper reports 4 bits unless it says otherwise (Appendix B)


class TeCoNeRVCodecError(CodecError):
    """The TeCoNeRV codec cannot run as asked (no model, bits or overlap out of range, ...)."""


# ----------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class CodingModel:
    """A trained hypernetwork, as the codec uses it: the network (on the device it was loaded
    for, and shared: never move or train it), a name and its hash."""

    net: Hypernetwork
    name: str
    digest: bytes  # `model_hash`

    @property
    def hex(self) -> str:
        return self.digest.hex()


def model_hash(net: Hypernetwork) -> bytes:
    """The first 16 bytes of SHA-256 over the hypernetwork configuration (JSON) and the
    HypoNeRV's base weights and biases (float32, little-endian): what a decoder must hold."""
    digest = hashlib.sha256(json.dumps(net.config.to_json(), sort_keys=True).encode())
    for tensor in (*net.hypo.weights, *net.hypo.biases):
        digest.update(tensor.detach().to("cpu", torch.float32).numpy().astype("<f4").tobytes())
    return digest.digest()[:HASH_BYTES]


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, device: str) -> tuple[Hypernetwork, bytes]:
    net, _ = load_model(path)
    digest = model_hash(net)
    return net.to(device), digest


def load_coding_model(path: str | Path | None = None, device: str = "cpu") -> CodingModel:
    """The model file at ``path`` (default `DEFAULT_MODEL`) on ``device``, loaded once per
    process and device."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise TeCoNeRVCodecError(f"{path}: no such TeCoNeRV model file (give one with --model)")
    net, digest = _load(str(path.resolve()), path.stat().st_mtime_ns, str(device))
    return CodingModel(net, path.stem[:64], digest)


def find_model(
    digest: bytes, folders: Sequence[Path] | None = None, device: str = "cpu"
) -> CodingModel | None:
    """The first model in ``folders`` (default `model_folders`) whose hash is ``digest``, on
    ``device``, if any. Files there that are not TeCoNeRV models are passed over."""
    for folder in model_folders() if folders is None else folders:
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else ():
            try:
                model = load_coding_model(path)
            except TeCoNeRVModelError:
                continue
            if model.digest == digest:
                return load_coding_model(path, device)
    return None


def _decoding_model(stream: TeCoNeRVPayload, model: str | Path | None, device: str) -> CodingModel:
    wanted = f"model {stream.model_name!r} (hash {stream.model_hash.hex()})"
    if model is None:
        found = find_model(stream.model_hash, device=device)
        if found is None:
            folders = ", ".join(str(folder) for folder in model_folders())
            raise BitstreamError(
                f"this file was encoded with TeCoNeRV {wanted}, which is in none of {folders}; "
                f"give the model file with --model, or its folder in {MODEL_PATH_VARIABLE}"
            )
        return found
    found = load_coding_model(model, device)
    if found.digest != stream.model_hash:
        raise BitstreamError(
            f"{model} is model {found.name!r} (hash {found.hex}), but this file was encoded "
            f"with {wanted}"
        )
    return found


# ------------------------------------------------------------------------ shared by both ends


class ResidualChain:
    """Which reconstructed parameters each clip's residuals are taken against (Sec. 3.3):
    none for a keyframe, else the previous clip's or the last keyframe's."""

    def __init__(self, stream: TeCoNeRVPayload):
        self.stream = stream
        self.keyframe: list[np.ndarray] | None = None
        self.previous: list[np.ndarray] | None = None

    def reference(self, clip: int) -> list[np.ndarray] | None:
        if self.stream.is_keyframe(clip):
            return None
        return self.previous if self.stream.residual == "previous" else self.keyframe

    def update(self, clip: int, reconstructed: list[np.ndarray]) -> None:
        if self.stream.is_keyframe(clip):
            self.keyframe = reconstructed
        self.previous = reconstructed


def dequantize_clip(
    tensors: list[list[CodedTensor]], reference: list[np.ndarray] | None
) -> list[np.ndarray]:
    """Per layer with unique parameters, the reconstructed ``(positions, count)`` float32."""
    layers = zip(*tensors, strict=True)  # position-major -> layer-major
    out = []
    for k, layer in enumerate(layers):
        values = np.stack([dequantize_uniform(t.symbols, t.low, t.step) for t in layer])
        out.append(values if reference is None else reference[k] + values)
    return out


@torch.inference_mode()
def synthesize_clip(
    net: Hypernetwork,
    parameters: list[np.ndarray],
    tiling: Tiling,
    fusion: str,
    batch: int,
) -> torch.Tensor:
    """One clip's frames ``(frames, 3, H, W)`` (float32, CPU) from its reconstructed unique
    parameters: modulate, run the HypoNeRV per tubelet, fuse.

    The convolutions run without oneDNN, whose sums depend on the thread count (measured on
    the sample clip: 3 of 1.2 M samples one code value apart between 1 and 2 threads, the
    first HypoNeRV layer already different); ATen's own convolutions gave the same frames on 1
    to 4 threads, as fast."""
    cfg = net.config
    device = net.hypo.weights[0].device
    shapes = [(g, d) for g, d in zip(cfg.tokens, cfg.token_dims, strict=True) if g]
    tubes = []
    onednn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        for start in range(0, tiling.count, batch):
            chunk = iter(
                torch.from_numpy(p[start : start + batch]).view(-1, g, d).to(device)
                for p, (g, d) in zip(parameters, shapes, strict=True)
            )
            unique = [next(chunk) if g else None for g in cfg.tokens]
            tubes.append(net.hypo(net.hypo.clip_weights(unique)).cpu())
    finally:
        torch.backends.mkldnn.enabled = onednn
    return tiling.fuse(torch.cat(tubes), fusion)


def _to_video(clips: list[Video], frames: int) -> Video:
    planes = tuple(np.concatenate(p)[:frames] for p in zip(*(c.planes for c in clips), strict=True))
    return Video(planes, clips[0].format)


# ----------------------------------------------------------------------------------- encode


def check_options(bits: int, residual: str, keyframe_interval: int, fusion: str) -> None:
    if not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise TeCoNeRVCodecError(
            f"bits must be an integer in [{MIN_BITS}, {MAX_BITS}] (paper: 4-8)"
        )
    if residual not in RESIDUALS:
        raise TeCoNeRVCodecError(f"residual mode must be one of {', '.join(RESIDUALS)}")
    if not isinstance(keyframe_interval, int) or keyframe_interval < 0:
        raise TeCoNeRVCodecError("the keyframe interval must be a count of clips >= 0")
    if fusion not in FUSIONS:
        raise TeCoNeRVCodecError(f"fusion must be one of {', '.join(FUSIONS)}")


def encode(
    video: Video,
    *,
    model: str | Path | None = None,
    bits: int = DEFAULT_BITS,
    residual: str = "previous",
    keyframe_interval: int = 0,
    overlap: tuple[int, int] = (0, 0),
    fusion: str = "crop",
    resize: tuple[int, int] | None = None,
    batch: int = 16,
    device: str = "cpu",
    progress: bool = True,
) -> EncodeResult:
    """Compress ``video`` (module docstring). ``model``: a TeCoNeRV model file (default the
    committed `DEFAULT_MODEL`); ``overlap``: (height, width) pixels shared by neighbouring
    tubelets; ``resize``: (height, width) to resize and centre-crop to first; ``batch``:
    tubelets per forward pass."""
    check_options(bits, residual, keyframe_interval, fusion)
    coding = load_coding_model(model, device)
    net = coding.net
    cfg = net.config.hypo
    overlap = parse_overlap(overlap)
    if any(o >= t for o, t in zip(overlap, (cfg.height, cfg.width), strict=True)):
        raise TeCoNeRVCodecError(
            f"overlap {overlap} must be (height, width) smaller than the model's "
            f"{cfg.width}x{cfg.height} tubelets"
        )
    fmt = video.format if resize is None else _resized_format(video, resize)
    tiling = Tiling((fmt.height, fmt.width), (cfg.height, cfg.width), overlap)
    stream = TeCoNeRVPayload(
        model_hash=coding.digest,
        model_name=coding.name,
        clip_frames=cfg.frames,
        tube=(cfg.height, cfg.width),
        overlap=overlap,
        fusion=fusion,
        bits=bits,
        residual=residual,
        keyframe_interval=keyframe_interval,
        unique_counts=net.config.unique_counts(),
        clips=[],
    )
    started = time.perf_counter()
    chain, sources, reconstructed = ResidualChain(stream), [], []
    bar = _bar(progress, clip_count(video.num_frames, cfg.frames), "encoding")
    for index in range(clip_count(video.num_frames, cfg.frames)):
        source, rgb = _clip_frames(video, index, cfg.frames, fmt, resize)
        sources.append(source)
        unique = _predict(net, tiling.split(rgb), batch)
        tensors, parameters = _quantize_clip(unique, chain.reference(index), bits)
        chain.update(index, parameters)
        stream.clips.append(tensors)
        reconstructed.append(parameters)
        bar.update()
    source = _to_video(sources, video.num_frames)
    header = header_of(source)
    bitstream = write_payload(stream, header)
    encode_seconds = time.perf_counter() - started
    bar.close()

    stage("decoding the file to check it", progress)
    own = [synthesize_clip(net, p, tiling, fusion, batch) for p in reconstructed]
    own = _to_video(
        [rgb_to_video(f.permute(0, 2, 3, 1).numpy(), fmt) for f in own], header.frame_count
    )
    started = time.perf_counter()
    decoded = decode(bitstream, model=model or DEFAULT_MODEL, device=device, batch=batch)
    decode_seconds = time.perf_counter() - started
    if decoded != own:
        raise TeCoNeRVCodecError("internal error: the decoder's frames differ from the encoder's")
    return EncodeResult(
        bitstream=bitstream,
        reconstruction=decoded,
        source=source,
        encode_seconds=encode_seconds,
        decode_seconds=decode_seconds,
        preset=coding.name,
        settings={
            "model_hash": coding.hex,
            "tube": f"{cfg.width}x{cfg.height}",
            "tubelets": tiling.count,
            "clips": len(stream.clips),
            "bits": bits,
            "residual": residual,
            "keyframe_interval": keyframe_interval,
            "overlap": list(overlap),
            "fusion": fusion,
        },
        parts=part_bytes(bitstream),
    )


def _resized_format(video: Video, size: tuple[int, int]):
    height, width = size
    if video.format.chroma == "420" and (height % 2 or width % 2):
        raise TeCoNeRVCodecError(f"4:2:0 video needs an even size, got {width}x{height}")
    return video.format.with_(height=height, width=width)


def _clip_frames(video: Video, index: int, frames: int, fmt, resize) -> tuple[Video, torch.Tensor]:
    """Clip ``index`` of the video as coded (resized if asked) and its RGB frames
    ``(frames, 3, H, W)``, the last clip padded by repeating its last frame."""
    part = slice(index * frames, min((index + 1) * frames, video.num_frames))
    clip = video[part].load()
    if resize is not None:
        rgb = torch.from_numpy(video_to_rgb(clip)).permute(0, 3, 1, 2)
        small = resize_and_crop(rgb, resize).clamp(0, 1)
        clip = rgb_to_video(small.permute(0, 2, 3, 1).numpy(), fmt)
    rgb = torch.from_numpy(video_to_rgb(clip)).permute(0, 3, 1, 2)
    if rgb.shape[0] < frames:
        rgb = torch.cat([rgb, rgb[-1:].expand(frames - rgb.shape[0], -1, -1, -1)])
    return clip, rgb


@torch.inference_mode()
def _predict(net: Hypernetwork, tubelets: torch.Tensor, batch: int) -> list[np.ndarray]:
    """Per layer with unique parameters, ``(positions, count)`` float32 predictions."""
    device = net.hypo.weights[0].device
    parts = [net.unique(tubelets[i : i + batch].to(device)) for i in range(0, len(tubelets), batch)]
    layers = [k for k, g in enumerate(net.config.tokens) if g]
    return [
        torch.cat([p[k].flatten(1) for p in parts]).cpu().numpy().astype(np.float32) for k in layers
    ]


def _quantize_clip(
    unique: list[np.ndarray], reference: list[np.ndarray] | None, bits: int
) -> tuple[list[list[CodedTensor]], list[np.ndarray]]:
    """Closed loop: quantise each tensor (or its residual against ``reference``) and return
    the coded tensors (position-major) with the parameters a decoder will reconstruct."""
    positions = unique[0].shape[0]
    tensors = [[] for _ in range(positions)]
    for k, values in enumerate(unique):
        target = values if reference is None else values - reference[k]
        for p in range(positions):
            tensors[p].append(CodedTensor(*quantize_uniform(target[p], bits)))
    return tensors, dequantize_clip(tensors, reference)


def _bar(enabled: bool, total: int, desc: str):
    return progress_bar(total, desc, "clip", show=enabled)


# ----------------------------------------------------------------------------------- decode


def decode(
    data: bytes,
    *,
    model: str | Path | None = None,
    device: str = "cpu",
    batch: int = 16,
    progress: bool = False,
) -> Video:
    """Decode a TeCoNeRV file to a `Video` in the source's format. ``model``: the model file
    (default: the committed model whose hash the file names). Malformed input or a model
    that is not the file's raises `BitstreamError`."""
    return decode_frames(data, model=model, device=device, batch=batch, progress=progress).collect()


def decode_frames(
    data: bytes,
    *,
    model: str | Path | None = None,
    device: str = "cpu",
    batch: int = 16,
    progress: bool = False,
) -> VideoChunks:
    """Decode a TeCoNeRV file to its frames, one clip synthesised at a time as they are read
    (`decode`'s options). The file is parsed and its model found first: malformed input or a
    model that is not the file's raises `BitstreamError` here."""
    container, stream = read_head(data)
    coding = _decoding_model(stream, model, device)
    net = coding.net
    cfg = net.config
    if (
        cfg.unique_counts() != stream.unique_counts
        or (cfg.hypo.height, cfg.hypo.width) != stream.tube
        or cfg.hypo.frames != stream.clip_frames
    ):
        raise BitstreamError("the file's tubelet layout does not match its model's")
    header, stream = container.header, read_clips(container, stream)  # checked: now the clips
    fmt, tiling = format_of(header), stream.tiling(header)
    clips = _decoded_clips(net, stream, tiling, fmt, header.frame_count, batch, progress)
    return VideoChunks(fmt, header.frame_count, clips)


def _decoded_clips(
    net: Hypernetwork,
    stream: TeCoNeRVPayload,
    tiling: Tiling,
    fmt: VideoFormat,
    frames: int,
    batch: int,
    progress: bool,
) -> Iterator[Video]:
    """Each clip's frames in format ``fmt`` as it is synthesised (the last clip's padding
    dropped: ``frames`` in all)."""
    chain = ResidualChain(stream)
    with _bar(progress, len(stream.clips), "decoding") as bar:
        for index, tensors in enumerate(stream.clips):
            parameters = dequantize_clip(tensors, chain.reference(index))
            chain.update(index, parameters)
            rgb = synthesize_clip(net, parameters, tiling, stream.fusion, batch)
            clip = rgb_to_video(rgb.permute(0, 2, 3, 1).numpy(), fmt)
            yield clip[: frames - index * stream.clip_frames]
            bar.update()


# ------------------------------------------------------------------------------ the harness


class TeCoNeRVCodec(FileCodec):
    """TeCoNeRV in the benchmark harness (`FileCodec`: its options are ``inrcodec encode``'s):
    the rate point is the bit width (4-8 in the paper); the model, residual mode, keyframe
    interval, overlap and fusion are options. The model is recorded by its file's name."""

    name: ClassVar[str] = "teconerv"
    rate_parameter: ClassVar[str] = "bits"

    def default_rate_points(self) -> list[int]:
        return [4, 5, 6, 7, 8]

    def check_rate_point(self, rate_point: int | float) -> None:
        if not (
            isinstance(rate_point, int | float) and rate_point in range(MIN_BITS, MAX_BITS + 1)
        ):
            raise TeCoNeRVCodecError(
                f"teconerv: bits must be an integer in [{MIN_BITS}, {MAX_BITS}]"
            )

    def settings(self) -> dict[str, Any]:
        settings = super().settings()
        model = Path(settings["model"] or DEFAULT_MODEL).name
        return {**settings, "model": model, "overlap": list(settings["overlap"])}


def parse_overlap(value: int | str | list[int] | tuple[int, ...]) -> tuple[int, int]:
    """``8`` or ``"8"`` -> (8, 8); ``"4,8"`` or ``[4, 8]`` -> (4, 8) (height, width)."""
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            raise TeCoNeRVCodecError(f"overlap {value!r}: expected N or H,W pixels") from None
    values = [value] * 2 if isinstance(value, int) else list(value)
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or any(not isinstance(v, int) or v < 0 for v in values):
        raise TeCoNeRVCodecError(f"overlap {value!r}: expected N or H,W pixels >= 0")
    return values[0], values[1]
