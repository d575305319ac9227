"""The fit's objective: which loss terms apply at a step, with what weight, and their values.

:func:`term_weights` decides, :func:`loss_terms` computes, :func:`total_loss` adds up. The fit
records both the weights and the weighted terms in its history, so what the optimizer saw at
any step can be read back (and tested) without reaching into the loop.

Terms, in the order they are added:

- ``rgb``: L1 + SSIM on the subject's crop of the training view (always; weight 1);
- ``mask``: rendered alpha against the view's mask (``fit.mask_weight``);
- the method's own terms (2DGS: ``distortion``, ``normal``; see :mod:`.methods`);
- ``solid``, ``clear``, ``curvature``: priors on one random virtual view (:mod:`.priors`),
  summed among themselves first since they share one render;
- the strategy's regularizers (MCMC: ``opacity``, ``scale``);
- ``needle``, ``aniso``: shape regularizers on the scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..losses import SHAPE_TERMS, alpha_mask_loss, l1_ssim_loss, shape_regularizers
from ..optim import Strategy
from .config import FitConfig
from .methods import Method
from .priors import VirtualViews, clear_loss, curvature_loss, solid_loss

#: Terms rendered from one virtual view; summed together before joining the total.
VIRTUAL_TERMS = ("solid", "clear", "curvature")


@dataclass(frozen=True)
class TrainingRender:
    """One step's render of a training view and what it is compared with.

    Attributes:
        out: the rasterizer's output (the method's terms read it).
        rgb: [H, W, 3] rendered colour over ``background``.
        alpha: [H, W] rendered opacity.
        target: [H, W, 3] the view's image composited over the same background.
        mask: [H, W] the view's mask, or None.
        box: (x0, y0, x1, y1) crop of the colour loss.
        K: [1, 3, 3] intrinsics at the rendered resolution.
    """

    out: Any
    rgb: torch.Tensor
    alpha: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor | None
    box: tuple[int, int, int, int]
    K: torch.Tensor


def term_weights(cfg: FitConfig, step: int, *, has_mask: bool, scene_has_masks: bool,
                 method: Method, strategy: Strategy) -> dict[str, float]:
    """The weight of every loss term that applies at ``step`` (1-based), in the order the
    terms are added; a term absent from the dict is not computed."""
    w: dict[str, float] = {"rgb": 1.0}
    if has_mask and cfg.mask_weight > 0:
        w["mask"] = cfg.mask_weight
    w.update(method.loss_weights(step, cfg))
    if (scene_has_masks and step % cfg.solid_every == 0 and step > cfg.refine_start):
        for name, weight in zip(VIRTUAL_TERMS, (cfg.solid_weight, cfg.clear_weight,
                                                cfg.curvature_weight)):
            if weight > 0:
                w[name] = weight
    w.update(strategy.loss_weights(step))
    if cfg.needle_reg > 0:
        w["needle"] = cfg.needle_reg
    if cfg.aniso_reg > 0:
        w["aniso"] = cfg.aniso_reg
    return w


def loss_terms(params: dict, view: TrainingRender, weights: dict[str, float], cfg: FitConfig,
               method: Method, virtual: VirtualViews | None = None,
               gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The weighted loss terms named in ``weights``.

    Args:
        params: the fit's parameters (means, quats, log_scales, opacity_logits, sh_dc, ...).
        view: the step's training render.
        weights: from :func:`term_weights`.
        cfg: the fit configuration.
        method: the primitive's adapter.
        virtual, gen: where the virtual view is drawn from (needed for the virtual terms).
    Returns:
        name -> scalar tensor (weight already applied), in the order of ``weights``.
    """
    x0, y0, x1, y1 = view.box
    terms: dict[str, torch.Tensor] = {
        "rgb": l1_ssim_loss(view.rgb[y0:y1, x0:x1], view.target[y0:y1, x0:x1],
                            cfg.ssim_lambda)}
    if "mask" in weights:
        terms["mask"] = weights["mask"] * alpha_mask_loss(view.alpha, view.mask)
    terms.update(method.loss_terms(view.out, view.K, weights))
    if any(k in weights for k in VIRTUAL_TERMS):
        if virtual is None or gen is None:
            raise ValueError("the virtual-view terms need the virtual views and a generator")
        terms.update(virtual_terms(params, virtual.sample(gen), virtual, weights, cfg, method))
    shape = [k for k in SHAPE_TERMS if k in weights]
    if shape:
        values = shape_regularizers(params["log_scales"], params["opacity_logits"],
                                    cfg.needle_max_ratio, cfg.aniso_max_ratio)
        terms.update((k, weights[k] * values[k]) for k in shape)
    return terms


def virtual_terms(params: dict, w2c: torch.Tensor, virtual: VirtualViews,
                   weights: dict[str, float], cfg: FitConfig, method: Method
                   ) -> dict[str, torch.Tensor]:
    """The solid, clear and curvature priors on one render of the virtual camera ``w2c``."""
    curved = "curvature" in weights
    # Scales and rotations never learn from it: grown Gaussians would fatten the shape. Means
    # only move for the curvature prior (alone, the other two gain nothing from them).
    means = params["means"] if curved else params["means"].detach()
    # Colour does not matter here, so the cheapest (degree-0) colour is rendered.
    out = method.render(means, params["quats"].detach(),
                        torch.exp(params["log_scales"].detach()),
                        torch.sigmoid(params["opacity_logits"]), params["sh_dc"].detach(),
                        w2c[None], virtual.K[None], virtual.w, virtual.h, sh_degree=0,
                        depth=curved, backend=cfg.backend)
    alpha = out.alphas[0, ..., 0]
    terms = {}
    if "solid" in weights:
        terms["solid"] = weights["solid"] * solid_loss(alpha, cfg.solid_erode)
    if "clear" in weights:
        terms["clear"] = weights["clear"] * clear_loss(alpha)
    if curved:
        terms["curvature"] = weights["curvature"] * curvature_loss(
            method.expected_depth(out)[0], alpha.detach(), float(virtual.K[0, 0]),
            cfg.curvature_clamp)
    return terms


def total_loss(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of the terms in their order, the virtual-view ones added as one group."""
    total: torch.Tensor | None = None
    group: torch.Tensor | None = None
    for name, value in terms.items():
        if name in VIRTUAL_TERMS:
            group = value if group is None else group + value
            continue
        if group is not None:  # the group ends where the next kind of term starts
            total = total + group if total is not None else group
            group = None
        total = value if total is None else total + value
    if group is not None:
        total = total + group if total is not None else group
    assert total is not None, "no loss terms"
    return total
