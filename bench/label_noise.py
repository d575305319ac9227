"""Real keypoint labels and a real calibration: how noisy the one, how good the other.

Reads a Label3D export (DANNCE's markerless_mouse_1: 6 cameras, 81 labelled frames x 22
keypoints, 2D and 3D) and prints:

1. the 2D labels' reprojection residuals (px) against the 3D labels and against points
   triangulated from the 2D labels with the given calibration (median / p90);
2. a robust bundle adjustment of the rig over all frames (``align_to_keypoints``, camera 1
   fixed, centres near the calibration): how far it turns each camera (deg) and the residuals
   before -> after;
3. the 3D labels' consistency: the spread over frames of distances between keypoints on one
   body segment (robust sigma, mm), per keypoint (/ sqrt 2) and in pixels at the cameras'
   focal length / depth;
4. what the labels could pin: the rig turned by --errors degrees (+ 0.5% of the distance) and
   the labels given --noise px of Gaussian noise, bundle-adjusted: rotation error left (deg).

    python bench/label_noise.py --data /path/to/dannce_markerless_mouse_1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from splatsynth.cameras import align_to_keypoints
from splatsynth.cameras.triangulation import triangulate_keypoints
from splatsynth.optim.pose import perturb_cameras, relative_pose_errors
from splatsynth.scene_io.importers.dannce import MOUSE22_NAMES, read_dannce

# Keypoint pairs on one body segment (their distance changes only as joints or ears move).
SEGMENTS = [("ForepawL", "WristL"), ("ForepawR", "WristR"), ("HindpawL", "AnkleL"),
            ("HindpawR", "AnkleR"), ("AnkleR", "KneeR"), ("EarL", "EarR"),
            ("ElbowR", "ShoulderR"), ("WristL", "ElbowL"), ("EarR", "Snout")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True,
                    help="folder with label3d_dannce.mat (or the .mat itself)")
    ap.add_argument("--size", type=int, nargs=2, default=[1152, 1024], metavar=("W", "H"))
    ap.add_argument("--errors", type=float, nargs="*", default=[1.0])
    ap.add_argument("--noise", type=float, nargs="*", default=[1.0, 3.0])
    ap.add_argument("--draws", type=int, default=3)
    args = ap.parse_args()

    mat = args.data / "label3d_dannce.mat" if args.data.is_dir() else args.data
    src = read_dannce(mat)
    w, h = args.size
    cams = [c.pinhole(w, h, c.name) for c in src.cameras]
    F, K = src.data_3d.shape[:2]
    uv = np.stack([c.labels_to_pinhole(d.reshape(-1, 2)).reshape(F, K, 2)
                   for c, d in zip(src.cameras, src.data_2d)])  # [C, F, K, 2]
    kp = np.concatenate([uv, np.isfinite(uv[..., :1]).astype(float)], -1).reshape(len(cams),
                                                                                  F * K, 3)
    n = int(np.isfinite(kp[..., 0]).sum())
    print(f"{mat}: {len(cams)} cameras, {F} frames x {K} keypoints, {n} 2D labels")

    # 1. Residuals.
    X3 = src.data_3d.reshape(-1, 3)
    e3 = np.concatenate([np.linalg.norm(c.project(X3)[0] - kp[i, :, :2], axis=1)
                         for i, c in enumerate(cams)])
    pts, info = triangulate_keypoints(cams, kp)
    et = info.reproj_err[np.isfinite(info.reproj_err)]
    print(f"\n1. 2D labels vs the 3D labels projected: median {_px(np.nanmedian(e3))}, p90 "
          f"{_px(np.nanpercentile(e3, 90))}; vs points triangulated from them: median "
          f"{_px(np.median(et))}, p90 {_px(np.percentile(et, 90))} px ({len(et)} labels)")

    # 2. Bundle adjustment of the given rig.
    t = time.perf_counter()
    a = align_to_keypoints(cams, kp, centre_sigma=0.01, rotation_sigma_deg=None,
                           noise_px=1.0)
    rot = relative_pose_errors(a.cameras, cams, 0)[0]
    print(f"\n2. bundle adjustment over all frames ({time.perf_counter() - t:.1f} s): "
          f"{'applied' if a.applied else 'refused: ' + a.reason}; relative rotations changed by "
          f"{', '.join(f'{r:.3f}' for r in rot[1:])} deg; residual median "
          f"{_px(a.residual_before[0])} -> {_px(a.residual_after[0])} px, p90 "
          f"{_px(a.residual_before[1])} -> {_px(a.residual_after[1])} px")

    # 3. 3D consistency of body segments over frames.
    depth = np.array([np.nanmedian(c.world_to_camera(X3)[:, 2]) for c in cams])
    px_per_mm = float(np.mean([c.fx for c in cams] / depth))
    print(f"\n3. body segments over {F} frames (cameras at {depth.min():.0f}-{depth.max():.0f} "
          f"mm, {px_per_mm:.2f} px per mm at the subject):")
    print("| segment | frames | median length (mm) | robust sigma (mm) | per keypoint (mm) | "
          "per keypoint (px) |")
    print("|---|---|---|---|---|---|")
    sig = []
    for a_name, b_name in SEGMENTS:
        i, j = MOUSE22_NAMES.index(a_name), MOUSE22_NAMES.index(b_name)
        d = np.linalg.norm(src.data_3d[:, i] - src.data_3d[:, j], axis=1)
        d = d[np.isfinite(d)]
        med = float(np.median(d))
        s = 1.4826 * float(np.median(np.abs(d - med)))
        sig.append(s / np.sqrt(2))
        print(f"| {a_name}-{b_name} | {len(d)} | {med:.1f} | {s:.2f} | {s / np.sqrt(2):.2f} | "
              f"{s / np.sqrt(2) * px_per_mm:.1f} |")
    print(f"per keypoint: {min(sig):.2f}-{max(sig):.2f} mm, median {np.median(sig):.2f} mm = "
          f"{min(sig) * px_per_mm:.1f}-{max(sig) * px_per_mm:.1f} px, median "
          f"{np.median(sig) * px_per_mm:.1f} px")

    # 4. What the labels could pin.
    centre = np.nanmean(X3, axis=0)
    print("\n4. the rig perturbed, the labels made noisy, bundle-adjusted "
          "(mean rotation error of cameras 2-6, deg):")
    print("| rotation error | label noise (px) | draw | before | after | residual median px |")
    print("|---|---|---|---|---|---|")
    for deg in args.errors:
        for noise in args.noise:
            for draw in range(args.draws):
                given = perturb_cameras(cams, range(1, len(cams)), deg, 0.005, centre, draw)
                rng = np.random.default_rng(draw)
                noisy = kp.copy()
                noisy[..., :2] += rng.normal(0.0, noise, noisy[..., :2].shape)
                a = align_to_keypoints(given, noisy, centre_sigma=0.01,
                                       rotation_sigma_deg=None, noise_px=max(noise, 1.0))
                before = relative_pose_errors(given, cams, 0)[0][1:].mean()
                after = relative_pose_errors(a.cameras, cams, 0)[0][1:].mean()
                print(f"| {deg:g} deg + 0.5% | {noise:g} | {draw} | {before:.2f} | "
                      f"{after:.3f} | {a.residual_before[0]:.1f} -> {a.residual_after[0]:.1f} |",
                      flush=True)


def _px(x: float) -> str:
    return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.2f}"


if __name__ == "__main__":
    main()
