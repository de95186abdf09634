"""The root of inrcodec's exceptions for bad input.

Every package raises its own subclass (`VideoFormatError`, `BitstreamError`, `MetricError`,
`CodecError`, ...), all derived from `InrcodecError`, so callers and the CLI can tell a user's
mistake (a malformed file, an impossible request) from a bug with one ``except``. Like
`inrcodec.atomic`, this module is a leaf that imports nothing from inrcodec.
"""


class InrcodecError(ValueError):
    """Input that inrcodec cannot process; the message says what is wrong."""
