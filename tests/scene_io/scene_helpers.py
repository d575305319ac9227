"""Helpers for the scene_io tests: a small rig, masks, JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from splatsynth.cameras import Camera, look_at_w2c

W, H = 32, 24
KP_NAMES = ["nose", "tail"]
KP_WORLD = np.array([[0.2, 0.0, 0.1], [-0.2, 0.1, 0.0]])


def rig(n: int = 3, w: int = W, h: int = H) -> list[Camera]:
    """``n`` cameras on a ring of radius 4 looking at the origin."""
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n
        eye = np.array([4 * np.cos(a), 4 * np.sin(a), 1.0])
        cams.append(Camera(look_at_w2c(eye, np.zeros(3)), fx=30.0, fy=30.0, cx=w / 2, cy=h / 2,
                           w=w, h=h, file_path=f"images/cam{i}.png"))
    return cams


def disc(w: int, h: int, cx: float, cy: float, r: float) -> np.ndarray:
    """[h, w] float32 disc mask sampled at pixel centres."""
    i, j = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
    return ((i - cx) ** 2 + (j - cy) ** 2 <= r * r).astype(np.float32)


def rgba(cam: Camera, seed: int) -> np.ndarray:
    """[h, w, 4] uint8: random colour, alpha = a disc around the projected origin."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (cam.h, cam.w, 3), dtype=np.uint8)
    uv, _ = cam.project(np.zeros((1, 3)))
    a = (disc(cam.w, cam.h, uv[0, 0], uv[0, 1], 5.0) * 255).astype(np.uint8)
    return np.concatenate([rgb, a[..., None]], axis=-1)


def write_json(path: Path, doc) -> None:
    path.write_text(json.dumps(doc, indent=1))


def read_json(path: Path):
    return json.loads(path.read_text())
