"""dannce and manifest: the same small recording laid out as a DANNCE project and described
by a YAML manifest gives the same cameras and masks."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import yaml

from splatsynth.demo.recording import demo_recording_cameras, mask_iou, true_silhouette
from splatsynth.ingest import IngestConfig, ingest
from splatsynth.ingest.config import RigConfig
from splatsynth.ingest.video import open_source
from splatsynth.scene_io import check_scene, load_scene

from .conftest import SIZE

CFG = IngestConfig(frames="2:6", size=96, progress=False)


def _dannce_project(rec: Path, root: Path) -> Path:
    """videos/Camera{i}/0.mp4 + calibration/hires_cam{i}_params.mat in MATLAB conventions."""
    for k, cam in enumerate(demo_recording_cameras(SIZE)):
        d = root / "videos" / f"Camera{k + 1}"
        d.mkdir(parents=True)
        shutil.copy(rec / "videos_undist" / f"{k}.mp4", d / "0.mp4")
        K = cam.K.copy()
        K[:2, 2] += 0.5  # MATLAB's first pixel is centred at 1, ours at 0.5
        (root / "calibration").mkdir(exist_ok=True)
        scipy.io.savemat(root / "calibration" / f"hires_cam{k + 1}_params.mat",
                         {"K": K.T, "r": cam.R.T, "t": cam.t[None], "RDistort": np.zeros((1, 3)),
                          "TDistort": np.zeros((1, 2))})
    return root


def _same_cameras(scene: Path, truth) -> None:
    views = load_scene(scene).views
    assert len(views) == len(truth)
    for v, t in zip(views, truth):
        np.testing.assert_allclose(v.camera.w2c, t.w2c, atol=1e-9)
        np.testing.assert_allclose([v.camera.fx, v.camera.cx, v.camera.cy],
                                   [t.fx, t.cx, t.cy], atol=1e-9)


def test_dannce_project(small_recording, tmp_path):
    proj = _dannce_project(small_recording, tmp_path / "mouse_dannce")
    ious = []

    def on_frame(res):
        ious.extend(mask_iou(m, true_silhouette(small_recording, k, res.frame))
                    for k, m in enumerate(res.masks))

    s = ingest("dannce", proj, tmp_path / "scenes", CFG, on_frame=on_frame)
    assert s.mask_method == "background" and s.recording == "mouse_dannce"
    assert [p.name for p in s.written] == [f"mouse_dannce_f{f:06d}" for f in range(2, 6)]
    assert all(check_scene(p) == [] for p in s.written)
    print(f"dannce background IoU mean {np.mean(ious):.3f} min {np.min(ious):.3f}")
    assert np.mean(ious) > 0.85
    full = ingest("dannce", proj, tmp_path / "full",
                  IngestConfig(frames="0:1", crop="none", progress=False))
    _same_cameras(full.written[0], demo_recording_cameras(SIZE))


def _manifest(rec: Path, root: Path) -> Path:
    """Cameras 0-1 with inline K/R/T (OpenCV origin), 2-3 naming new_cam.pkl, 4 a cameras.json,
    5 an image folder with inline K/R/T; mask videos; keypoint tracks as .npy."""
    cams = pickle.loads((rec / "new_cam.pkl").read_bytes())
    root.mkdir()
    truth = demo_recording_cameras(SIZE)
    from splatsynth.cameras import cameras_to_json
    from splatsynth.fileio import atomic_write_json, write_png

    atomic_write_json(root / "cams.json", cameras_to_json(truth))
    frames_dir = root / "frames5"
    for k, img in open_source(rec / "videos_undist" / "5.mp4").read(range(10)):
        write_png(frames_dir / f"{k}.png", img)
    entries = []
    for k in range(6):
        kp = pickle.loads((rec / f"keypoints2d_undist/result_view_{k}.pkl").read_bytes())
        np.save(root / f"kp{k}.npy", kp)
        e = {"name": f"c{k}", "video": str(rec / "videos_undist" / f"{k}.mp4"),
             "mask": str(rec / "simpleclick_undist" / f"{k}.mp4"), "keypoints": f"kp{k}.npy"}
        if k in (2, 3):
            e.update(calibration=str(rec / "new_cam.pkl"), index=k)
        elif k == 4:
            e.update(calibration="cams.json", index=4)
        else:
            e.update(K=cams[k]["K"].tolist(), R=cams[k]["R"].tolist(), T=cams[k]["T"].tolist())
        if k == 5:
            e["video"] = "frames5"
        entries.append(e)
    doc = {"name": "rig", "fps": 30, "keypoint_names": [f"k{i}" for i in range(9)],
           "cameras": entries}
    path = root / "rig.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_manifest(small_recording, tmp_path):
    path = _manifest(small_recording, tmp_path / "m")
    s = ingest("manifest", path, tmp_path / "scenes", CFG)
    assert s.mask_method == "videos"
    assert [p.name for p in s.written] == [f"rig_f{f:06d}" for f in range(2, 6)]
    scene = load_scene(s.written[0])
    assert scene.keypoint_names[0] == "k0" and len(scene.views) == 6
    # The calibration as read: cameras 2-4's tracks sit half a pixel off (OpenCV origin,
    # read as ours beside a calibration file), which the rig refinement would turn them for.
    full = ingest("manifest", path, tmp_path / "full",
                  IngestConfig(frames="0:1", crop="none", progress=False,
                               rig=RigConfig(refine="off")))
    _same_cameras(full.written[0], demo_recording_cameras(SIZE))
    # the image-folder camera gives the same frames as its video (PNG of the decoded frames)
    a = load_scene(full.written[0]).views[5].image
    ref = ingest("markerless", small_recording, tmp_path / "ref",
                 IngestConfig(frames="0:1", crop="none", progress=False))
    np.testing.assert_array_equal(a, load_scene(ref.written[0]).views[5].image)


@pytest.mark.parametrize("origin, shift", [("matlab", -1.0), ("splatsynth", -0.5)])
def test_manifest_pixel_origin(small_recording, tmp_path, origin, shift):
    path = _manifest(small_recording, tmp_path / "m")
    doc = yaml.safe_load(path.read_text())
    doc["pixel_origin"] = origin
    path.write_text(yaml.safe_dump(doc))
    s = ingest("manifest", path, tmp_path / "s",
               IngestConfig(frames="0:1", crop="none", progress=False, cross_view=False))
    views = load_scene(s.written[0]).views
    truth = demo_recording_cameras(SIZE)
    assert views[0].camera.cx == pytest.approx(truth[0].cx + shift)
    assert views[2].camera.cx == pytest.approx(truth[2].cx)  # from new_cam.pkl: OpenCV always
