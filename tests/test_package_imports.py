"""Import hygiene: `import splatsynth` is cheap, rooms import only rooms above them, and inside
render/ the kernels, the fast path and the reference twins keep apart."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "splatsynth"

# room -> rooms it may import (STYLE.md section 1). Top-level modules are rooms too.
ALLOWED = {
    "errors": set(),
    "fileio": {"errors", "threads"},
    "threads": set(),
    "kernel_cache": set(),
    "knobs": {"errors"},
    "cameras": {"errors", "knobs"},
    "gaussians": {"errors"},
    "render": {"cameras", "gaussians", "errors", "threads"},
    "losses": {"errors", "threads"},
    "metrics": {"losses", "errors"},
    "optim": {"gaussians", "cameras", "errors", "threads"},
    "scene_io": {"cameras", "errors", "knobs"},
    "demo": {"cameras", "scene_io", "errors"},
    "ingest": {"cameras", "scene_io", "errors", "knobs"},
    "recording_demo": {"demo", "ingest", "batch", "config", "training", "errors"},
    "writers": {"cameras", "gaussians", "errors", "threads"},
    "report": {"writers", "cameras", "errors"},
    "fit": {"cameras", "gaussians", "render", "losses", "metrics", "optim", "scene_io",
            "errors", "threads", "knobs"},
    "training": {"cameras", "errors", "writers", "scene_io"},
    "config": {"cameras", "fit", "scene_io", "writers", "errors", "knobs"},
    "pipeline": {"cameras", "config", "errors", "fit", "gaussians", "metrics", "scene_io",
                 "writers", "report", "demo", "render"},
    "warmup": {"kernel_cache", "config", "demo", "fit", "pipeline", "threads"},
    "batch": {"pipeline", "report", "writers", "config", "errors", "scene_io", "cameras",
              "metrics", "fit", "threads", "knobs"},
}


# The shared file helpers sit beside errors.py: every room may use them.
for _room, _allowed in ALLOWED.items():
    if _room not in ("errors", "fileio", "threads", "knobs", "kernel_cache"):
        _allowed.add("fileio")


def _room_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imported_rooms(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rooms = set()
    depth_room = len(path.relative_to(PKG).parts)  # 1 for top-level modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            if node.level >= depth_room:  # climbs to the package root
                target = (node.module or "").split(".")[0]
                if target:
                    rooms.add(target)
                else:
                    rooms.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("splatsynth."):
            rooms.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("splatsynth."):
                    rooms.add(a.name.split(".")[1])
    return rooms


def test_rooms_import_only_rooms_above_them():
    bad = []
    for path in PKG.rglob("*.py"):
        room = _room_of(path)
        if room in ("__init__", "cli", "__main__"):
            continue
        allowed = ALLOWED.get(room)
        assert allowed is not None, f"{path}: room {room!r} missing from the import table"
        for target in _imported_rooms(path) - {room}:
            if target not in allowed:
                bad.append(f"{path.relative_to(PKG)} imports {target}")
    assert not bad, "import direction broken:\n" + "\n".join(bad)


def test_import_is_cheap():
    code = ("import sys, splatsynth, splatsynth.cli, splatsynth.render; "
            "print('numba' in sys.modules, 'gsplat' in sys.modules, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    # numba loads (and kernels compile) on the first render only; gsplat and ray never eagerly
    assert out == ["False", "False", "False"], out


def _absolute_imports(path: Path) -> set[str]:
    """Every module ``path`` imports (lazy imports inside functions included), made absolute."""
    package = ["splatsynth", *path.relative_to(PKG).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module)
                continue
            base = package[: len(package) - node.level + 1]
            if node.module:
                found.add(".".join(base + [node.module]))
            else:  # from . import a, b
                found.update(".".join(base + [a.name]) for a in node.names)
    return found


RENDER = PKG / "render"
# the numba path: kernels and the modules that wrap them for autograd
FAST = ("splatsynth.render.kernels", "splatsynth.render._autograd", "splatsynth.render._work",
        "splatsynth.render.projection", "splatsynth.render.rasterization",
        "splatsynth.render.surfels")
REFERENCE = ("splatsynth.render.reference",)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_render_kernels_import_only_numpy_and_numba():
    bad = []
    for path in (RENDER / "kernels").rglob("*.py"):
        for mod in _absolute_imports(path):
            top = mod.split(".")[0]
            if top in ("__future__", "math", "numpy", "numba"):
                continue
            if _under(mod, ("splatsynth.render.kernels", "splatsynth.threads")):
                continue
            bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "kernels must stay arrays in, arrays out:\n" + "\n".join(bad)


def test_render_reference_imports_nothing_of_the_fast_path():
    bad = []
    for path in (RENDER / "reference").rglob("*.py"):
        for mod in _absolute_imports(path):
            if _under(mod, FAST + ("splatsynth.render.api",)) or mod.split(".")[0] == "numba":
                bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "the reference twins must not share code with the kernels:\n" + "\n".join(bad)


def test_render_api_is_the_only_module_importing_both_paths():
    both = []
    for path in RENDER.rglob("*.py"):
        name = ".".join(["splatsynth", *path.relative_to(PKG).with_suffix("").parts])
        mods = _absolute_imports(path) | {name}  # a fast-path module is on the fast path
        fast = any(_under(m, FAST) for m in mods)
        ref = any(_under(m, REFERENCE) for m in mods)
        if fast and ref:
            both.append(str(path.relative_to(PKG)))
    assert both == ["render/api.py"], both


def test_batch_backends_import_the_worker_side_not_the_runner():
    # runner.py hands tasks to the backends; the backends run worker.py's process_scene. An
    # import of runner from a backend would close a circle (runner picks the backend).
    for name in ("local.py", "ray_backend.py", "worker.py"):
        tree = ast.parse((PKG / "batch" / name).read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "runner" not in modules, name
