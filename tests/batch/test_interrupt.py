"""SIGKILL the batch mid-run, run the same command again: the result is what a clean run gives,
scenes finished before the kill are not redone, and no worker outlives the killed batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from splatsynth.config import save_config

from .conftest import break_scene, copy_scene, tiny_config

SCRIPT = """
import sys
from splatsynth.batch import BatchConfig, batch_main
from splatsynth.config import load_config

if __name__ == "__main__":  # workers are spawned: they re-import this file
    sys.exit(batch_main([sys.argv[1]], sys.argv[2], load_config(sys.argv[3]),
                        BatchConfig(workers=2, progress=False)))
"""
GOOD = ["a", "b", "c"]


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(x) for x in text)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie waiting for its reaper is dead


def test_sigkill_and_resume(tmp_path: Path, base_scenes) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for sid in GOOD:
        copy_scene(base_scenes[0], scenes / sid)
    break_scene(copy_scene(base_scenes[0], scenes / "broken"))
    out = tmp_path / "out"
    cfg_file = tmp_path / "cfg.yaml"
    save_config(tiny_config(), cfg_file)
    script = tmp_path / "batch_script.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), str(scenes), str(out), str(cfg_file)]

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    finished: list[str] = []
    while time.monotonic() < deadline and proc.poll() is None:
        finished = [s for s in GOOD if (out / s / "report.json").is_file()]
        if finished:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before it could be interrupted:\n" + \
        proc.stdout.read().decode()
    assert finished, "no scene finished within 120 s"
    workers = _children(proc.pid)
    assert workers, "expected worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    # Workers die with the batch (PR_SET_PDEATHSIG): none keeps writing into OUT.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.05)
    assert not [p for p in workers if _alive(p)], "worker processes outlived the batch"

    # What a reader sees after the kill: finished scenes only, nothing half written.
    before = {p.name: (p / "report.json").stat().st_mtime_ns for p in out.iterdir()
              if p.is_dir() and not p.name.startswith(".")}
    assert set(before) <= set(GOOD)
    assert all(m > 0 for m in before.values())
    assert set(finished) <= set(before)
    assert all((out / s / "report.json").is_file() for s in before)

    # The same command again completes the batch.
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr  # 'broken' failed: exit status 1
    listed = set()
    for f in ("data_gslrm_train.txt", "data_gslrm_val.txt"):
        listed |= {Path(x).name for x in (out / f).read_text().splitlines()}
    assert listed == set(GOOD)
    fails = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["scene_id"] for f in fails] == ["broken"]
    assert not [p for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    # Finished scenes were skipped, not refitted.
    for sid, mtime in before.items():
        assert (out / sid / "report.json").stat().st_mtime_ns == mtime
    counts = json.loads((out / "summary.json").read_text())["counts"]
    assert counts["skipped"] == len(before)
    assert counts["done"] == len(GOOD) - len(before)
    assert counts["failed"] == 1
