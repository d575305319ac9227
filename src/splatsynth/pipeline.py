"""``run_scene``: normalize -> fit -> render orbit -> write -> report.

The one path that ``splatsynth run``, ``demo`` and ``batch`` share.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .cameras import Camera, mvdiffusion_cameras
from .config import RunConfig, config_to_dict
from .errors import SplatsynthError
from .fileio import AlreadyFinished as SceneAlreadyFinished
from .fileio import atomic_write_bytes, atomic_write_json
from .fit import FitResult, Renders, fit_scene, render_cameras
from .gaussians import Gaussians, read_ply, write_ply
from .metrics import score_view
from .scene_io import load_scene
from .scene_io.normalize import Similarity, canonical_frame, normalize_scene
from .scene_io.scene import Scene
from .writers import (
    is_scene_finished,
    project_keypoints,
    scene_dir_transaction,
    update_lists,
    write_gslrm_views,
    write_heatmaps_npz,
    write_keypoints_json,
    write_mvdiffusion_views,
)

#: Where a scene folder may ship ground-truth novel views (the demo and benchmark scenes do).
GT_ORBIT_DIR = Path("gt") / "orbit"


@dataclass
class SceneOutcome:
    """What happened to one scene."""

    scene_id: str
    status: str  # "done" | "skipped"
    scene_dir: Path
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    contact_sheet: Path | None = None


@dataclass
class GroundTruth:
    """Reference views in the input world frame: cameras, straight RGB and masks."""

    cameras: list[Camera]
    rgb: np.ndarray  # [C, H, W, 3]
    mask: np.ndarray | None  # [C, H, W]


def load_ground_truth(gt_dir: Path) -> GroundTruth:
    """Read a ground-truth folder: ``opencv_cameras.json`` (or ``cameras.json``) + images."""
    from .scene_io.images import read_image

    gt_dir = Path(gt_dir)
    cams_file = next((gt_dir / n for n in ("opencv_cameras.json", "cameras.json")
                      if (gt_dir / n).is_file()), None)
    if cams_file is None:
        raise SplatsynthError(f"{gt_dir}: no opencv_cameras.json or cameras.json")
    cams = read_cameras_json(cams_file)
    rgbs, masks = [], []
    for c in cams:
        if not c.file_path:
            raise SplatsynthError(f"{cams_file}: a frame has no file_path")
        rgb, alpha = read_image(gt_dir / c.file_path)
        if rgb.shape[:2] != (c.h, c.w):
            raise SplatsynthError(f"{gt_dir / c.file_path}: image is {rgb.shape[1]}x"
                                  f"{rgb.shape[0]} but its camera says {c.w}x{c.h}")
        rgbs.append(rgb)
        masks.append(alpha)
    has_mask = all(m is not None for m in masks)
    return GroundTruth(cams, np.stack(rgbs), np.stack(masks) if has_mask else None)


def read_cameras_json(path: Path) -> list[Camera]:
    """Cameras of an ``opencv_cameras.json`` / ``cameras.json`` file, with clear errors."""
    try:
        doc = json.loads(Path(path).read_text())
        return [Camera.from_frame(f) for f in doc["frames"]]
    except FileNotFoundError as e:
        raise SplatsynthError(f"{path}: file not found") from e
    except json.JSONDecodeError as e:
        raise SplatsynthError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}") from e
    except (KeyError, TypeError, ValueError) as e:
        raise SplatsynthError(f"{path}: not a cameras file with frames of w, h, fx, fy, cx, cy, "
                              f"w2c ({e!r})") from e


def score_renders(renders: Renders, gt: GroundTruth, background) -> dict:
    """Per-view and mean scores of renders against ground truth."""
    rows = []
    for k, cam in enumerate(gt.cameras):
        s = score_view(renders.rgb[k], renders.alpha[k], gt.rgb[k],
                       None if gt.mask is None else gt.mask[k], background)
        rows.append({"view": cam.file_path, **s.as_dict()})
    mean = {}
    for key in ("psnr", "psnr_masked", "ssim", "iou"):
        vals = [r[key] for r in rows if r[key] == r[key]]
        mean[key] = float(np.mean(vals)) if vals else float("nan")
    return {"mean": mean, "per_view": rows}


def _composite(rgb: np.ndarray, mask: np.ndarray | None, bg) -> np.ndarray:
    if mask is None:
        return rgb
    return rgb * mask[..., None] + np.asarray(bg, np.float32) * (1 - mask[..., None])


def _keypoints_3d(scene: Scene, cameras: list[Camera]) -> np.ndarray | None:
    """[K, 3] keypoints triangulated from the views (canonical frame), or None."""
    if not scene.has_keypoints:
        return None
    from .cameras.triangulation import triangulate_keypoints

    k = len(scene.keypoint_names)
    kp = np.stack([v.keypoints if v.keypoints is not None else np.full((k, 3), np.nan)
                   for v in scene.views])
    pts, _ = triangulate_keypoints(cameras, kp)
    return pts


def run_scene(scene_path: str | Path, out_root: str | Path, cfg: RunConfig | None = None, *,
              scene_id: str | None = None, force: bool = False, update_list: bool = True,
              check_fit: Callable[[FitResult], None] | None = None) -> SceneOutcome:
    """Fit one scene folder and write ``out_root/<scene_id>/`` (SPEC section 4), atomically.

    Args:
        scene_path: the input scene folder.
        out_root: the dataset root (list files are refreshed there).
        cfg: the run configuration (defaults when None).
        scene_id: the output folder name (default: the input folder's name).
        force: redo a finished scene (otherwise it is skipped).
        update_list: refresh OUT's train/val lists after writing (``batch`` turns this off and
            rebuilds them itself, with its quality gate).
        check_fit: called with the main fit's result before anything is written; raising there
            aborts the scene with nothing written (``batch`` checks for exploding Gaussians).
    Returns:
        :class:`SceneOutcome` with the metrics and timings.
    Raises:
        SceneError / SplatsynthError: the scene is invalid or the fit failed.
    """
    cfg = cfg or RunConfig()
    t0 = time.perf_counter()
    scene_path, out_root = Path(scene_path), Path(out_root)
    sid = scene_id or scene_path.resolve().name
    if not force and is_scene_finished(out_root, sid):
        return SceneOutcome(sid, "skipped", out_root / sid)
    timings: dict[str, float] = {}
    if cfg.output.mesh:
        from .writers.mesh import require_mesh_support

        require_mesh_support()  # fail before the fit, not after it
    scene = load_scene(scene_path, scene_id=sid)
    timings["load"] = time.perf_counter() - t0

    t = time.perf_counter()
    sim = canonical_frame(scene, cfg.normalize)
    scene_n = normalize_scene(scene, sim)
    timings["normalize"] = time.perf_counter() - t

    result: FitResult = fit_scene(scene_n, cfg.fit)
    if check_fit is not None:
        check_fit(result)
    timings["fit"] = result.timings["total"]
    metrics: dict = {"train": result.metrics["train"],
                     "train_per_view": result.metrics["per_view"]}

    if cfg.output.holdout and len(scene_n.views) >= 3:
        held = len(scene_n.views) // 2
        t = time.perf_counter()
        ho = fit_scene(scene_n, replace(cfg.fit, holdout_view=held, progress=False))
        metrics["holdout"] = ho.metrics["holdout"]
        metrics["holdout"]["protocol"] = "leave-one-view-out"
        timings["holdout_fit"] = time.perf_counter() - t

    bg = cfg.fit.background
    g = result.gaussians
    t = time.perf_counter()
    orbit = cfg.orbit.cameras()
    need_depth = cfg.output.depth or scene.has_keypoints or cfg.output.mesh
    method = cfg.fit.method
    want_normals = cfg.output.normals and method == "2dgs"
    orbit_r = render_cameras(g, orbit, background=bg, with_depth=need_depth,
                             with_normals=want_normals, backend=cfg.fit.backend, method=method)
    input_r = render_cameras(g, result.cameras, background=bg, backend=cfg.fit.backend,
                             method=method)
    timings["render"] = time.perf_counter() - t

    gt_dir = scene_path / GT_ORBIT_DIR
    gt = gt_r = None
    if (gt_dir / "opencv_cameras.json").is_file():
        t = time.perf_counter()
        gt = load_ground_truth(gt_dir)
        gt_r = render_cameras(g, [sim.camera_to_canonical(c) for c in gt.cameras],
                              background=bg, backend=cfg.fit.backend, method=method)
        metrics["ground_truth"] = score_renders(gt_r, gt, bg)
        timings["ground_truth_eval"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        with scene_dir_transaction(out_root, sid, force=force) as tmp:
            outputs = write_gslrm_views(tmp, sid, orbit, orbit_r.straight_rgb(bg), orbit_r.alpha,
                                        depth=orbit_r.depth if cfg.output.depth else None,
                                        write_alpha_maps=cfg.output.alpha)
            write_ply(tmp / "gaussians.ply", g)
            outputs["gaussians"] = "gaussians.ply"
            pts = _keypoints_3d(scene_n, result.cameras)
            if pts is not None:
                kp2d = project_keypoints(pts, orbit, orbit_r.depth)
                write_keypoints_json(tmp, scene.keypoint_names,
                                     {f"images/cam_{i:03d}.png": kp2d[i]
                                      for i in range(len(orbit))})
                outputs["keypoints"] = "keypoints_2d.json"
                if cfg.output.heatmaps:
                    write_heatmaps_npz(tmp, kp2d, (cfg.orbit.size, cfg.orbit.size),
                                       sigma=cfg.output.heatmap_sigma)
                    outputs["heatmaps"] = "keypoints_heatmaps.npz"
            if want_normals:
                outputs["normals"] = _write_normal_maps(tmp, orbit_r.normals, orbit_r.alpha)
            if cfg.output.mesh:
                from .writers.mesh import write_tsdf_mesh

                outputs["mesh"] = write_tsdf_mesh(tmp / "mesh.ply", orbit, orbit_r.depth,
                                                  orbit_r.alpha, orbit_r.straight_rgb(bg))
            if cfg.output.contact_sheet:
                outputs["contact_sheet"] = _write_contact_sheet(
                    tmp, scene_n, input_r, orbit_r, gt, gt_r, bg)
            if cfg.output.turntable:
                from .report.turntable import write_turntable

                frames = orbit_r.rgb
                outputs["turntable"] = write_turntable(tmp / "turntable", frames).name
            if cfg.output.mvdiffusion:
                # Written before the scene folder commits: a finished scene always has its
                # MVDiffusion views; a scene that fails later leaves a folder the redo replaces.
                mv = mvdiffusion_cameras(cfg.orbit.distance, cfg.orbit.size, cfg.orbit.focal)
                mv_r = render_cameras(g, mv, background=bg, backend=cfg.fit.backend,
                                      method=method)
                write_mvdiffusion_views(out_root, sid, mv_r.straight_rgb(bg), mv_r.alpha,
                                        cameras=mv)
                outputs["mvdiffusion"] = f"../mvdiffusion/{sid}"
            timings["write"] = time.perf_counter() - t
            timings["total"] = time.perf_counter() - t0
            _write_scene_report(tmp, sid, scene_path, scene, cfg, sim, result, metrics,
                                timings, outputs)
    except SceneAlreadyFinished:
        return SceneOutcome(sid, "skipped", out_root / sid)

    if update_list:
        update_lists(out_root, val_ratio=cfg.output.val_ratio)
    sheet = out_root / sid / "contact_sheet.png"
    return SceneOutcome(sid, "done", out_root / sid, metrics, timings,
                        sheet if sheet.is_file() else None)


def _write_normal_maps(scene_dir: Path, normals: np.ndarray, alpha: np.ndarray) -> list[str]:
    """normals/cam_XXX.png: world-frame unit normals as RGB = (n + 1) / 2, alpha = opacity."""
    from .fileio import png_bytes, rgba_uint8

    paths = []
    for i, (n, a) in enumerate(zip(normals, alpha)):
        rel = f"normals/cam_{i:03d}.png"
        atomic_write_bytes(scene_dir / rel, png_bytes(rgba_uint8((n + 1.0) / 2.0, a)))
        paths.append(rel)
    return paths


def _write_contact_sheet(scene_dir: Path, scene: Scene, input_r: Renders, orbit_r: Renders,
                         gt: GroundTruth | None, gt_r: Renders | None, bg) -> str:
    from .report.contact_sheet import contact_sheet, save_png

    inputs = [_composite(v.image, v.mask, bg) for v in scene.views]
    rows = [("inputs", inputs), ("input re-renders", list(input_r.rgb))]
    step = max(1, len(orbit_r.rgb) // 8)
    rows.append(("orbit", list(orbit_r.rgb[::step])))
    if gt is not None and gt_r is not None:
        gstep = max(1, len(gt.cameras) // 8)
        gts = [_composite(gt.rgb[k], None if gt.mask is None else gt.mask[k], bg)
               for k in range(0, len(gt.cameras), gstep)]
        rows.append(("ground truth", gts))
        rows.append(("render at GT cameras", list(gt_r.rgb[::gstep])))
    save_png(scene_dir / "contact_sheet.png", contact_sheet(rows))
    return "contact_sheet.png"


def _write_scene_report(scene_dir: Path, sid: str, scene_path: Path, scene: Scene,
                        cfg: RunConfig, sim: Similarity, result: FitResult, metrics: dict,
                        timings: dict, outputs: dict) -> None:
    from .report.schema import build_report, write_report

    refined = [replace(sim.camera_from_canonical(c), file_path=v.name)
               for c, v in zip(result.cameras, scene.views)]
    deltas = [{"file_path": v.name, **d} for v, d in zip(scene.views, result.pose_deltas)]
    report = build_report(
        sid, metrics=metrics, timings=timings, config=config_to_dict(cfg),
        normalization=sim.to_dict(), refined_cameras=refined if cfg.fit.optimize_pose else [],
        pose_deltas=deltas,
        scene_input={"path": str(scene_path.resolve()), "views": len(scene.views),
                     "has_masks": scene.has_masks, "has_keypoints": scene.has_keypoints,
                     "fit_timings": result.timings, "history": result.history[-1:],
                     "host": platform.node()},
        outputs=outputs)
    write_report(scene_dir, report)


def print_outcome(o: SceneOutcome) -> None:
    """Print where a scene's outputs went and its headline metrics."""
    if o.status == "skipped":
        print(f"{o.scene_id}: already finished at {o.scene_dir} (use --force to redo)")
        return
    print(f"{o.scene_id}: dataset written to {o.scene_dir}")
    tr = o.metrics.get("train", {})
    print(f"  input views   PSNR {tr.get('psnr', float('nan')):.2f} dB, masked "
          f"{tr.get('psnr_masked', float('nan')):.2f} dB, SSIM {tr.get('ssim', float('nan')):.3f}"
          f", IoU {tr.get('iou', float('nan')):.3f}")
    if "holdout" in o.metrics:
        h = o.metrics["holdout"]
        print(f"  held-out view PSNR masked {h['psnr_masked']:.2f} dB, IoU {h['iou']:.3f} "
              f"({h['view']})")
    if "ground_truth" in o.metrics:
        m = o.metrics["ground_truth"]["mean"]
        print(f"  ground truth  PSNR {m['psnr']:.2f} dB, masked {m['psnr_masked']:.2f} dB, "
              f"SSIM {m['ssim']:.3f}, IoU {m['iou']:.3f} "
              f"({len(o.metrics['ground_truth']['per_view'])} novel views)")
    print(f"  time {o.timings.get('total', float('nan')):.1f} s (fit "
          f"{o.timings.get('fit', float('nan')):.1f} s)")
    if o.contact_sheet:
        print(f"  contact sheet {o.contact_sheet}")
    print(f"  report        {o.scene_dir / 'report.json'}")


