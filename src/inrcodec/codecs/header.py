"""Translation between `inrcodec.io.VideoFormat` and the container's `VideoHeader`.

`coding` knows nothing of `io` (docs/design.md, "Dependency rules"), so every codec writes
the video facts the decoder needs through these two functions, and reads them back the same
way.
"""

from __future__ import annotations

from fractions import Fraction

from inrcodec.coding import BitstreamError, VideoHeader
from inrcodec.io import Video, VideoFormat, VideoFormatError


def header_of(video: Video) -> VideoHeader:
    """The container header describing ``video``'s size, frame count, rate and colour format."""
    fmt = video.format
    return VideoHeader(
        width=fmt.width,
        height=fmt.height,
        frame_count=video.num_frames,
        fps_num=fmt.fps.numerator,
        fps_den=fmt.fps.denominator,
        bit_depth=fmt.bit_depth,
        chroma_format=fmt.chroma,
        color_matrix=fmt.matrix,
        color_range=fmt.range,
        chroma_siting=fmt.chroma_siting,
    )


def format_of(header: VideoHeader) -> VideoFormat:
    """The `VideoFormat` a decoder outputs; an impossible combination is a `BitstreamError`."""
    try:
        return VideoFormat(
            width=header.width,
            height=header.height,
            chroma=header.chroma_format,
            bit_depth=header.bit_depth,
            fps=Fraction(header.fps_num, header.fps_den),
            matrix=header.color_matrix,
            range=header.color_range,
            chroma_siting=header.chroma_siting,
        )
    except VideoFormatError as error:
        raise BitstreamError(f"video header: {error}") from None
