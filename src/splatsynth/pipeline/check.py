"""Stage 2b, check: is the fit good enough to write? Between reconstruct and render.

A fit that blew up, flew away or never learned the subject must not reach the dataset, where
it would poison training silently. :func:`check_fit` measures the main fit and says why it fails
(typed :class:`CheckReason`\\ s, each naming the knob that sets its limit):

- *finite*: every parameter of every Gaussian is finite, and there is at least one Gaussian;
- *inside the scene*: the median distance of the centres from the canonical origin (the
  subject's centre), and the share of Gaussians that exploded (farther than
  ``check.explode_distance`` subject radii, or larger than ``check.explode_scale`` radii);
- *quality on the training views*: the masked PSNR and the silhouette IoU (scenes with masks)
  of every input view re-rendered, the worst view above floors.

The default limits were set from measurements of good and broken fits (``bench/check_fit.py``,
``bench/RESULTS.md``, "Post-fit check"). A fit that fails is retried once with a safer setting
(:func:`safer_config`; the one retry policy of ``run``, ``demo`` and ``batch``, applied by
:func:`~splatsynth.pipeline.run_scene`), then the scene fails with the numbers and nothing is
written. The check only reads the fit: a passing fit is written exactly as it came out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..config import CheckConfig, RunConfig
from ..errors import FitFailed, FitRejected
from ..fit import FitResult
from ..metrics import ScoreSet
from .prepare import Prepared
from .reconstruct import Reconstruction, reconstruct

ReasonKind = Literal["no_gaussians", "non_finite", "exploded", "off_centre", "train_psnr_masked",
                     "train_iou"]


@dataclass(frozen=True)
class CheckReason:
    """One reason a fit failed the check.

    Attributes:
        kind: what failed.
        message: a sentence with the value and the limit, naming the knob.
        knob: the dotted knob that sets the limit (None for non-finite parameters).
        value: the measured value.
        limit: the limit it crossed.
    """

    kind: ReasonKind
    message: str
    knob: str | None = None
    value: float | None = None
    limit: float | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FitCheck:
    """The check's numbers for one fit, and its verdict.

    Distances and scales are in subject radii (canonical units divided by
    ``normalize.radius``). Scores are over the views the fit trained on.

    Attributes:
        gaussians: how many Gaussians the fit has.
        non_finite: how many of them have a NaN or infinite parameter.
        median_distance: median distance of the centres from the canonical origin.
        exploded_fraction: share of Gaussians farther than ``check.explode_distance`` or
            larger than ``check.explode_scale``.
        train_psnr_masked: mean masked PSNR of the training views, dB.
        worst_psnr_masked: the lowest training view's masked PSNR, dB.
        worst_psnr_view: that view's name.
        train_iou: mean silhouette IoU of the training views (NaN without masks).
        worst_iou: the lowest training view's IoU (NaN without masks).
        worst_iou_view: that view's name.
        reasons: why it fails (empty: it passes).
    """

    gaussians: int
    non_finite: int
    median_distance: float
    exploded_fraction: float
    train_psnr_masked: float
    worst_psnr_masked: float
    worst_psnr_view: str
    train_iou: float
    worst_iou: float
    worst_iou_view: str
    reasons: tuple[CheckReason, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def summary(self) -> str:
        """The numbers on one line."""
        return (f"{self.gaussians} Gaussians ({self.non_finite} non-finite), median distance "
                f"{_fmt(self.median_distance)} radii, exploded {100 * self.exploded_fraction:.1f}%"
                f", training views masked PSNR {_fmt(self.train_psnr_masked)} dB (worst "
                f"{_fmt(self.worst_psnr_masked)}), IoU {_fmt(self.train_iou, 3)} (worst "
                f"{_fmt(self.worst_iou, 3)})")

    def to_json(self) -> dict[str, Any]:
        """The ``check`` block of ``report.json`` (docs/report.md)."""
        return {"passed": self.passed, "gaussians": self.gaussians,
                "non_finite": self.non_finite, "median_distance": self.median_distance,
                "exploded_fraction": self.exploded_fraction,
                "train_psnr_masked": self.train_psnr_masked,
                "worst_psnr_masked": self.worst_psnr_masked,
                "worst_psnr_view": self.worst_psnr_view, "train_iou": self.train_iou,
                "worst_iou": self.worst_iou, "worst_iou_view": self.worst_iou_view,
                "reasons": [{"kind": r.kind, "knob": r.knob, "value": r.value,
                             "limit": r.limit, "message": r.message} for r in self.reasons]}


def _fmt(v: float, nd: int = 2) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.{nd}f}"


def check_fit(prepared: Prepared, fit: FitResult, cfg: RunConfig | None = None) -> FitCheck:
    """Measure a fit and judge it against ``cfg.check`` (reads the fit; changes nothing).

    Args:
        prepared: the scene (its canonical frame has the subject's radius
            ``cfg.normalize.radius`` about the origin).
        fit: the main fit of :func:`~splatsynth.pipeline.reconstruct`.
        cfg: the run configuration.
    Returns:
        :class:`FitCheck`; ``passed`` is False when any reason was found.
    """
    cfg = cfg or RunConfig()
    c, radius = cfg.check, cfg.normalize.radius
    g = fit.gaussians
    means = g.means.detach().double().numpy()
    log_scales = g.log_scales.detach().double().numpy()
    n = len(means)
    finite = np.ones(n, bool)
    for t in g.tensors() if n else ():
        finite &= np.isfinite(t.detach().double().numpy().reshape(n, -1)).all(1)
    non_finite = int((~finite).sum())
    m, ls = means[finite], log_scales[finite]
    dist = np.linalg.norm(m, axis=1) / radius if len(m) else np.zeros(0)
    median = float(np.median(dist)) if len(dist) else math.nan
    # 2DGS keeps its third scale near zero; the largest axis is what can blow up either way.
    size = np.exp(ls.max(1)) / radius if len(ls) else np.zeros(0)
    exploded = float(((dist > c.explode_distance) | (size > c.explode_scale)).mean()) \
        if len(dist) else 0.0

    train = fit.scores.subset(fit.train_views)
    mean = train.mean
    worst_psnr, psnr_view = _worst(train, "psnr_masked")
    worst_iou, iou_view = _worst(train, "iou")

    reasons: list[CheckReason] = []
    if n == 0:
        reasons.append(CheckReason("no_gaussians", "the fit has no Gaussians"))
    if non_finite:
        reasons.append(CheckReason("non_finite", f"{non_finite} of {n} Gaussians have NaN/inf "
                                                 "parameters", value=float(non_finite)))
    if exploded > c.max_exploded_fraction:
        reasons.append(CheckReason(
            "exploded", f"{100 * exploded:.1f}% of the Gaussians exploded (farther than "
            f"check.explode_distance {c.explode_distance:g} or larger than check.explode_scale "
            f"{c.explode_scale:g} subject radii) > check.max_exploded_fraction "
            f"{100 * c.max_exploded_fraction:g}%", "check.max_exploded_fraction", exploded,
            c.max_exploded_fraction))
    if math.isfinite(median) and median > c.max_median_distance:
        reasons.append(CheckReason(
            "off_centre", f"the Gaussians' median distance from the subject's centre is "
            f"{median:.3g} subject radii > check.max_median_distance {c.max_median_distance:g}",
            "check.max_median_distance", median, c.max_median_distance))
    _floor(reasons, "train_psnr_masked", worst_psnr, c.min_train_psnr_masked,
           f"training view {psnr_view}'s masked PSNR", " dB", "check.min_train_psnr_masked")
    _floor(reasons, "train_iou", worst_iou, c.min_train_iou,
           f"training view {iou_view}'s silhouette IoU", "", "check.min_train_iou")
    return FitCheck(n, non_finite, median, exploded, float(mean.psnr_masked), worst_psnr,
                    psnr_view, float(mean.iou), worst_iou, iou_view, tuple(reasons))


def _worst(scores: ScoreSet, key: str) -> tuple[float, str]:
    """The lowest defined value of ``key`` over the views and that view's name (NaN, "" when
    no view defines it). The worst view, not the mean: one view fitted to the wrong mask or
    image is what poisons a scene, and the mean hides it."""
    vals = [(float(getattr(v.scores, key)), v.view) for v in scores.per_view
            if not math.isnan(getattr(v.scores, key))]
    return min(vals) if vals else (math.nan, "")


def _floor(reasons: list[CheckReason], kind: ReasonKind, value: float, limit: float | None,
           what: str, unit: str, knob: str) -> None:
    """Add a reason when ``value`` is below the floor ``limit`` (None: no floor). NaN means
    there is nothing to score (no masks) and passes; the other checks still apply."""
    if limit is None or not math.isfinite(limit) or math.isnan(value):
        return
    if value < limit:
        reasons.append(CheckReason(kind, f"{what} {value:.3f}{unit} < {knob} {limit:g}{unit}",
                                   knob, value, limit))


def safer_config(cfg: RunConfig) -> tuple[RunConfig, dict[str, Any]]:
    """The retry setting of a fit that failed (diverged or failed the check): smaller position
    and scale steps (times ``check.retry_lr_factor``) and another seed.

    Returns:
        The new config and the changed knobs by dotted name (recorded in the report and in
        a batch's failures and summary).
    """
    f = cfg.check.retry_lr_factor
    fit = replace(cfg.fit, lr_position=cfg.fit.lr_position * f,
                  lr_scaling=cfg.fit.lr_scaling * f, seed=cfg.fit.seed + 1)
    changed = {"fit.lr_position": fit.lr_position, "fit.lr_scaling": fit.lr_scaling,
               "fit.seed": fit.seed}
    return replace(cfg, fit=fit), changed


def rejection(scene_id: str, check: FitCheck) -> FitRejected:
    """The error of a fit that failed the check: every reason and the numbers."""
    reasons = "; ".join(str(r) for r in check.reasons)
    return FitRejected(f"scene {scene_id}: the fit failed the post-fit check: {reasons} "
                       f"[{check.summary()}]", scene=scene_id, check=check.to_json())


@dataclass(frozen=True)
class Checked:
    """A fit that passed the check, with how it got there.

    Attributes:
        recon: the reconstruction (main fit, and the held-out score when asked for).
        check: the check's numbers for the main fit.
        cfg: the configuration of the attempt that passed (the safer one after a retry).
        retry_setting: the retry's changed knobs by dotted name (empty: no retry was needed).
        first_error: why the first attempt failed, when it was retried.
    """

    recon: Reconstruction
    check: FitCheck
    cfg: RunConfig
    retry_setting: dict[str, Any] = field(default_factory=dict)
    first_error: str = ""

    @property
    def retried(self) -> bool:
        return bool(self.retry_setting)


def reconstruct_checked(prepared: Prepared, cfg: RunConfig | None = None) -> Checked:
    """Fit, check the fit before anything else happens (before the held-out fit too), and on
    failure fit once more with :func:`safer_config` (``check.retry``): the one retry policy of
    ``run``, ``demo`` and ``batch``.

    Raises:
        FitDiverged: the fit diverged, on the retry too.
        FitRejected: the fit failed the check, on the retry too; ``retried``,
            ``retry_setting`` and ``first_error`` say what was tried.
    """
    cfg = cfg or RunConfig()
    attempt, setting, first = cfg, {}, ""
    while True:
        try:
            recon, check = _fit_and_check(prepared, attempt)
        except FitFailed as e:
            if setting:  # the retry failed too
                raise e.after_retry(setting, first) from None
            if not cfg.check.retry:
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            attempt, setting = safer_config(attempt)
            continue
        return Checked(recon, check, attempt, setting, first)


def _fit_and_check(prepared: Prepared, cfg: RunConfig) -> tuple[Reconstruction, FitCheck]:
    """One attempt: the fit, checked before the held-out fit starts."""
    verdict: dict[str, FitCheck] = {}

    def gate(fit: FitResult) -> None:
        verdict["check"] = c = check_fit(prepared, fit, cfg)
        if not c.passed:
            raise rejection(prepared.scene_id, c)

    recon = reconstruct(prepared, cfg, check_fit=gate)
    return recon, verdict["check"]


__all__ = ["CheckConfig", "CheckReason", "FitCheck", "Checked", "check_fit",
           "reconstruct_checked", "safer_config", "rejection"]
