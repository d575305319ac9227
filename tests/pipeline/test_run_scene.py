"""One scene end to end: run_scene, the GS-LRM layout as FaceLift reads it, render, eval, CLI."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatsynth.cameras import OrbitConfig
from splatsynth.cli import main
from splatsynth.config import OutputConfig, RunConfig
from splatsynth.pipeline import evaluate_fitted, render_fitted, run_scene
from splatsynth.scene_io.normalize import Similarity


@pytest.fixture(scope="module")
def run_cfg(tiny_fit_config):
    return RunConfig(fit=tiny_fit_config,
                     orbit=OrbitConfig(views=8, size=128),
                     output=OutputConfig(mvdiffusion=True, depth=True, val_ratio=0.5))


@pytest.fixture(scope="module")
def done(tiny_demo, run_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    outcome = run_scene(tiny_demo, out, run_cfg)
    return out, outcome


def read_like_facelift(list_file: Path):
    """What FaceLift's RandomViewDataset does: list -> opencv_cameras.json -> RGBA images."""
    scenes = [Path(line) for line in list_file.read_text().splitlines() if line.strip()]
    items = []
    for d in scenes:
        assert d.is_absolute()
        cams = json.loads((d / "opencv_cameras.json").read_text())
        views = []
        for f in cams["frames"]:
            img = np.asarray(Image.open(d / f["file_path"]))
            c2w = np.linalg.inv(np.asarray(f["w2c"]))
            views.append((img, c2w, np.array([f["fx"], f["fy"], f["cx"], f["cy"]])))
        items.append((d, cams["id"], views))
    return items


def test_dataset_layout_reads_like_facelift(done, run_cfg):
    out, outcome = done
    assert outcome.status == "done"
    lists = [out / "data_gslrm_train.txt", out / "data_gslrm_val.txt"]
    items = sum((read_like_facelift(p) for p in lists), [])
    assert [i[0] for i in items] == [outcome.scene_dir.resolve()]
    d, sid, views = items[0]
    assert sid == "toy_mouse" and len(views) == 8
    for img, c2w, k in views:
        assert img.shape == (128, 128, 4) and img.dtype == np.uint8
        assert 0 < (img[..., 3] > 127).mean() < 0.6  # the subject, not an empty or full frame
        np.testing.assert_allclose(np.linalg.norm(c2w[:3, 3]), 2.7, atol=1e-6)
        np.testing.assert_allclose(k, [548.9937744140625 / 4, 548.9937744140625 / 4, 64, 64])
    for name in ("gaussians.ply", "report.json", "contact_sheet.png", "keypoints_2d.json"):
        assert (d / name).is_file(), name
    assert sorted(p.name for p in (out / "mvdiffusion" / "toy_mouse").glob("cam_*.png")) == \
        [f"cam_{i:03d}.png" for i in range(6)]
    assert len(list((d / "depth").glob("cam_*.png"))) == 8


def test_known_3d_point_lands_on_its_pixel(done, tiny_demo):
    """The demo's true nose, mapped by the recorded normalization and projected through the
    written cameras, lands where keypoints_2d.json (triangulated from the inputs) says."""
    out, outcome = done
    report = json.loads((outcome.scene_dir / "report.json").read_text())
    sim = Similarity.from_dict(report["normalization"])
    gt = json.loads((tiny_demo / "gt" / "keypoints_3d.json").read_text())
    nose = np.asarray(gt["points"][gt["names"].index("nose")], float)
    nose_c = sim.apply_points(nose[None])[0]
    frames = json.loads((outcome.scene_dir / "opencv_cameras.json").read_text())["frames"]
    kp = json.loads((outcome.scene_dir / "keypoints_2d.json").read_text())
    k = kp["names"].index("nose")
    checked = 0
    for f in frames:
        w2c = np.asarray(f["w2c"])
        pc = w2c[:3, :3] @ nose_c + w2c[:3, 3]
        uv = np.array([f["fx"] * pc[0] / pc[2] + f["cx"], f["fy"] * pc[1] / pc[2] + f["cy"]])
        x, y, vis = kp["views"][f["file_path"]][k]
        np.testing.assert_allclose([x, y], uv, atol=1.5)  # triangulated from 96 px inputs
        checked += vis
    assert checked >= 2  # the nose is visible in several orbit views


def test_rerun_is_a_noop_unless_forced(done, tiny_demo, run_cfg):
    out, outcome = done
    mtime = (outcome.scene_dir / "report.json").stat().st_mtime_ns
    again = run_scene(tiny_demo, out, run_cfg)
    assert again.status == "skipped"
    assert (outcome.scene_dir / "report.json").stat().st_mtime_ns == mtime


