"""markerless: the demo recording in, valid scenes out: the rig's cameras exactly, masks close
to the true silhouettes from both sources, keypoints, source.json, scenes.txt for batch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splatsynth.batch import discover_scenes
from splatsynth.cameras import Camera
from splatsynth.demo.recording import demo_recording_cameras, mask_iou, true_silhouette
from splatsynth.ingest import IngestConfig, ingest
from splatsynth.scene_io import check_scene, load_scene

from .conftest import FRAMES, SIZE

# Mask IoU against the true silhouettes at 288 x 256, measured on this recording (all frames,
# all views): mask videos (H.264, thresholded at half) 1.000 mean / 1.000 min; background model
# 0.899 mean / 0.823 min (the tail is 1-2 px wide at this size). The thresholds leave room for
# codec and platform differences.
IOU_VIDEOS_MIN = 0.97
IOU_BACKGROUND_MEAN = 0.87
IOU_BACKGROUND_MIN = 0.70


def _ingest(rec: Path, out: Path, masks: str, **kw):
    ious: list[float] = []

    def on_frame(res):
        for k, m in enumerate(res.masks):
            ious.append(mask_iou(m, true_silhouette(rec, k, res.frame)))

    cfg = IngestConfig(masks=masks, size=128, progress=False, **kw)
    return ingest("markerless", rec, out, cfg, on_frame=on_frame), np.array(ious)


@pytest.fixture(scope="module")
def from_videos(small_recording, tmp_path_factory):
    return _ingest(small_recording, tmp_path_factory.mktemp("scenes"), "videos")


def test_scenes_are_valid_and_listed(from_videos, small_recording):
    summary, _ = from_videos
    assert summary.mask_method == "videos"
    assert len(summary.written) == FRAMES and not summary.skipped
    names = (summary.out / "scenes.txt").read_text().split()
    assert names == [f"toy_mouse_walk_f{f:06d}" for f in range(FRAMES)]
    assert [p.name for p in discover_scenes([summary.out / "scenes.txt"])] == names
    for p in summary.written:
        assert check_scene(p) == [], p
    scene = load_scene(summary.written[3])
    assert len(scene.views) == 6
    assert all(v.image.shape == (128, 128, 3) and v.mask is not None for v in scene.views)
    assert scene.keypoint_names[0] == "nose"


def test_cameras_are_the_rig_moved_by_the_crop(from_videos):
    summary, _ = from_videos
    truth = demo_recording_cameras(SIZE)
    scene = summary.written[2]
    src = json.loads((scene / "source.json").read_text())
    frames = json.loads((scene / "cameras.json").read_text())["frames"]
    for k, (fr, true_cam) in enumerate(zip(frames, truth)):
        box = src["crops"][f"cam{k}"]
        s = box["size"] / box["side"]
        cam = Camera.from_frame(fr)
        np.testing.assert_allclose(cam.w2c, true_cam.w2c, atol=1e-9)
        # The pickled K is in OpenCV pixels (cx - 0.5); the ingest puts the 0.5 back.
        np.testing.assert_allclose([cam.fx, cam.fy], [true_cam.fx * s, true_cam.fy * s],
                                   rtol=1e-12)
        np.testing.assert_allclose([cam.cx, cam.cy],
                                   [(true_cam.cx - box["x0"]) * s, (true_cam.cy - box["y0"]) * s],
                                   atol=1e-9)


def test_source_json_records_provenance(from_videos):
    summary, _ = from_videos
    src = json.loads((summary.written[4] / "source.json").read_text())
    assert src["recording"] == "toy_mouse_walk" and src["frame"] == 4
    assert src["mask_method"] == "videos" and src["format"] == "markerless"
    assert src["time"] == pytest.approx(4 / 30)
    assert len(src["checks"]) == 6 and all(c["ok"] for c in src["checks"])
    assert src["config"]["size"] == 128


def test_keypoints_follow_the_crop(from_videos, small_recording):
    summary, _ = from_videos
    import pickle

    scene = summary.written[5]
    kp = json.loads((scene / "keypoints.json").read_text())
    src = json.loads((scene / "source.json").read_text())
    track = pickle.loads((small_recording / "keypoints2d_undist/result_view_1.pkl").read_bytes())
    box = src["crops"]["cam1"]
    want = (track[5, :, :2] + 0.5 - [box["x0"], box["y0"]]) * box["size"] / box["side"]
    got = np.array(kp["views"]["images/cam1.png"])
    vis = got[:, 2] > 0
    assert vis.sum() >= 3
    np.testing.assert_allclose(got[vis, :2], want[vis], atol=1e-3)


def test_mask_iou_of_both_sources(from_videos, small_recording, tmp_path):
    _, iou_v = from_videos
    summary, iou_b = _ingest(small_recording, tmp_path, "background")
    print(f"IoU videos mean {iou_v.mean():.4f} min {iou_v.min():.4f}; background mean "
          f"{iou_b.mean():.4f} min {iou_b.min():.4f} ({len(summary.skipped)} frames skipped)")
    assert iou_v.min() >= IOU_VIDEOS_MIN
    assert iou_b.mean() >= IOU_BACKGROUND_MEAN and iou_b.min() >= IOU_BACKGROUND_MIN
    assert summary.mask_method == "background"
    assert len(summary.written) >= FRAMES // 2


def test_rerun_skips_finished_scenes(from_videos, small_recording):
    summary, _ = from_videos
    again = ingest("markerless", small_recording, summary.out,
                   IngestConfig(masks="videos", size=128, progress=False))
    assert again.already_done == FRAMES and not again.written


def test_every_frames_skip_select_the_scenes(small_recording, tmp_path):
    s = ingest("markerless", small_recording, tmp_path,
               IngestConfig(frames="1:9", every=3, skip="4", size=64, progress=False,
                            cross_view=False))
    assert sorted(p.name for p in s.written) == ["toy_mouse_walk_f000001",
                                                 "toy_mouse_walk_f000007"]


def test_crop_none_writes_full_frames(small_recording, tmp_path):
    s = ingest("markerless", small_recording, tmp_path,
               IngestConfig(frames="0:1", crop="none", progress=False))
    scene = load_scene(s.written[0])
    assert scene.views[0].image.shape == (SIZE[1], SIZE[0], 3)
    truth = demo_recording_cameras(SIZE)
    assert scene.views[0].camera == truth[0]