# --- fitted scenes: render and eval ----------------------------------------------------------
def load_fitted(scene_dir: str | Path) -> tuple[Gaussians, Similarity, dict]:
    """The Gaussians, normalization and report of a finished scene folder."""
    from .report.schema import read_report

    scene_dir = Path(scene_dir)
    if not (scene_dir / "report.json").is_file():
        raise SplatsynthError(f"{scene_dir}: not a finished scene folder (no report.json)")
    if not (scene_dir / "gaussians.ply").is_file():
        raise SplatsynthError(f"{scene_dir}: no gaussians.ply")
    report = read_report(scene_dir)
    try:
        sim = Similarity.from_dict(report["normalization"])
    except (KeyError, TypeError, ValueError) as e:
        raise SplatsynthError(f"{scene_dir / 'report.json'}: no usable normalization ({e})") from e
    return read_ply(scene_dir / "gaussians.ply"), sim, report


def _method_of(report: dict) -> str:
    return str(report.get("config", {}).get("fit", {}).get("method", "3dgs"))


def _background_of(report: dict) -> tuple[float, float, float]:
    bg = report.get("config", {}).get("fit", {}).get("background", (1.0, 1.0, 1.0))
    return tuple(float(x) for x in bg)  # type: ignore[return-value]


def render_fitted(scene_dir: str | Path, cameras_json: str | Path, out_dir: str | Path, *,
                  depth: bool = False) -> int:
    """Render a fitted scene at cameras given in the input world frame; returns the count.

    Writes ``out_dir/images/cam_XXX.png`` (RGBA) and ``out_dir/opencv_cameras.json`` holding the
    given cameras (input world frame), so the folder can serve as a ground-truth-style folder.
    """
    g, sim, report = load_fitted(scene_dir)
    cams = read_cameras_json(Path(cameras_json))
    bg = _background_of(report)
    r = render_cameras(g, [sim.camera_to_canonical(c) for c in cams], background=bg,
                       with_depth=depth, method=_method_of(report))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The cameras written beside the images are the given ones (input frame): the contract.
    write_gslrm_views(out_dir, Path(scene_dir).name, cams, r.straight_rgb(bg), r.alpha,
                      depth=r.depth if depth else None, depth_format="npy")
    return len(cams)


