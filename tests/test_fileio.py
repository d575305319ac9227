"""fileio: atomic files and folders, list files, JSON lines, PNG encoding."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatsynth.errors import SplatsynthError
from splatsynth.fileio import (
    AlreadyFinished,
    atomic_directory,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    new_temp_directory,
    png_bytes,
    read_jsonl,
    read_list_file,
    rgba_uint8,
    swap_directory,
    to_uint8,
    write_jsonl,
    write_list_file,
    write_png,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- atomic files --------------------------------------------------------------------------


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "a.bin"
    assert atomic_write_bytes(p, b"one") == p  # parent folders are created
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert _names(p.parent) == ["a.bin"]


def test_exception_inside_atomic_path_keeps_the_old_file(tmp_path):
    p = tmp_path / "g.ply"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="writer broke"):
        with atomic_path(p, suffix=".ply") as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".ply" and tmp.is_file()
            tmp.write_bytes(b"half")
            raise RuntimeError("writer broke")
    assert p.read_bytes() == b"old"
    assert _names(tmp_path) == ["g.ply"]


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    p.write_text("old")

    def no_replace(*_):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_json(p, {"new": 1})
    assert p.read_text() == "old"
    assert _names(tmp_path) == ["a.json"]


def test_atomic_path_commits_what_the_library_wrote(tmp_path):
    p = tmp_path / "x.npy"
    with atomic_path(p, suffix=".npy") as tmp:
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(p), np.arange(3))
    assert _names(tmp_path) == ["x.npy"]


def test_json_non_finite_becomes_null_and_numpy_becomes_lists(tmp_path):
    p = atomic_write_json(tmp_path / "a.json", {"x": float("nan"), "a": np.arange(2),
                                                 "f": np.float32(1.5), "p": Path("d/e")})
    assert json.loads(p.read_text()) == {"x": None, "a": [0, 1], "f": 1.5, "p": "d/e"}


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                         (0o027, 0o640, 0o750)])
def test_permissions_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    # The umask is read when fileio is imported, so each case runs in its own interpreter.
    code = textwrap.dedent(f"""
        import os, stat, sys
        os.umask({umask:#o})
        from splatsynth.fileio import atomic_directory, atomic_path, atomic_write_text
        root = sys.argv[1]
        atomic_write_text(os.path.join(root, "a.txt"), "x")
        with atomic_path(os.path.join(root, "b.ply")) as tmp:
            tmp.write_bytes(b"ply")
        with atomic_directory(os.path.join(root, "scene")) as d:
            (d / "c.txt").write_text("y")
        for name in ("a.txt", "b.ply", "scene"):
            print(oct(stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    assert out == [oct(file_mode), oct(file_mode), oct(dir_mode)]


# --- atomic folders ------------------------------------------------------------------------


def _folder(path: Path, tag: str) -> Path:
    path.mkdir(parents=True)
    (path / "tag.txt").write_text(tag)
    return path


def test_exception_inside_atomic_directory_keeps_the_old_folder(tmp_path):
    final = _folder(tmp_path / "scene", "old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(final, force=True) as tmp:
            (tmp / "tag.txt").write_text("new")
            raise RuntimeError("boom")
    assert (final / "tag.txt").read_text() == "old"
    assert _names(tmp_path) == ["scene"]


def test_atomic_directory_replaces_when_forced_and_skips_otherwise(tmp_path):
    final = _folder(tmp_path / "scene", "old")
    with pytest.raises(AlreadyFinished) as ei:
        with atomic_directory(final):
            pytest.fail("the block must not run for a finished folder")
    assert ei.value.path == final
    with atomic_directory(final, force=True) as tmp:
        assert tmp.name.startswith(".tmp-scene-")
        (tmp / "tag.txt").write_text("new")
    assert (final / "tag.txt").read_text() == "new"
    assert _names(tmp_path) == ["scene"]


def test_unfinished_folder_is_replaced_without_force(tmp_path):
    final = _folder(tmp_path / "scene", "half")
    with atomic_directory(final, is_finished=lambda p: (p / "done").is_file()) as tmp:
        (tmp / "done").write_text("")
    assert _names(final) == ["done"]


def test_swap_directory_leaves_tmp_to_the_caller_when_not_forced(tmp_path):
    final = _folder(tmp_path / "scene", "old")
    tmp = new_temp_directory(final)
    (tmp / "tag.txt").write_text("new")
    with pytest.raises(AlreadyFinished):
        swap_directory(tmp, final, force=False)
    assert (final / "tag.txt").read_text() == "old" and tmp.is_dir()
    swap_directory(tmp, final)
    assert (final / "tag.txt").read_text() == "new"
    assert _names(tmp_path) == ["scene"]


def test_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    final = _folder(tmp_path / "scene", "old")
    tmp = new_temp_directory(final)
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == tmp:
            raise OSError(39, "Directory not empty") if Path(dst).exists() else OSError("full")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="full"):
        swap_directory(tmp, final)
    assert (final / "tag.txt").read_text() == "old"


# --- list files ----------------------------------------------------------------------------


def test_list_file_comments_blanks_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lst = tmp_path / "lists" / "train.txt"
    lst.parent.mkdir()
    lst.write_text("# header\n\n  rel/a  \n/abs/b\n~/c\n  # indented comment\n")
    assert read_list_file(lst) == [tmp_path / "lists" / "rel" / "a", Path("/abs/b"),
                                   tmp_path / "home" / "c"]


def test_list_file_round_trip(tmp_path):
    entries = [tmp_path / "s1", tmp_path / "s 2"]
    write_list_file(tmp_path / "l.txt", entries)
    assert read_list_file(tmp_path / "l.txt") == entries


@pytest.mark.parametrize("case", ["missing", "folder", "not utf-8"])
def test_unreadable_list_file_error_names_the_file(tmp_path, case):
    p = tmp_path / "scenes.txt"
    if case == "folder":
        p.mkdir()
    elif case == "not utf-8":
        p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SplatsynthError, match=r"scenes\.txt: cannot read the scene list \("):
        read_list_file(p, what="the scene list")


# --- JSON lines ----------------------------------------------------------------------------


def test_jsonl_round_trip_and_bad_lines_dropped(tmp_path):
    p = tmp_path / "failures.jsonl"
    rows = [{"scene_id": "a", "psnr": np.float32(20.5), "bad": float("inf")},
            {"scene_id": "b", "views": np.arange(2)}]
    write_jsonl(p, rows)
    assert read_jsonl(p) == [{"scene_id": "a", "psnr": 20.5, "bad": None},
                             {"scene_id": "b", "views": [0, 1]}]
    with open(p, "a") as f:
        f.write('{"torn": \n[1, 2]\n\n{"scene_id": "c"}\n')
    assert [r["scene_id"] for r in read_jsonl(p)] == ["a", "b", "c"]
    assert read_jsonl(tmp_path / "absent.jsonl") == []


# --- PNG -----------------------------------------------------------------------------------


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (5, 7, 4)])
def test_png_round_trip_is_exact_for_uint8(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(_decode(png_bytes(img)), img)


def test_png_round_trip_is_exact_for_uint16(tmp_path):
    img = np.random.default_rng(1).integers(0, 65536, (6, 4), dtype=np.uint16)
    img[0, :2] = [0, 65535]
    p = write_png(tmp_path / "depth.png", img)
    with Image.open(p) as im:
        assert im.mode == "I;16"
        got = np.asarray(im)
    np.testing.assert_array_equal(got.astype(np.uint16), img)


def test_png_level_changes_bytes_not_pixels():
    img = np.random.default_rng(2).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    fast = png_bytes(img, compress_level=1)
    default = png_bytes(img)
    assert fast != default
    np.testing.assert_array_equal(_decode(fast), img)
    np.testing.assert_array_equal(_decode(default), img)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9, 3), (9, 1, 4), (3, 2, 4)])
