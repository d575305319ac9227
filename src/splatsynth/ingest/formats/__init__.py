"""One small adapter per recording format, each returning a :class:`~..recording.Recording`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ...errors import SplatsynthError
from ..recording import Recording
from .dannce import read_dannce_project
from .manifest import read_manifest
from .markerless import read_markerless

RecordingFormat = Literal["markerless", "dannce", "manifest"]

READERS = {"markerless": read_markerless, "dannce": read_dannce_project,
           "manifest": read_manifest}


def read_recording(fmt: str, src: str | Path, name: str | None = None) -> Recording:
    """Open a recording in format ``fmt`` (markerless, dannce or manifest) and check that its
    streams agree; nothing is decoded yet.

    Raises:
        SplatsynthError: naming the file that is missing, unreadable or inconsistent.
    """
    if fmt not in READERS:
        raise SplatsynthError(f"unknown recording format {fmt!r} (choose from "
                              f"{', '.join(READERS)})")
    rec = READERS[fmt](src, name)
    rec.check()
    return rec


__all__ = ["READERS", "RecordingFormat", "read_recording", "read_markerless",
           "read_dannce_project", "read_manifest"]
