"""MultiViewDataset: FaceLift's item contract, compositing, resizing, view selection, failures."""

from __future__ import annotations

import json
import logging
import pickle
import shutil

import numpy as np
import pytest
import torch
from gslrm_fixtures import SIZE, VIEWS, write_list, write_scene
from PIL import Image

from splatsynth.cameras import orbit_cameras
from splatsynth.errors import SceneError, SplatsynthError
from splatsynth.training import MultiViewDataset, ViewSelectionError, select_views, view_angles_deg


def _frames(scene_dir):
    return json.loads((scene_dir / "opencv_cameras.json").read_text())["frames"]


def test_item_matches_facelift_contract(gslrm_out):
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=5, num_input_views=2,
                          image_size=SIZE, name="mouse")
    assert len(ds) == 4
    item = ds[1]
    assert set(item) == {"image", "c2w", "fxfycxcy", "index", "bg_color", "dataset"}
    assert item["image"].shape == (5, 3, SIZE, SIZE) and item["image"].dtype == torch.float32
    assert item["c2w"].shape == (5, 4, 4) and item["c2w"].dtype == torch.float32
    assert item["fxfycxcy"].shape == (5, 4) and item["fxfycxcy"].dtype == torch.float32
    assert item["index"].shape == (5, 2) and item["index"].dtype == torch.int64
    assert item["bg_color"].shape == (3,) and item["bg_color"].dtype == torch.float32
    assert item["dataset"] == "mouse"
    assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
    views = item["index"][:, 0].tolist()
    assert len(set(views)) == 5 and all(0 <= v < VIEWS for v in views)
    assert (item["index"][:, 1] == 1).all()  # FaceLift: (view index, scene index) per view
    frames = _frames(gslrm_out / "scene_01")
    for k, v in enumerate(views):
        w2c = torch.tensor(frames[v]["w2c"], dtype=torch.float32)
        torch.testing.assert_close(item["c2w"][k] @ w2c, torch.eye(4), atol=1e-5, rtol=0)
        f = frames[v]
        assert item["fxfycxcy"][k].tolist() == pytest.approx([f["fx"], f["fy"], f["cx"], f["cy"]])


def test_composites_rgba_on_background(gslrm_out):
    bg = (0.2, 0.4, 0.6)
    kw = dict(num_views=VIEWS, num_input_views=3, image_size=SIZE, background=bg,
              selection="sorted")
    with_a = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", with_alpha=True, **kw)[2]
    without = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", **kw)[2]
    assert with_a["image"].shape == (VIEWS, 4, SIZE, SIZE)
    assert without["image"].shape == (VIEWS, 3, SIZE, SIZE)
    assert with_a["bg_color"].tolist() == pytest.approx(bg)
    for k, v in enumerate(with_a["index"][:, 0].tolist()):
        png = np.asarray(Image.open(gslrm_out / "scene_02" / f"images/cam_{v:03d}.png"),
                         dtype=np.float64) / 255.0
        a = png[..., 3:]
        expected = png[..., :3] * a + np.asarray(bg) * (1 - a)
        got = with_a["image"][k].numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(got[..., :3], expected, atol=1e-6)
        np.testing.assert_allclose(got[..., 3], a[..., 0], atol=1e-6)
        np.testing.assert_allclose(without["image"][k].numpy(), with_a["image"][k, :3].numpy())
    # the fully transparent band is pure background
    np.testing.assert_allclose(without["image"][:, :, :, 0].numpy(),
                               np.broadcast_to(np.asarray(bg)[None, :, None], (VIEWS, 3, SIZE)),
                               atol=1e-6)


@pytest.mark.parametrize("image_size, sx, sy", [(8, 0.5, 0.5), ((8, 12), 0.75, 0.5),
                                                 (32, 2.0, 2.0)])
def test_intrinsics_scale_with_resizing(gslrm_out, image_size, sx, sy):
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=3, num_input_views=1,
                          image_size=image_size, selection="sorted")
    item = ds[0]
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    assert item["image"].shape == (3, 3, H, W)
    frames = _frames(gslrm_out / "scene_00")
    for k, v in enumerate(item["index"][:, 0].tolist()):
        f = frames[v]
        assert item["fxfycxcy"][k].tolist() == pytest.approx(
            [f["fx"] * sx, f["fy"] * sy, f["cx"] * sx, f["cy"] * sy])