def test_png_round_trip_of_tiny_and_strided_images(shape):
    img = np.random.default_rng(3).integers(0, 256, (shape[0], shape[1] * 2, *shape[2:]),
                                            dtype=np.uint8)[:, ::2]  # not contiguous
    np.testing.assert_array_equal(_decode(png_bytes(img)), img)


def test_png_encodes_in_parallel_threads_with_the_same_bytes():
    from concurrent.futures import ThreadPoolExecutor

    imgs = [np.random.default_rng(i).integers(0, 256, (64, 48, 4), dtype=np.uint8)
            for i in range(6)]
    with ThreadPoolExecutor(3) as ex:
        assert list(ex.map(png_bytes, imgs)) == [png_bytes(i) for i in imgs]


@pytest.mark.parametrize("bad", [np.zeros((2, 2), np.float32), np.zeros((2, 2, 3), np.uint16)])
def test_png_rejects_other_dtypes_and_colour_uint16(bad):
    with pytest.raises(ValueError):
        png_bytes(bad)


def test_to_uint8_rounds_halves_up_clips_and_zeroes_nan():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0, np.nan, np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 128, 255, 255, 0, 255, 0])
    # Exact halves round up, also where ties-to-even would round down (k even).
    k = np.arange(0, 255)
    halves = ((k + 0.5) / 255).astype(np.float32)
    exact = halves * np.float32(255) == (k + 0.5)
    assert exact[2] and exact.sum() > 100
    np.testing.assert_array_equal(to_uint8(halves[exact]), k[exact] + 1)


