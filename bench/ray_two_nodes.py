"""A Ray cluster that loses a node in the middle of a batch: the batch must still finish.

On this one machine: a head node and a second worker node started as separate Ray processes
(``ray start --head`` and ``ray start --address=...``, one CPU each, their own temporary
folders), and ``splatsynth batch --ray ADDRESS`` writing every scene into one shared OUT. As
soon as at least one scene is finished and a scene task is running on the worker node, every
process of the worker node is killed with SIGKILL (its raylet, its workers, its agents: what a
machine that loses power or network looks like to the rest of the cluster). Then it checks:

- the batch exits 0 and every scene is finished exactly once: one ``OUT/<scene_id>/`` each,
  holding ``report.json`` and every file of a finished scene (32 orbit PNGs that decode,
  cameras, PLY), no other folder;
- nothing half-written is left: no ``.tmp-*`` / ``.old-*`` folder under OUT;
- the worker node is gone from the cluster, and the scene it was running ran again elsewhere.

    python bench/ray_two_nodes.py                   # 6 tiny scenes, about 2-4 minutes
    python bench/ray_two_nodes.py --scenes 8 --keep /tmp/ray_test

Prints what happened and ``RESULT: PASS`` or ``RESULT: FAIL ...``; exit status 0 on a pass.
Only processes this script started are stopped (never ``ray stop``, which would stop every Ray
node of the machine). Needs Ray (``pip install 'splatsynth[ray]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_scenes(root: Path, n: int, size: int) -> list[Path]:
    from splatsynth.demo import make_demo_scene

    scenes = []
    for i in range(n):
        s = make_demo_scene(root / f"tmp{i}", size=size, n_views=4, seed=i)
        shutil.rmtree(s / "gt", ignore_errors=True)
        dst = root / f"mouse_{i:03d}"
        s.rename(dst)
        shutil.rmtree(root / f"tmp{i}")
        scenes.append(dst)
    return scenes


# --- processes ------------------------------------------------------------------------------


def _proc_cmdlines() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can read."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(d.name)] = (ppid, cmd)
    return out


def node_processes(marker: str) -> list[int]:
    """Processes of one Ray node: those whose command line names its temporary folder (or
    node-manager port), and all their descendants."""
    procs = _proc_cmdlines()
    roots = {pid for pid, (_, cmd) in procs.items() if marker in cmd}
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found - {os.getpid()})


def busy_scene_workers(marker: str) -> list[int]:
    """The node's worker processes executing a scene task (Ray titles them ray::_ray_scene)."""
    procs = _proc_cmdlines()
    return [pid for pid in node_processes(marker) if "_ray_scene" in procs.get(pid, (0, ""))[1]]


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def ray_cmd(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("ray")), *args]


# --- checks ----------------------------------------------------------------------------------


