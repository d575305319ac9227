"""Tensors as kernel arrays, and how the render kernels' work is cut (no numba import here).

Work is split into fixed slices (:func:`splatsynth.threads.split`, or by tile cost below) run
by :func:`splatsynth.threads.run_parallel`; every reduction runs in a fixed order, so outputs
and gradients are bit-identical across runs and thread counts.
"""

from __future__ import annotations

import numpy as np
import torch

VIEW_CHUNKS = 64
"""Fixed chunks of the viewmat-gradient reduction over Gaussians (not one per thread: the sum
order must not depend on the thread count)."""


def as_array(t: torch.Tensor) -> np.ndarray:
    """A contiguous numpy view of a CPU tensor (a copy only when it is not contiguous)."""
    return t.detach().contiguous().numpy()


def grad_or_zeros(g: torch.Tensor | None, shape: tuple, dt: np.dtype) -> np.ndarray:
    """The upstream gradient as a contiguous array, zeros when autograd passed None."""
    if g is None:
        return np.zeros(shape, dtype=dt)
    return np.ascontiguousarray(g.detach().numpy(), dtype=dt)


def chunks(tile_off: np.ndarray, nth: int, per_thread: int = 4) -> list[np.ndarray]:
    """All tiles in chunks of about equal cost, most expensive tiles first, for a shared queue
    (:func:`run_parallel`); one chunk when a single thread runs."""
    cost = np.diff(tile_off) + 8  # + fixed per-tile work (state set-up, write-out)
    tiles = np.argsort(-cost, kind="stable")
    if nth <= 1 or tiles.size < 2:
        return [tiles]
    k = min(tiles.size, nth * per_thread)
    cum = np.cumsum(cost[tiles])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, k) / k)
    return [c for c in np.split(tiles, cuts) if c.size]


def deal(tile_off: np.ndarray, nth: int) -> list[np.ndarray]:
    """All tiles dealt to threads, most expensive first, in snake order (0 1 1 0 0 1 ..)."""
    cost = np.diff(tile_off)
    tiles = np.argsort(-cost, kind="stable")
    if nth == 1 or tiles.size < 2:
        return [tiles]
    k = np.arange(tiles.size) % (2 * nth)
    owner = np.where(k < nth, k, 2 * nth - 1 - k)
    return [tiles[owner == t] for t in range(nth) if np.any(owner == t)]


def view_grad(g_view_part: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """[K, C, 12] per-chunk gradients of viewmats[:, :3, :4] -> [C, 4, 4], summed in order."""
    C = g_view_part.shape[1]
    part = g_view_part[0].copy()
    for k in range(1, g_view_part.shape[0]):  # fixed order: deterministic
        part += g_view_part[k]
    g_view = torch.zeros((C, 4, 4), dtype=dtype)
    g_view[:, :3, :] = torch.from_numpy(part.reshape(C, 3, 4))
    return g_view


def background_grad(g_rgb: torch.Tensor, T: np.ndarray) -> torch.Tensor:
    """[C, 3] gradient of the backgrounds: the upstream colour gradient times the final
    transmittance T [C, H, W], summed over pixels."""
    return (g_rgb * torch.from_numpy(T)[..., None]).sum(dim=(1, 2))
