"""A tiny valid scene folder that the tests then break in one way at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from scene_helpers import KP_NAMES, KP_WORLD, rgba, rig, write_json


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    """A valid 3-view scene: RGBA images (alpha = subject disc), cameras.json, keypoints.json."""
    root = tmp_path / "scene"
    (root / "images").mkdir(parents=True)
    cams = rig()
    views = {}
    for i, c in enumerate(cams):
        Image.fromarray(rgba(c, i)).save(root / c.file_path)
        uv, _ = c.project(KP_WORLD)
        views[c.file_path] = [[float(u), float(v), 1.0] for u, v in uv]
    write_json(root / "cameras.json", {"frames": [c.to_frame() for c in cams]})
    write_json(root / "keypoints.json", {"names": KP_NAMES, "views": views})
    return root
