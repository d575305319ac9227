"""PNG encoding for the writers; the implementation lives in :mod:`splatsynth.fileio`."""

from ..fileio import png_bytes, rgba_uint8, to_uint8, write_png

__all__ = ["png_bytes", "rgba_uint8", "to_uint8", "write_png"]
