"""inrcodec: neural video compression with implicit neural representations."""

__version__ = "0.1.0"
