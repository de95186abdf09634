"""The `inrcodec` command: ``encode``, ``decode``, ``info``, ``metrics``, ``convert``, ``bench``.

User mistakes (a missing file, an unknown format, videos that do not match, a malformed
bitstream) print one line ``inrcodec: error: ...`` and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

from inrcodec import __version__
from inrcodec.errors import InrcodecError

EXIT_USAGE = 2


class UserError(InrcodecError):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("inrcodec: interrupted", file=sys.stderr)
        return 130
    except (InrcodecError, OSError) as error:
        print(f"inrcodec: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inrcodec",
        description="Neural video compression with implicit neural representations.",
    )
    parser.add_argument("--version", action="version", version=f"inrcodec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="describe a video file or an inrcodec bitstream")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_input_options(info)
    info.set_defaults(run=run_info)

    metrics = commands.add_parser(
        "metrics", help="PSNR, SSIM and MS-SSIM of a distorted video against a reference"
    )
    metrics.add_argument("reference", type=Path)
    metrics.add_argument("distorted", type=Path)
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
    add_input_options(metrics)
    metrics.set_defaults(run=run_metrics)

    convert = commands.add_parser(
        "convert", help="convert between y4m, raw yuv, PNG folders (and read mp4/mkv/avi)"
    )
    convert.add_argument("input", type=Path)
    convert.add_argument("output", type=Path)
    convert.add_argument("--to-chroma", choices=("420", "444", "rgb"), help="output chroma format")
    convert.add_argument("--to-bit-depth", type=int, help="output bit depth (8-16)")
    add_input_options(convert)
    convert.set_defaults(run=run_convert)
    add_bench_commands(commands)
    add_codec_commands(commands)
    return parser


def add_codec_commands(commands) -> None:
    encode = commands.add_parser(
        "encode",
        help="compress a video into an inrcodec bitstream (.inrc)",
        description="Fit a neural representation to the video and write its compressed "
        "parameters: NVRC (docs/nvrc.md) or HiNeRV (docs/hinerv-codec.md); or predict them "
        "with a trained TeCoNeRV hypernetwork, one pass per clip (docs/teconerv-codec.md). "
        "Prints size, bpp, quality and time.",
    )
    encode.add_argument("input", type=Path)
    encode.add_argument("-o", "--output", type=Path, required=True, help="bitstream (.inrc)")
    encode.add_argument(
        "--codec", choices=("nvrc", "hinerv", "teconerv"), default="nvrc", help="(nvrc)"
    )
    encode.add_argument("--preset", help="network preset (nvrc-cpu, hinerv-cpu)")
    nvrc = encode.add_argument_group("nvrc", "rate control of NVRC")
    add_rate_options(nvrc, default_point=DEFAULT_RATE_POINT)
    bits = encode.add_argument_group("hinerv, teconerv", "rate control of HiNeRV and TeCoNeRV")
    bits.add_argument("--bits", type=int, help="quantisation bits, 2-16 (hinerv 6, teconerv 4)")
    add_teconerv_options(encode)
    add_training_options(encode)
    add_input_options(encode)
    encode.set_defaults(run=run_encode)

    train = commands.add_parser(
        "train",
        help="train a model: NVRC on one video, or TeCoNeRV's hypernetwork on a corpus",
    ).add_subparsers(dest="codec", required=True, metavar="CODEC")
    nvrc_train = train.add_parser(
        "nvrc",
        help="fit NVRC to a video on R + lambda D and report its estimated rate split",
        description="Fit NVRC (network, quantisation and entropy models) to the video on "
        "R + lambda D (docs/nvrc.md). Prints PSNR of the quantised model, the estimated rate "
        "(eq. 9) and its split by group. `encode --codec nvrc` writes the bitstream.",
    )
    nvrc_train.add_argument("input", type=Path)
    nvrc_train.add_argument("--preset", help="network preset (nvrc-cpu)")
    add_rate_options(nvrc_train, default_point=None)
    nvrc_train.add_argument("--report", type=Path, help="also write the results as JSON here")
    add_training_options(nvrc_train)
    add_input_options(nvrc_train)
    nvrc_train.set_defaults(run=run_train)
    add_teconerv_training(train)

    decode = commands.add_parser("decode", help="decode an inrcodec bitstream to a video file")
    decode.add_argument("input", type=Path)
    decode.add_argument(
        "-o", "--output", type=Path, required=True, help="video file (.y4m, .yuv, PNG folder)"
    )
    decode.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    decode.add_argument(
        "--model", type=Path, help="TeCoNeRV model (default: the committed one the file names)"
    )
    decode.set_defaults(run=run_decode)


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
        "--anchor", help="codec label BD-rates are measured against (default: x265 if present)"
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
    report.set_defaults(run=run_bench_report)


#: The rate point `encode --codec nvrc` uses without --lambda or --rate-point (`make demo`).
DEFAULT_RATE_POINT = "cpu2"


def add_teconerv_options(encode) -> None:
    from inrcodec.codecs.teconerv.bitstream import RESIDUALS
    from inrcodec.codecs.teconerv.tiling import FUSIONS

    group = encode.add_argument_group("teconerv", "TeCoNeRV (docs/teconerv-codec.md)")
    group.add_argument(
        "--model", type=Path, help="model file (models/teconerv/teconerv-cpu.safetensors)"
    )
    group.add_argument(
        "--residual", choices=RESIDUALS, default="previous", help="residuals between clips"
    )
    group.add_argument(
        "--keyframe-interval", type=int, default=0, help="full parameters every N clips (0)"
    )
    group.add_argument("--overlap", default="0", help="tubelet overlap: N or H,W pixels (0)")
    group.add_argument("--fusion", choices=FUSIONS, default="crop", help="overlap fusion (crop)")
    group.add_argument(
        "--resize", type=parse_size, metavar="WxH", help="resize and centre-crop to WxH first"
    )
    group.add_argument("--batch", type=int, default=16, help="tubelets per forward pass (16)")


def add_teconerv_training(train) -> None:
    p = train.add_parser(
        "teconerv",
        help="train TeCoNeRV's hypernetwork on a folder of videos (torchrun for many GPUs)",
        description="Pre-train or fine-tune a TeCoNeRV / NeRV-Enc* hypernetwork on every video "
        "under --data (docs/teconerv.md). Under torchrun the global batch is split across the "
        "processes (DistributedDataParallel; NCCL on GPUs, gloo on CPU).",
    )
    p.add_argument("--data", type=Path, required=True, help="folder tree of training videos")
    p.add_argument("--val", type=Path, help="folder tree of held-out videos (validation PSNR)")
    p.add_argument("--preset", default="teconerv-cpu", help="model preset (teconerv-cpu)")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, model)")
    p.add_argument("--init", type=Path, help="start from this model.safetensors (fine-tuning)")
    p.add_argument("--epochs", type=int, default=150, help="epochs (150; fine-tuning: 50)")
    p.add_argument("--clips-per-video", type=int, default=1, help="clips per video per epoch")
    p.add_argument("--batch", type=int, help="global batch (default: the preset's)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (1e-4)")
    p.add_argument(
        "--temporal-lambda", type=float, default=0.0, help="lambda_temp of eq. 2 (0; paper 0.1)"
    )
    p.add_argument(
        "--temporal-target",
        choices=("mod", "uniq", "both"),
        default="mod",
        help="parameters L_temp compares (Table 12; default mod)",
    )
    p.add_argument("--validate-every", type=int, default=0, help="steps (default: each epoch)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps (default: each epoch)")
    p.add_argument("--val-clips", type=int, default=4, help="clips per validation video (4)")
    p.add_argument("--cache", type=Path, help="decoded-frame cache (default: OUT/../cache)")
    p.add_argument("--max-frames", type=int, help="decode at most this many frames per video")
    p.add_argument("--decode-workers", type=int, default=2, help="decoding processes (2)")
    p.add_argument("--workers", type=int, default=0, help="data-loading processes per rank (0)")
    p.add_argument("--threads", type=int, help="torch threads per process")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--stop-at", type=int, help="leave after this step with a checkpoint (--resume goes on)"
    )
    p.add_argument(
        "--export", type=Path, help="also write the trained model here in float16 (half size)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run_train_teconerv)


def add_rate_options(parser, default_point: str | None) -> None:
    """NVRC's rate control: a lambda (with --preset) or a named rate point."""
    parser.add_argument("--lambda", dest="lam", type=float, help="rate-distortion trade-off")
    default = f" (default {default_point})" if default_point else ""
    parser.add_argument(
        "--rate-point",
        help="named rate point instead of --preset/--lambda: 1-6 (Table 6, paper presets) "
        f"or cpu1-cpu4 (CPU scale){default}",
    )
    parser.add_argument(
        "--ablation", default="full", help="full, v1-v5, no-alternating, no-stage0, soft-layers"
    )


