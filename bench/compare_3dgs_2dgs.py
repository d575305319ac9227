"""3DGS vs 2DGS on the same scene: image quality, fit time and, on the demo, true geometry.

Both methods fit the same normalized scene with the default settings (only ``fit.method``
differs) and are rendered at the ground-truth cameras (mapped into the canonical frame):

- masked PSNR, PSNR, SSIM, silhouette IoU (``score_renders``) and the fit's wall time;
- on the built-in demo, against the analytic ray caster's true geometry
  (``render_toy_mouse_geometry``), over pixels inside both silhouettes:
  * depth error: median |expected depth - true depth| in the demo's world units (canonical
    depth / similarity scale);
  * normal error: mean angle (degrees) to the true world normals, of 2DGS's rendered normals
    and, for both methods, of normals derived from the rendered depth
    (``losses.normals_from_depth``) so 3DGS and 2DGS are also compared on equal footing.
    "true depth" is the same derivation applied to the true depth: the floor that finite
    differences across depth edges leave;
  * mesh: the ``output.mesh`` TSDF fusion of the rendered depth at the ground-truth cameras
    against the same fusion of the true depth: accuracy (mean distance of the method's
    vertices to the true-depth mesh) and completeness (the reverse), world units.

    python bench/compare_3dgs_2dgs.py                       # demo, 512 px, default fit
    python bench/compare_3dgs_2dgs.py --size 256 --iterations 500
    python bench/compare_3dgs_2dgs.py --scene DIR [--gt DIR]  # any scene folder
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy.spatial import cKDTree

from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene, render_toy_mouse_geometry
from splatsynth.fit import method_of, render_cameras
from splatsynth.losses import normals_from_depth
from splatsynth.pipeline import load_ground_truth, prepare, reconstruct, score_renders
from splatsynth.writers import fuse_tsdf, mesh_from_tsdf

HERE = Path(__file__).resolve().parent
METHODS = ("3dgs", "2dgs")
SECTION = "## 3DGS vs 2DGS"


def world_normals_from_depth(depth: np.ndarray, cameras) -> np.ndarray:
    """[C, H, W, 3] world normals of depth maps [C, H, W] (0 = no surface) seen by
    ``cameras`` (world frame); zero where undefined."""
    Ks = torch.as_tensor(np.stack([c.K for c in cameras]), dtype=torch.float64)
    n_cam = normals_from_depth(torch.as_tensor(depth, dtype=torch.float64), Ks).numpy()
    # camera -> world: n_world = R^T n_cam, i.e. n_cam @ R for row vectors
    R = np.stack([c.R for c in cameras])
    return np.einsum("chwj,cjk->chwk", n_cam, R).astype(np.float32)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between unit vectors a, b [..., 3]."""
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def tsdf_mesh_points(depth: np.ndarray, cams, alpha: np.ndarray) -> np.ndarray:
    """[V, 3] vertices of the output.mesh TSDF fusion (same defaults) of canonical depth maps."""
    return mesh_from_tsdf(fuse_tsdf(depth, cams, alpha))[0].astype(np.float64)


