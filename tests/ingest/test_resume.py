"""Kill an ingest mid-run: no scene folder is half written, and a re-run finishes the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from splatsynth.ingest import IngestConfig, ingest
from splatsynth.ingest.writer import is_finished
from splatsynth.scene_io import check_scene

N = 6
SRC = Path(__file__).resolve().parents[2] / "src"


def test_kill_midway_then_resume(small_recording, tmp_path):
    out = tmp_path / "scenes"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # Large crops make each frame slow enough to be caught in the middle.
    cmd = [sys.executable, "-m", "splatsynth.cli", "ingest", "markerless", str(small_recording),
           "--out", str(out), "--size", "768", "--masks", "videos", "--frames", "0:6",
           "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(1 for p in out.glob("toy_mouse_walk_f*") if p.is_dir()) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the ingest finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = [p for p in out.glob("toy_mouse_walk_f*") if p.is_dir()]
    assert 1 <= len(done) < N
    for p in done:  # visible folders are complete
        assert is_finished(p) and check_scene(p) == [], p
    s = ingest("markerless", small_recording, out,
               IngestConfig(size=768, masks="videos", frames="0:6", progress=False))
    assert s.already_done == len(done) and len(s.written) == N - len(done)
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary folders left"
    assert len((out / "scenes.txt").read_text().split()) == N
