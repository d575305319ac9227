"""Tile binning of the reference rasterizers, written anew in torch (no kernel code).

Every (tile, splat) pair becomes one row of a dense [pairs, tile pixels] problem, rows ordered
by (tile, depth, splat index) so each tile's rows are a front-to-back segment.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class TilePairs(NamedTuple):
    """P (tile, splat) pairs; K = tile * tile pixels per row.

    Attributes:
        cam, gid: [P] camera and splat index of each pair.
        px, py: [P, K] integer pixel coordinates of the tile's pixels (row-major in the tile).
        inside: [P, K] the pixel lies in the image.
        pix: [P, K] flat index into [C * H * W] (0 where outside).
        seg_first: [P] row of the first pair of the same tile.
    """

    cam: torch.Tensor
    gid: torch.Tensor
    px: torch.Tensor
    py: torch.Tensor
    inside: torch.Tensor
    pix: torch.Tensor
    seg_first: torch.Tensor


def tile_pairs(
    means2d: torch.Tensor,
    radii: torch.Tensor,
    depths: torch.Tensor,
    width: int,
    height: int,
    tile: int,
) -> TilePairs:
    """Every tile a splat's screen box (centre +- radii) touches, sorted by (tile, depth, gid).

    Args:
        means2d: [C, N, 2] centres; radii: [C, N, 2] int half-extents (0 = culled);
        depths: [C, N] sort keys; width, height: image size; tile: tile edge in pixels.
    """
    C, N = means2d.shape[:2]
    dev, dt = means2d.device, means2d.dtype
    tiles_x, tiles_y = math.ceil(width / tile), math.ceil(height / tile)
    with torch.no_grad():
        cam, gid = torch.nonzero((radii > 0).any(-1), as_tuple=True)  # row-major: gid order
        u, v = means2d[cam, gid, 0], means2d[cam, gid, 1]
        rx, ry = radii[cam, gid, 0].to(dt), radii[cam, gid, 1].to(dt)
        x0 = torch.floor((u - rx) / tile).clamp(0, tiles_x).long()
        x1 = torch.ceil((u + rx) / tile).clamp(0, tiles_x).long()
        y0 = torch.floor((v - ry) / tile).clamp(0, tiles_y).long()
        y1 = torch.ceil((v + ry) / tile).clamp(0, tiles_y).long()
        nx, ny = (x1 - x0).clamp_min(0), (y1 - y0).clamp_min(0)
        count = nx * ny
        owner = torch.repeat_interleave(torch.arange(count.numel(), device=dev), count)
        first = torch.cumsum(count, 0) - count
        j = torch.arange(owner.numel(), device=dev) - first[owner]
        tx = x0[owner] + j % nx[owner]
        ty = y0[owner] + j // nx[owner]
        tid = cam[owner] * (tiles_x * tiles_y) + ty * tiles_x + tx
        # order by (tile, depth, gid): stable sort on depth, then stable sort on tile
        o1 = torch.sort(depths[cam[owner], gid[owner]].detach(), stable=True).indices
        order = o1[torch.sort(tid[o1], stable=True).indices]
        owner, tid, tx, ty = owner[order], tid[order], tx[order], ty[order]
        P = owner.numel()
        new_seg = torch.ones(P, dtype=torch.bool, device=dev)
        new_seg[1:] = tid[1:] != tid[:-1]
        seg_first = torch.cummax(torch.where(new_seg, torch.arange(P, device=dev), 0), 0).values
        k = torch.arange(tile * tile, device=dev)
        px = tx[:, None] * tile + k % tile
        py = ty[:, None] * tile + k // tile
        inside = (px < width) & (py < height)
        pc = cam[owner]
        pix = torch.where(inside, (pc[:, None] * height + py) * width + px, 0)
    return TilePairs(pc, gid[owner], px, py, inside, pix, seg_first)


def segment_exclusive_cumsum(x: torch.Tensor, seg_first: torch.Tensor) -> torch.Tensor:
    """Per-row exclusive cumsum of x [P, K] restarted at each segment; seg_first: [P] row ids."""
    excl = torch.cumsum(x, dim=0) - x
    return excl - torch.index_select(excl, 0, seg_first)