def test_report_records_config_normalization_versions(done, run_cfg):
    out, outcome = done
    r = json.loads((outcome.scene_dir / "report.json").read_text())
    assert r["config"]["fit"]["iterations"] == 150
    assert r["config"]["orbit"]["views"] == 8
    # the post-fit check's numbers are recorded for a passing scene too
    assert r["check"]["passed"] is True and r["check"]["worst_iou"] > 0.8
    assert r["check"]["worst_psnr_masked"] >= r["config"]["check"]["min_train_psnr_masked"]
    assert "retry" not in r
    assert set(r["normalization"]) >= {"scale", "R", "t"}
    assert r["versions"]["splatsynth"] and r["versions"]["torch"]
    assert r["metrics"]["ground_truth"]["mean"]["iou"] > 0.7
    assert len(r["metrics"]["ground_truth"]["per_view"]) == 32
    assert r["timings"]["fit"] > 0


def test_render_and_eval_in_the_input_frame(done, tiny_demo, tmp_path):
    out, outcome = done
    gt_dir = tiny_demo / "gt" / "orbit"
    n = render_fitted(outcome.scene_dir, gt_dir / "opencv_cameras.json", tmp_path / "r")
    assert n == 32
    cams = json.loads((tmp_path / "r" / "opencv_cameras.json").read_text())
    src = json.loads((gt_dir / "opencv_cameras.json").read_text())
    np.testing.assert_allclose(cams["frames"][5]["w2c"], src["frames"][5]["w2c"])
    rendered = np.asarray(Image.open(tmp_path / "r" / "images" / "cam_005.png"))[..., 3] > 127
    truth = np.asarray(Image.open(gt_dir / "images" / "cam_005.png"))[..., 3] > 127
    assert (rendered & truth).sum() / (rendered | truth).sum() > 0.7  # same place, same size
    scores, path = evaluate_fitted(outcome.scene_dir, gt_dir)
    assert path.is_file() and len(scores.per_view) == 32
    assert json.loads(path.read_text())["mean"]["iou"] == pytest.approx(scores.mean.iou)
    assert scores.mean.iou == pytest.approx(
        json.loads((outcome.scene_dir / "report.json").read_text())
        ["metrics"]["ground_truth"]["mean"]["iou"], abs=1e-6)


def test_cli_run_reports_bad_scene_without_traceback(tiny_demo, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_demo, bad)
    (bad / "images" / "view_002.png").unlink()
    code = main(["run", str(bad), "--out", str(tmp_path / "o"), "--fit.iterations", "5"])
    err = capsys.readouterr().err
    assert code == 1
    assert "images/view_002.png" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "bad").exists()


def test_cli_eval_on_unfinished_folder(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--gt", str(tmp_path)]) == 1
    assert "no report.json" in capsys.readouterr().err


def test_cli_demo_shrunk(tmp_path, capsys):
    # 20 steps score far below the post-fit check's floors, which are for real fits
    code = main(["demo", "--out", str(tmp_path), "--fit.iterations", "20",
                 "--fit.num_gaussians", "2000", "--orbit.views", "4", "--orbit.size", "64",
                 "--fit.no_progress", "--check.min_train_psnr_masked", "5",
                 "--check.min_train_iou", "0.3"])
    out = capsys.readouterr().out
    assert code == 0, capsys.readouterr().err
    assert "fit check     passed" in out
    assert "ground truth" in out and "contact sheet" in out
    assert (tmp_path / "dataset" / "toy_mouse" / "report.json").is_file()
    assert (tmp_path / "dataset" / "data_gslrm_train.txt").is_file()


def test_render_cameras_of_different_sizes_with_depth(done, tiny_demo, tmp_path):
    out, outcome = done
    frames = json.loads((tiny_demo / "gt" / "orbit" / "opencv_cameras.json").read_text())
    a, b = frames["frames"][0], dict(frames["frames"][1])
    b.update(w=b["w"] // 2, h=b["h"] // 2, fx=b["fx"] / 2, fy=b["fy"] / 2, cx=b["cx"] / 2,
             cy=b["cy"] / 2)
    cams = tmp_path / "cams.json"
    cams.write_text(json.dumps({"frames": [a, b]}))
    assert render_fitted(outcome.scene_dir, cams, tmp_path / "r", depth=True) == 2
    sizes = [Image.open(tmp_path / "r" / "images" / f"cam_00{i}.png").size for i in (0, 1)]
    assert sizes == [(a["w"], a["h"]), (b["w"], b["h"])]
    assert np.load(tmp_path / "r" / "depth" / "cam_001.npy").shape == (b["h"], b["w"])
    assert not list(tmp_path.glob(".tmp-*"))
