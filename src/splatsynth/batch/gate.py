"""Keeping weak reconstructions out of the lists: the quality gate.

A fit that blew up or never learned the subject does not get this far: the pipeline's post-fit
check (:mod:`splatsynth.pipeline.check`, the same for ``run`` and ``batch``) retries it once and
then fails the scene with nothing written. The gate asks the next question, *is a written
reconstruction good enough to train on?* (:func:`gate_reasons`) -- the leave-one-view-out
score: a second fit without one input view, scored on that view (masked PSNR and silhouette
IoU; ``output.holdout``). A scene below a threshold stays on disk but is listed in
``OUT/quarantine.jsonl`` and left out of the train/val lists.

The gate reads only held-out scores. Scores on the training views say little about novel views
(a fit can reproduce six inputs and still be wrong in between), so a configured gate requires
``output.holdout`` (checked when the batch starts), and a finished scene whose report has no
held-out score fails the gate with that reason rather than passing unexamined.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import SplatsynthError
from .config import BatchConfig


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
