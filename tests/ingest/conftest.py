"""A small demo recording shared by the ingest tests: 288 x 256 (the real rig's 1152 x 1024
divided by 4), 10 frames of the toy mouse's lap, in the markerless layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SIZE = (288, 256)
FRAMES = 10


@pytest.fixture(scope="session")
def small_recording(tmp_path_factory) -> Path:
    from splatsynth.demo.recording import make_demo_recording

    return make_demo_recording(tmp_path_factory.mktemp("rec"), size=SIZE, frames=FRAMES)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """An H.264 mp4 of uint8 frames ([H, W, 3] or [H, W])."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            fmt = "gray" if f.ndim == 2 else "rgb24"
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=fmt)):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path
