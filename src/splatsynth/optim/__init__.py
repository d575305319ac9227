"""Optimisation pieces: densification strategies, pose deltas and schedules."""

from .pose import PoseDeltas, delta_matrices, so3_exp
from .schedules import active_sh_degree, exp_decay, fade_out, refine_now
from .strategy import (
    ClassicStrategy,
    MCMCStrategy,
    RefineSchedule,
    StepInfo,
    Strategy,
    relocation_params,
)

__all__ = ["PoseDeltas", "delta_matrices", "so3_exp", "exp_decay", "active_sh_degree",
           "fade_out", "refine_now", "Strategy", "StepInfo", "RefineSchedule", "MCMCStrategy",
           "ClassicStrategy", "relocation_params"]
