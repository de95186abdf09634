"""The one exception type of the decode path (docs/design.md, "The bitstream")."""

from inrcodec.errors import InrcodecError


class BitstreamError(InrcodecError):
    """Malformed, truncated, corrupted or unsupported bitstream data.

    Every parser in :mod:`inrcodec.coding` raises this, and only this, for bad input
    bytes, with a message that says what is wrong and where. It subclasses
    :class:`ValueError`, so callers that already catch ``ValueError`` keep working.
    """
