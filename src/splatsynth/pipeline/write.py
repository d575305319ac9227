"""Stage 5, write: one writer per output, all inside one atomic scene commit, report last.

``OUT/<scene_id>/`` and, with ``output.mvdiffusion``, ``OUT/mvdiffusion/<scene_id>/`` are
built in hidden temporary folders and committed together by :func:`scene_commit`: the
MVDiffusion folder is moved into place first and put back as it was if the scene folder
cannot follow, so a finished scene always has its MVDiffusion views and a failed one leaves
none behind.

Each writer is ``(tmp_scene_dir, products) -> manifest entry``; :data:`WRITERS` lists them
with the condition under which each runs. A new output is one function and one row there.
"""

from __future__ import annotations

import contextlib
import platform
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RunConfig, config_to_dict
from ..fileio import (
    OLD_PREFIX,
    discard_temp_directory,
    new_temp_directory,
    rgba_uint8,
    swap_directory,
    write_pngs,
)
from ..gaussians import write_ply
from ..writers import (
    project_keypoints,
    scene_dir_transaction,
    write_gslrm_views,
    write_heatmaps_npz,
    write_keypoints_json,
)
from ..writers.mvdiffusion import mvdiffusion_scene_dir, write_mvdiffusion_views
from .check import FitCheck
from .evaluate import Evaluation
from .prepare import Prepared
from .reconstruct import Reconstruction
from .render import Rendered


@dataclass(frozen=True)
class SceneProducts:
    """Everything the writers may draw on.

    Attributes:
        check: the post-fit check's numbers (``report.json`` ``check``).
        retry: ``{"setting": {...}, "first_error": ...}`` when the first fit failed and the
            scene was fitted again with a safer setting (``report.json`` ``retry``).
    """

    prepared: Prepared
    recon: Reconstruction
    rendered: Rendered
    evaluation: Evaluation
    cfg: RunConfig
    check: FitCheck | None = None
    retry: dict[str, Any] | None = field(default=None)

    @property
    def background(self) -> tuple[float, float, float]:
        return self.cfg.fit.background


# --- the scene commit ----------------------------------------------------------------------


@dataclass
class SceneFolders:
    """The temporary folders of one scene commit.

    Attributes:
        scene: becomes ``OUT/<scene_id>/``.
        mvdiffusion: becomes ``OUT/mvdiffusion/<scene_id>/`` (created on first use).
    """

    scene: Path
    mvdiffusion_final: Path
    _mv: Path | None = None

    @property
    def mvdiffusion(self) -> Path:
        if self._mv is None:
            self._mv = new_temp_directory(self.mvdiffusion_final)
        return self._mv