def check_out(out: Path, ids: list[str], orbit_views: int) -> list[str]:
    """Problems with OUT: every scene finished once, complete, nothing half-written."""
    from PIL import Image

    problems = []
    entries = sorted(p.name for p in out.iterdir() if p.is_dir())
    debris = [e for e in entries if e.startswith((".tmp-", ".old-"))]
    if debris:
        problems.append(f"half-written folders left: {debris}")
    others = [e for e in entries if not e.startswith(".") and e not in ids]
    if others:
        problems.append(f"unexpected folders: {others}")
    for sid in ids:
        d = out / sid
        if not (d / "report.json").is_file():
            problems.append(f"{sid}: not finished")
            continue
        need = ["gaussians.ply", "opencv_cameras.json", "contact_sheet.png"] + [
            f"images/cam_{i:03d}.png" for i in range(orbit_views)]
        missing = [f for f in need if not (d / f).is_file()]
        if missing:
            problems.append(f"{sid}: missing {missing[:4]}")
            continue
        for f in need:
            if f.endswith(".png"):
                try:
                    with Image.open(d / f) as im:
                        im.load()
                except OSError as e:
                    problems.append(f"{sid}/{f}: does not decode ({e})")
        frames = json.loads((d / "opencv_cameras.json").read_text())["frames"]
        if len(frames) != orbit_views:
            problems.append(f"{sid}: {len(frames)} cameras")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--size", type=int, default=64, help="input image size of the scenes")
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--orbit-views", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds for the batch")
    ap.add_argument("--keep", type=Path, default=None, help="keep the scenes and OUT here")
    a = ap.parse_args()

    sys.path.insert(0, str(REPO / "src"))
    # short: Ray's socket paths live under the temporary folders
    root = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    head_tmp, worker_tmp = root / "h", root / "w"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                               if p]),
           "RAY_USAGE_STATS_ENABLED": "0",
           # a token in ~/.ray/auth_token switches a new head to token auth; these throwaway
           # nodes listen on this machine only and run without it
           "RAY_AUTH_MODE": "disabled"}
    port, worker_port = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    t0 = time.monotonic()
    log = lambda m: print(f"[{time.monotonic() - t0:6.1f} s] {m}", flush=True)  # noqa: E731
    verdict: list[str] = []
    batch = None
    try:
        scenes = make_scenes(root / "scenes", a.scenes, a.size)
        ids = [s.name for s in scenes]
        out = root / "out"
        log(f"{len(scenes)} scenes ({a.size} px, 4 views, {a.iterations} steps, "
            f"{a.orbit_views}-view orbit); OUT {out}")
        subprocess.run(ray_cmd("start", "--head", "--num-cpus", "1", "--port", str(port),
                               "--node-ip-address", "127.0.0.1", "--temp-dir", str(head_tmp),
                               "--include-dashboard", "false", "--disable-usage-stats"),
                       env=env, check=True, capture_output=True, text=True)
        log(f"head node up at {address} (1 CPU, {head_tmp})")
        subprocess.run(ray_cmd("start", "--address", address, "--num-cpus", "1",
                               "--node-ip-address", "127.0.0.1", "--temp-dir", str(worker_tmp),
                               "--node-manager-port", str(worker_port)),
                       env=env, check=True, capture_output=True, text=True)
        marker = f"--node_manager_port={worker_port}"
        log(f"worker node joined (1 CPU, raylet {node_processes(marker)[:1]})")

        cmd = [sys.executable, "-c",
               "import sys; from splatsynth.cli import main; sys.exit(main(sys.argv[1:]))",
               "batch", *map(str, scenes), "--out", str(out), "--ray", address,
               "--threads", "1", "--fit.iterations", str(a.iterations),
               "--fit.num_gaussians", "2000", "--orbit.views", str(a.orbit_views),
               "--orbit.size", str(a.size), "--no_progress",
               # tiny fits are below the post-fit check's quality floors by design; the test
               # is about losing a node, not about quality
               "--check.min_train_psnr_masked", "None", "--check.min_train_iou", "None"]
        batch = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        log("batch started: splatsynth batch ... --ray " + address)
        killed_at = None
        while batch.poll() is None and time.monotonic() - t0 < a.timeout:
            done = [s for s in ids if (out / s / "report.json").is_file()]
            busy = busy_scene_workers(marker)
            if killed_at is None and done and busy:
                pids = node_processes(marker)
                kill_all(pids)
                killed_at = time.monotonic()
                log(f"KILLED the worker node (SIGKILL to {len(pids)} processes: raylet, "
                    f"workers, agents) while it ran a scene (worker pid {busy[0]}); "
                    f"{len(done)} of {len(ids)} scenes finished so far")
            time.sleep(0.5)
        if batch.poll() is None:
            batch.kill()
            verdict.append(f"the batch did not finish within {a.timeout:g} s")
        text = batch.stdout.read() if batch.stdout else ""
        log(f"batch exited with status {batch.returncode}")
        print("\n".join("    " + ln[:200] for ln in text.strip().splitlines()[-14:]))
        if killed_at is None:
            verdict.append("the worker node was never caught running a scene (nothing killed)")
        if batch.returncode != 0:
            verdict.append(f"batch exit status {batch.returncode}")
        alive, t_dead = -1, time.monotonic()
        while time.monotonic() - t_dead < 120:  # the head marks a node dead after missed
            status = subprocess.run(ray_cmd("status", "--address", address), env=env,  # beats
                                    capture_output=True, text=True).stdout
            alive = status.split("Pending:")[0].count("node_")
            if alive == 1:
                break
            time.sleep(3)
        log(f"cluster after the batch: {alive} live node(s) (ray status)")
        if alive != 1:
            verdict.append(f"expected 1 live node after the kill, ray status shows {alive}")
        problems = check_out(out, ids, a.orbit_views)
        verdict += problems
        summary = json.loads((out / "summary.json").read_text()) if (
            out / "summary.json").is_file() else {}
        counts = summary.get("counts", {})
        if counts.get("done") != len(ids) or counts.get("failed"):
            verdict.append(f"summary counts {counts}")
        retried = text.count("Task _ray_scene failed")
        log(f"Ray reported re-running {retried} scene task(s) whose node died")
        log(f"OUT: {sum((out / s / 'report.json').is_file() for s in ids)} of {len(ids)} scenes "
            f"finished, {len(problems)} problem(s); summary {counts}")
    finally:
        if batch is not None and batch.poll() is None:
            batch.kill()
        for tmp in (worker_tmp, head_tmp):
            kill_all(node_processes(str(tmp)))
        if a.keep:
            shutil.copytree(root, a.keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("h", "w"))
        shutil.rmtree(root, ignore_errors=True)
    print("RESULT: PASS" if not verdict else "RESULT: FAIL " + "; ".join(verdict))
    return 0 if not verdict else 1


if __name__ == "__main__":
    sys.exit(main())
