"""The demo recording: the toy mouse walking a lap of a textured arena, filmed by the real
DANNCE markerless_mouse_1 rig (:mod:`.rigs`), written in the ``markerless`` layout.

    <out>/<name>/
      videos_undist/{0..5}.mp4                 H.264 colour (lossy, like any lab's videos)
      simpleclick_undist/{0..5}.mp4            H.264 masks, white = animal (soft lossy edges)
      new_cam.pkl                              list of {K, R, T}: x_cam = R X + T, OpenCV pixel
                                               centres (cx, cy 0.5 px below ours)
      keypoints2d_undist/result_view_{k}.pkl   float [frames, K, 3]: x, y, visibility (OpenCV)
      keypoint_names.json                      the K names
      truth/silhouettes/{k}/{frame:06d}.png    the true coverage (8-bit) per camera and frame
      truth/poses.json                         the mouse-to-world transform per frame

The mouse is ray-cast in its own frame (the camera moved by the inverse pose), over the floor
of :class:`~.arena.Arena` with a soft contact shadow; frames get a little sensor noise.
:func:`mask_iou` scores masks against the true silhouettes.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..fileio import AlreadyFinished, atomic_directory, atomic_write_json, png_bytes
from .arena import Arena
from .rigs import (
    DANNCE_MOUSE_1,
    DANNCE_MOUSE_1_ARENA,
    DANNCE_MOUSE_1_BODY_MM,
    rig_cameras,
)
from .toy_mouse import TOY_MOUSE_KEYPOINTS, keypoint_visibility, render_toy_mouse

#: Folder name (and recording name) of the demo recording.
DEMO_RECORDING = "toy_mouse_walk"
#: The toy mouse's snout-to-tail-base length, world units (nose to tail_base keypoints).
TOY_BODY = float(np.linalg.norm(TOY_MOUSE_KEYPOINTS.points[0] - TOY_MOUSE_KEYPOINTS.points[3]))
#: Millimetres -> toy units, so the real rig sees the toy mouse at a real mouse's size.
RIG_SCALE = TOY_BODY / DANNCE_MOUSE_1_BODY_MM
OPENCV_OFFSET = 0.5
"""Our pixel centres sit 0.5 px further than OpenCV's (SPEC section 2)."""


def demo_recording_cameras(size: tuple[int, int] = (1152, 1024),
                           arena: Arena | None = None) -> list[Camera]:
    """The real 6-camera rig in the toy world, for frames of ``size`` (w, h)."""
    arena = arena or Arena()
    return rig_cameras(DANNCE_MOUSE_1, size, scale=RIG_SCALE, origin=DANNCE_MOUSE_1_ARENA,
                       floor=arena.floor)


def walk_poses(frames: int, radius: float = 1.45, laps: float = 1.0) -> np.ndarray:
    """[F, 4, 4] mouse-to-world transforms: one lap of a wobbly circle round the arena
    centre, the mouse facing where it goes (its local -Y along the path)."""
    out = np.zeros((frames, 4, 4))
    for f in range(frames):
        a = 2 * math.pi * laps * f / max(frames, 1) - math.pi / 2
        r = radius * (1.0 + 0.12 * math.sin(3 * a))
        pos = np.array([r * math.cos(a), r * math.sin(a), 0.0])
        # Counter-clockwise walk: the direction of travel is the tangent (-sin a, cos a).
        heading = a + math.pi / 2 + 0.25 * math.sin(2 * a)
        yaw = heading + math.pi / 2  # local -Y -> (cos heading, sin heading)
        c, s = math.cos(yaw), math.sin(yaw)
        out[f, :3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        out[f, :3, 3] = pos
        out[f, 3, 3] = 1.0
    return out


def render_frame(cams: list[Camera], pose: np.ndarray, arena: Arena,
                 floors: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator,
                 noise: float = 1.5 / 255) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One frame of every camera.

    Args:
        cams: C cameras (world).
        pose: [4, 4] mouse-to-world.
        floors: per camera the empty arena (rgb [H, W, 3], floor xy [H, W, 2]).
        rng: noise source.
        noise: standard deviation of the sensor noise (colour in [0, 1]).
    Returns:
        rgb: C [H, W, 3] uint8 frames.
        coverage: C [H, W] float32 true coverage of the mouse in [0, 1].
    """
    local = [c.with_w2c(c.w2c @ pose) for c in cams]
    rgb_m, alpha = render_toy_mouse(local)
    rgbs = []
    for k, (bg, xy) in enumerate(floors):
        under = bg * arena.shadow_factor(xy, pose)[..., None]
        a = alpha[k][..., None]
        img = rgb_m[k] * a + under * (1 - a)
        img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
        rgbs.append((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    return rgbs, [alpha[k] for k in range(len(cams))]


class _Writer:
    """An H.264 mp4 written frame by frame (PyAV)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, crf: int) -> None:
        import av

        self.c = av.open(str(path), "w")
        self.s = self.c.add_stream("libx264", rate=fps)
        self.s.width, self.s.height = size
        self.s.pix_fmt = "yuv420p"
        self.s.options = {"crf": str(crf), "preset": "veryfast", "g": str(fps)}

    def add(self, img: np.ndarray) -> None:
        import av

        fmt = "gray" if img.ndim == 2 else "rgb24"
        for p in self.s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=fmt)):
            self.c.mux(p)

    def close(self) -> None:
        for p in self.s.encode():
            self.c.mux(p)
        self.c.close()


