"""Video input and output: the `Video` value, readers and writers, colour conversion.

See docs/io.md for the formats, the file-name rules for raw video, the colour formulas and the
chroma filters.
"""

from .colour import convert_video, rgb_to_video, video_to_rgb
from .files import read_video, write_video
from .video import Video, VideoChunks, VideoFormat, VideoFormatError

__all__ = [
    "Video",
    "VideoChunks",
    "VideoFormat",
    "VideoFormatError",
    "convert_video",
    "read_video",
    "rgb_to_video",
    "video_to_rgb",
    "write_video",
]
