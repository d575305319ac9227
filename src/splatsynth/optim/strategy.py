"""Densification strategies over a dict of per-Gaussian parameters and one Adam optimizer.

``params`` maps names ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest") to
``torch.nn.Parameter``s whose first dimension is N; each is its own Adam param group with a
matching ``"name"``.

- :class:`MCMCStrategy` (3DGS-MCMC, Kheradmand et al. 2024): a fixed budget. Dead Gaussians
  (opacity below a threshold) are moved onto live ones sampled by opacity, with opacity and
  scale split so the rendered result is unchanged in expectation; low-opacity Gaussians get
  covariance-shaped position noise so they explore.
- :class:`ClassicStrategy` (Inria 3DGS): clone small / split large Gaussians with large
  positional gradients, prune transparent ones, capped at the budget. Without 2-D screen
  gradients from the CPU kernels it ranks by the accumulated 3-D mean-gradient norm and
  densifies the top fraction, which is scale-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from ..gaussians.geometry import covariance_from_quat_scale, rotation_from_quat
from .schedules import fade_out, refine_now


@dataclass(frozen=True)
class RefineSchedule:
    """The steps on which a strategy changes the set of Gaussians: ``start``, ``start + every``,
    ... before ``stop`` (steps count completed optimizer steps, from 1)."""

    start: int = 100
    every: int = 100
    stop: int = 750

    def __call__(self, step: int) -> bool:
        return refine_now(step, self.start, self.every, self.stop)


@dataclass(frozen=True)
class StepInfo:
    """What a strategy may look at after an optimizer step.

    Attributes:
        step: the step just completed (1-based).
        lr_means: the means' learning rate at that step.
        unseen: computes [N] bool, the Gaussians no training view sees; called only when a
            strategy needs it (it costs a render of every training view).
    """

    step: int
    lr_means: float
    unseen: Callable[[], torch.Tensor] | None = None


class Strategy(Protocol):
    """How the set of Gaussians changes during a fit (the shape of gsplat's
    ``strategy/base.py``): the fit loop calls these hooks and knows nothing else about it.

    ``params`` maps names to ``torch.nn.Parameter``s of first dimension N, each its own param
    group (with a matching ``"name"``) of ``optimizer``; a strategy may replace them.
    """

    def loss_weights(self, step: int) -> dict[str, float]:
        """Weights of the regularizers this strategy relies on at ``step`` (names from the
        fit's loss terms, e.g. ``{"opacity": 0.2, "scale": 0.1}``); empty when none."""
        ...

    def after_backward(self, params: dict, step: int) -> None:
        """Called once the gradients exist, before the optimizer step."""
        ...

    def after_step(self, params: dict, optimizer: torch.optim.Optimizer, info: StepInfo
                   ) -> None:
        """Called after the optimizer step: relocate, densify, prune, add noise."""
        ...


# Binomial coefficients for up to this many copies of one Gaussian in one relocation.
_N_MAX = 51
_BINOMS = torch.tensor([[math.comb(n, k) if k <= n else 0 for k in range(_N_MAX)]
                        for n in range(_N_MAX)], dtype=torch.float64)


def relocation_params(opacities: torch.Tensor, scales: torch.Tensor, ratios: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Opacity and scale for each of ``ratio`` copies of a Gaussian so that the copies, drawn
    on top of each other, match the original (3DGS-MCMC, eq. 9).

    Args:
        opacities: [M] activated opacities of the sources.
        scales: [M, 3] activated scales of the sources.
        ratios: [M] int number of copies (>= 1) each source becomes.
    Returns:
        new_opacities [M], new_scales [M, 3].
    """
    r = ratios.clamp(1, _N_MAX - 1).to(torch.float64)
    o = opacities.to(torch.float64).clamp(1e-6, 1 - 1e-6)
    new_o = 1.0 - (1.0 - o) ** (1.0 / r)
    denom = torch.zeros_like(o)
    rmax = int(r.max().item()) if r.numel() else 1
    for i in range(1, rmax + 1):
        active = (r >= i).to(o.dtype)
        for k in range(i):
            term = _BINOMS[i - 1, k] * ((-1.0) ** k / math.sqrt(k + 1)) * new_o ** (k + 1)
            denom = denom + active * term
    coeff = (o / denom.clamp_min(1e-12)).to(scales.dtype)
    return new_o.to(opacities.dtype).clamp(1e-4, 1 - 1e-4), coeff[:, None] * scales


def _reset_adam_rows(optimizer: torch.optim.Optimizer, params: dict, rows: torch.Tensor) -> None:
    """Zero the Adam moments of the given Gaussians so moved ones start afresh."""
    for p in params.values():
        st = optimizer.state.get(p)
        if not st:
            continue
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                st[key][rows] = 0.0


class MCMCStrategy:
    """Fixed-budget relocation and exploration noise (the default).

    3DGS-MCMC needs its opacity and scale regularizers: they push unneeded Gaussians to
    transparency, which is what makes them "dead" and free to relocate.

    Args:
        min_opacity: Gaussians at or under this opacity are dead.
        noise_lr: exploration noise per unit of the means' learning rate.
        seed: seed of the relocation draws and the noise.
        schedule: when to relocate (None: never).
        relocate_unseen: also relocate Gaussians no training view sees.
        opacity_reg, scale_reg: regularizer weights (see ``FitConfig``).
        opacity_reg_fade: from this fraction of ``iterations`` on, the opacity weight fades
            to zero (``schedules.fade_out``).
        iterations: the fit's step count.
    """

    def __init__(self, min_opacity: float = 0.005, noise_lr: float = 5e5, seed: int = 0, *,
                 schedule: RefineSchedule | None = None, relocate_unseen: bool = False,
                 opacity_reg: float = 0.0, opacity_reg_fade: float = 1.0,
                 scale_reg: float = 0.0, iterations: int = 1):
        self.min_opacity = min_opacity
        self.noise_lr = noise_lr
        self.gen = torch.Generator().manual_seed(seed)
        self.schedule = schedule
        self.relocate_unseen = relocate_unseen
        self.opacity_reg, self.opacity_reg_fade = opacity_reg, opacity_reg_fade
        self.scale_reg, self.iterations = scale_reg, iterations

    def loss_weights(self, step: int) -> dict[str, float]:
        return {"opacity": self.opacity_reg * fade_out(step, self.iterations,
                                                       self.opacity_reg_fade),
                "scale": self.scale_reg}

    def after_backward(self, params: dict, step: int) -> None:
        pass

    def after_step(self, params: dict, optimizer: torch.optim.Optimizer, info: StepInfo
                   ) -> None:
        if self.schedule is not None and self.schedule(info.step):
            unseen = info.unseen() if self.relocate_unseen and info.unseen else None
            self.relocate(params, optimizer, unseen)
        self.add_noise(params, info.lr_means)

    @torch.no_grad()
    def relocate(self, params: dict, optimizer: torch.optim.Optimizer,
                 unseen: torch.Tensor | None = None) -> int:
        """Move dead Gaussians onto live ones; returns how many moved.

        Args:
            unseen: optional [N] bool, Gaussians no training view sees; they count as dead
                too (nothing constrains them, and novel views would show them as floaters).
        """
        opac = torch.sigmoid(params["opacity_logits"])
        dead = opac <= self.min_opacity
        if unseen is not None:
            dead = dead | unseen
        n_dead = int(dead.sum())
        alive_idx = torch.nonzero(~dead).squeeze(1)
        if n_dead == 0 or alive_idx.numel() == 0:
            return 0
        dead_idx = torch.nonzero(dead).squeeze(1)
        probs = opac[alive_idx].double().clamp_min(1e-12)
        src = alive_idx[torch.multinomial(probs / probs.sum(), n_dead, replacement=True,
                                          generator=self.gen)]
        ratios = torch.bincount(src, minlength=opac.numel())[src] + 1
        new_o, new_s = relocation_params(opac[src], torch.exp(params["log_scales"][src]), ratios)
        new_logit = torch.logit(new_o)
        new_log_s = torch.log(new_s.clamp_min(1e-8))
        for idx in (src, dead_idx):
            params["opacity_logits"][idx] = new_logit
            params["log_scales"][idx] = new_log_s
        for name in ("means", "quats", "sh_dc", "sh_rest"):
            params[name][dead_idx] = params[name][src]
        _reset_adam_rows(optimizer, params, torch.cat([src.unique(), dead_idx]))
        return n_dead

    @torch.no_grad()
    def add_noise(self, params: dict, lr_means: float) -> None:
        """Covariance-shaped position noise, strong on transparent Gaussians only."""
        eps = torch.randn(params["means"].shape, generator=self.gen,
                          dtype=params["means"].dtype)
        scale = self.noise_lr * lr_means
        means, quats = params["means"].detach(), params["quats"].detach()
        if all(a.device.type == "cpu" and a.is_contiguous() and a.dtype == eps.dtype
               for a in (means, quats)):
            from ._noise_kernel import covariance_noise

            variances = torch.exp(2.0 * params["log_scales"].detach())
            gates = noise_gate(params["opacity_logits"].detach(), self.min_opacity)
            covariance_noise(means.numpy(), quats.numpy(), variances.numpy(),
                             gates.contiguous().numpy(), eps.numpy(), scale)
        else:
            params["means"].add_(covariance_noise_reference(
                params["quats"], params["log_scales"], params["opacity_logits"], eps,
                self.min_opacity, scale))


def noise_gate(opacity_logits: torch.Tensor, min_opacity: float) -> torch.Tensor:
    """[N] sigmoid(-100 (opacity - min_opacity)) of [N] or [N, 1] logits: ~1 for dead
    Gaussians, ~0 for opaque ones, so only what the fit has given up on explores."""
    return torch.sigmoid(-100.0 * (torch.sigmoid(opacity_logits.reshape(-1)) - min_opacity))


def covariance_noise_reference(quats: torch.Tensor, log_scales: torch.Tensor,
                               opacity_logits: torch.Tensor, eps: torch.Tensor,
                               min_opacity: float, scale: float) -> torch.Tensor:
    """[N, 3] MCMC exploration step: sigma eps gated to near-transparent Gaussians.

    Args:
        quats: [N, 4] wxyz; log_scales: [N, 3]; opacity_logits: [N] or [N, 1];
        eps: [N, 3] standard normal draws; scale: noise_lr * current position lr.
    """
    cov = covariance_from_quat_scale(quats, torch.exp(log_scales))
    gate = noise_gate(opacity_logits, min_opacity)
    return (cov @ eps[..., None]).squeeze(-1) * (gate * scale)[:, None]


class ClassicStrategy:
    """Clone / split / prune under a budget, ranked by accumulated mean-gradient norm."""

    def __init__(self, budget: int, densify_fraction: float = 0.05,
                 min_opacity: float = 0.005, split_scale: float = 0.01, seed: int = 0, *,
                 schedule: RefineSchedule | None = None):
        self.schedule = schedule
        self.budget = budget
        self.densify_fraction = densify_fraction
        self.min_opacity = min_opacity
        self.split_scale = split_scale
        self.gen = torch.Generator().manual_seed(seed)
        self.grad_accum: torch.Tensor | None = None
        self.count: torch.Tensor | None = None

    def loss_weights(self, step: int) -> dict[str, float]:
        return {}

    def after_backward(self, params: dict, step: int) -> None:
        self.accumulate(params)

    def after_step(self, params: dict, optimizer: torch.optim.Optimizer, info: StepInfo
                   ) -> None:
        if self.schedule is not None and self.schedule(info.step):
            self.refine(params, optimizer)

    @torch.no_grad()
    def accumulate(self, params: dict) -> None:
        """Record this step's mean-gradient norms (call after backward)."""
        g = params["means"].grad
        if g is None:
            return
        norm = g.norm(dim=-1)
        if self.grad_accum is None or self.grad_accum.numel() != norm.numel():
            self.grad_accum = torch.zeros_like(norm)
            self.count = torch.zeros_like(norm)
        self.grad_accum += norm
        self.count += (norm > 0).to(norm.dtype)

    @torch.no_grad()
    def refine(self, params: dict, optimizer: torch.optim.Optimizer) -> dict[str, int]:
        """Prune, clone and split; returns counts. Rebuilds the parameters in ``params``."""
        n = params["means"].shape[0]
        opac = torch.sigmoid(params["opacity_logits"])
        keep = opac > self.min_opacity
        avg = (self.grad_accum / self.count.clamp_min(1)) if self.grad_accum is not None \
            else torch.zeros(n)
        room = max(self.budget - int(keep.sum()), 0)
        k = min(int(self.densify_fraction * n), room)
        grow = torch.zeros(n, dtype=torch.bool)
        if k > 0:
            top = torch.topk(torch.where(keep, avg, torch.full_like(avg, -1.0)), k).indices
            grow[top] = avg[top] > 0
        big = torch.exp(params["log_scales"]).max(-1).values > self.split_scale
        split, clone = grow & big, grow & ~big
        # A split Gaussian becomes two children sampled inside it at 1/1.6 of its size.
        s_idx = torch.nonzero(split).squeeze(1)
        scales = torch.exp(params["log_scales"][s_idx])
        offs = torch.randn(s_idx.numel(), 3, generator=self.gen, dtype=scales.dtype) * scales
        R = rotation_from_quat(params["quats"][s_idx])
        offs = (R @ offs[..., None]).squeeze(-1)
        new = {}
        for name, p in params.items():
            parts = [p.data[keep & ~split], p.data[clone], p.data[s_idx], p.data[s_idx]]
            if name == "means":
                parts[2] = parts[2] + offs
                parts[3] = parts[3] - offs
            if name == "log_scales":
                parts[2] = parts[2] - math.log(1.6)
                parts[3] = parts[3] - math.log(1.6)
            new[name] = torch.cat(parts)
        _replace_parameters(optimizer, params, new)
        self.grad_accum = None
        self.count = None
        return {"pruned": int((~keep).sum()), "cloned": int(clone.sum()),
                "split": int(split.sum()), "total": int(new["means"].shape[0])}


def _replace_parameters(optimizer: torch.optim.Optimizer, params: dict, new: dict) -> None:
    """Swap each parameter for a new tensor of a different length; fresh Adam moments."""
    for group in optimizer.param_groups:
        name = group["name"]
        old = group["params"][0]
        optimizer.state.pop(old, None)
        p = torch.nn.Parameter(new[name].contiguous())
        group["params"][0] = p
        params[name] = p
