"""Stage 1, prepare: load and check a scene folder, then move it into the canonical frame."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig
from ..scene_io import load_scene
from ..scene_io.normalize import Similarity, canonical_frame, normalize_scene
from ..scene_io.scene import Scene
from .ground_truth import GroundTruth, scene_ground_truth


@dataclass(frozen=True)
class Prepared:
    """A scene ready to fit.

    Attributes:
        scene_id: the output folder name.
        path: the input scene folder.
        scene: the views as loaded (input world frame, pinhole, undistorted).
        canonical: the same views in the canonical frame (subject at the origin, +Z up,
            radius ``normalize.radius``).
        similarity: input world -> canonical.
        timings: seconds of ``load`` and ``normalize``.
        ground_truth: the views the scene ships under ``gt/orbit`` (input world frame), if any.
    """

    scene_id: str
    path: Path
    scene: Scene
    canonical: Scene
    similarity: Similarity
    timings: dict[str, float] = field(default_factory=dict)
    ground_truth: GroundTruth | None = None


def prepare(scene_path: str | Path, cfg: RunConfig | None = None, *,
            scene_id: str | None = None) -> Prepared:
    """Load, validate and normalize one scene folder, and read its ground truth (``gt/orbit``),
    if it ships one, so a broken one stops the run before the fit.

    Args:
        scene_path: the scene folder (``cameras.json`` + images).
        cfg: the run configuration (its ``normalize`` section is used).
        scene_id: the output name (default: the folder's name).
    Raises:
        SceneError: the folder is not a valid scene (every problem listed).
        SplatsynthError: its ground-truth folder is broken.
    """
    cfg = cfg or RunConfig()
    scene_path = Path(scene_path)
    sid = scene_id or scene_path.resolve().name
    t0 = time.perf_counter()
    scene = load_scene(scene_path, scene_id=sid)
    t1 = time.perf_counter()
    sim = canonical_frame(scene, cfg.normalize)
    canonical = normalize_scene(scene, sim)
    t2 = time.perf_counter()
    gt = scene_ground_truth(scene_path)
    return Prepared(sid, scene_path, scene, canonical, sim,
                    {"load": t1 - t0 + time.perf_counter() - t2, "normalize": t2 - t1}, gt)
