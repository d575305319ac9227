"""Stage 3, render outputs: the orbit, the input views again, and the MVDiffusion views."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..cameras import Camera, mvdiffusion_cameras
from ..config import RunConfig
from ..fit import Renders, method_of, render_cameras
from .prepare import Prepared
from .reconstruct import Reconstruction


@dataclass(frozen=True)
class Rendered:
    """Renders of the fitted scene (canonical frame), in memory until the writers run.

    Attributes:
        orbit_cameras: the dataset's orbit (``orbit`` section).
        orbit: renders at them, with depth when an output or the keypoints need it and normals
            when ``output.normals`` asks and the method renders them.
        inputs: the input views rendered at their (refined) cameras (the fit's own final
            renders, which its scores were taken on).
        mvdiffusion_cameras, mvdiffusion: FaceLift's six stage-1 views (``output.mvdiffusion``).
        timings: seconds of ``render``.
    """

    orbit_cameras: list[Camera]
    orbit: Renders
    inputs: Renders
    mvdiffusion_cameras: list[Camera] | None = None
    mvdiffusion: Renders | None = None
    timings: dict[str, float] = field(default_factory=dict)


def needs_orbit_depth(cfg: RunConfig, prepared: Prepared) -> bool:
    """Depth of the orbit is written, or needed to decide which keypoints are visible, or
    fused into the mesh."""
    return cfg.output.depth or prepared.scene.has_keypoints or cfg.output.mesh


def render_outputs(prepared: Prepared, recon: Reconstruction, cfg: RunConfig | None = None
                   ) -> Rendered:
    """Render everything the writers will need."""
    cfg = cfg or RunConfig()
    t = time.perf_counter()
    g, fit = recon.fit.gaussians, cfg.fit
    kw = {"background": fit.background, "backend": fit.backend, "method": fit.method}
    orbit_cams = cfg.orbit.cameras()
    # the whole orbit at once when it fits render_cameras' pixel budget (a 32-view orbit at
    # 512 px does): one projection and one pass of the tile kernels
    orbit = render_cameras(g, orbit_cams, with_depth=needs_orbit_depth(cfg, prepared),
                           with_normals=cfg.output.normals and method_of(fit.method).has_normals,
                           **kw)
    inputs = recon.fit.renders
    if inputs is None:
        inputs = render_cameras(g, recon.fit.cameras, **kw)
    mv_cams = mv = None
    if cfg.output.mvdiffusion:
        mv_cams = mvdiffusion_cameras(cfg.orbit.distance, cfg.orbit.size, cfg.orbit.focal)
        mv = render_cameras(g, mv_cams, **kw)
    return Rendered(orbit_cams, orbit, inputs, mv_cams, mv,
                    {"render": time.perf_counter() - t})
