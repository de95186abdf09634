"""The `inrcodec` command: ``encode``, ``decode``, ``info``, ``metrics``, ``convert``, ``bench``.

User mistakes (a missing file, an unknown format, videos that do not match, a malformed
bitstream, an output that cannot be written) and running out of memory print one line
``inrcodec: error: ...`` and exit with status 2, without a traceback; outputs are checked
before any work starts. A command stopped by Ctrl-C (SIGINT) or SIGTERM removes its temporary
output (`inrcodec.atomic`) before it exits; SIGKILL cannot be caught, and leaves it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from inrcodec import __version__
from inrcodec.codecs.options import add_input_options, open_input
from inrcodec.errors import InrcodecError, is_out_of_memory

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a Unix tool whose reader left (`| head`)
EXIT_TERMINATED = 143  # 128 + SIGTERM
STARTED = time.perf_counter()  # the command's phases are timed from here (`Clock`)


class UserError(InrcodecError):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


class Terminated(BaseException):
    """SIGTERM, raised where the command is, so that it unwinds as on Ctrl-C."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the command; the module imports nothing heavy before this point, so Ctrl-C at any
    moment, and a reader of stdout that leaves, end it without a traceback. SIGTERM unwinds it
    as Ctrl-C does."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        args = build_parser().parse_args(argv)
        status = args.run(args)
        sys.stdout.flush()  # a reader that left shows here, inside the handlers
        return status
    except KeyboardInterrupt:
        print("inrcodec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("inrcodec: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:  # nothing more can be shown: leave quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (InrcodecError, OSError) as error:
        print(f"inrcodec: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        from inrcodec.codecs.api import asked

        print(f"inrcodec: error: out of memory: {asked(error)}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inrcodec",
        description="Neural video compression with implicit neural representations.",
    )
    parser.add_argument("--version", action="version", version=f"inrcodec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser(
        "info",
        help="describe a video file or an inrcodec bitstream",
        description="Print what a file holds: a video's size, frames, pixel format and colour "
        "tags; an inrcodec file's header, codec settings and bytes by part.",
    )
    info.add_argument("file", type=Path, help="a video (.y4m, .yuv, PNG folder, mp4...) or .inrc")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_input_options(info)
    info.set_defaults(run=run_info)

    metrics = commands.add_parser(
        "metrics",
        help="PSNR, SSIM, MS-SSIM, VMAF and XPSNR of a distorted video against a reference",
        description="Measure DISTORTED against REFERENCE frame by frame and print the means "
        "over frames (docs/metrics.md): PSNR, SSIM and MS-SSIM by inrcodec, VMAF and XPSNR by "
        "the bundled ffmpeg (libvmaf's vmaf_v0.6.1 model, the xpsnr filter) on the same frames.",
    )
    metrics.add_argument("reference", type=Path, help="the original video")
    metrics.add_argument("distorted", type=Path, help="the decoded (distorted) video")
    metrics.add_argument(
        "--space",
        choices=("rgb", "yuv"),
        default="rgb",
        help="rgb: [0,1] RGB via --matrix (default); yuv: native planes, PSNR 6:1:1",
    )
    metrics.add_argument(
        "--matrix",
        choices=("bt601", "bt709", "auto"),
        default="bt601",
        help="YUV-to-RGB matrix for --space rgb (default bt601 as in the NVRC paper; "
        "auto: each file's own tag)",
    )
    metrics.add_argument("--json", action="store_true", help="print JSON with per-frame values")
    metrics.add_argument(
        "--no-ffmpeg", action="store_true", help="skip VMAF and XPSNR (measured by ffmpeg)"
    )
    add_input_options(metrics)
    metrics.set_defaults(run=run_metrics)

    convert = commands.add_parser(
        "convert",
        help="convert between y4m, raw yuv, PNG folders (and read mp4/mkv/avi)",
        description="Copy a video into another file kind, chosen by OUTPUT's name (.y4m, .yuv "
        "named with its format, or a PNG folder: a name without extension), optionally in "
        "another chroma format or bit depth.",
    )
    convert.add_argument("input", type=Path, help="the video to read")
    convert.add_argument("output", type=Path, help="the video to write")
    add_output_format_options(convert)
    add_input_options(convert)
    convert.set_defaults(run=run_convert)
    add_bench_commands(commands)
    add_codec_commands(commands)
    return parser


def add_codec_commands(commands) -> None:
    """``encode``, ``train`` and ``decode``, with the options each registered codec declares
    (`inrcodec.codecs.registry`)."""
    from inrcodec.codecs.api import MAX_MEMORY, MAX_PIXELS
    from inrcodec.codecs.registry import file_codecs

    modules = {name: entry.load() for name, entry in file_codecs().items()}
    encode = commands.add_parser(
        "encode",
        help="compress a video into an inrcodec bitstream (.inrc)",
        description=f"Compress a video with one of the registered codecs ({', '.join(modules)}; "
        "each is documented in docs/). Prints size, bpp, quality, the bytes by part and time.",
    )
    encode.add_argument("input", type=Path, help="the video to compress")
    encode.add_argument("-o", "--output", type=Path, required=True, help="bitstream (.inrc)")
    default = next(iter(modules))  # the registry's first
    encode.add_argument("--codec", choices=list(modules), default=default, help=f"({default})")
    encode.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    encode.add_argument("--no-progress", action="store_true", help="no progress bars")
    encode.add_argument(
        "--no-metrics", action="store_true", help="do not measure PSNR and MS-SSIM (faster)"
    )
    add_codec_options(encode, {name: m.ENCODE_OPTIONS for name, m in modules.items()})
    add_input_options(encode)
    encode.set_defaults(run=run_encode)

    train = commands.add_parser(
        "train", help="train a codec's model (inrcodec train CODEC --help)"
    ).add_subparsers(dest="codec", required=True, metavar="CODEC")
    for module in modules.values():
        if hasattr(module, "add_train_parser"):
            module.add_train_parser(train)

    decode = commands.add_parser(
        "decode",
        help="decode an inrcodec bitstream to a video file",
        description="Decode an inrcodec file; each frame is written as it is synthesised.",
    )
    decode.add_argument("input", type=Path, help="an inrcodec file (.inrc)")
    decode.add_argument(
        "-o", "--output", type=Path, required=True, help="video file (.y4m, .yuv, PNG folder)"
    )
    add_output_format_options(decode)
    decode.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    decode.add_argument(
        "--max-pixels",
        type=parse_pixel_count,
        default=MAX_PIXELS,
        metavar="N",
        help=f"refuse a file of more than N pixels, frames x height x width (default "
        f"{MAX_PIXELS:,}, a 4K video of 12 000 frames), before decoding anything",
    )
    decode.add_argument(
        "--max-memory",
        type=parse_size,
        default=MAX_MEMORY,
        metavar="SIZE",
        help=f"refuse a file whose decoder needs more than SIZE bytes at once (K, M, G or T: "
        f"binary units; default {MAX_MEMORY // 2**30}G), estimated from its header before "
        "decoding anything",
    )
    add_codec_options(decode, {name: m.DECODE_OPTIONS for name, m in modules.items()})
    decode.set_defaults(run=run_decode)


def add_output_format_options(parser: argparse.ArgumentParser) -> None:
    """--to-chroma and --to-bit-depth of a command that writes a video (`output_format`)."""
    parser.add_argument(
        "--to-chroma",
        choices=("420", "444", "rgb"),
        help="output chroma format (default: the video's; rgb for a PNG folder)",
    )
    parser.add_argument(
        "--to-bit-depth",
        type=int,
        help="output bit depth, 8-16 (default: the video's; 8 or 16 for a PNG folder)",
    )


def add_codec_options(parser: argparse.ArgumentParser, declared: dict[str, tuple]) -> None:
    """Add every codec's `Option`s once, in groups named for the codecs that take them; a
    flag that codecs explain differently gets each codec's help."""
    from dataclasses import replace

    takers: dict[str, list[str]] = {}
    helps: dict[str, list[str]] = {}
    options = {}
    for name, codec_options in declared.items():
        for option in codec_options:
            options.setdefault(option.flag, option)
            takers.setdefault(option.flag, []).append(name)
            helps.setdefault(option.flag, []).append(option.help)
    groups: dict[tuple[str, ...], argparse._ArgumentGroup] = {}
    for flag, option in options.items():
        names = tuple(takers[flag])
        if names not in groups:
            groups[names] = parser.add_argument_group(", ".join(names))
        texts = helps[flag]
        text = (
            texts[0]
            if len(set(texts)) == 1
            else "; ".join(f"{n}: {h}" for n, h in zip(names, texts, strict=True))
        )
        replace(option, help=text).add_to(groups[names])


def codec_values(args: argparse.Namespace, codec: str, declared: tuple, everyone: list) -> dict:
    """The values of the options ``codec`` declares; an option only other codecs take that
    the user gave is a `UserError`."""
    own = {option.dest for option in declared}
    given = [
        option.flag
        for option in everyone
        if option.dest not in own and getattr(args, option.dest, None) not in (None, False)
    ]
    if given:
        raise UserError(f"{', '.join(sorted(set(given)))} does not apply to codec {codec}")
    return {dest: getattr(args, dest) for dest in own}


def add_bench_commands(commands) -> None:
    bench = commands.add_parser(
        "bench", help="rate-distortion benchmark: run codecs on sequences, report BD-rates"
    )
    steps = bench.add_subparsers(dest="bench_command", required=True, metavar="STEP")

    run = steps.add_parser(
        "run",
        help="code sequences at rate points and append measured results (resumable)",
        description="Run a YAML spec, or one built from --codec/--sequence flags (docs/bench.md). "
        "Points already in the results file are skipped.",
    )
    run.add_argument("spec", type=Path, nargs="?", help="YAML benchmark spec")
    run.add_argument(
        "-o", "--output", type=Path, required=True, help="results file (JSON Lines, appended to)"
    )
    run.add_argument(
        "--jobs",
        type=int,
        help="points run in parallel in local processes (default 1); with --ray and no "
        "ADDRESS, the embedded Ray instance runs this many at a time",
    )
    run.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run each point as a Ray task: on an embedded local Ray instance, or on the "
        "cluster at ADDRESS (host:port, ray://host:port, or auto); needs inrcodec[ray]",
    )
    run.add_argument(
        "--ray-cpus", type=float, metavar="N", help="CPUs each point's Ray task asks (default 1)"
    )
    run.add_argument(
        "--ray-retries",
        type=int,
        metavar="N",
        help="times a point whose Ray worker died is run again (default 3)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    flags = run.add_argument_group("without a spec file")
    flags.add_argument("--codec", action="append", default=[], help="codec name (repeatable)")
    flags.add_argument(
        "--rate-points", type=parse_rate_points, help="e.g. 22,27,32,37 (default: the codec's)"
    )
    flags.add_argument(
        "--option",
        action="append",
        default=[],
        type=parse_option,
        metavar="KEY=VALUE",
        help="codec option for every --codec, value read as YAML (repeatable)",
    )
    flags.add_argument("--sequence", action="append", default=[], help="video file (repeatable)")
    flags.add_argument("--start", type=int, help="first frame of every sequence (default 0)")
    flags.add_argument("--frames", type=int, help="frames of every sequence (default: all)")
    run.set_defaults(run=run_bench)

    report = steps.add_parser(
        "report", help="Markdown report with BD-rate tables and RD plots of a results file"
    )
    report.add_argument("results", type=Path, help="results file written by `bench run`")
    report.add_argument(
        "--anchor",
        help="the curve BD-rates are measured against: a curve, codec label or codec name "
        "(default: the x265 curve if there is one)",
    )
    report.add_argument(
        "-o", "--output", type=Path, help="report folder (default: RESULTS_report next to it)"
    )
    report.add_argument(
        "--method",
        choices=("pchip", "cubic"),
        default="pchip",
        help="BD-rate interpolation: pchip (JVET CTC, default) or cubic (VCEG-M33)",
    )
    report.add_argument("--log-rate", action="store_true", help="plot bpp on a log axis")
    report.set_defaults(run=run_bench_report)


def parse_pixel_count(text: str) -> int:
    """A positive whole number, written out or as a power of ten (``2e11``)."""
    try:
        value = float(text) if "e" in text.lower() else int(text)
        whole = value == int(value) >= 1
    except (ValueError, OverflowError):  # not a number, inf, nan
        whole = False
    if not whole:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(value)


def parse_size(text: str) -> int:
    """A positive whole number of bytes, written out or with K, M, G or T (powers of 1024)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    unit = text[-1:].upper()
    number, factor = (text[:-1], units[unit]) if unit in units else (text, 1)
    try:
        value = float(number) * factor
        whole = value == int(value) >= 1
    except (ValueError, OverflowError):  # not a number, inf, nan
        whole = False
    if not whole:
        raise argparse.ArgumentTypeError(f"expected a size such as 8G or 512M, got {text!r}")
    return int(value)


def parse_rate_points(text: str) -> list[int | float]:
    try:
        return [float(p) if "." in p else int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def parse_option(text: str) -> tuple[str, object]:
    import yaml

    key, sep, value = text.partition("=")
    if not (sep and key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def is_bitstream(path: Path) -> bool:
    from inrcodec.coding import MAGIC

    if not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(len(MAGIC)) == MAGIC


def run_info(args: argparse.Namespace) -> int:
    from inrcodec.io.files import VIDEO_KINDS, is_video_path

    if is_bitstream(args.file):
        description = describe_bitstream(args.file)
    elif args.file.is_file() and not is_video_path(args.file):
        raise UserError(
            f"{args.file} is not an inrcodec bitstream (it does not start with 'INRC') nor a "
            f"video inrcodec can read ({VIDEO_KINDS})"
        )
    else:
        video = open_input(args.file, args)
        description = describe_video(args.file, video)
    if args.json:
        print(json.dumps(description, indent=2))
    else:
        for key, value in description.items():
            if isinstance(value, dict):  # a table: one line per entry
                print(f"{key:>16}:")
                for name, entry in value.items():
                    print(f"{name:>18}  {entry}")
            else:
                shown = f"{value:.4g}" if isinstance(value, float) else value
                print(f"{key:>16}: {shown}")
    return 0


def describe_video(path: Path, video) -> dict:
    fmt = video.format
    return {
        "file": str(path),
        "kind": "video",
        "size": f"{fmt.width}x{fmt.height}",
        "frames": video.num_frames,
        "fps": str(fmt.fps),
        "chroma": fmt.chroma,
        "bit_depth": fmt.bit_depth,
        "matrix": fmt.matrix,
        "range": fmt.range,
        "chroma_siting": fmt.chroma_siting,
        "pixel_aspect": "unknown" if fmt.pixel_aspect is None else str(fmt.pixel_aspect),
        "raw_bpp": raw_bpp(fmt),
    }


def raw_bpp(fmt) -> float:
    """Bits per pixel of the uncompressed video."""
    return 8 * fmt.frame_bytes / (fmt.width * fmt.height)


def describe_bitstream(path: Path) -> dict:
    """What the file's own codec says of it (its package's ``describe``)."""
    from inrcodec.codecs.registry import module_for_file
    from inrcodec.coding import Container

    data = path.read_bytes()
    with naming(path):
        _, module = module_for_file(Container.from_bytes(data).codec)
        return {"file": str(path), **module.describe(data)}


@contextmanager
def naming(path: Path):
    """Name ``path`` in a `BitstreamError` raised inside: the readers see only bytes."""
    from inrcodec.coding import BitstreamError

    try:
        yield
    except BitstreamError as error:
        raise UserError(f"{path}: {error}") from None


def run_metrics(args: argparse.Namespace) -> int:
    from inrcodec.metrics import compare

    reference = open_input(args.reference, args)
    distorted = open_input(args.distorted, args)
    matrix = None if args.matrix == "auto" else args.matrix
    result = compare(reference, distorted, args.space, matrix=matrix)
    means = result.means
    skipped = None
    if not args.no_ffmpeg:
        skipped = ffmpeg_metrics_skipped(reference, distorted)
    if not (args.no_ffmpeg or skipped):
        from inrcodec.baselines.ffmpeg_metrics import ffmpeg_metrics

        measured = ffmpeg_metrics(reference, distorted)
        means |= {name: float(values.mean()) for name, values in measured.items()}
    if args.json:
        data = result.to_dict()
        if not (args.no_ffmpeg or skipped):
            data["mean"] = means
            data["per_frame"] |= {name: values.tolist() for name, values in measured.items()}
        print(json.dumps(data))
        return 0
    print(
        f"{args.distorted} against {args.reference}: {result.num_frames} frames, "
        f"{args.space.upper()}" + (f" ({result.matrix})" if result.matrix else "")
    )
    for name, value in means.items():
        unit = " dB" if "psnr" in name else ""
        print(f"  {name:<10} {value:9.4f}{unit}")
    print(f"  (MS-SSIM window {result.ms_ssim_window}x{result.ms_ssim_window})")
    if skipped:
        print(f"  (VMAF and XPSNR not measured: {skipped})")
    return 0


def ffmpeg_metrics_skipped(reference, distorted) -> str | None:
    """Why VMAF and XPSNR cannot compare these videos (they need one Y'CbCr format), or None."""
    a, b = reference.format, distorted.format
    if (a.chroma, a.bit_depth) != (b.chroma, b.bit_depth):
        return "the videos differ in chroma format or bit depth"
    return None


def run_convert(args: argparse.Namespace) -> int:
    from inrcodec.io import convert_video, write_video

    video = open_input(args.input, args)
    fmt = output_format(args.output, video.format, args.to_chroma, args.to_bit_depth)
    check_video_destination(args.output, fmt, flag="")
    converted = convert_video(video, chroma=fmt.chroma, bit_depth=fmt.bit_depth)
    write_video(converted, args.output)
    print(f"wrote {args.output}: {converted.describe()}")
    return 0


def output_format(path: Path, fmt, chroma: str | None, bit_depth: int | None):
    """The format a video of ``fmt`` is written to ``path`` in: --to-chroma and --to-bit-depth,
    and where they leave it open for a PNG folder (a path without extension, or a folder),
    what PNG holds: 8- or 16-bit RGB."""
    if path.suffix == "" or path.is_dir():
        chroma = chroma or "rgb"
        bit_depth = bit_depth or (8 if fmt.bit_depth == 8 else 16)
    return fmt.with_(chroma=chroma or fmt.chroma, bit_depth=bit_depth or fmt.bit_depth)


def check_output(path: Path, flag: str = "-o", *, folder: bool = False) -> None:
    """Refuse now, before any work, an output file (``folder``: folder) that could not be
    written (`check_destination`); the message starts with the ``flag`` that named it."""
    from inrcodec.atomic import check_destination

    try:
        check_destination(path, folder=folder)
    except OSError as error:
        raise UserError(f"{flag} {error}".lstrip()) from None


def check_video_destination(path: Path, fmt, flag: str = "-o") -> None:
    """`check_output` for a video of ``fmt``, which must also be one ``path``'s kind holds
    and reads back (`check_video_output`)."""
    from inrcodec.io import VideoFormatError
    from inrcodec.io.files import check_video_output

    try:
        kind = check_video_output(path, fmt)
    except (VideoFormatError, FileExistsError) as error:
        raise UserError(f"{flag} {error}".lstrip()) from None
    check_output(path, flag, folder=kind == "png")


def check_bitstream_destination(path: Path) -> None:
    """`check_output` for an encode's bitstream, which must not be named like a video."""
    from inrcodec.io.media import SUFFIXES

    if path.suffix.lower() in (".y4m", ".yuv", ".png", *SUFFIXES):
        raise UserError(
            f"-o {path}: encode writes an inrcodec bitstream, not a {path.suffix} video; "
            f"name it {path.with_suffix('.inrc')} (inrcodec decode turns it into a video)"
        )
    check_output(path)


class Clock:
    """Wall-clock seconds of a command's phases, each from the end of the one before; the
    first from `STARTED` (the command's imports, argument and option checks)."""

    def __init__(self):
        self.phases: dict[str, float] = {}
        self._last = STARTED

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = now - self._last
        self._last = now

    def split(self, phase: str, part: str, seconds: float) -> None:
        """Move ``seconds`` of ``phase`` into a ``part`` of their own (the self-check)."""
        self.phases[phase] -= seconds
        self.phases[part] = seconds

    def __str__(self) -> str:
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        return f"{phases}; {sum(self.phases.values()):.1f} s in all (wall clock, to this line)"


def run_encode(args: argparse.Namespace) -> int:
    check_bitstream_destination(args.output)  # first: before torch loads, before any work
    from inrcodec.atomic import write_atomic
    from inrcodec.codecs.api import encode
    from inrcodec.codecs.progress import stage
    from inrcodec.codecs.registry import codec_module, file_codecs
    from inrcodec.codecs.training.run import resolve_device

    module = codec_module(args.codec)
    everyone = [o for e in file_codecs().values() for o in e.load().ENCODE_OPTIONS]
    values = codec_values(args, args.codec, module.ENCODE_OPTIONS, everyone)
    options, setting = module.encode_options(values)
    device = str(resolve_device(checked_device(args.device, auto=True)))
    show = not args.no_progress
    clock = Clock()
    clock.lap("start")
    stage(f"reading {args.input}", show)
    video = open_input(args.input, args).load()
    clock.lap("load")
    result = encode(video, args.codec, device=device, progress=show, **options)
    clock.lap("encode")
    clock.split("encode", "self-check", result.decode_seconds)
    source = result.source  # what was coded: the input, or its resized copy
    quality = []
    if not args.no_metrics:
        stage("measuring quality", show)
        quality = quality_lines(source, result.reconstruction)
        clock.lap("metrics")
    write_atomic(args.output, result.bitstream)
    clock.lap("write")
    print(f"wrote {args.output}: {result.num_bytes} bytes, {result.bpp:.4f} bpp")
    print(f"  {source.describe()}")
    print(f"  {args.codec} {result.preset}, {setting}")
    for line in quality:
        print(line)
    print_parts(result.parts, result.estimated)
    print(f"  time       {clock}")
    if result.bpp > raw_bpp(source.format):
        print(
            f"inrcodec: warning: {args.output} takes {result.bpp:.2f} bpp, more than the "
            f"uncompressed video's {raw_bpp(source.format):g}: the codec's model costs more "
            f"than {source.num_frames} frame(s) of {source.width}x{source.height}; encode more "
            "frames at once, or use a smaller model",
            file=sys.stderr,
        )
    return 0


def checked_device(name: str, *, auto: bool = False) -> str:
    """``name`` if it is the CPU or a CUDA device this machine has (or "auto", where ``auto``
    allows it); else a `UserError`, not torch's traceback."""
    import torch

    if auto and name == "auto":
        return name
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: expected cpu or cuda" + (" or auto" if auto else ""))
    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.type == "cuda" and (device.index or 0) >= found:
        raise UserError(f"--device {name}: this machine has {found} CUDA device(s)")
    return name


def quality_lines(video, decoded) -> list[str]:
    """The encode report's quality: PSNR in RGB (and YUV), MS-SSIM in RGB."""
    from inrcodec.metrics import compare

    rgb = compare(video, decoded, "rgb")
    lines = [f"  PSNR RGB   {rgb.means['psnr']:9.4f} dB (BT.601)"]
    if video.format.chroma != "rgb":
        yuv = compare(video, decoded, "yuv")
        lines.append(f"  PSNR YUV   {yuv.means['psnr_yuv']:9.4f} dB (6:1:1)")
    window = rgb.ms_ssim_window
    lines.append(f"  MS-SSIM    {rgb.means['ms_ssim']:9.4f} (RGB, window {window}x{window})")
    return lines


def print_parts(parts: dict[str, int], estimated: dict | None = None) -> None:
    """The file's bytes by part, next to the training's estimate where the codec has one
    (NVRC: Fig. 4's groups)."""
    groups = estimated["groups"] if estimated else {}
    print(f"  {'part':12} {'bytes':>9} {'bits':>10}" + (f" {'estimated':>10}" if groups else ""))
    for part, size in parts.items():
        row = f"  {part:12} {size:9d} {8 * size:10d}"
        if part in groups:
            row += f" {groups[part]['bits']:10.0f}"
        print(row)


def run_decode(args: argparse.Namespace) -> int:
    from inrcodec.codecs.api import decode_frames
    from inrcodec.codecs.header import format_of
    from inrcodec.codecs.registry import file_codecs, module_for_file
    from inrcodec.coding import Container
    from inrcodec.io import convert_video, write_video

    if not args.input.is_file():
        raise UserError(f"{args.input}: no such file")
    if not is_bitstream(args.input):
        raise UserError(
            f"{args.input} is not an inrcodec bitstream (it does not start with 'INRC'); "
            "decode reads the files that inrcodec encode writes"
        )
    data = args.input.read_bytes()
    with naming(args.input):
        container = Container.from_bytes(data)
        name, module = module_for_file(container.codec)
    everyone = [o for e in file_codecs().values() for o in e.load().DECODE_OPTIONS]
    values = codec_values(args, name, module.DECODE_OPTIONS, everyone)
    fmt = output_format(args.output, format_of(container.header), args.to_chroma, args.to_bit_depth)
    check_video_destination(args.output, fmt)
    module.decode_frames  # noqa: B018  (imported before the clock starts: imports are not decoding)
    started = time.perf_counter()
    device = checked_device(args.device)
    limits = dict(max_pixels=args.max_pixels, max_memory=args.max_memory)
    with naming(args.input):
        video = decode_frames(data, device=device, **limits, **values)
    video = convert_video(video, chroma=fmt.chroma, bit_depth=fmt.bit_depth)
    write_video(video, args.output)  # each chunk written as it is synthesised
    seconds = time.perf_counter() - started
    print(f"wrote {args.output}: {video.describe()}")
    print(f"  decode     {seconds:9.2f} s ({video.num_frames / seconds:.1f} frames/s, written)")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from inrcodec.bench import load_spec, parse_spec, plan, run_points

    check_output(args.output)
    flags = [args.codec, args.sequence, args.rate_points, args.option, args.start, args.frames]
    if args.spec is not None and any(flag not in (None, []) for flag in flags):
        raise UserError("give a spec file or --codec/--sequence flags, not both")
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    executor = ray_executor(args)
    if args.spec is not None:
        spec = load_spec(args.spec)
    elif not (args.codec and args.sequence):
        raise UserError("bench run needs a SPEC file, or at least one --codec and one --sequence")
    else:
        codec = {"options": dict(args.option)}
        if args.rate_points:
            codec["rate_points"] = args.rate_points
        data = {"codecs": [{"codec": name, **codec} for name in args.codec]}
        data["sequences"] = args.sequence
        for key in ("start", "frames"):
            if getattr(args, key) is not None:
                data[key] = getattr(args, key)
        spec = parse_spec(data, source="command line")
    summary = run_points(
        plan(spec), args.output, args.jobs or 1, not args.no_progress, executor=executor
    )
    print(
        f"{summary.measured} point(s) measured, {summary.skipped} already in {args.output}, "
        f"{len(summary.failures)} failed"
    )
    for point, message in summary.failures:
        print(f"inrcodec: failed: {point.describe()}: {message}", file=sys.stderr)
    return 1 if summary.failures else 0


def ray_executor(args: argparse.Namespace):
    """The `RayExecutor` that ``--ray`` and its options ask for, or None without ``--ray``."""
    if args.ray is None:
        if args.ray_cpus is not None or args.ray_retries is not None:
            raise UserError("--ray-cpus and --ray-retries need --ray")
        return None
    if args.ray and Path(args.ray).is_file():
        raise UserError(
            f"--ray {args.ray}: that is a file, not a Ray address; put the SPEC before --ray"
        )
    if args.ray and args.jobs is not None:
        raise UserError("--jobs sizes the embedded Ray instance, not a cluster (--ray ADDRESS)")
    from inrcodec.bench.ray_executor import RayExecutor

    cpus = 1 if args.ray_cpus is None else args.ray_cpus
    return RayExecutor(
        args.ray or None,
        cpus=cpus,
        retries=3 if args.ray_retries is None else args.ray_retries,
        local_cpus=None if args.jobs is None else math.ceil(args.jobs * cpus),
    )


def run_bench_report(args: argparse.Namespace) -> int:
    from inrcodec.bench import write_report

    out_dir = args.output or args.results.with_name(f"{args.results.stem}_report")
    check_output(out_dir, folder=True)
    report = write_report(
        args.results, out_dir, anchor=args.anchor, method=args.method, log_rate=args.log_rate
    )
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
