"""The buffer pool behind the kernels' outputs: a buffer comes back only once nothing uses it."""

import numpy as np
import torch

from splatsynth.threads import MAX_BUFFERS, pooled


def test_held_results_are_never_handed_out_again():
    a = pooled("test-held", (10, 3), np.float32)
    a[:] = 1
    t = torch.from_numpy(a[2:])  # a view, as a render's outputs are
    del a
    b = pooled("test-held", (10, 3), np.float32)
    b[:] = 2
    assert torch.all(t == 1)
    addr = b.ctypes.data
    del b
    assert pooled("test-held", (10, 3), np.float32).ctypes.data == addr  # freed: reused


def test_aligned_grows_and_caps():
    a = pooled("test-grow", (7,), np.float64)
    assert a.ctypes.data % 64 == 0 and a.shape == (7,) and a.dtype == np.float64
    del a
    big = pooled("test-grow", (1000, 4), np.int32)
    assert big.shape == (1000, 4) and big.ctypes.data % 64 == 0
    held = [pooled("test-cap", (5,), np.float32) for _ in range(MAX_BUFFERS + 3)]
    assert len({h.ctypes.data for h in held}) == len(held)  # all distinct while held