def test_resized_image_content_follows_scaled_intrinsics(tmp_path):
    """A bright square's centroid moves exactly as the pixel-corner intrinsics scaling says."""
    def square(view, seed):
        img = np.zeros((SIZE, SIZE, 4), np.uint8)
        img[..., 3] = 255
        img[3:7, 9:13, :3] = 255  # continuous-coordinate centroid (x, y) = (11, 5)
        return img
    scene = write_scene(tmp_path, "sq", image_fn=square)
    lst = write_list(tmp_path / "list.txt", [scene])
    item = MultiViewDataset(lst, num_views=1, num_input_views=1, image_size=8,
                            background=0.0)[0]
    lum = item["image"][0, 0].numpy()
    ys, xs = np.mgrid[0:8, 0:8] + 0.5  # pixel centres
    cx, cy = (lum * xs).sum() / lum.sum(), (lum * ys).sum() / lum.sum()
    # A half-pixel convention slip would move it by 0.25; clipping Lanczos' negative lobes at 0
    # leaves ~0.03.
    assert (cx, cy) == pytest.approx((11 * 0.5, 5 * 0.5), abs=0.08)
    uniform = MultiViewDataset(lst, num_views=1, num_input_views=1, image_size=8,
                               background=(0.3, 0.3, 0.3), with_alpha=True)[0]["image"]
    assert torch.all(uniform[0, 3] == 1.0)  # opaque stays exactly opaque (no ringing)


def test_overlap_selection_respects_threshold():
    forward = np.stack([c.forward for c in orbit_cameras(32)])
    for seed in range(200):
        chosen = select_views(forward, 8, 3, "overlap", np.random.default_rng(seed),
                              overlap_angle_deg=30.0)
        assert len(set(chosen.tolist())) == 8, f"seed {seed}: repeated views {chosen}"
        angles = view_angles_deg(forward, chosen[:3])[chosen[3:]]
        assert angles.max() <= 30.0 + 1e-6, f"seed {seed}: {angles}"
    # 2 inputs on an 11.25 degree orbit have at most 4 neighbours within 12 degrees
    with pytest.raises(ViewSelectionError, match="within 12 degrees"):
        select_views(forward, 8, 2, "overlap", np.random.default_rng(0), overlap_angle_deg=12.0)


def test_overlap_selection_through_dataset(tmp_path):
    root = tmp_path / "out"
    scenes = [write_scene(root, f"s{i}", views=32, size=4, seed=i) for i in range(2)]
    lst = write_list(root / "list.txt", scenes)
    ds = MultiViewDataset(lst, num_views=6, num_input_views=2, image_size=4,
                          selection="overlap", overlap_angle_deg=25.0)
    for i in range(20):
        item = ds[i % 2]
        fwd = item["c2w"][:, :3, 2].double().numpy()  # camera +z in world
        assert view_angles_deg(fwd, np.arange(2))[2:].max() <= 25.0 + 1e-3


def test_sorted_is_deterministic_and_random_varies(gslrm_out):
    lst = gslrm_out / "data_gslrm_train.txt"
    a = MultiViewDataset(lst, num_views=6, num_input_views=3, image_size=SIZE, selection="sorted")
    b = MultiViewDataset(lst, num_views=6, num_input_views=3, image_size=SIZE, selection="sorted")
    views = a[3]["index"][:, 0].tolist()
    assert views == a[3]["index"][:, 0].tolist() == b[3]["index"][:, 0].tolist()
    assert views[:3] == sorted(views[:3]) and views[3:] == sorted(views[3:])
    torch.testing.assert_close(a[3]["image"], b[3]["image"])
    r = MultiViewDataset(lst, num_views=6, num_input_views=3, image_size=SIZE)
    draws = {tuple(r[0]["index"][:, 0].tolist()) for _ in range(6)}
    assert len(draws) > 1


def test_random_selection_is_seeded(gslrm_out):
    lst = gslrm_out / "data_gslrm_train.txt"
    def run(seed):
        ds = MultiViewDataset(lst, num_views=4, num_input_views=2, image_size=SIZE, seed=seed)
        return [ds[i % 4]["index"][:, 0].tolist() for i in range(8)]
    assert run(0) == run(0)
    assert run(0) != run(1)


def test_strict_broken_scene_names_scene_and_file(gslrm_out):
    missing = gslrm_out / "scene_01" / "images" / "cam_003.png"
    missing.unlink()
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=VIEWS,
                          num_input_views=4, image_size=SIZE)
    ds[0]  # other scenes still load
    with pytest.raises(SceneError) as err:
        ds[1]
    msg = str(err.value)
    assert str(gslrm_out / "scene_01") in msg and str(missing) in msg and "missing" in msg

    (gslrm_out / "scene_02" / "opencv_cameras.json").write_text("{not json")
    with pytest.raises(SceneError, match=r"scene_02/opencv_cameras\.json: cannot parse JSON"):
        ds[2]

    frames = _frames(gslrm_out / "scene_03")
    frames[5]["w2c"][0][0] = float("nan")
    (gslrm_out / "scene_03" / "opencv_cameras.json").write_text(json.dumps({"frames": frames}))
    with pytest.raises(SceneError, match=r"opencv_cameras\.json frames\[5\].*: w2c contains NaN"):
        ds[3]


