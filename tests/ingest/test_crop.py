"""The crop moves the intrinsics exactly (SPEC section 2): a 3-D point drawn into a frame lands,
after crop and resize, where the new camera projects it."""

from __future__ import annotations

import numpy as np
import pytest

from splatsynth.cameras import Camera, look_at_w2c
from splatsynth.ingest.crop import CropBox, crop_image, subject_box


def _blob(cam: Camera, point: np.ndarray, sigma: float) -> np.ndarray:
    """[H, W] uint8 Gaussian spot centred on the projection of ``point`` (pixel centres at
    i + 0.5)."""
    (u, v), _ = cam.project(point[None])[0][0], None
    x = np.arange(cam.w) + 0.5
    y = np.arange(cam.h) + 0.5
    g = np.exp(-((x[None] - u) ** 2 + (y[:, None] - v) ** 2) / (2 * sigma ** 2))
    return np.round(g * 255).astype(np.uint8)


def _centroid(img: np.ndarray) -> np.ndarray:
    w = img.astype(np.float64)
    w = np.where(w > 0.02 * w.max(), w, 0)
    y, x = np.mgrid[: img.shape[0], : img.shape[1]] + 0.5
    return np.array([(w * x).sum(), (w * y).sum()]) / w.sum()


@pytest.mark.parametrize("box", [
    CropBox(90, 40, 100, 256),    # enlarged 2.56x
    CropBox(83, 51, 141, 64),     # shrunk 2.2x
    CropBox(80, 60, 200, 200),    # reaching past the bottom edge, no resize
    CropBox(-40, 20, 240, 300),   # past the left, top-left corner padded, enlarged
])
def test_a_point_reprojects_where_the_crop_shows_it(box):
    cam = Camera(look_at_w2c([0.3, -3.0, 1.2], [0.05, 0.0, 0.0]), fx=310.0, fy=305.0,
                 cx=161.3, cy=118.7, w=320, h=240)
    X = np.array([0.12, 0.05, 0.1])
    sigma = 6.0
    img = _blob(cam, X, sigma)
    before = cam.project(X[None])[0][0]
    np.testing.assert_allclose(_centroid(img), before, atol=0.01)
    out = crop_image(img, box, smooth=False)
    after_cam = box.camera(cam)
    after = after_cam.project(X[None])[0][0]
    assert out.shape == (box.size, box.size)
    np.testing.assert_allclose(_centroid(out), after, atol=0.02 * max(1.0, box.scale))
    np.testing.assert_allclose(box.points(before[None])[0], after, atol=1e-9)
    assert (after_cam.w, after_cam.h) == (box.size, box.size)


def test_subject_box_is_square_centred_with_margin():
    m = np.zeros((100, 200), bool)
    m[40:60, 50:90] = True  # 40 wide, 20 high
    b = subject_box(m, margin=0.25, size=128)
    assert b.side == 60 and b.size == 128
    assert (b.x0 + b.side / 2, b.y0 + b.side / 2) == (70, 50)