@contextlib.contextmanager
def scene_commit(out_root: Path, scene_id: str, *, force: bool = False
                 ) -> Iterator[SceneFolders]:
    """Fill a scene's folders; commit them together when the block succeeds.

    Raises:
        AlreadyFinished: the scene is finished and ``force`` is off (nothing is changed).
    """
    mv_final = mvdiffusion_scene_dir(out_root, scene_id)
    folders: SceneFolders | None = None
    moved = False
    old: Path | None = None
    try:
        with scene_dir_transaction(out_root, scene_id, force=force) as tmp:
            folders = SceneFolders(tmp, mv_final)
            yield folders
            if folders._mv is not None:
                # The last step before the scene folder's own rename; should that fail, the
                # MVDiffusion folder that was there before is put back.
                if mv_final.exists():
                    old = mv_final.parent / f"{OLD_PREFIX}{mv_final.name}-" \
                                            f"{secrets.token_hex(4)}"
                    mv_final.rename(old)
                swap_directory(folders._mv, mv_final)
                moved = True
    except BaseException:
        if moved:
            shutil.rmtree(mv_final, ignore_errors=True)
        elif folders is not None and folders._mv is not None:
            discard_temp_directory(folders._mv)
        if old is not None:
            old.rename(mv_final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- writers -------------------------------------------------------------------------------

Writer = Callable[[SceneFolders, SceneProducts], Any]


def write_views(f: SceneFolders, p: SceneProducts) -> dict[str, Any]:
    """``images/``, ``opencv_cameras.json`` (and ``depth/``, ``alpha/`` when asked for)."""
    r, out = p.rendered, p.cfg.output
    return write_gslrm_views(f.scene, p.prepared.scene_id, r.orbit_cameras,
                             r.orbit.straight_rgb(p.background), r.orbit.alpha,
                             depth=r.orbit.depth if out.depth else None,
                             write_alpha_maps=out.alpha)


def write_gaussians(f: SceneFolders, p: SceneProducts) -> str:
    """``gaussians.ply`` (canonical frame, standard 3DGS layout)."""
    write_ply(f.scene / "gaussians.ply", p.recon.fit.gaussians)
    return "gaussians.ply"


def write_keypoints(f: SceneFolders, p: SceneProducts) -> str:
    """``keypoints_2d.json``: the triangulated keypoints projected into every orbit view."""
    kp2d = _orbit_keypoints(p)
    r = p.rendered
    write_keypoints_json(f.scene, p.prepared.scene.keypoint_names,
                         {f"images/cam_{i:03d}.png": kp2d[i]
                          for i in range(len(r.orbit_cameras))})
    return "keypoints_2d.json"


def write_heatmaps(f: SceneFolders, p: SceneProducts) -> str:
    """``keypoints_heatmaps.npz``: a 2-D Gaussian per keypoint and orbit view."""
    size = p.cfg.orbit.size
    write_heatmaps_npz(f.scene, _orbit_keypoints(p), (size, size),
                       sigma=p.cfg.output.heatmap_sigma)
    return "keypoints_heatmaps.npz"


def write_normals(f: SceneFolders, p: SceneProducts) -> list[str]:
    """``normals/cam_XXX.png``: world-frame unit normals as RGB = (n + 1) / 2, alpha =
    opacity."""
    r = p.rendered.orbit
    paths = [f"normals/cam_{i:03d}.png" for i in range(len(r.alpha))]
    write_pngs([(f.scene / rel, partial(_normal_rgba, n, a))
                for rel, n, a in zip(paths, r.normals, r.alpha)])
    return paths


def _normal_rgba(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    return rgba_uint8((n + 1.0) / 2.0, a)


def write_mesh(f: SceneFolders, p: SceneProducts) -> Any:
    """``mesh.ply``: the orbit's depth fused into a TSDF and meshed."""
    from ..writers.mesh import write_tsdf_mesh

    r = p.rendered
    return write_tsdf_mesh(f.scene / "mesh.ply", r.orbit_cameras, r.orbit.depth, r.orbit.alpha,
                           r.orbit.straight_rgb(p.background))


def write_contact_sheet(f: SceneFolders, p: SceneProducts) -> str:
    """``contact_sheet.png``: inputs | their re-renders | orbit | ground truth | renders."""
    from ..report.contact_sheet import contact_sheet, save_png

    bg, r, ev = p.background, p.rendered, p.evaluation
    inputs = [_composite(v.image, v.mask, bg) for v in p.prepared.canonical.views]
    rows = [("inputs", inputs), ("input re-renders", list(r.inputs.rgb))]
    captions: list[list[str | None]] = []
    if p.recon.fit.pose_deltas:
        # Each input's pose correction, so a user sees which camera was off.
        captions.append([pose_caption(d) for d in p.recon.fit.pose_deltas])
    step = max(1, len(r.orbit.rgb) // 8)
    rows.append(("orbit", list(r.orbit.rgb[::step])))
    gt, gt_r = ev.ground_truth, ev.gt_renders
    if gt is not None and gt_r is not None:
        gstep = max(1, len(gt.cameras) // 8)
        gts = [_composite(gt.rgb[k], gt.mask[k], bg)
               for k in range(0, len(gt.cameras), gstep)]
        rows.append(("ground truth", gts))
        rows.append(("render at GT cameras", list(gt_r.rgb[::gstep])))
    save_png(f.scene / "contact_sheet.png", contact_sheet(rows, captions=captions or None))
    return "contact_sheet.png"


def pose_caption(d: dict[str, Any]) -> str:
    """``"2.3 px 0.21 deg"`` (``"CHECK 9.1 px ..."`` when suspect): one view's pose correction
    (an entry of ``FitResult.pose_deltas``)."""
    text = f"{d.get('shift_px', 0.0):.1f} px {d['rotation_deg']:.2f} deg"
    return f"CHECK {text}" if d.get("suspect") else text


def write_turntable(f: SceneFolders, p: SceneProducts) -> str:
    """``turntable.mp4`` (or ``.gif`` without ffmpeg) of the orbit."""
    from ..report.turntable import write_turntable as encode

    return encode(f.scene / "turntable", p.rendered.orbit.rgb).name


def write_mvdiffusion(f: SceneFolders, p: SceneProducts) -> str:
    """``OUT/mvdiffusion/<scene_id>/cam_000..005.png`` + cameras, in the same commit."""
    r = p.rendered
    write_mvdiffusion_views(f.mvdiffusion, r.mvdiffusion.straight_rgb(p.background),
                            r.mvdiffusion.alpha, cameras=r.mvdiffusion_cameras,
                            scene_id=p.prepared.scene_id)
    return f"../mvdiffusion/{p.prepared.scene_id}"


def _orbit_keypoints(p: SceneProducts) -> np.ndarray:
    """[C, K, 3] keypoints triangulated from the inputs, projected into the orbit views."""
    from ..cameras.triangulation import triangulate_keypoints

    scene = p.prepared.canonical
    k = len(scene.keypoint_names)
    kp = np.stack([v.keypoints if v.keypoints is not None else np.full((k, 3), np.nan)
                   for v in scene.views])
    pts, _ = triangulate_keypoints(p.recon.fit.cameras, kp)
    r = p.rendered
    return project_keypoints(pts, r.orbit_cameras, r.orbit.depth)


def _composite(rgb: np.ndarray, mask: np.ndarray | None, bg) -> np.ndarray:
    if mask is None:
        return rgb
    return rgb * mask[..., None] + np.asarray(bg, np.float32) * (1 - mask[..., None])


#: (manifest key, runs when, writer), in the order they run. ``report.json`` comes after all.
WRITERS: tuple[tuple[str, Callable[[SceneProducts], bool], Writer], ...] = (
    ("views", lambda p: True, write_views),
    ("gaussians", lambda p: True, write_gaussians),
    ("keypoints", lambda p: p.prepared.scene.has_keypoints, write_keypoints),
    ("heatmaps", lambda p: p.prepared.scene.has_keypoints and p.cfg.output.heatmaps,
     write_heatmaps),
    ("normals", lambda p: p.rendered.orbit.normals is not None, write_normals),
    ("mesh", lambda p: p.cfg.output.mesh, write_mesh),
    ("contact_sheet", lambda p: p.cfg.output.contact_sheet, write_contact_sheet),
    ("turntable", lambda p: p.cfg.output.turntable, write_turntable),
    ("mvdiffusion", lambda p: p.rendered.mvdiffusion is not None, write_mvdiffusion),
)


def write_scene(out_root: str | Path, products: SceneProducts, *, force: bool = False,
                timings: dict[str, float] | None = None, started: float | None = None
                ) -> Path:
    """Run every writer that applies and ``report.json`` last, in one atomic commit.

    Args:
        out_root: the dataset root OUT.
        products: the earlier stages' results.
        force: replace a finished scene.
        timings: the run's timings so far, written into the report; ``write`` is added to it
            in place, and ``total`` when ``started`` (the run's ``time.perf_counter()`` at its
            start) is given.
    Returns:
        ``OUT/<scene_id>``.
    Raises:
        AlreadyFinished: the scene is finished and ``force`` is off (nothing is changed).
    """
    out_root = Path(out_root)
    sid = products.prepared.scene_id
    t = time.perf_counter()
    timings = {} if timings is None else timings
    with scene_commit(out_root, sid, force=force) as folders:
        outputs: dict[str, Any] = {}
        for key, wanted, writer in WRITERS:
            if not wanted(products):
                continue
            got = writer(folders, products)
            if key == "views":
                outputs.update(got)  # the layout's own manifest keys
            else:
                outputs[key] = got
        timings["write"] = time.perf_counter() - t
        if started is not None:
            timings["total"] = time.perf_counter() - started
        write_scene_report(folders.scene, products, timings, outputs)
    return out_root / sid


def write_scene_report(scene_dir: Path, p: SceneProducts, timings: dict[str, float],
                       outputs: dict[str, Any]) -> Path:
    """``report.json``: metrics, timings, resolved config, normalization, refined cameras,
    versions (docs/report.md). Its presence marks the scene finished, so it is written last.
    """
    from ..report.schema import build_report, write_report

    fit, sim, scene = p.recon.fit, p.prepared.similarity, p.prepared.scene
    refined = [replace(sim.camera_from_canonical(c), file_path=v.name)
               for c, v in zip(fit.cameras, scene.views)]
    # Corrections measured in the canonical frame; centre shifts back in the input's units.
    deltas = [{"file_path": v.name, **d,
               **({"centre_shift": d["centre_shift"] / sim.scale} if "centre_shift" in d else {})}
              for v, d in zip(scene.views, fit.pose_deltas)]
    report = build_report(
        p.prepared.scene_id, metrics=p.evaluation.metrics.to_json(), timings=timings,
        config=config_to_dict(replace(p.cfg, fit=fit.config)), normalization=sim.to_dict(),
        refined_cameras=refined if fit.config.optimize_pose else [], pose_deltas=deltas,
        pose_keypoints=fit.pose_keypoints,
        scene_input={"path": str(p.prepared.path.resolve()), "views": len(scene.views),
                     "has_masks": scene.has_masks, "has_keypoints": scene.has_keypoints,
                     "fit_timings": fit.timings, "history": fit.history[-1:],
                     "host": platform.node()},
        outputs=outputs, check=None if p.check is None else p.check.to_json(),
        retry=p.retry, warnings=fit.warnings)
    return write_report(scene_dir, report)