def test_lenient_broken_scene_is_logged_and_replaced(gslrm_out, caplog):
    bad = gslrm_out / "scene_02" / "images" / "cam_000.png"
    bad.write_bytes(b"not a png")
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=VIEWS,
                          num_input_views=4, image_size=SIZE, strict=False, name="mouse")
    with caplog.at_level(logging.WARNING, logger="splatsynth.training"):
        item = ds[2]
    assert item["index"][0, 1].item() != 2
    assert item["image"].shape == (VIEWS, 3, SIZE, SIZE)
    logged = caplog.text
    assert "mouse" in logged and str(gslrm_out / "scene_02") in logged and str(bad) in logged
    assert [s for s, _ in ds.failures] == [2]


def test_lenient_gives_up_when_everything_is_broken(gslrm_out):
    for i in range(4):
        shutil.rmtree(gslrm_out / f"scene_{i:02d}" / "images")
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=2, num_input_views=1,
                          image_size=SIZE, strict=False)
    with pytest.raises(SplatsynthError, match="gave up after 4 scene"):
        ds[0]


def test_too_few_views_is_a_scene_error(gslrm_out):
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=VIEWS + 1,
                          num_input_views=4, image_size=SIZE)
    with pytest.raises(SceneError, match=f"has {VIEWS} views, fewer than num_views"):
        ds[0]


def test_list_file_relative_paths_comments_and_errors(gslrm_out, tmp_path):
    lst = gslrm_out / "relative.txt"
    lst.write_text("# scenes\nscene_00\n\n  scene_03  \n")
    ds = MultiViewDataset(lst, num_views=2, num_input_views=1, image_size=SIZE)
    assert ds.scene_dirs == (gslrm_out / "scene_00", gslrm_out / "scene_03")
    assert ds.name == "relative"
    assert ds[1]["index"][0, 1].item() == 1
    with pytest.raises(SplatsynthError, match="nope.txt: cannot read scene list"):
        MultiViewDataset(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(SplatsynthError, match="empty.txt: lists no scenes"):
        MultiViewDataset(tmp_path / "empty.txt")
    with pytest.raises(SplatsynthError, match="num_input_views"):
        MultiViewDataset(lst, num_views=2, num_input_views=3)
    with pytest.raises(SplatsynthError, match="background"):
        MultiViewDataset(lst, background="purple")


def test_random_background_is_returned(gslrm_out):
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=2, num_input_views=1,
                          image_size=SIZE, background="random")
    item = ds[0]
    bg = item["bg_color"]
    # the transparent band (first quarter of columns) shows exactly the drawn background
    torch.testing.assert_close(item["image"][0, :, 0, 0], bg, atol=1e-6, rtol=0)
    assert not torch.equal(ds[0]["bg_color"], bg)


def test_dataset_pickles(gslrm_out):
    ds = MultiViewDataset(gslrm_out / "data_gslrm_train.txt", num_views=2, num_input_views=1,
                          image_size=SIZE, selection="sorted")
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[1]["image"], ds[1]["image"])


def test_reads_facelift_own_camera_file(facelift_dir, tmp_path):
    """FaceLift's sample opencv_cameras.json (extra Blender keys included) loads, and items from
    it carry its exact intrinsics and c2w = inv(w2c)."""
    doc = json.loads((facelift_dir / "opencv_cameras.json").read_text())
    scene = tmp_path / "sample_000"
    (scene / "images").mkdir(parents=True)
    for f in doc["frames"][:4]:  # small images: rescale the frames to 16 px
        s = SIZE / f["w"]
        f.update(w=SIZE, h=SIZE, fx=f["fx"] * s, fy=f["fy"] * s, cx=f["cx"] * s, cy=f["cy"] * s)
        Image.new("RGBA", (SIZE, SIZE), (255, 0, 0, 255)).save(scene / f["file_path"])
    doc["frames"] = doc["frames"][:4]
    (scene / "opencv_cameras.json").write_text(json.dumps(doc))
    item = MultiViewDataset(write_list(tmp_path / "l.txt", [scene]), num_views=4,
                            num_input_views=2, image_size=SIZE, selection="sorted")[0]
    for k, v in enumerate(item["index"][:, 0].tolist()):
        f = doc["frames"][v]
        np.testing.assert_allclose(item["c2w"][k].numpy(), np.linalg.inv(f["w2c"]), atol=1e-5)
        assert item["fxfycxcy"][k].tolist() == pytest.approx([f["fx"], f["fy"], f["cx"], f["cy"]])
        # Blender put camera v at this location; c2w's translation must agree
        np.testing.assert_allclose(item["c2w"][k, :3, 3].numpy(), f["blender_camera_location"],
                                   atol=1e-5)
