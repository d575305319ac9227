"""PNG encoding of a scene's 32 orbit views: file size against time per zlib level, on one
thread and on two (``fileio.png_bytes``, Pillow, which releases the GIL while it deflates).

The images are the demo scene's 32 ground-truth orbit views at 512 px (RGBA: the toy mouse on
a transparent background, like the rendered orbit), read from a demo scene made here. Every
encoding is decoded again and compared with the original pixels.

    python bench/png.py
    python bench/png.py --levels 1 4 6 --repeats 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from splatsynth.demo import make_demo_scene
from splatsynth.fileio import PNG_COMPRESS_LEVEL, png_bytes


def encode(img: np.ndarray, level: int) -> bytes:
    return png_bytes(img, compress_level=level)


def timed(fn, imgs, level: int, threads: int, repeats: int) -> tuple[float, list[bytes]]:
    times, out = [], []
    with ThreadPoolExecutor(threads) as ex:
        for _ in range(repeats):
            t = time.perf_counter()
            out = list(ex.map(lambda a: fn(a, level), imgs)) if threads > 1 else [
                fn(a, level) for a in imgs]
            times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 6, 9])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scene = make_demo_scene(Path(tmp), size=512)
        imgs = [np.asarray(Image.open(p)) for p in
                sorted((scene / "gt" / "orbit" / "images").glob("*.png"))]
    print(f"{len(imgs)} RGBA views at {imgs[0].shape[1]} x {imgs[0].shape[0]}; median of "
          f"{a.repeats}; splatsynth's default level: {PNG_COMPRESS_LEVEL}")
    print("| zlib level | MB for the 32 views | s, 1 thread | s, 2 threads |")
    print("|---|---|---|---|")
    for level in a.levels:
        t1, out = timed(encode, imgs, level, 1, a.repeats)
        t2, _ = timed(encode, imgs, level, 2, a.repeats)
        for data, img in zip(out, imgs):
            with Image.open(io.BytesIO(data)) as im:
                assert np.array_equal(np.asarray(im), img), "not lossless"
        print(f"| {level} | {sum(map(len, out)) / 1e6:.2f} | {t1:.2f} | {t2:.2f} |", flush=True)


if __name__ == "__main__":
    main()
