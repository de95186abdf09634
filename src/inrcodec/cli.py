"""The `inrcodec` command: ``info``, ``metrics`` and ``convert``.

User mistakes (a missing file, an unknown format, videos that do not match, a malformed
bitstream) print one line ``inrcodec: error: ...`` and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

from inrcodec import __version__

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("inrcodec: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as error:
        print(f"inrcodec: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that describe bad input rather than a bug in inrcodec."""
    from inrcodec.coding import BitstreamError
    from inrcodec.io import VideoFormatError
    from inrcodec.metrics import MetricError

    return (UserError, VideoFormatError, BitstreamError, MetricError, OSError)


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
    return parser


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
    from inrcodec.coding import FORMAT_VERSION, read_container
    from inrcodec.metrics import bpp

    container = read_container(path)
    header = container.header
    size = path.stat().st_size
    return {
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


if __name__ == "__main__":
    sys.exit(main())
