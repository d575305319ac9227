"""Pose refinement against calibration errors: how much of the lost quality it wins back.

For each scene (the demo filmed by the jittered ring and by the real DANNCE rig, and any scene
folder given), cameras 1..C-1 are perturbed by a sweep of calibration errors: each turned by
ROT degrees about a random axis through its centre, and its centre moved by --translation
(a fraction of its distance to the subject) in a random direction; camera 0 stays exact. The
directions come from each of --perturb-seeds (draws), the same at every magnitude: one draw
can be kind (the first draw of the defaults is won back at 89-94%, the second at 26-71%), so
judge a change on several. Each perturbed scene goes
through the pipeline's prepare stage (normalized from its own, wrong cameras, as a user's
scene would be) and is fitted with the given cameras fixed and with pose refinement.

Scores (when the scene ships ``gt/orbit``): masked PSNR on the 32 ground-truth orbit views,
which no fit sees. The ground-truth cameras go through the scene's normalization. A refined
fit lives in the frame its cameras define: the gauge view (0, exact) pins rotation and
translation, but not scale, which the fit may drift freely (moving every other camera along
with the subject leaves the images the same). So the ground-truth cameras are mapped into the
fit's frame by the one scale about camera 0's centre that best matches the refined centres to
the true ones (printed; 1 = no drift). Fits with fixed cameras need nothing.

Keypoints: the demo scenes carry the toy mouse's exact 2D keypoints; every fit here sees them
with --keypoint-noise pixels of Gaussian noise added to x and y in every view (seeded by
--keypoint-seed and the draw; default 3 px, what the real DANNCE labels suggest, see
bench/RESULTS.md), and a refined fit first aligns the cameras to them (``fit.pose_keypoints``
turned on here; it is off by default).
--no-keypoints drops them (the photometric refinement alone); --photometric-too adds a refined
fit without them to every row. The "keypoints" column: the alignment alone (recomputed here,
as the fit does): applied or not, its median reprojection error before -> after (px), and
the mean rotation error of cameras 1..C-1 it leaves (deg).

"won back" = (refined - perturbed) / (exact - perturbed), with "exact" the fit from the true
cameras without refinement. Pose errors are gauge-free (``relative_pose_errors``): each
camera's rotation relative to camera 0 (degrees), and its centre in camera 0's frame after
the best scale (percent of its distance to camera 0); mean over cameras 1..C-1, before
(the perturbed input) -> after (refined).

    python bench/pose.py                                  # ring + dannce, 0.3 0.5 1.0 deg, 2 draws
    python bench/pose.py --rigs dannce --errors 1.0 --size 256 --iterations 500   # explore
    python bench/pose.py --rigs --scene path/to/scene     # any scene folder
    python bench/pose.py --refine-set pose_warmup=0       # a refinement variant
    python bench/pose.py --rigs ring dannce --errors --exact-seeds 0 1 2   # cost on exact cams
    python bench/pose.py --no-keypoints                   # photometric refinement only
    python bench/pose.py --errors 0.5 1.0 --track-frames 100   # rig refinement from tracks

Rig refinement from keypoint tracks (--track-frames F): what ``splatsynth ingest`` does with a
recording's tracks (``--rig.refine keypoints``, its default). The toy mouse walks a lap of F
frames round the scene's subject (the demo recording's walk: radius 1.45 for the dannce rig,
0.6 for the ring, whose cameras stand 0.42 times as far); its 9 keypoints are projected by the
TRUE cameras into full frames (the dannce rig's real 1152 x 1024 frames; the ring's 512 px
views padded by half their size each side, same focal length), kept where the demo's visibility rule
sees them, and given --keypoint-noise px of noise. The perturbed rig is refined from them
(``splatsynth.ingest.rig.refine_cameras`` at the ingest's defaults) and the scene is fitted
from the refined cameras with the default fit (no refinement), and with ``fit.optimize_pose``
on top (the photometric stage, no keypoints). Columns: the perturbed fit, both, their won
back, the refinement (applied, median reprojection px before -> after) and the rotation and
centre errors it leaves.
"""


from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from splatsynth.cameras import Camera, cameras_to_json
from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene
from splatsynth.fileio import atomic_write_json
from splatsynth.fit import FitResult, render_cameras
from splatsynth.fit.fit import align_scene_keypoints
from splatsynth.optim.pose import perturb_cameras, relative_pose_errors
from splatsynth.pipeline import (
    GT_ORBIT_DIR,
    GroundTruth,
    Prepared,
    load_ground_truth,
    prepare,
    reconstruct,
    score_renders,
)
from splatsynth.scene_io.normalize import Similarity

