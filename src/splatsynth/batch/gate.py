"""Keeping bad reconstructions out: the divergence check on a fit, and the quality gate.

Two different questions:

- *Did the fit blow up?* (:func:`check_gaussians`) -- non-finite parameters, or many Gaussians
  flung far away or grown larger than the subject. Such a fit is treated like a NaN loss: the
  scene is retried once with a safer setting, and recorded as failed if it blows up again.
- *Is the reconstruction good enough to train on?* (:func:`gate_reasons`) -- the
  leave-one-view-out score: a second fit without one input view, scored on that view (masked
  PSNR and silhouette IoU; ``output.holdout``). A scene below a threshold stays on disk but is
  listed in ``OUT/quarantine.jsonl`` and left out of the train/val lists.

The gate reads only held-out scores. Scores on the training views say little about novel views
(a fit can reproduce six inputs and still be wrong in between), so a configured gate requires
``output.holdout`` (checked when the batch starts), and a finished scene whose report has no
held-out score fails the gate with that reason rather than passing unexamined.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import FitDiverged, SplatsynthError
from .config import BatchConfig


def check_gaussians(means: Any, log_scales: Any, opacity_logits: Any, sh: Any,
                    cfg: BatchConfig, *, scene_id: str = "") -> None:
    """Raise :class:`~splatsynth.errors.FitDiverged` when a fitted set of Gaussians has blown up.

    Args:
        means: [N, 3] centres in the canonical frame (torch tensor or numpy array).
        log_scales: [N, 3] log-scales.
        opacity_logits: [N] or [N, 1] opacity logits.
        sh: [N, K, 3] SH coefficients.
        cfg: thresholds ``explode_distance``, ``explode_scale``, ``max_exploded_fraction``.
        scene_id: named in the message.
    """
    import torch

    t = [torch.as_tensor(x).detach().float() for x in (means, log_scales, opacity_logits, sh)]
    m, ls, op, c = t
    n = int(m.shape[0])
    if n == 0:
        raise FitDiverged(f"scene {scene_id}: the fit diverged (no Gaussians left)",
                          scene=scene_id)
    finite = (torch.isfinite(m).all(1) & torch.isfinite(ls).all(1)
              & torch.isfinite(op.reshape(n, -1)).all(1) & torch.isfinite(c.reshape(n, -1)).all(1))
    bad = int((~finite).sum())
    if bad:
        raise FitDiverged(f"scene {scene_id}: the fit diverged ({bad} of {n} Gaussians have "
                          f"NaN/inf parameters)", scene=scene_id)
    far = m.norm(dim=1) > cfg.explode_distance
    big = ls.max(dim=1).values > math.log(cfg.explode_scale)
    exploded = int((far | big).sum())
    if exploded > cfg.max_exploded_fraction * n:
        raise FitDiverged(
            f"scene {scene_id}: the fit diverged (exploding Gaussians: {exploded} of {n} are "
            f"farther than {cfg.explode_distance:g} from the origin or larger than "
            f"{cfg.explode_scale:g}; {int(far.sum())} far, {int(big.sum())} large)",
            scene=scene_id)


def _num(x: Any) -> float:
    """A JSON metric as float; missing and null (NaN written as null) become NaN."""
    try:
        return float(x) if x is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def check_gate_config(cfg: BatchConfig, holdout_enabled: bool) -> None:
    """Raise :class:`SplatsynthError` when a gate is configured but no held-out score would
    be computed (every new scene would then be quarantined)."""
    if cfg.gate_enabled and not holdout_enabled:
        raise SplatsynthError(
            "batch: the quality gate (--min_holdout_psnr_masked / --min_holdout_iou) scores "
            "the leave-one-view-out fit; add --output.holdout (costs a second fit per "
            "scene) or drop the thresholds")


def gate_reasons(report: dict, cfg: BatchConfig) -> list[str]:
    """Why a finished scene fails the quality gate (empty list: it passes or no gate is set).

    Args:
        report: the scene's ``report.json`` content.
        cfg: the thresholds.
    """
    if not cfg.gate_enabled:
        return []
    ho = (report.get("metrics") or {}).get("holdout")
    if not isinstance(ho, dict):
        return ["no held-out score (the scene was fitted without output.holdout)"]
    out = []
    for key, thr, unit in (("psnr_masked", cfg.min_holdout_psnr_masked, " dB"),
                           ("iou", cfg.min_holdout_iou, "")):
        if thr is None:
            continue
        v = _num(ho.get(key))
        if math.isnan(v):
            out.append(f"held-out {key} is undefined (empty mask or render)")
        elif v < thr:
            out.append(f"held-out {key} {v:.3f}{unit} < {thr:g}{unit}")
    return out


def quarantine_entry(scene_id: str, report: dict, reasons: list[str], cfg: BatchConfig
                     ) -> dict:
    """One line of ``quarantine.jsonl``."""
    ho = (report.get("metrics") or {}).get("holdout") or {}
    return {"scene_id": scene_id, "reason": "; ".join(reasons),
            "holdout_view": ho.get("view"),
            "holdout_psnr_masked": _num(ho.get("psnr_masked")) if ho else None,
            "holdout_iou": _num(ho.get("iou")) if ho else None,
            "min_holdout_psnr_masked": cfg.min_holdout_psnr_masked,
            "min_holdout_iou": cfg.min_holdout_iou}
