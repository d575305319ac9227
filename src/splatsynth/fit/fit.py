"""``fit_scene``: sparse-view Gaussian splatting of one (normalized) scene.

The loop reads like the method: draw a training view, render it with the primitive's adapter
(:mod:`.methods`), add up the loss terms that apply (:mod:`.objective`), step the optimizers,
let the densification strategy (:class:`splatsynth.optim.Strategy`) change the set.

With ``optimize_pose``, the cameras are first aligned to the scene's 2D keypoints when it has
them (``pose_keypoints``), then the same loop runs as a pose stage: a few short rounds on small
copies of the views, each from fresh Gaussians carved from the cameras as refined so far, with
only the poses' rotations learning; the fit proper then starts from the refined cameras and
keeps refining all six degrees of freedom (docs/fit.md, "Pose refinement").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cameras import Camera, KeypointAlignment, align_to_keypoints, keypoint_array
from ..errors import FitDiverged, SplatsynthError
from ..gaussians import Gaussians, num_sh_coeffs
from ..metrics import SceneMetrics, ScoreSet, ViewScores, score_view
from ..optim import (
    ClassicStrategy,
    MCMCStrategy,
    PoseDeltas,
    RefineSchedule,
    StepInfo,
    Strategy,
    active_sh_degree,
    exp_decay,
)
from ..optim.pose import pose_corrections
from ..scene_io.scene import Scene
from ..threads import thread_policy
from .config import FitConfig
from .init import init_from_hull, init_random
from .methods import Method, method_of
from .objective import TrainingRender, loss_terms, term_weights, total_loss
from .priors import VirtualViews
from .rendering import Renders, render_cameras
from .views import ViewTensors, view_tensors
from .visibility import unseen_mask, view_contributions

#: Steps between history samples (and progress-bar updates).
HISTORY_EVERY = 10
#: Pose-stage rounds whose views would be smaller than this (pixels, shorter side) are skipped.
POSE_STAGE_MIN_SIZE = 32


@dataclass(frozen=True)
class StepRecord:
    """One optimisation step, as handed to ``fit_scene(on_step=...)``.

    Attributes:
        step: 1-based step number.
        view: index of the training view drawn.
        size: (width, height) it was rendered at (half size during the coarse steps).
        weights: weight of every loss term that applied (see :func:`.objective.term_weights`).
        terms: the weighted terms (scalar tensors, detached).
        loss: their total.
    """

    step: int
    view: int
    size: tuple[int, int]
    weights: dict[str, float]
    terms: dict[str, torch.Tensor]
    loss: float


@dataclass
class FitResult:
    """What a fit produces.

    Attributes:
        gaussians: the fitted Gaussians (detached, float32, in the scene's frame).
        cameras: the input cameras, refined when ``optimize_pose`` was on (else as given).
        pose_deltas: per view, the refinement's delta and how far it moved the camera
            (:meth:`PoseDeltas.report` and :func:`~splatsynth.optim.pose.pose_corrections`:
            ``rotation_deg``, ``centre_shift``, ``shift_px``), and ``suspect`` when
            ``shift_px`` exceeds ``fit.pose_warn_px``; empty when pose refinement was off.
            With a keypoint alignment, also ``keypoint_rotation_deg``: its share of the angle.
        pose_keypoints: the keypoint alignment's digest (:meth:`KeypointAlignment.summary`:
            applied or why not, residuals before and after), None when it did not run.
        warnings: what the user should know about the result (suspect calibrations).
        scores: every input view re-rendered at ``cameras`` and scored.
        train_views: indices of the views trained on (all but ``config.holdout_view``).
        timings: seconds per phase (and ``pruned_unseen``, a count).
        history: every ``HISTORY_EVERY`` steps: step, smoothed loss and PSNR, and that step's
            loss ``terms`` and their ``weights``.
        config: the resolved :class:`FitConfig`.
        renders: the renders behind ``scores`` (every input view at ``cameras``), kept so
            the pipeline need not render them again.
    """

    gaussians: Gaussians
    cameras: list[Camera]
    pose_deltas: list[dict]
    warnings: list[str]
    scores: ScoreSet
    train_views: list[int]
    timings: dict
    history: list[dict]
    config: FitConfig
    renders: Renders | None = None
    pose_keypoints: dict | None = None

    @property
    def metrics(self) -> SceneMetrics:
        """The scores as :class:`~splatsynth.metrics.SceneMetrics` (``holdout`` set when a
        view was left out)."""
        held = self.config.holdout_view
        return SceneMetrics(self.scores, tuple(self.train_views),
                            holdout=self.scores.per_view[held] if held >= 0 else None)


def fit_scene(scene: Scene, cfg: FitConfig | None = None, *,
              on_step: Callable[[StepRecord], None] | None = None) -> FitResult:
    """Fit Gaussians to a scene's views.

    The scene should already be in the canonical frame (``scene_io.normalize``): the
    initialisation radius, learning rates and noise are tuned for a subject of radius ~1.

    Torch runs on one thread meanwhile (:func:`splatsynth.threads.thread_policy` says why).

    Args:
        scene: the input views (with masks when available).
        cfg: the fit configuration (defaults when None); ``cfg.holdout_view >= 0`` leaves
            that view out and scores it.
        on_step: called after every step with its :class:`StepRecord`.
    Returns:
        :class:`FitResult`.
    Raises:
        FitDiverged: the parameters or the loss left every sane range.
        SplatsynthError: the scene cannot be fitted with these settings.
    """
    cfg = cfg or FitConfig()
    if not cfg.optimize_pose and cfg.pose_if_rig_refined and scene.extras.get("rig_refined"):
        cfg = replace(cfg, optimize_pose=True)  # FitResult.config says what ran
    with thread_policy(fitting=True):
        return _fit_scene(scene, cfg, on_step)


def _fit_scene(scene: Scene, cfg: FitConfig, on_step: Callable[[StepRecord], None] | None
               ) -> FitResult:
    n_views = len(scene.views)
    if n_views == 0:
        raise SplatsynthError(f"scene {scene.scene_id}: no views to fit")
    if cfg.holdout_view >= n_views:
        raise SplatsynthError(f"fit.holdout_view={cfg.holdout_view} but the scene has "
                              f"{n_views} views")
    train = [i for i in range(n_views) if i != cfg.holdout_view]
    if not train:
        raise SplatsynthError(f"scene {scene.scene_id}: nothing left to train on")
    method = method_of(cfg.method)

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    poses = PoseDeltas(n_views, fixed=train[0]) if cfg.optimize_pose else None
    alignment = None
    if poses is not None and cfg.pose_keypoints and scene.has_keypoints:
        # Keypoints pin gross errors the photometric stage's basin may not reach; the
        # deltas start from the aligned cameras, so every correction stays measured from
        # the calibration.
        t = time.perf_counter()
        alignment = align_scene_keypoints(scene, train, cfg.pose_keypoint_px)
        if alignment.applied:
            poses.start_at(np.stack([c.w2c for c in scene.cameras]),
                           np.stack([c.w2c for c in alignment.cameras]))
        timings["pose_keypoints"] = time.perf_counter() - t
    if poses is not None and cfg.pose_stage > 0:
        # The pose stage: short fits on small copies of the views, poses turning only, each
        # starting over from the hull of the cameras as refined so far (module docstring).
        t = time.perf_counter()
        stage = pose_stage_config(cfg)
        for factor in pose_stage_factors(scene, cfg):
            _optimize(scene, stage, method, train, poses, factor, None, rotation_only=True)
        timings["pose_stage"] = time.perf_counter() - t
    fit = _optimize(scene, cfg, method, train, poses, 2, on_step)
    timings.update(fit.timings)
    params, history = fit.params, fit.history

    gaussians = Gaussians(params["means"].detach().clone(), params["quats"].detach().clone(),
                          params["log_scales"].detach().clone(),
                          params["opacity_logits"].detach().clone(),
                          torch.cat([params["sh_dc"], params["sh_rest"]], 1).detach().clone())
    if cfg.prune_unseen:
        # Nothing in the inputs constrains a Gaussian no input view sees; in novel views it
        # is a floater (e.g. under the belly of a subject filmed from above).
        seen = ~_unseen(method, params, train, fit.w2cs, fit.full, cfg.sh_degree)
        gaussians = gaussians.subset(seen)
        timings["pruned_unseen"] = int((~seen).sum())
    cameras = list(scene.cameras)
    pose_report: list[dict] = []
    warnings: list[str] = []
    if poses is not None:
        cameras = _refined_cameras(scene, poses)
        pose_report = poses.report()
        for d, corr in zip(pose_report, pose_corrections(scene.cameras, cameras,
                                                          _subject_points(gaussians))):
            d.update(corr, suspect=corr["shift_px"] > cfg.pose_warn_px)
        if alignment is not None:
            for d, deg in zip(pose_report, alignment.rotation_deg):
                d["keypoint_rotation_deg"] = float(deg)
        warnings += [f"view {v.name}: pose refinement moved it by {d['shift_px']:.1f} px "
                     f"({d['rotation_deg']:.2f} deg) at the subject, more than "
                     f"fit.pose_warn_px={cfg.pose_warn_px:g}: check its calibration"
                     for v, d in zip(scene.views, pose_report) if d["suspect"]]

    t_eval = time.perf_counter()
    renders = render_cameras(gaussians, cameras, background=cfg.background,
                             backend=cfg.backend, method=cfg.method)
    scores = score_views(renders, scene, cfg.background)
    timings["evaluate"] = time.perf_counter() - t_eval
    timings["total"] = time.perf_counter() - t_start
    return FitResult(gaussians=gaussians, cameras=cameras, pose_deltas=pose_report,
                     warnings=warnings, scores=scores, train_views=train, timings=timings,
                     history=history, config=cfg, renders=renders,
                     pose_keypoints=None if alignment is None else alignment.summary())


@dataclass
class _Optimized:
    """What :func:`_optimize` leaves: the parameters, the cameras and views it trained on
    (given w2c; full-resolution tensors), the history and timings (``init``, ``optimize``)."""

    params: dict
    w2cs: list[torch.Tensor]
    full: ViewTensors
    history: list[dict]
    timings: dict[str, float]


def _optimize(scene: Scene, cfg: FitConfig, method: Method, train: list[int],
              poses: PoseDeltas | None, coarse_factor: int,
              on_step: Callable[[StepRecord], None] | None, *, rotation_only: bool = False
              ) -> _Optimized:
    """One optimisation from fresh Gaussians: ``cfg.iterations`` steps, the first
    ``cfg.coarse_fraction`` of them on views ``coarse_factor`` times smaller. ``poses`` (when
    given) refine the cameras throughout, starting where they are, and learn after
    ``cfg.pose_warmup`` steps (their rotations only with ``rotation_only``)."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    # The Gaussians start from the hull of the cameras as refined so far.
    init = scene if poses is None else replace(
        scene, views=[replace(v, camera=c)
                      for v, c in zip(scene.views, _refined_cameras(scene, poses))])
    g0 = _initial_gaussians(init, cfg, train, rng)
    method.prepare(g0)
    timings["init"] = time.perf_counter() - t_start

    params, optimizer = _parameters(g0, cfg)
    pose_opt = torch.optim.Adam(poses.parameters(), lr=cfg.lr_pose) if poses else None
    strategy = make_strategy(cfg)

    # Per-view tensors, computed once: full resolution, and smaller for the coarse steps.
    full = view_tensors(scene, cfg.crop_margin, 1)
    coarse = cfg.coarse_fraction > 0 and min(min(v.camera.w, v.camera.h) // coarse_factor
                                             for v in scene.views) >= cfg.coarse_min_size
    if rotation_only:  # the pose stage: its size was chosen by pose_stage_factors
        coarse = True
    half = view_tensors(scene, cfg.crop_margin, coarse_factor) if coarse else full
    coarse_until = int(cfg.coarse_fraction * cfg.iterations) if coarse else 0
    w2cs = [torch.tensor(v.camera.w2c, dtype=torch.float32) for v in scene.views]
    virtual = VirtualViews(scene, train)
    fixed_bg = torch.tensor(cfg.background, dtype=torch.float32)
    random_bg = scene.has_masks and cfg.random_background

    history: list[dict] = []
    order: list[int] = []
    bar = tqdm(range(1, cfg.iterations + 1), desc=f"fit {scene.scene_id}", unit="it",
               disable=not cfg.progress, leave=False, mininterval=0.5)
    t_loop = time.perf_counter()
    ema_loss, ema_psnr = None, None
    for step in bar:
        if not order:
            order = [train[i] for i in torch.randperm(len(train), generator=gen).tolist()]
        vi = order.pop()
        level = half if step <= coarse_until else full
        width, height = level.sizes[vi]
        lr_means = exp_decay(step - 1, cfg.iterations, cfg.lr_position)
        optimizer.param_groups[0]["lr"] = lr_means
        if pose_opt is not None:
            # Poses settle as the Gaussians do; a decaying rate stops late drift.
            pose_opt.param_groups[0]["lr"] = exp_decay(step - 1, cfg.iterations, cfg.lr_pose,
                                                       0.1)
        deg = active_sh_degree(step - 1, cfg.sh_degree, cfg.sh_increase_every)
        bg = torch.rand(3, generator=gen) if random_bg else fixed_bg
        img, mask = level.images[vi], level.masks[vi]
        target = img if mask is None else img * mask[..., None] + bg * (1 - mask[..., None])
        viewmat = w2cs[vi][None]
        if poses is not None:
            viewmat = poses(viewmat, vi)
        try:
            out = method.render(params["means"], params["quats"],
                                torch.exp(params["log_scales"]),
                                torch.sigmoid(params["opacity_logits"]), _sh(params, deg),
                                viewmat, level.Ks[vi][None], width, height, sh_degree=deg,
                                backgrounds=bg[None], backend=cfg.backend)
        except ValueError:
            _check_diverged(scene.scene_id, step, params)  # NaN parameters: a user error
            raise
        view = TrainingRender(out, out.colors[0, ..., :3], out.alphas[0, ..., 0], target, mask,
                              level.boxes[vi], level.Ks[vi][None])
        weights = term_weights(cfg, step, has_mask=mask is not None,
                               scene_has_masks=scene.has_masks, method=method,
                               strategy=strategy)
        terms = loss_terms(params, view, weights, cfg, method, virtual, gen)
        loss = total_loss(terms)
        if not torch.isfinite(loss):
            raise FitDiverged(f"scene {scene.scene_id}: the fit diverged at step {step} (loss "
                              f"is {loss.item()}); try a lower fit.lr_position",
                              scene=scene.scene_id, step=step)
        optimizer.zero_grad(set_to_none=True)
        if pose_opt is not None:
            pose_opt.zero_grad(set_to_none=True)
        loss.backward()
        strategy.after_backward(params, step)
        optimizer.step()
        if pose_opt is not None and step > cfg.pose_warmup:
            if rotation_only and poses.deltas.grad is not None:
                poses.deltas.grad[:, :3] = 0.0
            pose_opt.step()
        factor = scene.views[vi].camera.w / width
        strategy.after_step(params, optimizer, StepInfo(
            step, lr_means,
            unseen=partial(_unseen, method, params, train, w2cs, level, deg, factor)))
        if step % 10 == 0 or step == cfg.iterations:
            _check_diverged(scene.scene_id, step, params)

        x0, y0, x1, y1 = view.box
        with torch.no_grad():
            mse = float(((view.rgb[y0:y1, x0:x1] - target[y0:y1, x0:x1]) ** 2).mean())
        psnr = -10 * math.log10(max(mse, 1e-10))
        ema_loss = loss.item() if ema_loss is None else 0.9 * ema_loss + 0.1 * loss.item()
        ema_psnr = psnr if ema_psnr is None else 0.9 * ema_psnr + 0.1 * psnr
        if on_step is not None:
            on_step(StepRecord(step, vi, (width, height), weights,
                               {k: v.detach() for k, v in terms.items()}, loss.item()))
        if step % HISTORY_EVERY == 0 or step == cfg.iterations:
            bar.set_postfix(loss=f"{ema_loss:.4f}", psnr=f"{ema_psnr:.2f}",
                            n=params["means"].shape[0])
            history.append({"step": step, "loss": ema_loss, "psnr": ema_psnr,
                            "terms": {k: float(v.detach()) for k, v in terms.items()},
                            "weights": dict(weights)})
    bar.close()
    timings["optimize"] = time.perf_counter() - t_loop
    return _Optimized(params, w2cs, full, history, timings)


