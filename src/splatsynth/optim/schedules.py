"""Schedules that change with the step: learning-rate decay, SH degree."""

from __future__ import annotations

import math


def exp_decay(step: int, total: int, lr_init: float, final_ratio: float = 0.01) -> float:
    """Log-linear decay from ``lr_init`` at step 0 to ``lr_init * final_ratio`` at ``total``."""
    if total <= 0:
        return lr_init
    t = min(max(step / total, 0.0), 1.0)
    return lr_init * math.exp(t * math.log(final_ratio))


def fade_out(step: int, total: int, start_fraction: float, end_fraction: float = 0.95) -> float:
    """Weight 1 up to ``start_fraction`` of ``total`` steps, then linear down to 0, reached at
    ``end_fraction`` (and kept there); ``start_fraction >= 1`` never fades."""
    if total <= 0 or start_fraction >= 1.0:
        return 1.0
    t = step / total
    if t <= start_fraction:
        return 1.0
    span = max(end_fraction - start_fraction, 1e-9)
    return max(0.0, 1.0 - (t - start_fraction) / span)


def active_sh_degree(step: int, max_degree: int, every: int) -> int:
    """The SH degree in use at ``step``: 0 at first, one more every ``every`` steps."""
    if every <= 0:
        return max_degree
    return min(max_degree, step // every)


def refine_now(step: int, start: int, every: int, stop: int) -> bool:
    """True on the steps where densification / relocation runs: start, start + every, ... < stop.

    ``step`` counts completed steps (1-based), so ``refine_now(100, 100, 100, ...)`` fires after
    the 100th optimizer step.
    """
    return every > 0 and start <= step < stop and (step - start) % every == 0