def make_demo_recording(out_dir: str | Path, *, size: tuple[int, int] = (1152, 1024),
                        frames: int = 60, fps: int = 30, seed: int = 0, crf: int = 18,
                        mask_crf: int = 23, force: bool = False) -> Path:
    """Write the demo recording ``out_dir/toy_mouse_walk`` (module docstring), atomically.

    Args:
        out_dir: parent folder.
        size: frame size (w, h); 1152 x 1024 is the real rig's, smaller sizes scale the
            intrinsics (tests use 288 x 256).
        frames: number of frames (the mouse walks one lap whatever the count).
        fps: frame rate written into the videos.
        seed: sensor-noise seed.
        crf, mask_crf: H.264 quality of the colour and mask videos (lower = better).
        force: rewrite an existing recording (otherwise it is kept as it is).
    Returns:
        The recording folder.
    """
    final = Path(out_dir) / DEMO_RECORDING
    arena = Arena()
    cams = demo_recording_cameras(size, arena)
    poses = walk_poses(frames)
    try:
        with atomic_directory(final, force=force) as tmp:
            for sub in ("videos_undist", "simpleclick_undist", "keypoints2d_undist"):
                (tmp / sub).mkdir()
            floors = [arena.render(c) for c in cams]
            videos = [_Writer(tmp / "videos_undist" / f"{k}.mp4", size, fps, crf)
                      for k in range(len(cams))]
            masks = [_Writer(tmp / "simpleclick_undist" / f"{k}.mp4", size, fps, mask_crf)
                     for k in range(len(cams))]
            K = len(TOY_MOUSE_KEYPOINTS.names)
            tracks = np.zeros((len(cams), frames, K, 3), np.float32)
            rng = np.random.default_rng(seed)
            for f in range(frames):
                rgbs, cover = render_frame(cams, poses[f], arena, floors, rng)
                for k, cam in enumerate(cams):
                    videos[k].add(rgbs[k])
                    masks[k].add(((cover[k] >= 0.5) * 255).astype(np.uint8))
                    sil = tmp / "truth" / "silhouettes" / str(k) / f"{f:06d}.png"
                    sil.parent.mkdir(parents=True, exist_ok=True)
                    sil.write_bytes(png_bytes((cover[k] * 255 + 0.5).astype(np.uint8)))
                    local = cam.with_w2c(cam.w2c @ poses[f])
                    uv, _ = local.project(TOY_MOUSE_KEYPOINTS.points)
                    tracks[k, f, :, :2] = uv - OPENCV_OFFSET
                    tracks[k, f, :, 2] = keypoint_visibility(local)
            for w in videos + masks:
                w.close()
            cam_list = []
            for cam in cams:
                Kmat = cam.K.copy()
                Kmat[:2, 2] -= OPENCV_OFFSET
                cam_list.append({"K": Kmat, "R": cam.R.copy(), "T": cam.t.copy()})
            (tmp / "new_cam.pkl").write_bytes(pickle.dumps(cam_list))
            for k in range(len(cams)):
                (tmp / "keypoints2d_undist" / f"result_view_{k}.pkl").write_bytes(
                    pickle.dumps(tracks[k]))
            atomic_write_json(tmp / "keypoint_names.json", list(TOY_MOUSE_KEYPOINTS.names))
            atomic_write_json(tmp / "truth" / "poses.json",
                              {"convention": "mouse-to-world 4x4 per frame",
                               "poses": poses.tolist(), "fps": fps})
    except AlreadyFinished:
        pass
    return final


def true_silhouette(recording: str | Path, camera: int, frame: int) -> np.ndarray:
    """[H, W] bool: the true silhouette (coverage >= 0.5) of ``camera`` at ``frame``."""
    from PIL import Image

    path = Path(recording) / "truth" / "silhouettes" / str(camera) / f"{frame:06d}.png"
    with Image.open(path) as im:
        return np.asarray(im) >= 128


def mask_iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two [H, W] bool masks (1.0 when both are empty)."""
    union = np.logical_or(mask, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(mask, truth).sum() / union)


def load_truth_poses(recording: str | Path) -> np.ndarray:
    """[F, 4, 4] mouse-to-world transforms of the recording."""
    doc = json.loads((Path(recording) / "truth" / "poses.json").read_text())
    return np.asarray(doc["poses"], np.float64)
