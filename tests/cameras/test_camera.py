import numpy as np
import pytest

from splatsynth.cameras import (
    Camera,
    c2w_from_w2c,
    look_at_w2c,
    opencv_c2w_from_opengl_c2w,
    opengl_c2w_from_opencv_c2w,
    rotation_from_quat_wxyz,
    w2c_from_c2w,
)


def random_rigid(rng):
    m = np.eye(4)
    m[:3, :3] = rotation_from_quat_wxyz(rng.normal(size=4))
    m[:3, 3] = rng.normal(size=3)
    return m


@pytest.mark.parametrize("seed", range(5))
def test_w2c_c2w_round_trip(seed):
    m = random_rigid(np.random.default_rng(seed))
    np.testing.assert_allclose(w2c_from_c2w(c2w_from_w2c(m)), m, atol=1e-12)
    np.testing.assert_allclose(c2w_from_w2c(m) @ m, np.eye(4), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_opencv_opengl_round_trip_and_axes(seed):
    c2w_cv = random_rigid(np.random.default_rng(seed))
    gl = opengl_c2w_from_opencv_c2w(c2w_cv)
    np.testing.assert_allclose(opencv_c2w_from_opengl_c2w(gl), c2w_cv, atol=1e-12)
    # OpenGL looks down its -z and has y up: the same world direction as OpenCV +z / -y.
    np.testing.assert_allclose(-gl[:3, 2], c2w_cv[:3, 2], atol=1e-12)
    np.testing.assert_allclose(-gl[:3, 1], c2w_cv[:3, 1], atol=1e-12)
    np.testing.assert_allclose(gl[:3, 3], c2w_cv[:3, 3])


def test_principal_point_is_image_centre():
    # Pixel-corner origin: a point on the optical axis lands on cx = w / 2, the exact centre.
    cam = Camera(look_at_w2c([0, -3, 0], [0, 0, 0]), 500, 500, 256, 256, 512, 512)
    uv, z = cam.project(np.zeros((1, 3)))
    np.testing.assert_allclose(uv[0], [256.0, 256.0])
    assert z[0] == pytest.approx(3.0)
    # The ray through pixel centre (255, 255) + 0.5 goes through the origin... only at 256.
    _, d = cam.pixel_rays()
    assert np.allclose(d[255, 255], d[256, 256], atol=5e-3)
    mid = (d[255, 255] + d[256, 256]) / 2
    np.testing.assert_allclose(mid / np.linalg.norm(mid), [0, 1, 0], atol=1e-6)


def test_look_at_keeps_world_up_in_image():
    cam = Camera(look_at_w2c([3, 0, 1], [0, 0, 0]), 500, 500, 256, 256, 512, 512)
    uv_low, _ = cam.project(np.array([[0, 0, -0.5]]))
    uv_high, _ = cam.project(np.array([[0, 0, 0.5]]))
    assert uv_high[0, 1] < uv_low[0, 1]  # +Z up in the world is up (smaller v) in the image
    uv_right, _ = cam.project(np.array([[0, 0.5, 0]]))
    assert uv_right[0, 0] > 256  # seen from +X, +Y is to the right
    np.testing.assert_allclose(cam.center, [3, 0, 1], atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(cam.R), 1.0)


def test_look_at_rejects_parallel_up():
    with pytest.raises(ValueError, match="parallel"):
        look_at_w2c([0, 0, 3], [0, 0, 0])


@pytest.mark.parametrize("seed", range(3))
def test_project_backproject_round_trip(seed):
    rng = np.random.default_rng(seed)
    cam = Camera(random_rigid(rng), 600, 550, 320.5, 240.25, 640, 480)
    pts_cam = np.column_stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20),
                               rng.uniform(2, 5, 20)])
    pts = (pts_cam - cam.t) @ cam.R
    uv, z = cam.project(pts)
    np.testing.assert_allclose(cam.backproject(uv, z), pts, atol=1e-10)


def test_resize_and_crop_keep_pixels_consistent():
    cam = Camera(look_at_w2c([3, 1, 1], [0, 0, 0]), 548.99, 548.99, 256, 256, 512, 512)
    pts = np.random.default_rng(0).uniform(-0.5, 0.5, (10, 3))
    uv, _ = cam.project(pts)
    half = cam.resized(256, 256)
    uv2, _ = half.project(pts)
    np.testing.assert_allclose(uv2, uv / 2, atol=1e-9)  # corner origin scales linearly
    assert half.cx == 128.0
    crop = cam.cropped(100, 50, 200, 300)
    uv3, _ = crop.project(pts)
    np.testing.assert_allclose(uv3, uv - [100, 50], atol=1e-9)
    assert (crop.w, crop.h) == (200, 300)


def test_frame_round_trip():
    cam = Camera(look_at_w2c([3, 1, 1], [0, 0, 0]), 500, 501, 250.5, 260, 500, 520,
                 file_path="images/a.png")
    back = Camera.from_frame(cam.to_frame())
    assert back == cam and back.file_path == "images/a.png"
