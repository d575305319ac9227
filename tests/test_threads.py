"""The thread policy: set in one place, restored on exit."""

import os

import numba
import torch

from splatsynth import threads
from splatsynth.threads import THREAD_ENV_VARS, thread_policy


def test_fitting_holds_torch_to_one_thread_and_restores_it():
    before, kernels = torch.get_num_threads(), threads.get_num_threads()
    with thread_policy(fitting=True):
        assert torch.get_num_threads() == 1
        assert threads.get_num_threads() == kernels  # the kernels keep every thread
    assert torch.get_num_threads() == before


def test_a_share_sets_every_pool_then_restores_them(monkeypatch):
    for v in THREAD_ENV_VARS:
        monkeypatch.delenv(v, raising=False)
    before, kernels, nb = torch.get_num_threads(), threads.get_num_threads(), \
        numba.get_num_threads()
    with thread_policy(1):
        assert (torch.get_num_threads(), threads.get_num_threads(),
                numba.get_num_threads()) == (1, 1, 1)
        assert all(os.environ[v] == "1" for v in THREAD_ENV_VARS)  # for later imports, children
        with thread_policy(fitting=True):  # a fit inside a batch worker
            assert torch.get_num_threads() == 1
    assert (torch.get_num_threads(), threads.get_num_threads(), numba.get_num_threads()) == \
        (before, kernels, nb)
    assert not any(v in os.environ for v in THREAD_ENV_VARS)
