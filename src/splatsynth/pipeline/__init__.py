"""The pipeline: named stages, each usable on its own, and ``run_scene`` composing them.

    prepare (load, check, normalize; ground truth read) -> reconstruct (fit; leave-one-view-out)
      -> check_fit (finite, inside the scene, training views above floors; one safer retry)
      -> render_outputs (orbit, inputs, MVDiffusion) -> evaluate (scores, ground truth)
      -> write_scene (one writer per output, report.json last, one atomic commit)

Nothing here prints; the command line does.
"""

from .check import CheckReason, FitCheck, check_fit, safer_config
from .evaluate import Evaluation, evaluate, render_ground_truth, score_renders
from .fitted import evaluate_fitted, load_fitted, render_fitted
from .ground_truth import GT_ORBIT_DIR, GroundTruth, load_ground_truth
from .prepare import Prepared, prepare
from .reconstruct import Reconstruction, reconstruct
from .render import Rendered, render_outputs
from .run import SceneOutcome, run_demo, run_scene
from .write import WRITERS, SceneProducts, scene_commit, write_scene

__all__ = [
    "prepare", "Prepared", "reconstruct", "Reconstruction", "check_fit", "FitCheck",
    "CheckReason", "safer_config", "render_outputs", "Rendered",
    "evaluate", "Evaluation", "GroundTruth", "load_ground_truth", "score_renders",
    "render_ground_truth", "GT_ORBIT_DIR", "write_scene", "SceneProducts", "WRITERS",
    "scene_commit", "run_scene", "run_demo", "SceneOutcome", "load_fitted", "render_fitted",
    "evaluate_fitted",
]