def test_rgba_uint8_keeps_colour_straight():
    rgb = np.full((2, 2, 3), 0.5, np.float32)
    alpha = np.array([[0.0, 1.0], [0.25, 0.75]], np.float32)
    out = rgba_uint8(rgb, alpha)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out[..., :3], 128)
    np.testing.assert_array_equal(out[..., 3], [[0, 255], [64, 191]])


# --- output paths and the build lock -------------------------------------------------------


def test_check_output_path(tmp_path):
    from splatsynth.fileio import check_output_path

    assert check_output_path(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(SplatsynthError, match="exists and is not a folder"):
        check_output_path(tmp_path / "f")
    with pytest.raises(SplatsynthError, match="is a file, not a folder"):
        check_output_path(tmp_path / "f" / "sub")
    with pytest.raises(SplatsynthError, match="is a folder, not a file"):
        check_output_path(tmp_path, kind="file")
    assert check_output_path(tmp_path / "f", kind="file") == tmp_path / "f"
    with pytest.raises(SplatsynthError, match="too long for the file system"):
        check_output_path(tmp_path / ("n" * 250))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # the probe left nothing


def test_staged_directory_merges_and_leaves_nothing_on_failure(tmp_path):
    from splatsynth.fileio import staged_directory

    final = tmp_path / "out"
    with staged_directory(final) as tmp:
        (tmp / "images").mkdir()
        (tmp / "images" / "a.png").write_text("1")
    assert (final / "images" / "a.png").read_text() == "1"
    (final / "mine.txt").write_text("kept")
    with pytest.raises(RuntimeError), staged_directory(final) as tmp:
        (tmp / "images").mkdir()
        (tmp / "images" / "a.png").write_text("half")
        raise RuntimeError
    assert (final / "images" / "a.png").read_text() == "1"
    with staged_directory(final) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt", "images", "mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_build_lock_tells_a_live_build_from_a_killed_one(tmp_path):
    from splatsynth.fileio import BUILD_LOCK, is_being_built

    code = textwrap.dedent(f"""
        import sys, time
        from splatsynth.fileio import new_temp_directory
        print(new_temp_directory({str(tmp_path / "scene")!r}), flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(p.stdout.readline().strip())
        assert tmp.name.startswith(".tmp-scene-") and (tmp / BUILD_LOCK).is_file()
        assert is_being_built(tmp) is True
    finally:
        p.kill()  # SIGKILL: the OS releases the lock
        p.wait()
    assert is_being_built(tmp) is False
    assert is_being_built(tmp_path) is None  # no lock file: go by age
