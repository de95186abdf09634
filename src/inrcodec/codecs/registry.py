"""The codecs that write inrcodec files, by name: the one list the command line
(``inrcodec encode --codec``, ``decode``, ``info``), `inrcodec.codecs.api` and the benchmark
harness read. Adding a codec is one sub-package and one line here (docs/design.md).

A registered package exports, lazily (`inrcodec.lazy`; the names: `codec_exports`), what
`CodecPackage` names, the same names in every codec:

- ``encode(video, **options) -> EncodeResult``, ``decode(data, *, device, **options) ->
  Video`` and ``decode_frames(data, ...) -> VideoChunks`` (the same frames, synthesised as
  they are read; malformed input raises before it returns);
- ``write_payload(payload, header, ...) -> bytes`` and ``read_payload(data) -> (header,
  payload)``: its file's writer and reader, the payload being its ``<Codec>Payload``;
- ``part_bytes(data) -> dict``: the file's bytes by part (they sum to its size);
- ``describe(data) -> dict``, what ``inrcodec info`` prints about one of its files, in time
  and memory proportional to the file's bytes;
- ``decode_memory(data) -> int``, about the bytes its decoder needs at once (the network or
  model data and one frame's, or clip's, synthesis), from the header and the sections that
  shape the decoder alone (`inrcodec.codecs.api` checks it against ``max_memory``);
- ``ENCODE_OPTIONS`` / ``DECODE_OPTIONS`` (`inrcodec.codecs.options.Option`) and
  ``encode_options(values) -> (keywords for encode, one line describing the setting)``;
- its harness class (a `inrcodec.codecs.base.FileCodec`), named by the entry;
- optionally ``add_train_parser(subparsers)``, its ``inrcodec train <name>`` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from inrcodec.coding import BitstreamError, CodecId

from .base import Codec, CodecError

if TYPE_CHECKING:
    from inrcodec.coding import VideoHeader
    from inrcodec.io import Video, VideoChunks

    from .base import EncodeResult
    from .options import Option


@dataclass(frozen=True)
class CodecEntry:
    """Where a codec lives: its ``module`` (a package), the name of its ``harness`` class in
    it, and the container's ``codec_id`` of its files (None: it writes no inrcodec file, as a
    conventional baseline or a harness-only test codec)."""

    module: str
    harness: str
    codec_id: CodecId | None = None

    def load(self) -> ModuleType:
        return import_module(self.module)

    def harness_class(self) -> type[Codec]:
        return getattr(self.load(), self.harness)


@runtime_checkable
class CodecPackage(Protocol):
    """What every registered codec package provides (module docstring); ``isinstance``
    checks that each name is there."""

    ENCODE_OPTIONS: tuple[Option, ...]
    DECODE_OPTIONS: tuple[Option, ...]

    def encode(self, video: Video, **options: Any) -> EncodeResult: ...
    def decode(self, data: bytes, **options: Any) -> Video: ...
    def decode_frames(self, data: bytes, **options: Any) -> VideoChunks: ...
    def write_payload(self, payload: Any, header: VideoHeader, *args: Any) -> bytes: ...
    def read_payload(self, data: bytes) -> tuple[VideoHeader, Any]: ...
    def part_bytes(self, data: bytes) -> dict[str, int]: ...
    def describe(self, data: bytes) -> dict: ...
    def decode_memory(self, data: bytes) -> int: ...
    def encode_options(self, values: dict[str, Any]) -> tuple[dict[str, Any], str]: ...


CODECS: dict[str, CodecEntry] = {
    "nvrc": CodecEntry("inrcodec.codecs.nvrc", "NVRCCodec", CodecId.NVRC),
    "hinerv": CodecEntry("inrcodec.codecs.hinerv", "HiNeRVCodec", CodecId.HINERV),
    "teconerv": CodecEntry("inrcodec.codecs.teconerv", "TeCoNeRVCodec", CodecId.TECONERV),
}


def codec_exports(harness: str, *, train_command: bool = False) -> dict[str, str]:
    """The names a codec package exports for the registry (module docstring), each with the
    module of the package that holds it: the package's lazy table (`inrcodec.lazy`)."""
    exports = dict.fromkeys((harness, "encode", "decode", "decode_frames"), "codec")
    bitstream = ("write_payload", "read_payload", "part_bytes", "describe", "decode_memory")
    exports |= dict.fromkeys(bitstream, "bitstream")
    exports |= dict.fromkeys(("ENCODE_OPTIONS", "DECODE_OPTIONS", "encode_options"), "command")
    if train_command:
        exports["add_train_parser"] = "command"
    return exports


def file_codecs() -> dict[str, CodecEntry]:
    """The registered codecs that write inrcodec files, in registry order."""
    return {name: entry for name, entry in CODECS.items() if entry.codec_id is not None}


def codec_module(name: str) -> ModuleType:
    """The package of the file codec registered as ``name``."""
    codecs = file_codecs()
    if name not in codecs:
        raise CodecError(f"unknown codec {name!r}; choose from {', '.join(codecs)}")
    return codecs[name].load()


def module_for_file(codec_id: CodecId) -> tuple[str, ModuleType]:
    """The name and package of the codec whose files carry ``codec_id``."""
    for name, entry in file_codecs().items():
        if entry.codec_id == codec_id:
            return name, entry.load()
    raise BitstreamError(f"no decoder for codec {codec_id.name.lower()}")