def _refined_cameras(scene: Scene, poses: PoseDeltas) -> list[Camera]:
    """The scene's cameras refined by ``poses`` (computed in float64)."""
    with torch.no_grad():
        w2c = torch.as_tensor(np.stack([c.w2c for c in scene.cameras]), dtype=torch.float64)
        refined = poses(w2c, torch.arange(len(scene.views))).numpy()
    return [c.with_w2c(m) for c, m in zip(scene.cameras, refined)]


def align_scene_keypoints(scene: Scene, train: list[int], noise_px: float
                          ) -> KeypointAlignment:
    """The keypoint alignment of the training views' cameras (``train[0]`` fixed); views
    without keypoints take part as unseen."""
    k = len(scene.keypoint_names or [])
    kp = keypoint_array([v.keypoints for v in scene.views], k)
    return align_to_keypoints(scene.cameras, kp, gauge=train[0], views=train,
                              noise_px=noise_px)


def pose_stage_config(cfg: FitConfig) -> FitConfig:
    """The settings of each round of the pose stage (``fit.pose_stage`` steps)."""
    return replace(cfg, iterations=cfg.pose_stage, coarse_fraction=1.0,
                   lr_pose=cfg.lr_pose_stage, pose_warmup=cfg.pose_stage_warmup,
                   num_gaussians=min(cfg.num_gaussians, cfg.pose_stage_gaussians),
                   prune_unseen=False, progress=False)


