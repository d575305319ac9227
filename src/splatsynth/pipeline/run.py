"""``run_scene``: the five stages in order, the one path ``run``, ``demo``, ``batch`` and the
benchmarks share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import RunConfig
from ..errors import SplatsynthError
from ..fileio import AlreadyFinished, check_output_path
from ..metrics import SceneMetrics
from ..writers import is_scene_finished, update_lists
from ..writers.atomic import check_scene_id, clean_stale_temps
from .check import FitCheck, reconstruct_checked
from .evaluate import evaluate
from .prepare import prepare
from .render import render_outputs
from .write import SceneProducts, write_scene

SceneStatus = Literal["done", "skipped"]


@dataclass
class SceneOutcome:
    """What happened to one scene.

    Attributes:
        scene_id: its folder name under OUT.
        status: "done", or "skipped" when it was already finished.
        scene_dir: ``OUT/<scene_id>``.
        metrics: the scores (None when skipped).
        timings: seconds per stage.
        contact_sheet: the written contact sheet, if any.
        check: the post-fit check's numbers (None when skipped).
        retry_setting: the safer retry's knobs when the first fit failed (empty otherwise).
        first_error: why the first fit failed, when it was retried.
    warnings: list[str] = field(default_factory=list)
    """

    scene_id: str
    status: SceneStatus
    scene_dir: Path
    metrics: SceneMetrics | None = None
    timings: dict[str, float] = field(default_factory=dict)
    contact_sheet: Path | None = None
    check: FitCheck | None = None
    retry_setting: dict[str, Any] = field(default_factory=dict)
    first_error: str = ""

    @property
    def retried(self) -> bool:
        """Whether the first fit failed and the scene was fitted again with a safer setting."""
        return bool(self.retry_setting)
    warnings: list[str] = field(default_factory=list)


def run_scene(scene_path: str | Path, out_root: str | Path, cfg: RunConfig | None = None, *,
              scene_id: str | None = None, force: bool = False, update_list: bool = True
              ) -> SceneOutcome:
    """Fit one scene folder and write ``out_root/<scene_id>/`` (the GS-LRM layout), atomically.

    Stages: :func:`prepare` -> :func:`~splatsynth.pipeline.check.reconstruct_checked` (the fit,
    :func:`check_fit` on it, one safer retry when it fails) -> :func:`render_outputs` ->
    :func:`evaluate` -> :func:`write_scene` (every writer, then ``report.json``). The output
    folder is checked before any of them, and debris of killed runs under ``out_root`` is
    cleaned (never a live run's).

    Args:
        scene_path: the input scene folder.
        out_root: the dataset root (list files are refreshed there).
        cfg: the run configuration (defaults when None).
        scene_id: the output folder name (default: the input folder's name).
        force: redo a finished scene (otherwise it is skipped).
        update_list: refresh OUT's train/val lists after writing (``batch`` turns this off and
            rebuilds them itself, with its quality gate).
    Returns:
        :class:`SceneOutcome` with the metrics, the check and timings.
    Raises:
        SceneError: the scene is invalid.
        FitDiverged / FitRejected: the fit diverged or failed the post-fit check, on the retry
            too (nothing is written).
        SplatsynthError: the output folder cannot be written, or another input problem.
    """
    cfg = cfg or RunConfig()
    t0 = time.perf_counter()
    scene_path, out_root = Path(scene_path), Path(out_root)
    sid = check_scene_id(scene_id or scene_path.resolve().name)
    check_output_path(out_root, what="output folder")
    check_output_path(out_root / sid, what="scene output folder")
    if not force and is_scene_finished(out_root, sid):
        return SceneOutcome(sid, "skipped", out_root / sid)
    if cfg.output.mesh:
        from ..writers.mesh import require_mesh_support

        require_mesh_support()  # fail before the fit, not after it
    if out_root.is_dir():
        clean_stale_temps(out_root)

    prepared = prepare(scene_path, cfg, scene_id=sid)
    checked = reconstruct_checked(prepared, cfg)
    recon, cfg = checked.recon, checked.cfg  # the retry's setting is what the report records
    rendered = render_outputs(prepared, recon, cfg)
    evaluation = evaluate(prepared, recon, cfg)
    timings = {**prepared.timings, **recon.timings, **rendered.timings, **evaluation.timings}
    products = SceneProducts(prepared, recon, rendered, evaluation, cfg, check=checked.check,
                             retry={"setting": checked.retry_setting,
                                    "first_error": checked.first_error}
                             if checked.retried else None)
    try:
        scene_dir = write_scene(out_root, products, force=force, timings=timings, started=t0)
    except AlreadyFinished:
        return SceneOutcome(sid, "skipped", out_root / sid)
    if update_list:
        update_lists(out_root, val_ratio=cfg.output.val_ratio)
    sheet = scene_dir / "contact_sheet.png"
    return SceneOutcome(sid, "done", scene_dir, evaluation.metrics, timings,
                        contact_sheet=sheet if sheet.is_file() else None, check=checked.check,
                        retry_setting=checked.retry_setting, first_error=checked.first_error,
                        warnings=list(recon.fit.warnings))


def run_demo(out: str | Path, cfg: RunConfig | None = None, *, force: bool = False
             ) -> tuple[Path, SceneOutcome]:
    """Make the demo scene under ``out/scene/toy_mouse`` (unless it is there), validate it, and
    run it into ``out/dataset``.

    Returns:
        (the demo scene folder, the run's outcome).
    """
    from ..demo import make_demo_scene
    from ..demo.scene import DEMO_SCENE_ID
    from ..scene_io import check_scene

    out = check_output_path(out, what="demo output folder")
    scene_dir = out / "scene" / DEMO_SCENE_ID
    if not (scene_dir / "cameras.json").is_file():
        scene_dir = make_demo_scene(out / "scene")
    problems = check_scene(scene_dir)
    if problems:
        raise SplatsynthError("the demo scene failed validation:\n" +
                              "\n".join(f"  - {p}" for p in problems))
    return scene_dir, run_scene(scene_dir, out / "dataset", cfg, force=force)