def evaluate_fitted(scene_dir: str | Path, gt_dir: str | Path, out: str | Path | None = None
                    ) -> tuple[dict, Path]:
    """Score a fitted scene against a ground-truth folder (input world frame)."""
    g, sim, report = load_fitted(scene_dir)
    gt = load_ground_truth(Path(gt_dir))
    bg = _background_of(report)
    r = render_cameras(g, [sim.camera_to_canonical(c) for c in gt.cameras], background=bg,
                       method=_method_of(report))
    scores = score_renders(r, gt, bg)
    scores["gt"] = str(Path(gt_dir).resolve())
    path = Path(out) if out else Path(scene_dir) / f"eval_{Path(gt_dir).resolve().name}.json"
    atomic_write_json(path, scores)
    return scores, path


def format_scores(scores: dict) -> str:
    """A small table of per-view and mean scores."""
    lines = [f"{'view':<28} {'PSNR':>7} {'masked':>7} {'SSIM':>6} {'IoU':>6}"]
    for r in scores["per_view"]:
        lines.append(f"{str(r['view'])[:28]:<28} {r['psnr']:7.2f} {r['psnr_masked']:7.2f} "
                     f"{r['ssim']:6.3f} {r['iou']:6.3f}")
    m = scores["mean"]
    lines.append(f"{'mean':<28} {m['psnr']:7.2f} {m['psnr_masked']:7.2f} {m['ssim']:6.3f} "
                 f"{m['iou']:6.3f}")
    return "\n".join(lines)


def run_demo(out: str | Path, cfg: RunConfig | None = None, *, force: bool = False
             ) -> SceneOutcome:
    """Make the demo scene under ``out/scene/toy_mouse``, validate it, run it into
    ``out/dataset``."""
    from .demo import make_demo_scene
    from .demo.scene import DEMO_SCENE_ID
    from .scene_io import check_scene

    out = Path(out)
    t = time.perf_counter()
    scene_dir = out / "scene" / DEMO_SCENE_ID
    if not (scene_dir / "cameras.json").is_file():
        scene_dir = make_demo_scene(out / "scene")
    problems = check_scene(scene_dir)
    if problems:
        raise SplatsynthError("the demo scene failed validation:\n" +
                              "\n".join(f"  - {p}" for p in problems))
    print(f"demo scene: {scene_dir} ({time.perf_counter() - t:.1f} s)")
    outcome = run_scene(scene_dir, out / "dataset", cfg, force=force)
    print_outcome(outcome)
    return outcome