CAMERAS_FILE = "cameras.json"
KEYPOINTS_FILE = "keypoints.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rigs", nargs="*", default=["ring", "dannce"],
                    help="demo rigs to film the toy mouse with (ring, dannce)")
    ap.add_argument("--scene", type=Path, nargs="*", default=[],
                    help="scene folders to perturb as well (scored on gt/orbit when present)")
    ap.add_argument("--size", type=int, default=512, help="demo image size")
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--errors", type=float, nargs="*", default=[0.3, 0.5, 1.0],
                    help="rotation errors, degrees")
    ap.add_argument("--translation", type=float, default=0.005,
                    help="centre error, fraction of the camera's distance to the subject")
    ap.add_argument("--perturb-seeds", type=int, nargs="+", default=[0, 1],
                    help="draws of the errors' directions")
    ap.add_argument("--seed", type=int, default=0, help="fit seed")
    ap.add_argument("--exact-seeds", type=int, nargs="*", default=[0],
                    help="fit seeds of the exact-camera fits with and without refinement")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="fit settings for every fit, e.g. num_gaussians=10000")
    ap.add_argument("--refine-set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="fit settings for the refined fits only")
    ap.add_argument("--keypoint-noise", type=float, default=3.0, metavar="PX",
                    help="Gaussian noise (pixels) added to the keypoints' x and y")
    ap.add_argument("--keypoint-seed", type=int, default=0)
    ap.add_argument("--no-keypoints", action="store_true",
                    help="drop the keypoints: photometric refinement only")
    ap.add_argument("--photometric-too", action="store_true",
                    help="also fit every perturbed scene refined without keypoints")
    ap.add_argument("--track-frames", type=int, default=0, metavar="F",
                    help="refine the rig from F frames of simulated keypoint tracks first "
                         "(what the ingest does), then fit from the refined cameras")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write every row here")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="splatsynth-pose-"))
    run = RunConfig()
    fixed = replace(run.fit, progress=False, seed=args.seed, optimize_pose=False,
                    **_settings(run.fit, args.set))
    if args.iterations:
        fixed = replace(fixed, iterations=args.iterations)
    refined = replace(fixed, optimize_pose=True, pose_keypoints=not args.no_keypoints,
                      **_settings(run.fit, args.refine_set))
    photometric = replace(refined, pose_keypoints=False)
    kp_mode = ("none" if args.no_keypoints else
               f"exact + {args.keypoint_noise:g} px noise (seed {args.keypoint_seed})")
    changed = {k: v for k, v in refined.__dict__.items() if v != run.fit.__dict__[k]
               and k not in ("progress",)}
    print(f"fits: {fixed.iterations} iterations, {fixed.num_gaussians} Gaussians; " + (
        "rig refined from keypoint tracks, then the default fit and + optimize_pose"
        if args.track_frames else f"refined fits differ from the defaults in {changed}"))
    print(f"perturbation: cameras 1..C-1 by ROT degrees and {args.translation:.1%} of their "
          f"distance to the subject, directions from seeds {args.perturb_seeds}; camera 0 "
          f"exact; keypoints: {kp_mode}")

    if args.track_frames:
        for rig in args.rigs:
            _track_rows(rig, _demo(work, rig, args.size), work, run, fixed, args)
        return
    scenes = [(f"{rig} demo", _demo(work, rig, args.size)) for rig in args.rigs]
    scenes += [(p.resolve().name, p) for p in args.scene]
    rows = []
    head = ("| scene | rotation error | draw | perturbed | refined | exact | won back | "
            + ("photometric only | won back | " if args.photometric_too else "")
            + "keypoints: applied, px before -> after, rot err | "
            "rotation err (deg) before -> after | centre err (%) before -> after | "
            "gauge scale | fit s fixed / refined |")
    for name, scene_dir in scenes:
        def with_keypoints(root: Path, cameras: list[Camera], draw: int,
                           scene_dir: Path = scene_dir) -> Path:
            return _perturbed_scene(scene_dir, root, cameras, None if args.no_keypoints else
                                    (args.keypoint_noise, (args.keypoint_seed, draw + 1)))

        true_world = list(prepare(scene_dir, run).scene.cameras)
        exact = prepare(with_keypoints(work / f"{scene_dir.parent.name}_exact", true_world,
                                       -1), run, scene_id=scene_dir.resolve().name)
        gt_dir = scene_dir / GT_ORBIT_DIR
        gt = load_ground_truth(gt_dir) if (gt_dir / "opencv_cameras.json").is_file() else None
        centre = exact.similarity.inverse().apply_points(np.zeros((1, 3)))[0]

        print(f"\n{name}: {scene_dir}, {len(true_world)} views")
        print("| fit from the true cameras | seed | masked PSNR | largest correction (px) | "
              "fit s |")
        print("|---|---|---|---|---|")
        base: dict[int, float] = {}
        for seed in args.exact_seeds:
            for cfg, label in ((fixed, "fixed"), (refined, "refined")):
                fit, secs = _fit(exact, run, replace(cfg, seed=seed))
                psnr = _held_out(fit, exact, gt, true_world, align=cfg.optimize_pose)[0]
                if cfg is fixed:
                    base[seed] = psnr
                moved = max((d["shift_px"] for d in fit.pose_deltas), default=0.0)
                print(f"| {label} | {seed} | {_db(psnr)} | "
                      f"{moved:.2f} | {secs:.1f} |" if fit.pose_deltas else
                      f"| {label} | {seed} | {_db(psnr)} | - | {secs:.1f} |", flush=True)
                rows.append({"scene": name, "rotation_deg": 0.0, "fit": label, "seed": seed,
                             "psnr_masked": psnr, "fit_s": secs,
                             "corrections": fit.pose_deltas, "timings": fit.timings})
        exact_psnr = base.get(args.seed)
        if exact_psnr is None and args.errors:
            fit, _ = _fit(exact, run, fixed)
            exact_psnr = _held_out(fit, exact, gt, true_world)[0]

        if not args.errors:
            continue
        print()
        print(head)
        print("|---" * (head.count("|") - 1) + "|")
        for draw, deg in [(d, e) for d in args.perturb_seeds for e in args.errors]:
            given = perturb_cameras(true_world, range(1, len(true_world)), deg,
                                    args.translation, centre, draw)
            pert_dir = with_keypoints(work / f"{scene_dir.parent.name}_{deg}_d{draw}", given,
                                      draw)
            prep = prepare(pert_dir, run, scene_id=exact.scene_id)
            fit_f, secs_f = _fit(prep, run, fixed)
            fit_r, secs_r = _fit(prep, run, refined)
            p_f = _held_out(fit_f, prep, gt, true_world)[0]
            p_r, scale = _held_out(fit_r, prep, gt, true_world, align=True)
            true_canon = [prep.similarity.camera_to_canonical(c) for c in true_world]
            rot0, ctr0 = relative_pose_errors(prep.canonical.cameras, true_canon, 0)
            rot1, ctr1 = relative_pose_errors(fit_r.cameras, true_canon, 0)
            won = (p_r - p_f) / (exact_psnr - p_f) if gt is not None else float("nan")
            photo = ""
            if args.photometric_too:
                fit_p, _ = _fit(prep, run, photometric)
                p_p = _held_out(fit_p, prep, gt, true_world, align=True)[0]
                photo = f"{_db(p_p)} | {(p_p - p_f) / (exact_psnr - p_f):.0%} | "
            kp = _keypoint_column(prep, fit_r, true_canon)
            print(f"| {name} | {deg:.1f} deg + {args.translation:.1%} | {draw} | {_db(p_f)} | "
                  f"{_db(p_r)} | {_db(exact_psnr)} | {won:.0%} | {photo}{kp} | "
                  f"{rot0[1:].mean():.2f} -> {rot1[1:].mean():.2f} | "
                  f"{100 * ctr0[1:].mean():.2f} -> {100 * ctr1[1:].mean():.2f} | "
                  f"{scale:.4f} | {secs_f:.0f} / {secs_r:.0f} |", flush=True)
            rows.append({"scene": name, "rotation_deg": deg, "draw": draw,
                         "translation": args.translation,
                         "perturbed": p_f, "refined": p_r, "exact": exact_psnr,
                         "won_back": won, "rotation_err_before": rot0.tolist(),
                         "rotation_err_after": rot1.tolist(), "centre_err_before":
                         ctr0.tolist(), "centre_err_after": ctr1.tolist(),
                         "gauge_scale": scale, "fit_s": [secs_f, secs_r],
                         "corrections": fit_r.pose_deltas,
                         "pose_keypoints": fit_r.pose_keypoints})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


def _track_rows(rig: str, scene_dir: Path, work: Path, run: RunConfig, fixed, args) -> None:
    """The --track-frames table of one demo rig (module docstring)."""
    from splatsynth.demo.recording import demo_recording_cameras, walk_poses
    from splatsynth.demo.toy_mouse import TOY_MOUSE_KEYPOINTS, keypoint_visibility
    from splatsynth.ingest.config import RigConfig
    from splatsynth.ingest.rig import refine_cameras

    true_world = list(prepare(scene_dir, run).scene.cameras)
    if rig == "dannce":
        full = demo_recording_cameras()
        assert all(np.allclose(a.w2c, b.w2c, atol=1e-6) for a, b in zip(full, true_world))
        poses = walk_poses(args.track_frames)
    else:
        full = [replace(c, w=2 * c.w, h=2 * c.h, cx=c.cx + c.w // 2, cy=c.cy + c.h // 2)
                for c in true_world]
        poses = walk_poses(args.track_frames, radius=0.6)
    pts = TOY_MOUSE_KEYPOINTS.points
    clean = np.zeros((len(full), len(poses), len(pts), 3))
    for f, pose in enumerate(poses):
        for k, cam in enumerate(full):
            local = cam.with_w2c(cam.w2c @ pose)
            clean[k, f, :, :2] = local.project(pts)[0]
            clean[k, f, :, 2] = keypoint_visibility(local)
    rig_cfg = RigConfig(noise_px=args.keypoint_noise)
    exact = prepare(_perturbed_scene(scene_dir, work / f"{rig}_exact", true_world, None), run,
                    scene_id=scene_dir.resolve().name)
    gt = load_ground_truth(scene_dir / GT_ORBIT_DIR)
    fit, secs = _fit(exact, run, fixed)
    exact_psnr = _held_out(fit, exact, gt, true_world)[0]
    centre = exact.similarity.inverse().apply_points(np.zeros((1, 3)))[0]
    seen = clean[..., 2].mean()
    print(f"\n{rig} demo: {scene_dir}; {len(poses)} frames of tracks, {seen:.0%} of the "
          f"labels seen, {args.keypoint_noise:g} px noise; exact cameras: {_db(exact_psnr)} dB "
          f"({secs:.0f} s)")
    head = ("| rig | rotation error | draw | perturbed | rig refined | won back | "
            "+ optimize_pose | won back | exact | refinement: applied, px before -> after | "
            "rotation err (deg) before -> after | centre err (%) before -> after | "
            "refine s |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for draw, deg in [(d, e) for d in args.perturb_seeds for e in args.errors]:
        given = perturb_cameras(true_world, range(1, len(true_world)), deg, args.translation,
                                centre, draw)
        rng = np.random.default_rng([args.keypoint_seed, draw + 1])
        tracks = clean.copy()
        tracks[..., :2] += rng.normal(0.0, args.keypoint_noise, tracks[..., :2].shape)
        t = time.perf_counter()
        res = refine_cameras([f.with_w2c(g.w2c) for f, g in zip(full, given)], tracks, rig_cfg)
        t_ref = time.perf_counter() - t
        refined = [g.with_w2c(r.w2c) for g, r in zip(given, res.cameras)]
        rot0, ctr0 = relative_pose_errors(given, true_world, 0)
        rot1, ctr1 = relative_pose_errors(refined, true_world, 0)
        root = work / f"{rig}_{deg}_d{draw}"
        prep_p = prepare(_perturbed_scene(scene_dir, root / "given", given, None), run,
                         scene_id=exact.scene_id)
        prep_r = prepare(_perturbed_scene(scene_dir, root / "refined", refined, None), run,
                         scene_id=exact.scene_id)
        p_f = _held_out(_fit(prep_p, run, fixed)[0], prep_p, gt, true_world)[0]
        p_r = _held_out(_fit(prep_r, run, fixed)[0], prep_r, gt, true_world)[0]
        fit_o = _fit(prep_r, run, replace(fixed, optimize_pose=True))[0]
        p_o = _held_out(fit_o, prep_r, gt, true_world, align=True)[0]

        def won(p: float, p_f: float = p_f) -> str:
            return f"{(p - p_f) / (exact_psnr - p_f):.0%}"

        print(f"| {rig} | {deg:.1f} deg + {args.translation:.1%} | {draw} | {_db(p_f)} | "
              f"{_db(p_r)} | {won(p_r)} | {_db(p_o)} | {won(p_o)} | {_db(exact_psnr)} | "
              f"{'yes' if res.applied else 'no: ' + res.reason[:40]}, "
              f"{res.residual_before[0]:.1f} -> {res.residual_after[0]:.1f} | "
              f"{rot0[1:].mean():.2f} -> {rot1[1:].mean():.2f} | "
              f"{100 * ctr0[1:].mean():.2f} -> {100 * ctr1[1:].mean():.2f} | {t_ref:.1f} |",
              flush=True)


def _settings(cfg, pairs: list[str]) -> dict:
    out = {}
    for kv in pairs:
        k, v = kv.split("=", 1)
        cur = getattr(cfg, k)
        out[k] = (v.lower() in ("1", "true", "yes")) if isinstance(cur, bool) else \
            type(cur)(eval(v))  # noqa: S307 - the benchmark's own flags
    return out


def _demo(work: Path, rig: str, size: int) -> Path:
    root = work / f"{rig}{size}"
    scene_dir = root / "toy_mouse"
    if not (scene_dir / CAMERAS_FILE).is_file():
        scene_dir = make_demo_scene(root, size=size, rig=rig)
    return scene_dir


def _perturbed_scene(scene_dir: Path, root: Path, cameras: list[Camera],
                     keypoints: tuple[float, tuple[int, int]] | None) -> Path:
    """A copy of ``scene_dir`` (hard links where possible; scenes refuse symlinks) with
    ``cameras``, without its ground truth, and with its keypoints given ``keypoints`` =
    (noise px, seed) of noise (none when None)."""
    out = root / scene_dir.name
    if out.exists():
        shutil.rmtree(out)
    root.mkdir(parents=True, exist_ok=True)

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(scene_dir, out, copy_function=link,
                    ignore=lambda d, names: [n for n in names
                                             if n in (CAMERAS_FILE, KEYPOINTS_FILE, "gt")])
    if keypoints is not None and (scene_dir / KEYPOINTS_FILE).is_file():
        noise, seed = keypoints
        kdoc = json.loads((scene_dir / KEYPOINTS_FILE).read_text())
        rng = np.random.default_rng(list(seed))
        for fp in sorted(kdoc["views"]):
            kp = np.asarray(kdoc["views"][fp], np.float64)
            kp[:, :2] += rng.normal(0.0, noise, (len(kp), 2))
            kdoc["views"][fp] = kp.tolist()
        atomic_write_json(out / KEYPOINTS_FILE, kdoc, indent=1)
    doc = json.loads((scene_dir / CAMERAS_FILE).read_text())
    new = cameras_to_json(cameras, doc.get("id"))
    for f, c in zip(doc["frames"], new["frames"]):
        f["w2c"] = c["w2c"]  # everything else (distortion, names) as it was
    (out / CAMERAS_FILE).write_text(json.dumps(doc, indent=1))
    return out


def _keypoint_column(prep: Prepared, fit: FitResult, true_canon: list[Camera]) -> str:
    """The keypoint alignment on its own (as the refined fit ran it): applied or not, its
    median reprojection error before -> after (px), the rotation error it leaves (deg)."""
    if fit.pose_keypoints is None:
        return "-"
    a = align_scene_keypoints(prep.canonical, fit.train_views, fit.config.pose_keypoint_px)
    rot = relative_pose_errors(a.cameras, true_canon, 0)[0]
    return (f"{'yes' if a.applied else 'no'}, {a.residual_before[0]:.1f} -> "
            f"{a.residual_after[0]:.1f}, {rot[1:].mean():.2f}")


def _fit(prep: Prepared, run: RunConfig, cfg) -> tuple[FitResult, float]:
    t = time.perf_counter()
    recon = reconstruct(prep, replace(run, fit=cfg))
    return recon.fit, time.perf_counter() - t


def _held_out(fit: FitResult, prep: Prepared, gt: GroundTruth | None, true_world: list[Camera],
              align: bool = False) -> tuple[float, float]:
    """(masked PSNR on the ground-truth views, the gauge scale used; 1 without ``align``)."""
    if gt is None:
        return float("nan"), 1.0
    cams = [prep.similarity.camera_to_canonical(c) for c in gt.cameras]
    scale = 1.0
    if align:
        true = [prep.similarity.camera_to_canonical(c) for c in true_world]
        c0 = fit.cameras[0].center
        est = np.stack([c.center - c0 for c in fit.cameras])
        ref = np.stack([c.center - true[0].center for c in true])
        scale = float((est * ref).sum() / (est * est).sum())
        # true canonical = c0 + scale * (fit frame - c0)
        into_fit = Similarity(scale, np.eye(3), (1 - scale) * c0).inverse()
        cams = [into_fit.camera_to_canonical(c) for c in cams]
    cfg = fit.config
    r = render_cameras(fit.gaussians, cams, background=cfg.background, method=cfg.method)
    return score_renders(r, gt, cfg.background).mean.psnr_masked, scale


def _db(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.2f}"


if __name__ == "__main__":
    main()
