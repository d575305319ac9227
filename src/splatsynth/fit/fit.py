"""``fit_scene``: sparse-view Gaussian splatting of one (normalized) scene."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cameras import Camera
from ..errors import SplatsynthError
from ..gaussians import Gaussians, num_sh_coeffs
from ..losses import (
    alpha_mask_loss,
    anisotropy_regularizer,
    depth_distortion_loss,
    l1_ssim_loss,
    needle_regularizer,
    normal_consistency_loss,
    opacity_regularizer,
    scale_regularizer,
)
from ..metrics import score_view
from ..optim import (
    ClassicStrategy,
    MCMCStrategy,
    PoseDeltas,
    active_sh_degree,
    exp_decay,
    fade_out,
    refine_now,
)
from ..scene_io.scene import Scene
from ..threads import thread_policy
from .config import FitConfig
from .init import init_from_hull, init_random
from .priors import VirtualViews, clear_loss, curvature_loss, solid_loss
from .rendering import Renders, render_cameras
from .visibility import view_contributions


@dataclass
class FitResult:
    """What a fit produces.

    Attributes:
        gaussians: the fitted Gaussians (detached, float32, in the scene's frame).
        cameras: the input cameras, refined when ``optimize_pose`` was on (else as given).
        pose_deltas: per-view refinement deltas (empty when pose refinement was off).
        metrics: "train" (mean over training views), "per_view", and "holdout" when a view was
            left out.
        timings: seconds per phase.
        history: loss / PSNR samples along the fit.
        config: the resolved :class:`FitConfig`.
    """

    gaussians: Gaussians
    cameras: list[Camera]
    pose_deltas: list[dict]
    metrics: dict
    timings: dict
    history: list[dict]
    config: FitConfig
    train_views: list[int] = field(default_factory=list)


def _bbox(mask: np.ndarray | None, margin: int, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the mask's foreground plus ``margin``, or the whole frame."""
    if mask is None or not (mask > 0.5).any():
        return 0, 0, w, h
    ys, xs = np.nonzero(mask > 0.5)
    x0, x1 = max(int(xs.min()) - margin, 0), min(int(xs.max()) + 1 + margin, w)
    y0, y1 = max(int(ys.min()) - margin, 0), min(int(ys.max()) + 1 + margin, h)
    # SSIM needs an 11x11 window inside the crop.
    if x1 - x0 < 16:
        x0, x1 = max(0, min(x0, w - 16)), min(w, max(x1, 16))
    if y1 - y0 < 16:
        y0, y1 = max(0, min(y0, h - 16)), min(h, max(y1, 16))
    return x0, y0, x1, y1


@dataclass
class _ViewTensors:
    """Training tensors of every view at one resolution."""

    images: list[torch.Tensor]  # [H, W, 3]
    masks: list[torch.Tensor | None]  # [H, W]
    Ks: list[torch.Tensor]  # [3, 3]
    boxes: list[tuple[int, int, int, int]]  # colour-loss crop (x0, y0, x1, y1)
    sizes: list[tuple[int, int]]  # (width, height)


def _view_tensors(scene: Scene, margin: int, factor: int) -> _ViewTensors:
    """The views' images, masks, intrinsics and crops, area-downsampled by ``factor``."""
    out = _ViewTensors([], [], [], [], [])
    for v in scene.views:
        w, h = max(v.camera.w // factor, 16), max(v.camera.h // factor, 16)
        img = torch.as_tensor(v.image, dtype=torch.float32)
        mask = None if v.mask is None else torch.as_tensor(v.mask, dtype=torch.float32)
        K = torch.as_tensor(v.camera.K, dtype=torch.float32).clone()
        if (w, h) != (v.camera.w, v.camera.h):
            # Pixel-corner origin: scaling the whole first two rows of K maps the image
            # rectangle onto the smaller one exactly.
            K[0] *= w / v.camera.w
            K[1] *= h / v.camera.h
            img = _area_resize(img, w, h)
            mask = None if mask is None else _area_resize(mask[..., None], w, h)[..., 0]
        out.images.append(img)
        out.masks.append(mask)
        out.Ks.append(K)
        out.boxes.append(_bbox(None if mask is None else mask.numpy(), max(margin // factor, 4),
                               w, h))
        out.sizes.append((w, h))
    return out


def _area_resize(img: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """[H, W, C] -> [h, w, C] by area averaging (the box filter a coarser sensor applies)."""
    x = torch.nn.functional.interpolate(img.permute(2, 0, 1)[None], size=(h, w), mode="area")
    return x[0].permute(1, 2, 0).contiguous()


def _virtual_view_loss(raster, params: dict, virtual: VirtualViews, w2c: torch.Tensor,
                       cfg: FitConfig) -> torch.Tensor:
    """The solid, clear and curvature priors on one render of the virtual camera ``w2c``."""
    curved = cfg.curvature_weight > 0
    # Scales and rotations never learn from it: grown Gaussians would fatten the shape. Means
    # only move for the curvature prior (alone, the other two gain nothing from them).
    means = params["means"] if curved else params["means"].detach()
    # Colour does not matter here, so the cheapest (degree-0) colour is rendered.
    kw = {} if cfg.method == "2dgs" else {"render_mode": "RGB+ED" if curved else "RGB"}
    out = raster(means, params["quats"].detach(), torch.exp(params["log_scales"].detach()),
                 torch.sigmoid(params["opacity_logits"]), params["sh_dc"].detach(),
                 w2c[None], virtual.K[None], virtual.w, virtual.h, sh_degree=0,
                 backend=cfg.backend, **kw)
    alpha = out.alphas[0, ..., 0]
    loss = cfg.solid_weight * solid_loss(alpha, cfg.solid_erode)
    loss = loss + cfg.clear_weight * clear_loss(alpha)
    if curved:
        if cfg.method == "2dgs":
            depth = out.depths[0, ..., 0] / alpha.clamp_min(1e-10)
        else:
            depth = out.colors[0, ..., 3]
        loss = loss + cfg.curvature_weight * curvature_loss(
            depth, alpha.detach(), float(virtual.K[0, 0]), cfg.curvature_clamp)
    return loss


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


def fit_scene(scene: Scene, cfg: FitConfig | None = None) -> FitResult:
    """Fit Gaussians to a scene's views (see :func:`_fit_scene`); torch runs on one thread
    meanwhile (:func:`splatsynth.threads.thread_policy` says why)."""
    with thread_policy(fitting=True):
        return _fit_scene(scene, cfg)


def _fit_scene(scene: Scene, cfg: FitConfig | None = None) -> FitResult:
    """Fit Gaussians to a scene's views.

    The scene should already be in the canonical frame (``scene_io.normalize``): the
    initialisation radius, learning rates and noise are tuned for a subject of radius ~1.

    Args:
        scene: the input views (with masks when available).
        cfg: the fit configuration (defaults when None); ``cfg.holdout_view >= 0`` leaves
            that view out and scores it.
    Returns:
        :class:`FitResult`.
    """
    cfg = cfg or FitConfig()
    n_views = len(scene.views)
    if n_views == 0:
        raise SplatsynthError(f"scene {scene.scene_id}: no views to fit")
    if cfg.holdout_view >= n_views:
        raise SplatsynthError(f"fit.holdout_view={cfg.holdout_view} but the scene has "
                              f"{n_views} views")
    if not 0 <= cfg.sh_degree <= 3:
        raise SplatsynthError(f"fit.sh_degree must be 0..3, got {cfg.sh_degree}")
    train = [i for i in range(n_views) if i != cfg.holdout_view]
    if not train:
        raise SplatsynthError(f"scene {scene.scene_id}: nothing left to train on")

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    g0 = _initial_gaussians(scene, cfg, train, rng)
    if cfg.method == "2dgs":
        # Surfels ignore the third scale; keep it tiny so 3DGS viewers of the PLY show discs.
        g0.log_scales[:, 2] = math.log(1e-4)
        # Identity rotations would lay every surfel flat (normal +Z); start them facing
        # outwards from the subject's centre instead, which the normal loss then refines.
        g0.quats_wxyz.copy_(_quats_facing(g0.means - g0.means.mean(0)))
    timings["init"] = time.perf_counter() - t_start

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
    poses = PoseDeltas(n_views, fixed=train[0]) if cfg.optimize_pose else None
    pose_opt = torch.optim.Adam(poses.parameters(), lr=cfg.lr_pose) if poses else None
    mcmc = MCMCStrategy(seed=cfg.seed) if cfg.strategy == "mcmc" else None
    classic = ClassicStrategy(cfg.num_gaussians, seed=cfg.seed) if cfg.strategy == "classic" \
        else None

    # Per-view tensors, computed once: full resolution, and half for the coarse steps.
    has_masks = scene.has_masks
    full = _view_tensors(scene, cfg.crop_margin, 1)
    coarse = cfg.coarse_fraction > 0 and min(min(v.camera.w, v.camera.h) // 2
                                             for v in scene.views) >= cfg.coarse_min_size
    half = _view_tensors(scene, cfg.crop_margin, 2) if coarse else full
    coarse_until = int(cfg.coarse_fraction * cfg.iterations) if coarse else 0
    w2cs = [torch.tensor(v.camera.w2c, dtype=torch.float32) for v in scene.views]
    virtual = VirtualViews(scene, train)
    fixed_bg = torch.tensor(cfg.background, dtype=torch.float32)

    from ..render import rasterize, rasterize_surfels

    surfels = cfg.method == "2dgs"
    refine_stop = int(cfg.refine_stop_fraction * cfg.iterations)
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
        if has_masks and cfg.random_background:
            bg = torch.rand(3, generator=gen)
        else:
            bg = fixed_bg
        img, mask = level.images[vi], level.masks[vi]
        target = img if mask is None else img * mask[..., None] + bg * (1 - mask[..., None])
        viewmat = w2cs[vi][None]
        if poses is not None and step > cfg.pose_warmup:
            viewmat = poses(viewmat, vi)
        sh = torch.cat([params["sh_dc"], params["sh_rest"]], 1)[:, :num_sh_coeffs(deg)]
        raster = rasterize_surfels if surfels else rasterize
        try:
            out = raster(params["means"], params["quats"], torch.exp(params["log_scales"]),
                         torch.sigmoid(params["opacity_logits"]), sh, viewmat, level.Ks[vi][None],
                         width, height, sh_degree=deg, backgrounds=bg[None],
                         backend=cfg.backend)
        except ValueError:
            _check_diverged(scene.scene_id, step, params)  # NaN parameters: a user error
            raise
        rgb, alpha = out.colors[0, ..., :3], out.alphas[0, ..., 0]
        x0, y0, x1, y1 = level.boxes[vi]
        loss = l1_ssim_loss(rgb[y0:y1, x0:x1], target[y0:y1, x0:x1], cfg.ssim_lambda)
        if mask is not None and cfg.mask_weight > 0:
            loss = loss + cfg.mask_weight * alpha_mask_loss(alpha, mask)
        if surfels and step > cfg.regularizer_start:
            loss = loss + cfg.depth_weight * depth_distortion_loss(out.distortion)
            loss = loss + cfg.normal_weight * normal_consistency_loss(
                out.normals, out.median_depths, level.Ks[vi][None], out.alphas)
        if has_masks and (cfg.solid_weight > 0 or cfg.clear_weight > 0
                          or cfg.curvature_weight > 0) \
                and step % cfg.solid_every == 0 and step > cfg.refine_start:
            loss = loss + _virtual_view_loss(raster, params, virtual, virtual.sample(gen), cfg)
        if mcmc is not None:
            w_opacity = cfg.opacity_reg * fade_out(step, cfg.iterations, cfg.opacity_reg_fade)
            loss = loss + w_opacity * opacity_regularizer(torch.sigmoid(params["opacity_logits"]))
            loss = loss + cfg.scale_reg * scale_regularizer(torch.exp(params["log_scales"]))
        if cfg.needle_reg > 0:
            loss = loss + cfg.needle_reg * needle_regularizer(torch.exp(params["log_scales"]),
                                                              cfg.needle_max_ratio)
        if cfg.aniso_reg > 0:
            loss = loss + cfg.aniso_reg * anisotropy_regularizer(
                torch.exp(params["log_scales"]), cfg.aniso_max_ratio)
        if not torch.isfinite(loss):
            raise SplatsynthError(f"scene {scene.scene_id}: the fit diverged at step {step} "
                                  f"(loss is {loss.item()}); try a lower fit.lr_position")
        optimizer.zero_grad(set_to_none=True)
        if pose_opt is not None:
            pose_opt.zero_grad(set_to_none=True)
        loss.backward()
        if classic is not None:
            classic.accumulate(params)
        optimizer.step()
        if pose_opt is not None and step > cfg.pose_warmup:
            pose_opt.step()
        if mcmc is not None:
            if refine_now(step, cfg.refine_start, cfg.refine_every, refine_stop):
                unseen = None
                if cfg.relocate_unseen:
                    unseen = _unseen(raster, params, train, w2cs, level, deg,
                                     scene.views[vi].camera.w / width)
                mcmc.relocate(params, optimizer, unseen)
            mcmc.add_noise(params, lr_means)
        elif classic is not None and refine_now(step, cfg.refine_start, cfg.refine_every,
                                                 refine_stop):
            classic.refine(params, optimizer)
        if step % 10 == 0 or step == cfg.iterations:
            _check_diverged(scene.scene_id, step, params)

        with torch.no_grad():
            mse = float(((rgb[y0:y1, x0:x1] - target[y0:y1, x0:x1]) ** 2).mean())
        psnr = -10 * math.log10(max(mse, 1e-10))
        ema_loss = loss.item() if ema_loss is None else 0.9 * ema_loss + 0.1 * loss.item()
        ema_psnr = psnr if ema_psnr is None else 0.9 * ema_psnr + 0.1 * psnr
        if step % 10 == 0 or step == cfg.iterations:
            bar.set_postfix(loss=f"{ema_loss:.4f}", psnr=f"{ema_psnr:.2f}",
                            n=params["means"].shape[0])
            history.append({"step": step, "loss": ema_loss, "psnr": ema_psnr})
    bar.close()
    timings["optimize"] = time.perf_counter() - t_loop

    gaussians = Gaussians(params["means"].detach().clone(), params["quats"].detach().clone(),
                          params["log_scales"].detach().clone(),
                          params["opacity_logits"].detach().clone(),
                          torch.cat([params["sh_dc"], params["sh_rest"]], 1).detach().clone())
    if cfg.prune_unseen:
        # Nothing in the inputs constrains a Gaussian no input view sees; in novel views it
        # is a floater (e.g. under the belly of a subject filmed from above).
        seen = ~_unseen(rasterize_surfels if surfels else rasterize, params, train, w2cs, full,
                        cfg.sh_degree)
        gaussians = gaussians.subset(seen)
        timings["pruned_unseen"] = int((~seen).sum())
    cameras = list(scene.cameras)
    pose_report: list[dict] = []
    if poses is not None:
        with torch.no_grad():
            all_w2c = torch.as_tensor(np.stack([c.w2c for c in cameras]), dtype=torch.float64)
            refined = poses.double()(all_w2c, torch.arange(n_views)).numpy()
        cameras = [c.with_w2c(m) for c, m in zip(cameras, refined)]
        pose_report = poses.report()

    t_eval = time.perf_counter()
    metrics = evaluate_views(gaussians, scene, cameras, cfg.background, cfg.backend, cfg.method)
    per_view = metrics["per_view"]
    metrics["train"] = _mean_scores([per_view[i] for i in train])
    if cfg.holdout_view >= 0:
        metrics["holdout"] = {"view": scene.views[cfg.holdout_view].name,
                              **per_view[cfg.holdout_view]}
    timings["evaluate"] = time.perf_counter() - t_eval
    timings["total"] = time.perf_counter() - t_start
    return FitResult(gaussians=gaussians, cameras=cameras, pose_deltas=pose_report,
                     metrics=metrics, timings=timings, history=history, config=cfg,
                     train_views=train)


def _quats_facing(directions: torch.Tensor) -> torch.Tensor:
    """[N, 3] directions -> [N, 4] wxyz rotations taking +Z onto each (shortest arc)."""
    n = torch.nn.functional.normalize(directions, dim=-1)
    q = torch.stack([1.0 + n[:, 2], -n[:, 1], n[:, 0], torch.zeros_like(n[:, 0])], -1)
    flip = q[:, 0] < 1e-6  # n = -Z: any half-turn about a horizontal axis
    q[flip] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=q.dtype)
    return torch.nn.functional.normalize(q, dim=-1)


def _unseen(raster, params: dict, train: list[int], w2cs, level: _ViewTensors, deg: int,
            factor: float = 1.0) -> torch.Tensor:
    """[N] bool: Gaussians adding under 1/100 (full-resolution) pixel of opacity to every
    training view, measured on ``level``'s views, which are ``factor`` times smaller."""
    sh = torch.cat([params["sh_dc"], params["sh_rest"]], 1)[:, :num_sh_coeffs(deg)]
    contrib = view_contributions(raster, params, [w2cs[i] for i in train],
                                 [level.Ks[i] for i in train], [level.sizes[i] for i in train],
                                 sh, deg)
    return contrib * factor**2 < 1e-2


def _check_diverged(scene_id: str, step: int, params: dict) -> None:
    """Raise when the parameters have left any sane range (NaN/inf, or Gaussians blown up to
    many times the canonical subject's size), so a batch can retry with safer settings."""
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p).all()) for p in params.values())
        huge = finite and float(params["log_scales"].max()) > math.log(100.0)
        far = finite and float(params["means"].abs().max()) > 1e4
    if not finite or huge or far:
        what = "NaN/inf parameters" if not finite else "exploding Gaussians"
        raise SplatsynthError(f"scene {scene_id}: the fit diverged at step {step} ({what}); "
                              "try lower learning rates (fit.lr_position, fit.lr_scaling)")


def evaluate_views(gaussians: Gaussians, scene: Scene, cameras: list[Camera],
                   background: tuple[float, float, float], backend: str = "auto",
                   method: str = "3dgs") -> dict:
    """Render ``cameras`` (one per scene view) and score them against the views' images.

    Returns:
        {"per_view": [ {psnr, psnr_masked, ssim, iou, view}, ... ]}
    """
    renders: Renders = render_cameras(gaussians, cameras, background=background, backend=backend,
                                      method=method)
    per_view = []
    for k, v in enumerate(scene.views):
        s = score_view(renders.rgb[k], renders.alpha[k], v.image, v.mask, background)
        per_view.append({"view": v.name, **s.as_dict()})
    return {"per_view": per_view}


def _mean_scores(rows: list[dict]) -> dict:
    keys = ("psnr", "psnr_masked", "ssim", "iou")
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if r[k] == r[k]]  # skip NaN
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out
