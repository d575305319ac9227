"""One test per validation class: each breaks the valid scene in one way and expects exactly
that problem, naming the file it concerns."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from scene_helpers import disc, read_json, write_json

from splatsynth.errors import SceneError
from splatsynth.scene_io import check_scene, load_scene
from splatsynth.scene_io.validate import border_cut_fraction


def _frames(root):
    return read_json(root / "cameras.json")


def _set_frames(root, doc):
    write_json(root / "cameras.json", doc)


def _only(problems, where_part: str, what_part: str):
    """Exactly one problem, with the given fragments in ``where`` and ``what``."""
    assert len(problems) == 1, [str(p) for p in problems]
    p = problems[0]
    assert where_part in p.where, str(p)
    assert what_part in p.what, str(p)
    return p


def test_valid_scene_has_no_problems(scene_dir):
    assert check_scene(scene_dir) == []


def test_missing_image(scene_dir):
    (scene_dir / "images/cam1.png").unlink()
    _only(check_scene(scene_dir), "images/cam1.png", "missing image")


def test_unreadable_image(scene_dir):
    (scene_dir / "images/cam2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    _only(check_scene(scene_dir), "images/cam2.png", "unreadable image")


def test_image_size_differs_from_cameras_json(scene_dir):
    Image.new("RGB", (40, 24)).save(scene_dir / "images/cam0.png")
    _only(check_scene(scene_dir), "images/cam0.png", "40x24 but cameras.json says 32x24")


def test_mask_image_size_mismatch(scene_dir):
    (scene_dir / "masks").mkdir()
    Image.fromarray(np.full((10, 12), 255, np.uint8)).save(scene_dir / "masks/cam1.png")
    _only(check_scene(scene_dir), "masks/cam1.png", "mask is 12x10 but image")


def test_non_orthonormal_rotation(scene_dir):
    doc = _frames(scene_dir)
    w2c = np.array(doc["frames"][1]["w2c"])
    w2c[:3, :3] *= 1.1
    doc["frames"][1]["w2c"] = w2c.tolist()
    _set_frames(scene_dir, doc)
    _only(check_scene(scene_dir), "frames[1] (images/cam1.png)", "not orthonormal")


def test_reflected_rotation(scene_dir):
    doc = _frames(scene_dir)
    w2c = np.array(doc["frames"][2]["w2c"])
    w2c[0] *= -1.0  # flips the camera's x axis: orthonormal, det = -1
    doc["frames"][2]["w2c"] = w2c.tolist()
    _set_frames(scene_dir, doc)
    _only(check_scene(scene_dir), "frames[2] (images/cam2.png)", "reflection")


@pytest.mark.parametrize("field,value,what", [
    ("fx", math.nan, "fx is nan"),
    ("cy", math.inf, "cy is inf"),
    ("w2c", "inf", "w2c contains NaN/inf"),
])
def test_nan_inf_in_cameras(scene_dir, field, value, what):
    doc = _frames(scene_dir)
    if field == "w2c":
        doc["frames"][0]["w2c"][1][3] = math.inf
    else:
        doc["frames"][0][field] = value
    # Python writes NaN / Infinity literals; a hand-edited file might hold them too.
    (scene_dir / "cameras.json").write_text(json.dumps(doc))
    _only(check_scene(scene_dir), "frames[0]", what)


def test_nan_in_keypoints(scene_dir):
    kp = read_json(scene_dir / "keypoints.json")
    kp["views"]["images/cam1.png"][1][0] = math.nan
    (scene_dir / "keypoints.json").write_text(json.dumps(kp))
    _only(check_scene(scene_dir), "keypoints.json views['images/cam1.png']", "NaN/inf")


def test_duplicate_file_paths(scene_dir):
    doc = _frames(scene_dir)
    doc["frames"][2]["file_path"] = "images/./cam0.png"  # same file, spelled differently
    _set_frames(scene_dir, doc)
    probs = check_scene(scene_dir)
    # cam2's keypoints now belong to no frame: reported too, and nothing else.
    assert {p.what.split(" (")[0] for p in probs} == {
        'duplicate file_path "images/./cam0.png"', "no frame in cameras.json has this file_path"}
    assert any("frames[2]" in p.where and "also frames[0]" in p.what for p in probs)


def test_empty_mask(scene_dir):
    im = np.asarray(Image.open(scene_dir / "images/cam1.png")).copy()
    im[..., 3] = 0
    Image.fromarray(im).save(scene_dir / "images/cam1.png")
    _only(check_scene(scene_dir), "images/cam1.png (alpha)", "empty mask")


def test_subject_cut_by_the_frame(scene_dir):
    (scene_dir / "masks").mkdir()
    # A disc centred on the left edge: half its outline is the image border.
    Image.fromarray((disc(32, 24, 0.0, 12.0, 6.0) * 255).astype(np.uint8)).save(
        scene_dir / "masks/cam0.png")
    _only(check_scene(scene_dir), "masks/cam0.png", "subject outside the view")


def test_border_cut_rule():
    inside = disc(64, 48, 32, 24, 10) > 0.5
    grazing = disc(64, 48, 10.2, 24, 10) > 0.5  # a few pixels touch the left edge
    halved = disc(64, 48, 0, 24, 10) > 0.5
    assert border_cut_fraction(inside) == 0.0
    assert 0.0 < border_cut_fraction(grazing) < 0.10
    assert border_cut_fraction(halved) > 0.3
    assert border_cut_fraction(np.ones((8, 8), bool)) == 1.0


def test_keypoint_outside_the_view(scene_dir):
    kp = read_json(scene_dir / "keypoints.json")
    kp["views"]["images/cam2.png"][0] = [40.0, 5.0, 0.7]
    kp["views"]["images/cam0.png"][1] = [-3.0, 5.0, 0.0]  # invisible: allowed anywhere
    write_json(scene_dir / "keypoints.json", kp)
    _only(check_scene(scene_dir), "views['images/cam2.png']", "outside the 32x24 image: nose")


def test_fewer_than_two_views(scene_dir):
    doc = _frames(scene_dir)
    doc["frames"] = doc["frames"][:1]
    _set_frames(scene_dir, doc)
    kp = read_json(scene_dir / "keypoints.json")
    kp["views"] = {"images/cam0.png": kp["views"]["images/cam0.png"]}
    write_json(scene_dir / "keypoints.json", kp)
    _only(check_scene(scene_dir), "cameras.json", "1 view(s); at least 2 are needed")


def test_keypoint_count_mismatch(scene_dir):
    kp = read_json(scene_dir / "keypoints.json")
    kp["views"]["images/cam1.png"].append([1.0, 2.0, 1.0])
    write_json(scene_dir / "keypoints.json", kp)
    _only(check_scene(scene_dir), "views['images/cam1.png']", "3 keypoints but keypoints.json "
                                                               "names 2")


@pytest.mark.parametrize("bad,what", [
    ("/etc/passwd", "absolute"),
    ("../outside.png", 'contains ".."'),
    ("images/../../outside.png", 'contains ".."'),
    ("C:\\images\\cam.png", "absolute"),
])
def test_file_path_leaving_the_scene(scene_dir, bad, what):
    (scene_dir.parent / "outside.png").write_bytes((scene_dir / "images/cam0.png").read_bytes())
    doc = _frames(scene_dir)
    doc["frames"][0]["file_path"] = bad
    _set_frames(scene_dir, doc)
    kp = read_json(scene_dir / "keypoints.json")
    kp["views"][bad] = kp["views"].pop("images/cam0.png")
    write_json(scene_dir / "keypoints.json", kp)
    probs = check_scene(scene_dir)
    assert any("frames[0]" in p.where and f"file_path {'is ' if what == 'absolute' else ''}"
               f"{what}" in p.what for p in probs), [str(p) for p in probs]
    # never reads the file outside: no image problem for it, and nothing else is reported
    assert all("frames[0]" in p.where or "keypoints.json" in p.where for p in probs)


def test_mask_path_leaving_the_scene(scene_dir):
    doc = _frames(scene_dir)
    doc["frames"][1]["mask_path"] = "../m.png"
    _set_frames(scene_dir, doc)
    _only(check_scene(scene_dir), "frames[1]", 'mask_path contains ".."')


def test_malformed_json_reports_line_and_column(scene_dir):
    (scene_dir / "cameras.json").write_text('{"frames": [\n  {"w": 32,\n   "h": 24,,}\n]}')
    p = _only(check_scene(scene_dir), "cameras.json", "malformed JSON at line 3, column")
    assert "column 12" in p.what  # the second comma


def test_malformed_keypoints_json(scene_dir):
    (scene_dir / "keypoints.json").write_text('{"names": ["a" "b"]}')
    _only(check_scene(scene_dir), "keypoints.json", "malformed JSON at line 1, column 16")


def test_missing_cameras_json_and_missing_folder(scene_dir, tmp_path):
    (scene_dir / "cameras.json").unlink()
    _only(check_scene(scene_dir), "cameras.json", "missing")
    _only(check_scene(tmp_path / "nope"), "nope", "does not exist")


def test_every_problem_is_listed_and_load_raises_them_all(scene_dir):
    (scene_dir / "images/cam1.png").unlink()
    doc = _frames(scene_dir)
    doc["frames"][0]["fy"] = -5.0
    doc["frames"][2]["file_path"] = "/abs/cam2.png"
    _set_frames(scene_dir, doc)
    probs = check_scene(scene_dir)
    msgs = [str(p) for p in probs]
    assert any("images/cam1.png: missing image" in m for m in msgs), msgs
    assert any("frames[0]" in m and "fy must be positive" in m for m in msgs), msgs
    assert any("frames[2]" in m and "absolute" in m for m in msgs), msgs
    with pytest.raises(SceneError) as ei:
        load_scene(scene_dir)
    assert len(ei.value.problems) == len(probs)
    assert "missing image" in str(ei.value) and "fy must be positive" in str(ei.value)
