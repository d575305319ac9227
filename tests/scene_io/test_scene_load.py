"""Loading and writing scene folders: image kinds, mask sources, keypoints, round trips."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scene_helpers import KP_NAMES, KP_WORLD, disc, read_json, rig, write_json

from splatsynth.errors import SplatsynthError
from splatsynth.scene_io import load_scene, read_image, write_scene
from splatsynth.scene_io.undistort import distort_points


def _png16(path, a: np.ndarray) -> None:
    """Write a 16-bit PNG (Pillow cannot write 16-bit colour)."""
    h, w, c = a.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_load_valid_scene(scene_dir):
    s = load_scene(scene_dir)
    assert s.scene_id == "scene" and len(s.views) == 3 and s.root == scene_dir
    assert s.keypoint_names == KP_NAMES
    cams = rig()
    for v, c in zip(s.views, cams):
        assert v.image.shape == (24, 32, 3) and v.image.dtype == np.float32
        assert np.array_equal(v.camera.w2c, c.w2c) and v.camera.file_path == c.file_path
        raw = np.asarray(Image.open(scene_dir / c.file_path))
        np.testing.assert_allclose(v.image, raw[..., :3] / 255.0, atol=1e-7)
        np.testing.assert_allclose(v.mask, raw[..., 3] / 255.0, atol=1e-7)  # alpha = mask
        uv, _ = c.project(KP_WORLD)
        np.testing.assert_allclose(v.keypoints[:, :2], uv, atol=1e-9)
    assert s.has_masks and s.has_keypoints
    assert load_scene(scene_dir, scene_id="other").scene_id == "other"


def test_rgb_greyscale_and_16bit_images(tmp_path):
    rgb8 = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb8).save(tmp_path / "rgb.png")
    im, alpha = read_image(tmp_path / "rgb.png")
    assert alpha is None and np.array_equal(np.round(im * 255).astype(np.uint8), rgb8)

    g16 = (np.arange(35).reshape(5, 7) * 1800 + 3).astype(np.uint16)
    _png16(tmp_path / "g16.png", g16[..., None])
    im, alpha = read_image(tmp_path / "g16.png")
    assert alpha is None and im.shape == (5, 7, 3)
    np.testing.assert_allclose(im[..., 1], g16 / 65535.0, atol=1e-7)  # full 16-bit precision

    c16 = np.random.default_rng(1).integers(0, 65536, (5, 7, 4)).astype(np.uint16)
    _png16(tmp_path / "c16.png", c16)
    im, alpha = read_image(tmp_path / "c16.png")
    np.testing.assert_allclose(im, c16[..., :3] / 65535.0, atol=1 / 255 + 1e-6)
    np.testing.assert_allclose(alpha, c16[..., 3] / 65535.0, atol=1 / 255 + 1e-6)

    Image.fromarray(rgb8[..., 0]).save(tmp_path / "l.png")
    im, _ = read_image(tmp_path / "l.png")
    assert np.array_equal(np.round(im * 255).astype(np.uint8), np.repeat(rgb8[..., :1], 3, -1))


def test_mask_sources_and_priority(scene_dir):
    (scene_dir / "masks").mkdir()
    m1 = (disc(32, 24, 16, 12, 3) * 255).astype(np.uint8)
    Image.fromarray(m1).save(scene_dir / "masks/cam1.png")  # beats the alpha channel
    m2 = (disc(32, 24, 15, 11, 4) * 255).astype(np.uint8)
    Image.fromarray(m2).save(scene_dir / "custom_mask.png")
    Image.fromarray(m1).save(scene_dir / "masks/cam2.png")
    doc = read_json(scene_dir / "cameras.json")
    doc["frames"][2]["mask_path"] = "custom_mask.png"  # beats masks/cam2.png
    write_json(scene_dir / "cameras.json", doc)
    s = load_scene(scene_dir)
    assert np.array_equal(s.views[1].mask, m1 / 255.0)
    assert np.array_equal(s.views[2].mask, m2 / 255.0)
    assert s.views[0].mask.sum() > m1.sum() / 255  # alpha: the radius-5 disc


def test_views_of_different_sizes_and_no_masks(tmp_path):
    root = tmp_path / "s"
    (root / "images").mkdir(parents=True)
    cams = [rig(2, 32, 24)[0], rig(2, 20, 30)[1]]
    for c in cams:
        Image.new("RGB", (c.w, c.h), (10, 20, 30)).save(root / c.file_path)
    write_json(root / "cameras.json", {"frames": [c.to_frame() for c in cams]})
    s = load_scene(root)
    assert [v.image.shape for v in s.views] == [(24, 32, 3), (30, 20, 3)]
    assert not s.has_masks and not s.has_keypoints and s.views[0].mask is None


def test_write_scene_round_trip(scene_dir, tmp_path):
    s = load_scene(scene_dir)
    s.extras["keypoints_3d"] = np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, np.nan]])
    out = write_scene(s, tmp_path / "copy")
    t = load_scene(out)
    assert [v.camera.file_path for v in t.views] == [v.camera.file_path for v in s.views]
    for a, b in zip(s.views, t.views):
        assert np.array_equal(a.camera.w2c, b.camera.w2c) and a.camera == b.camera
        np.testing.assert_allclose(a.image, b.image, atol=0.5 / 255 + 1e-6)
        np.testing.assert_allclose(a.mask, b.mask, atol=0.5 / 255 + 1e-6)
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-12)
    np.testing.assert_array_equal(t.extras["keypoints_3d"], s.extras["keypoints_3d"])
    assert Image.open(out / "images/cam0.png").mode == "RGBA"
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp left over
    with pytest.raises(SplatsynthError, match="already exists"):
        write_scene(s, out)
    write_scene(s, out, overwrite=True)
    assert load_scene(out).keypoint_names == KP_NAMES


def test_write_scene_is_atomic_on_failure(scene_dir, tmp_path):
    s = load_scene(scene_dir)
    s.views[1].mask = np.zeros_like(s.views[1].mask)  # invalid: empty mask
    with pytest.raises(SplatsynthError, match="empty mask"):
        write_scene(s, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_distortion_is_removed_at_load(tmp_path):
    """A frame with "distortion": the loaded view is pinhole; image, mask and keypoints move
    together (a dot drawn at a distorted position lands on the undistorted keypoint)."""
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    dist = [-0.2, 0.05, 0.002, -0.001, 0.01]
    w, h = 64, 48
    cams = rig(2, w, h)
    frames, views = [], {}
    target = np.array([[44.5, 33.5]])  # where the dot must appear in the pinhole image
    for c in cams:
        K = c.K
        src = distort_points(target, K, dist, K)[0]
        # a smooth blob: a binary disc's own centroid is off by its pixelation
        i, j = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
        blob = np.exp(-((i - src[0]) ** 2 + (j - src[1]) ** 2) / (2 * 3.0**2))
        a = np.round(blob * 255).astype(np.uint8)
        Image.fromarray(np.dstack([a, a, a, a])).save(root / c.file_path)
        f = c.to_frame()
        f["distortion"] = dist
        frames.append(f)
        views[c.file_path] = [[float(src[0]), float(src[1]), 1.0]]
    write_json(root / "cameras.json", {"frames": frames})
    write_json(root / "keypoints.json", {"names": ["dot"], "views": views})
    s = load_scene(root)
    i, j = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
    for v in s.views:
        assert v.camera.K[0, 1] == 0 and v.camera.fx == cams[0].fx
        np.testing.assert_allclose(v.keypoints[0, :2], target[0], atol=1e-6)
        # each pinhole pixel shows the blob where the distorted camera saw that ray
        K = v.camera.K
        src = distort_points(target, K, dist, K)[0]
        back = distort_points(np.stack([i, j], -1), K, dist, K)
        ideal = np.exp(-((back[..., 0] - src[0]) ** 2 + (back[..., 1] - src[1]) ** 2)
                       / (2 * 3.0**2))
        np.testing.assert_allclose(v.mask, ideal, atol=0.03)
        np.testing.assert_allclose(v.image[..., 0], v.mask, atol=1e-6)
        assert np.unravel_index(np.argmax(v.mask), v.mask.shape) == (33, 44)