def nvrc_rate(args: argparse.Namespace, default_point: str | None) -> tuple[str, float]:
    """(preset, lambda) from --rate-point, or --preset and --lambda."""
    from inrcodec.codecs.nvrc.train import rate_point

    if args.rate_point is not None and args.lam is not None:
        raise UserError("give --rate-point or --lambda, not both")
    if args.lam is not None:
        return args.preset or "nvrc-cpu", args.lam
    if args.rate_point is None and default_point is None:
        raise UserError("give --lambda or --rate-point")
    point = args.rate_point or default_point
    preset, lam = rate_point(point, args.space)
    if args.preset is not None and args.preset != preset:
        raise UserError(f"rate point {point} uses preset {preset}; with --preset give --lambda")
    return preset, lam


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that fits a network: length, space, device, checkpoints."""
    parser.add_argument("--steps", type=int, help="training steps of all stages together")
    parser.add_argument(
        "--space", choices=("rgb", "yuv"), default="rgb", help="training space (default rgb)"
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--run-dir", type=Path, help="folder for training checkpoints")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from --run-dir"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "input", "frame range, and the facts a raw .yuv file name does not give"
    )
    group.add_argument("--start", type=int, default=0, help="first frame to read (default 0)")
    group.add_argument("--frames", type=int, help="number of frames to read (default: all)")
    group.add_argument("--size", type=parse_size, metavar="WxH", help="raw yuv frame size")
    group.add_argument("--chroma", choices=("420", "444"), help="raw yuv chroma format")
    group.add_argument("--bit-depth", type=int, help="raw yuv bit depth")
    group.add_argument("--fps", type=Fraction, help="raw yuv frame rate, e.g. 50 or 30000/1001")


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}")
    return int(width), int(height)


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


def open_video(path: Path, args: argparse.Namespace):
    from inrcodec.io import read_video

    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    return read_video(
        path,
        start=args.start,
        frames=args.frames,
        size=args.size,
        chroma=args.chroma,
        bit_depth=args.bit_depth,
        fps=args.fps,
    )


def is_bitstream(path: Path) -> bool:
    from inrcodec.coding import MAGIC

    if not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(len(MAGIC)) == MAGIC


def run_info(args: argparse.Namespace) -> int:
    if is_bitstream(args.file):
        description = describe_bitstream(args.file)
    else:
        video = open_video(args.file, args)
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
                print(f"{key:>16}: {value}")
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
        "raw_bpp": 8 * fmt.frame_bytes / (fmt.width * fmt.height),
    }


def describe_bitstream(path: Path) -> dict:
    from inrcodec.coding import FORMAT_VERSION, CodecId, read_container
    from inrcodec.metrics import bpp

    container = read_container(path)
    header = container.header
    size = path.stat().st_size
    pixels = header.frame_count * header.height * header.width
    description = {
        "file": str(path),
        "kind": "inrcodec bitstream",
        "format_version": FORMAT_VERSION,
        "codec": container.codec.name.lower(),
        "size": f"{header.width}x{header.height}",
        "frames": header.frame_count,
        "fps": str(Fraction(header.fps_num, header.fps_den)),
        "chroma": header.chroma_format,
        "bit_depth": header.bit_depth,
        "matrix": header.color_matrix,
        "range": header.color_range,
        "chroma_siting": header.chroma_siting,
        "bytes": size,
        "bpp": bpp(size, header.frame_count, header.height, header.width),
        "sections": ", ".join(f"{tag}: {len(data)} B" for tag, data in container.sections),
    }
    if container.codec == CodecId.TECONERV:
        description.update(describe_teconerv(path.read_bytes(), pixels))
    if container.codec == CodecId.NVRC:  # the rate split by group (NVRC Fig. 4)
        from inrcodec.codecs.nvrc.bitstream import section_bytes

        parts = section_bytes(path.read_bytes())
        description["rate_split"] = {
            part: f"{n} B, {8 * n / pixels:.5f} bpp" for part, n in parts.items()
        }
    return description


def describe_teconerv(data: bytes, pixels: int) -> dict:
    """The setup (model, tubelets, rate controls) and the bytes by part of a TeCoNeRV file."""
    from inrcodec.codecs.teconerv.bitstream import rate_split, read_stream

    header, setup = read_stream(data)  # the whole file must parse
    split = rate_split(data)
    tiling = setup.tiling(header)
    return {
        "model": f"{setup.model_name} (hash {setup.model_hash.hex()})",
        "tubelets": f"{setup.tube[1]}x{setup.tube[0]}x{setup.clip_frames}, "
        f"{len(tiling.cols)}x{len(tiling.rows)} per clip, overlap "
        f"{setup.overlap[1]}x{setup.overlap[0]} ({setup.fusion})",
        "bits": setup.bits,
        "residual": setup.residual,
        "keyframe_interval": setup.keyframe_interval,
        "rate_split": {
            part: f"{n} B, {8 * n / pixels:.5f} bpp" for part, n in split["bytes"].items()
        },
        "entropy_models": split["entropy_models"],
    }


def run_metrics(args: argparse.Namespace) -> int:
    from inrcodec.metrics import compare

    reference = open_video(args.reference, args)
    distorted = open_video(args.distorted, args)
    matrix = None if args.matrix == "auto" else args.matrix
    result = compare(reference, distorted, args.space, matrix=matrix)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(
        f"{args.distorted} against {args.reference}: {result.num_frames} frames, "
        f"{args.space.upper()}" + (f" ({result.matrix})" if result.matrix else "")
    )
    for name, value in result.means.items():
        unit = " dB" if name.startswith("psnr") else ""
        print(f"  {name:<10} {value:9.4f}{unit}")
    print(f"  (MS-SSIM window {result.ms_ssim_window}x{result.ms_ssim_window})")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from inrcodec.io import convert_video, write_video

    video = open_video(args.input, args)
    chroma, bit_depth = args.to_chroma, args.to_bit_depth
    if is_png_folder(args.output):  # PNG holds only 8- or 16-bit RGB
        chroma = chroma or "rgb"
        bit_depth = bit_depth or (8 if video.format.bit_depth == 8 else 16)
    converted = convert_video(video, chroma=chroma, bit_depth=bit_depth)
    write_video(converted, args.output)
    print(f"wrote {args.output}: {converted.describe()}")
    return 0


def is_png_folder(path: Path) -> bool:
    """`write_video` writes a PNG folder to a path without extension or to a folder."""
    return path.suffix == "" or path.is_dir()


def run_encode(args: argparse.Namespace) -> int:
    from inrcodec.atomic import write_atomic
    from inrcodec.codecs.api import encode

    if args.resume and args.run_dir is None:
        raise UserError("--resume needs --run-dir")
    video = open_video(args.input, args).load()
    options = dict(
        steps=args.steps,
        space=args.space,
        run_dir=args.run_dir,
        resume=args.resume,
        progress=not args.no_progress,
        device=args.device,
        seed=args.seed,
    )
    if args.codec == "nvrc":
        preset, lam = nvrc_rate(args, DEFAULT_RATE_POINT)
        options.update(preset=preset, lam=lam, ablation=args.ablation)
        setting = f"lambda {lam:g}, ablation {args.ablation}"
    elif args.codec == "hinerv":
        bits = 6 if args.bits is None else args.bits
        options.update(preset=args.preset or "hinerv-cpu", bits=bits)
        setting = f"{bits} bits"
    else:
        options, setting = teconerv_options(args)
    result = encode(video, args.codec, **options)
    write_atomic(args.output, result.bitstream)
    size = args.output.stat().st_size
    if args.codec == "teconerv":
        video = result.source  # what was coded: the input, or its resized copy
    print(f"wrote {args.output}: {size} bytes, {8 * size / pixels(video):.4f} bpp")
    print(f"  {video.describe()}")
    print(f"  {args.codec} {result.preset}, {setting}")
    print_quality(video, result.reconstruction)
    if args.codec == "nvrc":
        print_rate_split(result.compressed.sections, result.compressed.estimated)
    check = result.decode_seconds
    print(f"  encode     {result.encode_seconds:9.1f} s (decoder self-check {check:.1f} s)")
    return 0


def teconerv_options(args: argparse.Namespace) -> tuple[dict, str]:
    from inrcodec.codecs.teconerv.codec import DEFAULT_BITS, parse_overlap
    from inrcodec.codecs.training import resolve_device

    if args.preset or args.steps is not None or args.run_dir or args.resume:
        raise UserError("teconerv trains nothing: --preset, --steps, --run-dir do not apply")
    bits = DEFAULT_BITS if args.bits is None else args.bits
    overlap = parse_overlap(args.overlap)
    resize = None if args.resize is None else args.resize[::-1]  # WxH -> (height, width)
    device = str(resolve_device(args.device))
    options = dict(
        model=args.model,
        bits=bits,
        residual=args.residual,
        keyframe_interval=args.keyframe_interval,
        overlap=overlap,
        fusion=args.fusion,
        resize=resize,
        batch=args.batch,
        device=device,
        progress=not args.no_progress,
    )
    keyframes = (
        f"a keyframe every {args.keyframe_interval} clips"
        if args.keyframe_interval
        else ("the first clip a keyframe")
    )
    setting = (
        f"{bits} bits, residuals {args.residual}, {keyframes}, "
        f"overlap {overlap[0]},{overlap[1]} ({args.fusion})"
    )
    return options, setting


def pixels(video) -> int:
    return video.num_frames * video.height * video.width


def print_quality(video, decoded) -> None:
    from inrcodec.metrics import compare

    rgb = compare(video, decoded, "rgb")
    print(f"  PSNR RGB   {rgb.means['psnr']:9.4f} dB (BT.601)")
    if video.format.chroma != "rgb":
        yuv = compare(video, decoded, "yuv")
        print(f"  PSNR YUV   {yuv.means['psnr_yuv']:9.4f} dB (6:1:1)")
    window = rgb.ms_ssim_window
    print(f"  MS-SSIM    {rgb.means['ms_ssim']:9.4f} (RGB, window {window}x{window})")


def print_rate_split(sections: dict[str, int], estimated: dict | None = None) -> None:
    """The file's bytes by part (NVRC Fig. 4's groups), next to the training estimate."""
    groups = estimated["groups"] if estimated else {}
    print(f"  {'part':12} {'bytes':>9} {'bits':>10}" + (f" {'estimated':>10}" if groups else ""))
    for part, size in sections.items():
        row = f"  {part:12} {size:9d} {8 * size:10d}"
        if part in groups:
            row += f" {groups[part]['bits']:10.0f}"
        print(row)


def run_train(args: argparse.Namespace) -> int:
    import json

    from inrcodec.atomic import atomic_file
    from inrcodec.codecs.nvrc.train import train

    if args.resume and args.run_dir is None:
        raise UserError("--resume needs --run-dir")
    preset, lam = nvrc_rate(args, None)
    video = open_video(args.input, args).load()
    result = train(
        video,
        preset,
        lam,
        space=args.space,
        ablation=args.ablation,
        steps=args.steps,
        run_dir=args.run_dir,
        resume=args.resume,
        progress=not args.no_progress,
        device=args.device,
        seed=args.seed,
    )
    print(f"{args.codec} {preset}, lambda {lam:g}, {args.space}, ablation {args.ablation}")
    print(f"  PSNR {args.space.upper():4} {result.psnr:9.4f} dB (quantised model)")
    print(f"  rate       {result.bpp:9.4f} bpp (estimated, eq. 9)")
    print(f"  {'group':12} {'bits':>12} {'values':>10} {'bits/value':>11}")
    for group, row in result.report["groups"].items():
        print(f"  {group:12} {row['bits']:12.0f} {row['values']:10d} {row['bits_per_value']:11.3f}")
    if args.report is not None:
        with atomic_file(args.report) as tmp:
            tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0


def run_train_teconerv(args: argparse.Namespace) -> int:
    from inrcodec.codecs.teconerv.train import train_corpus

    result = train_corpus(
        data=args.data,
        preset_name=args.preset,
        out=args.out,
        val=args.val,
        init=args.init,
        cache=args.cache,
        max_frames=args.max_frames,
        decode_workers=args.decode_workers,
        threads=args.threads,
        resume=args.resume,
        progress=not args.no_progress,
        export=args.export,
        stop_at=args.stop_at,
        epochs=args.epochs,
        clips_per_video=args.clips_per_video,
        batch=args.batch,
        lr=args.lr,
        temporal_lambda=args.temporal_lambda,
        temporal_target=args.temporal_target,
        validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every,
        val_clips=args.val_clips,
        workers=args.workers,
        device=args.device,
        seed=args.seed,
    )
    if result is not None:  # rank 0
        model = args.out / "model.safetensors"
        print(f"{result.steps} steps in {result.seconds:.0f} s; model: {model}")
        if result.history:
            last = result.history[-1]
            print(
                f"validation PSNR {last['psnr']:.2f} dB "
                f"(base parameters only: {last['psnr_base_only']:.2f} dB)"
            )
    return 0


def run_decode(args: argparse.Namespace) -> int:
    import time

    from inrcodec.codecs.api import decode
    from inrcodec.io import write_video

    if not args.input.is_file():
        raise UserError(f"{args.input}: no such file")
    import inrcodec.codecs.hinerv.codec  # noqa: F401  (imports are not decoding time)
    import inrcodec.codecs.nvrc.codec  # noqa: F401

    data = args.input.read_bytes()
    started = time.perf_counter()
    video = decode(data, device=args.device, model=args.model)
    seconds = time.perf_counter() - started
    write_video(video, args.output)
    print(f"wrote {args.output}: {video.describe()}")
    print(f"  decode     {seconds:9.2f} s ({video.num_frames / seconds:.1f} frames/s)")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from inrcodec.bench import load_spec, parse_spec, plan, run_points

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
    report = write_report(args.results, out_dir, anchor=args.anchor, method=args.method)
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
