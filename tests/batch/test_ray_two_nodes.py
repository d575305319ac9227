"""The Ray backend on a two-node cluster that loses its worker node in mid-batch
(bench/ray_two_nodes.py: head + worker as separate Ray processes on this machine, the worker's
processes SIGKILLed while it runs a scene; every scene must still finish exactly once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "ray_two_nodes.py"


@pytest.mark.slow
def test_batch_survives_losing_a_ray_node():
    r = subprocess.run([sys.executable, str(SCRIPT), "--scenes", "4", "--iterations", "60",
                        "--timeout", "480"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "RESULT: PASS" in r.stdout, r.stdout[-4000:] + r.stderr[-2000:]