def chamfer(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(accuracy, completeness): mean distance a -> nearest b, and b -> nearest a."""
    return float(cKDTree(b).query(a)[0].mean()), float(cKDTree(a).query(b)[0].mean())


def geometry_errors(r, gt_cams, sim, gt_depth, gt_normals, gt_alpha, method: str) -> dict:
    """Depth and normal errors of one method's renders against the true geometry."""
    fg = r.alpha > 0.5
    both = fg & (gt_alpha > 0.5) & (gt_depth > 0)
    depth_w = np.where(fg, r.depth, 0.0) / sim.scale  # canonical depth scales by s
    err = depth_w[both] - gt_depth[both]
    out = {"depth_med_abs": float(np.median(np.abs(err))), "depth_bias": float(np.median(err))}
    n_fd = world_normals_from_depth(depth_w, gt_cams)
    ok = both & (np.abs(n_fd).sum(-1) > 0)
    out["normal_from_depth_deg"] = float(angle_deg(n_fd[ok], gt_normals[ok]).mean())
    out["normal_from_depth_med"] = float(np.median(angle_deg(n_fd[ok], gt_normals[ok])))
    if method_of(method).has_normals:
        # canonical world -> demo world: n = R_sim^T n_canon, i.e. n_canon @ R_sim
        n_r = r.normals @ sim.R.astype(np.float32)
        ang = angle_deg(n_r[ok], gt_normals[ok])
        out["normal_rendered_deg"] = float(ang.mean())
        out["normal_rendered_med"] = float(np.median(ang))
    out["_n_fd"] = n_fd
    return out


def _rgb_of_normals(n: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 of unit normals as (n + 1) / 2, white where undefined."""
    img = (n + 1.0) / 2.0
    img[np.abs(n).sum(-1) == 0] = 1.0
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def save_normal_panel(path: Path, views: list[int], columns: list[tuple[str, np.ndarray]],
                      gt_alpha: np.ndarray, tile: int = 200) -> None:
    """Rows = orbit views, columns = named [C, H, W, 3] world normal maps, cropped round the
    subject; RGB = (n + 1) / 2 in the demo's world frame."""
    head = 18
    sheet = Image.new("RGB", (tile * len(columns), head + tile * len(views)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (name, _) in enumerate(columns):
        draw.text((c * tile + 4, 3), name, fill=(0, 0, 0))
    for r, v in enumerate(views):
        ys, xs = np.nonzero(gt_alpha[v] > 0)
        cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
        half = int(max(ys.max() - ys.min(), xs.max() - xs.min()) * 0.55) + 4
        H, W = gt_alpha.shape[1:]
        y0, x0 = int(max(0, cy - half)), int(max(0, cx - half))
        y1, x1 = int(min(H, cy + half)), int(min(W, cx + half))
        for c, (_, maps) in enumerate(columns):
            crop = Image.fromarray(_rgb_of_normals(maps[v][y0:y1, x0:x1]))
            sheet.paste(crop.resize((tile, tile), Image.Resampling.LANCZOS),
                        (c * tile, head + r * tile))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    if path.stat().st_size > 290_000:
        # Noisy normal maps compress poorly; a 256-colour palette keeps the figure small.
        sheet.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True)


def write_results_section(text: str, results: Path = HERE / "RESULTS.md") -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving the others."""
    doc = results.read_text() if results.is_file() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = text.rstrip() + "\n\n"
    doc = pattern.sub(lambda _: block, doc) if pattern.search(doc) else \
        doc.rstrip() + "\n\n" + block
    results.write_text(doc.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="demo image size (pixels)")
    ap.add_argument("--iterations", type=int, default=None, help="fit.iterations (default: "
                    "the product default)")
    ap.add_argument("--scene", type=Path, default=None,
                    help="a scene folder instead of the built-in demo")
    ap.add_argument("--gt", type=Path, default=None,
                    help="ground-truth folder (default: SCENE/gt/orbit when it exists)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the demo scene is made")
    ap.add_argument("--figure", type=Path, default=HERE / "figures" / "normals_3dgs_2dgs.png")
    ap.add_argument("--views", type=int, nargs="*", default=[0, 11, 22],
                    help="orbit views shown in the figure")
    ap.add_argument("--write-results", action="store_true",
                    help="write the table as the '3DGS vs 2DGS' section of bench/RESULTS.md")
    args = ap.parse_args()

    demo = args.scene is None
    if demo:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="splatsynth-bench-"))
        root = work / f"demo{args.size}" / "toy_mouse"
        if not (root / "cameras.json").is_file():
            root = make_demo_scene(work / f"demo{args.size}", size=args.size)
    else:
        root = args.scene
    gt_dir = args.gt or (root / "gt" / "orbit")
    gt = load_ground_truth(gt_dir) if (gt_dir / "opencv_cameras.json").is_file() or \
        (gt_dir / "cameras.json").is_file() else None

    run = RunConfig()
    prep = prepare(root, run)
    scene, sim = prep.scene, prep.similarity
    base = replace(run.fit, progress=False)
    if args.iterations:
        base = replace(base, iterations=args.iterations)

    geo = None
    if demo and gt is not None:
        t = time.perf_counter()
        depth, normals, alpha = render_toy_mouse_geometry(gt.cameras)
        geo = (depth.astype(np.float32), normals.astype(np.float32), alpha)
        gt_fd = world_normals_from_depth(depth, gt.cameras)
        ok = (alpha > 0.5) & (depth > 0) & (np.abs(gt_fd).sum(-1) > 0)
        floor = float(angle_deg(gt_fd[ok], geo[1][ok]).mean())
        cams_n = [sim.camera_to_canonical(c) for c in gt.cameras]
        gt_mesh = tsdf_mesh_points(depth * sim.scale, cams_n, alpha)
        print(f"true geometry of {len(gt.cameras)} views: {time.perf_counter() - t:.1f} s")

    w, h = scene.views[0].camera.w, scene.views[0].camera.h
    title = (f"{scene.scene_id}, {len(scene.views)} input views at {w}x{h}; "
             f"{base.iterations} iterations, {base.num_gaussians} Gaussians, default fit "
             f"settings; scored on {len(gt.cameras) if gt else 0} ground-truth views")
    print(title, flush=True)
    rows, n_maps = {}, {}
    for method in METHODS:
        cfg = replace(base, method=method)
        t = time.perf_counter()
        res = reconstruct(prep, replace(run, fit=cfg)).fit
        row = {"fit_s": time.perf_counter() - t, "train": res.metrics.train_mean}
        if gt is not None:
            cams = [sim.camera_to_canonical(c) for c in gt.cameras]
            r = render_cameras(res.gaussians, cams, background=cfg.background,
                               with_depth=geo is not None,
                               with_normals=geo is not None and method_of(method).has_normals,
                               method=method)
            row["gt"] = score_renders(r, gt, cfg.background).mean
            if geo is not None:
                row["geo"] = geometry_errors(r, gt.cameras, sim, *geo, method)
                acc, comp = chamfer(tsdf_mesh_points(r.depth, cams, r.alpha), gt_mesh)
                row["geo"]["mesh_acc"], row["geo"]["mesh_comp"] = acc / sim.scale, comp / sim.scale
                n_maps[method] = {"from_depth": row["geo"].pop("_n_fd"), "alpha": r.alpha,
                                  "rendered": r.normals}
            del r
        rows[method] = row
        extra = ""
        if "geo" in row:
            extra = (f", depth bias (median signed, + = behind the true surface) "
                     f"{row['geo']['depth_bias']:+.4f}")
        print(f"  {method}: fit {row['fit_s']:.1f} s{extra}", flush=True)

    lines = ["| method | masked PSNR | PSNR | SSIM | IoU | depth err (world, median) | "
             "normal err, rendered (deg) | normal err, from depth (deg) | "
             "mesh acc / compl (world) | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method, row in rows.items():
        s = row.get("gt") or row["train"]
        g = row.get("geo", {})
        dep = f"{g['depth_med_abs']:.4f}" if g else "-"
        nr = f"{g['normal_rendered_deg']:.1f} ({g['normal_rendered_med']:.1f})" \
            if "normal_rendered_deg" in g else "-"
        nd = f"{g['normal_from_depth_deg']:.1f} ({g['normal_from_depth_med']:.1f})" if g else "-"
        mesh = f"{g['mesh_acc']:.4f} / {g['mesh_comp']:.4f}" if g else "-"
        lines.append(f"| {method.upper()} | {s.psnr_masked:.2f} | {s.psnr:.2f} | "
                     f"{s.ssim:.3f} | {s.iou:.3f} | {dep} | {nr} | {nd} | {mesh} | "
                     f"{row['fit_s']:.1f} |")
    if geo is not None:
        lines.append(f"| true depth | | | | | 0 | | {floor:.1f} | reference | |")
    table = "\n".join(lines)
    print()
    print(table)
    if gt is None:
        print("(no ground truth: image scores are on the training views)")

    if geo is not None and "2dgs" in n_maps:
        # 2DGS normals to the demo's world frame; blank outside the rendered silhouette
        rendered = n_maps["2dgs"]["rendered"] @ sim.R.astype(np.float32)
        rendered = np.where(n_maps["2dgs"]["alpha"][..., None] > 0.5, rendered, 0.0)
        columns = [("GT", geo[1]), ("2DGS rendered", rendered),
                   ("2DGS from depth", n_maps["2dgs"]["from_depth"]),
                   ("3DGS from depth", n_maps["3dgs"]["from_depth"])]
        views = [v for v in args.views if v < len(gt.cameras)]
        save_normal_panel(args.figure, views, columns, geo[2])
        print(f"normal maps: {args.figure} ({args.figure.stat().st_size / 1024:.0f} KB)")

    if args.write_results:
        cmd = "python bench/compare_3dgs_2dgs.py" + (
            f" --size {args.size}" if args.size != 512 else "") + (
            f" --iterations {args.iterations}" if args.iterations else "")
        text = (f"{SECTION}\n\n`.venv/bin/{cmd}` ({title}). Depth and normal errors are "
                "against the analytic ray caster's true geometry (`render_toy_mouse_geometry`), "
                "over pixels inside both silhouettes; depth in the demo's world units (the "
                f"mouse is ~2 units long; canonical scale {sim.scale:.3f}); normal errors are "
                "mean (median) angles in degrees. \"From depth\" = `normals_from_depth` of the "
                "rendered expected depth, camera -> world; its row for the true depth is the "
                "floor that finite differences across depth edges leave. Mesh: the "
                "`output.mesh` TSDF fusion (128^3 over the canonical [-1.3, 1.3]^3) of each "
                "method's rendered depth "
                "at the ground-truth cameras against the same fusion of the true depth; "
                "accuracy = mean distance of its vertices to the true-depth mesh, "
                "completeness = the reverse (world units; a voxel is "
                f"{2.6 / 128 / sim.scale:.3f}).\n\n" + table + "\n")
        write_results_section(text)
        print("written to bench/RESULTS.md")


if __name__ == "__main__":
    main()
