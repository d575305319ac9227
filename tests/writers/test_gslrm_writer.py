"""GS-LRM layout: read back the way FaceLift's RandomViewDataset reads it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from splatsynth.cameras import FACELIFT_FOCAL_512, orbit_cameras
from splatsynth.errors import SplatsynthError
from splatsynth.writers import (
    scene_dir_transaction,
    update_lists,
    write_gaussians_ply,
    write_gslrm_views,
)
from splatsynth.writers.gslrm import depth_to_uint16


def facelift_read(list_file, bg=(1.0, 1.0, 1.0)):
    """Mirror FaceLift's RandomViewDataset.__getitem__ for every view of every scene.

    Reads the list (``read().strip().split("\\n")``), ``<scene>/opencv_cameras.json``, opens
    ``scene + "/" + file_path`` with PIL, asserts square, composites RGBA on the background with
    ``paste(image, mask=alpha)``, and takes ``c2w = inv(w2c)`` and ``[fx, fy, cx, cy]``.
    """
    with open(list_file) as f:
        paths = [s for s in f.read().strip().split("\n") if len(s) > 0]
    scenes = []
    for p in paths:
        data_json_path = os.path.join(p.strip(), "opencv_cameras.json")
        data_path = os.path.dirname(data_json_path)
        with open(data_json_path) as f:
            frames = json.load(f)["frames"]
        bg255 = tuple(int(c * 255) for c in bg)
        images, alphas, c2ws, fxfycxcy = [], [], [], []
        for cam in frames:
            image = Image.open(data_path + "/" + cam["file_path"])
            assert image.size[0] == image.size[1]
            assert image.mode == "RGBA"
            background = Image.new("RGB", image.size, bg255)
            alpha = image.split()[3]
            background.paste(image, mask=alpha)
            images.append(np.asarray(background).astype(np.float32) / 255.0)
            alphas.append(np.asarray(alpha).astype(np.float32) / 255.0)
            fxfycxcy.append(np.array([cam["fx"], cam["fy"], cam["cx"], cam["cy"]]))
            c2ws.append(np.linalg.inv(np.array(cam["w2c"])))
        scenes.append({"path": p, "images": np.stack(images), "alpha": np.stack(alphas),
                       "c2w": np.stack(c2ws), "fxfycxcy": np.stack(fxfycxcy)})
    return scenes


def _dot_views(cams, X, H, W):
    """Views whose only opaque pixel is the projection of X: ties images to their cameras."""
    C = len(cams)
    u = np.linspace(0, 1, W, dtype=np.float32)
    rgb = np.broadcast_to(np.stack([u[None, :].repeat(H, 0)] * 3, -1), (C, H, W, 3)).copy()
    rgb[..., 1] = np.arange(C)[:, None, None] / C  # a per-view tint
    alpha = np.zeros((C, H, W), np.float32)
    pix = []
    for i, c in enumerate(cams):
        uv, _ = c.project(X[None])
        px, py = np.floor(uv[0]).astype(int)
        alpha[i, py, px] = 1.0
        alpha[i, :8, :8] = 0.5  # a soft corner to test straight (un-premultiplied) colour
        rgb[i, :8, :8] = (0.8, 0.2, 0.4)
        pix.append((px, py))
    return rgb, alpha, pix


def test_written_scene_reads_back_like_facelift(tmp_path):
    cams = orbit_cameras()  # the 32-view, 512 x 512 GS-LRM orbit
    X = np.array([0.31, -0.22, 0.17])
    rgb, alpha, pix = _dot_views(cams, X, 512, 512)
    with scene_dir_transaction(tmp_path, "mouse_001") as tmp:
        manifest = write_gslrm_views(tmp, "mouse_001", cams, rgb, alpha)
        (tmp / "report.json").write_text("{}")
    assert manifest["images"][31] == "images/cam_031.png"
    update_lists(tmp_path, val_ratio=0.0)

    (scene,) = facelift_read(tmp_path / "data_gslrm_train.txt")
    assert os.path.isabs(scene["path"]) and scene["path"] == str((tmp_path / "mouse_001").resolve())
    assert scene["images"].shape == (32, 512, 512, 3)
    doc = json.loads((tmp_path / "mouse_001" / "opencv_cameras.json").read_text())
    assert doc["id"] == "mouse_001"
    assert [f["file_path"] for f in doc["frames"]] == [f"images/cam_{i:03d}.png" for i in range(32)]
    np.testing.assert_allclose(scene["fxfycxcy"][0], [FACELIFT_FOCAL_512] * 2 + [256.0, 256.0])

    for i in range(32):
        c2w = scene["c2w"][i]
        fx, fy, cx, cy = scene["fxfycxcy"][i]
        np.testing.assert_allclose(c2w, cams[i].c2w, atol=1e-12)
        # Project X through the read-back camera exactly as a GS-LRM consumer would.
        pc = np.linalg.inv(c2w) @ np.append(X, 1.0)
        u, v = fx * pc[0] / pc[2] + cx, fy * pc[1] / pc[2] + cy
        np.testing.assert_allclose([u, v], cams[i].project(X[None])[0][0], atol=1e-9)
        # ... and the opaque dot in the image read back sits in that pixel.
        a = scene["alpha"][i].copy()
        a[:8, :8] = 0
        py, px = np.unravel_index(np.argmax(a), a.shape)
        assert (px, py) == (int(np.floor(u)), int(np.floor(v))) == pix[i]
        # Straight colour: FaceLift's composite over white = rgb * a + (1 - a).
        expected = np.array([0.8, 0.2, 0.4]) * 0.5 + 0.5
        np.testing.assert_allclose(scene["images"][i, 3, 3], expected, atol=1.5 / 255)
        np.testing.assert_allclose(scene["images"][i, 100, 300], 1.0)  # transparent -> bg


def test_shape_mismatch_is_a_user_error(tmp_path):
    cams = orbit_cameras(views=2, size=16)
    rgb = np.zeros((2, 16, 16, 3))
    with pytest.raises(SplatsynthError, match="scene s: camera 0 is 16x16 but"):
        write_gslrm_views(tmp_path, "s", cams, np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8)))
    with pytest.raises(SplatsynthError, match="3 rendered views for 2 cameras"):
        write_gslrm_views(tmp_path, "s", cams, np.zeros((3, 16, 16, 3)), np.zeros((3, 16, 16)))
    with pytest.raises(SplatsynthError, match="alpha must be"):
        write_gslrm_views(tmp_path, "s", cams, rgb, np.zeros((2, 16, 15)))


def test_depth_and_alpha_maps(tmp_path):
    cams = orbit_cameras(views=3, size=32)
    rng = np.random.default_rng(1)
    depth = rng.uniform(1.5, 3.9, size=(3, 32, 32)).astype(np.float32)
    depth[0, :4] = 0.0
    depth[1, 5, 5] = np.nan
    alpha = rng.uniform(0, 1, size=(3, 32, 32))
    man = write_gslrm_views(tmp_path, "s", cams, rng.uniform(size=(3, 32, 32, 3)), alpha,
                            depth=depth, write_alpha_maps=True)
    scale = json.loads((tmp_path / "depth" / "scale.json").read_text())["scale"]
    assert scale == pytest.approx(man["depth_scale"])
    back = np.stack([np.asarray(Image.open(tmp_path / p)) for p in man["depth"]])
    assert back.dtype == np.uint16
    valid = np.isfinite(depth) & (depth > 0)
    assert np.all(back[~valid] == 0) and np.all(back[valid] > 0)
    np.testing.assert_allclose(back[valid] * scale, depth[valid], atol=scale)
    a_back = np.stack([np.asarray(Image.open(tmp_path / p)) for p in man["alpha"]])
    np.testing.assert_allclose(a_back / 255.0, alpha, atol=0.5 / 255 + 1e-6)

    man = write_gslrm_views(tmp_path / "npy", "s", cams, np.zeros((3, 32, 32, 3)), alpha,
                            depth=depth, depth_format="npy")
    np.testing.assert_array_equal(np.load(tmp_path / "npy" / man["depth"][1]), depth[1])


def test_depth_quantization_never_maps_valid_to_zero():
    q, s = depth_to_uint16(np.array([[[1e-9, 2.0, -1.0]]]))
    assert q[0, 0, 0] == 1 and q[0, 0, 1] == 65535 and q[0, 0, 2] == 0


def test_ply_hook_accepts_bytes_path_and_callable(tmp_path):
    write_gaussians_ply(tmp_path, b"ply\nA")
    assert (tmp_path / "gaussians.ply").read_bytes() == b"ply\nA"
    src = tmp_path / "other.ply"
    src.write_bytes(b"ply\nB")
    write_gaussians_ply(tmp_path, src)
    assert (tmp_path / "gaussians.ply").read_bytes() == b"ply\nB"
    write_gaussians_ply(tmp_path, lambda p: p.write_bytes(b"ply\nC"))
    assert (tmp_path / "gaussians.ply").read_bytes() == b"ply\nC"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gaussians.ply", "other.ply"]
    with pytest.raises(SplatsynthError, match="did not create"):
        write_gaussians_ply(tmp_path, lambda p: None)