def pose_stage_factors(scene: Scene, cfg: FitConfig) -> list[int]:
    """The downsampling factors of the pose stage's rounds, in order (8, 4, 2 for
    ``fit.pose_stage_levels=3``), without those whose views would be under
    ``POSE_STAGE_MIN_SIZE`` pixels on their shorter side."""
    short = min(min(v.camera.w, v.camera.h) for v in scene.views)
    factors = [2 ** k for k in range(cfg.pose_stage_levels, 0, -1)]
    return [f for f in factors if short // f >= POSE_STAGE_MIN_SIZE]


def make_strategy(cfg: FitConfig) -> Strategy:
    """The densification strategy ``cfg.strategy`` names, on the fit's refinement schedule."""
    schedule = RefineSchedule(cfg.refine_start, cfg.refine_every,
                              int(cfg.refine_stop_fraction * cfg.iterations))
    if cfg.strategy == "classic":
        return ClassicStrategy(cfg.num_gaussians, seed=cfg.seed, schedule=schedule)
    return MCMCStrategy(seed=cfg.seed, schedule=schedule, relocate_unseen=cfg.relocate_unseen,
                        opacity_reg=cfg.opacity_reg, opacity_reg_fade=cfg.opacity_reg_fade,
                        scale_reg=cfg.scale_reg, iterations=cfg.iterations)


def _initial_gaussians(scene: Scene, cfg: FitConfig, train: list[int], rng: np.random.Generator
                       ) -> Gaussians:
    if cfg.init == "hull" and scene.has_masks:
        from ..scene_io.normalize import carve_visual_hull

        views = [scene.views[i] for i in train]
        hull = carve_visual_hull([v.camera for v in views], [v.mask for v in views])
        if hull.points.shape[0] >= 8:
            return init_from_hull(scene, hull.points, hull.surface, hull.voxel_size,
                                  cfg.num_gaussians, cfg.sh_degree, rng)
    return init_random(scene, cfg.num_gaussians, 1.0, cfg.sh_degree, rng)


def _parameters(g0: Gaussians, cfg: FitConfig) -> tuple[dict, torch.optim.Optimizer]:
    """The learnable tensors (one Adam param group each, named like the dict's keys)."""
    params = {
        "means": torch.nn.Parameter(g0.means.clone()),
        "quats": torch.nn.Parameter(g0.quats_wxyz.clone()),
        "log_scales": torch.nn.Parameter(g0.log_scales.clone()),
        "opacity_logits": torch.nn.Parameter(g0.opacity_logits.clone()),
        "sh_dc": torch.nn.Parameter(g0.sh[:, :1].clone()),
        "sh_rest": torch.nn.Parameter(g0.sh[:, 1:].clone()),
    }
    lrs = {"means": cfg.lr_position, "quats": cfg.lr_rotation, "log_scales": cfg.lr_scaling,
           "opacity_logits": cfg.lr_opacity, "sh_dc": cfg.lr_feature,
           "sh_rest": cfg.lr_feature / 20.0}
    optimizer = torch.optim.Adam(
        [{"params": [params[k]], "lr": lrs[k], "name": k} for k in params], eps=1e-15,
        fused=True)
    return params, optimizer


def _sh(params: dict, degree: int) -> torch.Tensor:
    """[N, (degree + 1)^2, 3] the SH coefficients in use at ``degree``."""
    return torch.cat([params["sh_dc"], params["sh_rest"]], 1)[:, :num_sh_coeffs(degree)]


def _unseen(method: Method, params: dict, train: list[int], w2cs, level: ViewTensors, deg: int,
            factor: float = 1.0) -> torch.Tensor:
    """[N] bool: Gaussians adding under 1/100 (full-resolution) pixel of opacity to every
    training view, measured on ``level``'s views, which are ``factor`` times smaller."""
    contrib = view_contributions(method.rasterizer(), params, [w2cs[i] for i in train],
                                 [level.Ks[i] for i in train], [level.sizes[i] for i in train],
                                 _sh(params, deg), deg)
    return unseen_mask(contrib, factor)


def _subject_points(g: Gaussians, limit: int = 4096) -> np.ndarray:
    """[N, 3] centres of the opaque Gaussians (at most ``limit``, evenly picked): where the
    subject is, to measure camera corrections at."""
    opaque = torch.sigmoid(g.opacity_logits.reshape(-1)) > 0.5
    pts = g.means[opaque] if bool(opaque.any()) else g.means
    step = max(1, pts.shape[0] // limit)
    return pts[::step].double().numpy()


def _check_diverged(scene_id: str, step: int, params: dict) -> None:
    """Raise :class:`FitDiverged` when the parameters have left any sane range (NaN/inf, or
    Gaussians blown up to many times the canonical subject's size), so a batch can retry with
    safer settings."""
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p).all()) for p in params.values())
        huge = finite and float(params["log_scales"].max()) > math.log(100.0)
        far = finite and float(params["means"].abs().max()) > 1e4
    if not finite or huge or far:
        what = "NaN/inf parameters" if not finite else "exploding Gaussians"
        raise FitDiverged(f"scene {scene_id}: the fit diverged at step {step} ({what}); "
                          "try lower learning rates (fit.lr_position, fit.lr_scaling)",
                          scene=scene_id, step=step)


def evaluate_views(gaussians: Gaussians, scene: Scene, cameras: list[Camera],
                   background: tuple[float, float, float], backend: str = "auto",
                   method: str = "3dgs") -> ScoreSet:
    """Render ``cameras`` (one per scene view) and score them against the views' images."""
    renders = render_cameras(gaussians, cameras, background=background, backend=backend,
                             method=method)
    return score_views(renders, scene, background)


def score_views(renders: Renders, scene: Scene, background: tuple[float, float, float]
                ) -> ScoreSet:
    """Score renders [C, ...] of the scene's C views against their images."""
    return ScoreSet(tuple(
        ViewScores(v.name, score_view(renders.rgb[k], renders.alpha[k], v.image, v.mask,
                                      background))
        for k, v in enumerate(scene.views)))


