"""Tile binning: the lists are what a direct reading of the definition gives, front to back,
and the same however many parts the Gaussians are binned in."""

import numpy as np
import pytest

from splatsynth.render import _autograd
from splatsynth.threads import set_num_threads

TILE = 16


def _inputs(seed, N=3000, C=2, w=100, h=70):
    rng = np.random.default_rng(seed)
    m2d = np.stack([rng.uniform(-20, w + 20, C * N), rng.uniform(-20, h + 20, C * N)],
                   1).astype(np.float32)
    radii = rng.integers(0, 30, (C * N, 2)).astype(np.int32)
    radii[rng.random(C * N) < 0.2] = 0  # culled
    depth = rng.uniform(0.5, 5.0, C * N).astype(np.float32)
    depth[radii[:, 0] == 0] = 0.0
    depth[5] = depth[6]  # a tie: broken by gid
    return m2d, radii, depth, N, C, (w + TILE - 1) // TILE, (h + TILE - 1) // TILE


def _direct(m2d, radii, depth, N, C, tx, ty):
    """Each tile's (gid, pair id) list by the definition: Gaussians whose [u +- rx] x [v +- ry]
    box overlaps the tile, by camera, then depth, then gid."""
    lists = [[] for _ in range(C * tx * ty)]
    pair, pairs_of = 0, {}
    for g in range(C * N):
        if radii[g, 0] == 0 and radii[g, 1] == 0:
            continue
        u, v = float(m2d[g, 0]), float(m2d[g, 1])
        x0, x1 = max(0, int(np.floor((u - radii[g, 0]) / TILE))), \
            min(tx, int(np.ceil((u + radii[g, 0]) / TILE)))
        y0, y1 = max(0, int(np.floor((v - radii[g, 1]) / TILE))), \
            min(ty, int(np.ceil((v + radii[g, 1]) / TILE)))
        tiles = [(g // N) * tx * ty + y * tx + x for y in range(y0, y1) for x in range(x0, x1)]
        pairs_of[g] = list(range(pair, pair + len(tiles)))
        for t, p in zip(tiles, pairs_of[g]):
            lists[t].append((float(depth[g]), g, p))
        pair += len(tiles)
    return [[(g, p) for _, g, p in sorted(lst)] for lst in lists], pair


@pytest.mark.parametrize("seed", [0, 1])
def test_binning_matches_the_definition_for_any_number_of_threads(seed):
    args = _inputs(seed)
    want, pairs = _direct(*args)
    results = []
    for threads in (1, 2, 3):
        set_num_threads(threads)
        try:
            pair_off, tile_off, gid, pid = _autograd._bin(*args)
        finally:
            set_num_threads(None)
        got = [list(zip(gid[a:b].tolist(), pid[a:b].tolist()))
               for a, b in zip(tile_off[:-1], tile_off[1:])]
        assert got == want
        assert pair_off[-1] == pairs and tile_off[-1] == pairs
        results.append((pair_off, tile_off, gid, pid))
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))


def test_binning_of_nothing_visible():
    m2d, radii, depth, N, C, tx, ty = _inputs(2, N=10, C=1)
    radii[:] = 0
    pair_off, tile_off, gid, pid = _autograd._bin(m2d, radii, depth * 0, N, C, tx, ty)
    assert gid.size == 0 and pid.size == 0 and not pair_off.any() and not tile_off.any()
