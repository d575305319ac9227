"""The fit's knobs (SPEC section 5); one dotted name each from YAML to CLI to report.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..knobs import Knobs


@dataclass(frozen=True)
class FitConfig(Knobs):
    """How one scene is fitted with Gaussian splatting. Learning rates are > 0; weights are
    >= 0, and a weight of 0 switches its term off."""

    section = "fit"

    method: Literal["3dgs", "2dgs"] = "3dgs"
    """Primitive: 3D Gaussians (3dgs) or 2D surfels (2dgs)."""
    iterations: int = 1000
    """Optimisation steps (the design range is 500-2000)."""
    num_gaussians: int = 20000
    """Gaussian budget (10k-50k); the default strategy keeps exactly this many."""
    sh_degree: int = 1
    """Spherical-harmonics degree of the colour (0-3); raised on a schedule during the fit.
    Low by default: six views pin view-dependent colour poorly, and higher degrees overfit."""
    sh_increase_every: int = 250
    """Raise the active SH degree by one every this many steps."""
    strategy: Literal["mcmc", "classic"] = "mcmc"
    """Densification: fixed budget with relocation of dead Gaussians (mcmc), or Inria's
    clone/split/prune (classic)."""
    init: Literal["hull", "random"] = "hull"
    """Initial Gaussians: sampled on/in the masks' visual hull, or uniformly in a sphere."""
    lr_position: float = 1e-3
    """Adam learning rate of the means (decays exponentially to 1% by the end)."""
    lr_feature: float = 1e-2
    """Learning rate of the SH DC colour (higher-order SH use 1/20 of it)."""
    lr_opacity: float = 5e-2
    """Learning rate of the opacity logits."""
    lr_scaling: float = 5e-3
    """Learning rate of the log-scales."""
    lr_rotation: float = 1e-3
    """Learning rate of the quaternions."""
    ssim_lambda: float = 0.2
    """Weight of (1 - SSIM) in the colour loss; L1 gets 1 - ssim_lambda."""
    mask_weight: float = 0.5
    """Weight of the alpha-vs-mask loss (whole frame) when the scene has masks; 0 disables."""
    random_background: bool = True
    """Composite each training image over a random colour so the subject cannot absorb the
    background (needs masks; otherwise the fixed background is used)."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Background colour of renders and of composited inputs outside training (white)."""
    opacity_reg: float = 0.2
    """Mean-opacity regularizer weight (MCMC): pushes unneeded Gaussians to transparency so
    they can be relocated. Strong on purpose: on the demo's held-out views it was worth +2.4 dB
    masked PSNR over 0.01 (bench/fit_demo.py), by removing floaters no input view can see."""
    opacity_reg_fade: float = 0.5
    """From this fraction of the steps on, the opacity regularizer fades linearly to zero (at
    95% of the steps); 1 keeps it at full weight throughout. Early on it clears what no view
    pins down, so relocation can reuse it; kept to the end it also leaves the subject's edges
    semi-transparent, and white showed through every novel view's rim. On the demo: +0.9 dB
    held-out masked PSNR, IoU unchanged (bench/fit_demo.py)."""
    scale_reg: float = 0.1
    """Mean-scale regularizer weight (MCMC): discourages large blurry Gaussians."""
    needle_reg: float = 0.1
    """Weight of the needle regularizer: penalizes longest-to-middle axis ratios above
    ``needle_max_ratio``. Sparse views leave needles wherever each view that sees one sees it
    end-on; between the cameras they smear the outline into streaks. Discs (surface elements)
    are free. On the demo: +0.24 dB held-out masked PSNR over three seeds (bench/RESULTS.md)."""
    needle_max_ratio: float = 3.0
    """Longest-to-middle axis ratio allowed before the needle penalty starts."""
    aniso_reg: float = 0.0
    """Weight of the anisotropy regularizer: penalizes longest-to-shortest axis ratios above
    ``aniso_max_ratio`` (flat discs as well as needles; off by default: ``needle_reg`` is the
    one that helps held-out views)."""
    aniso_max_ratio: float = 10.0
    """Longest-to-shortest axis ratio allowed before the anisotropy penalty starts."""
    coarse_fraction: float = 0.9
    """Coarse-to-fine: this fraction of the steps renders at half resolution (a quarter of the
    pixels) while the shape forms, then full resolution sharpens it; 0 disables. On the demo at
    512 px, held-out scores were the same for 0, 0.5, 0.75, 0.85 and 0.9 (within 0.1 dB over
    three seeds) while the fit took ~45% less time than at 0 (bench/fit_demo.py)."""
    coarse_min_size: int = 128
    """No coarse phase when the half-resolution views would be under this many pixels on a
    side: small images are already quick, and coarser copies lose too much."""
    solid_weight: float = 1.0
    """Weight of the solid-subject prior (needs masks): every ``solid_every`` steps a random
    virtual view around the subject is rendered at a quarter size, and its pixels well inside
    the rendered silhouette are pulled to full opacity (opacities learn, and means when the
    curvature prior is on), so novel views do not see through gaps that six views leave.
    Assumes an opaque subject; 0 disables. On the demo: +0.1 dB held-out masked PSNR next to
    the clear prior, +0.75 dB alone (bench/RESULTS.md)."""
    clear_weight: float = 1.0
    """Weight of the clear-background prior, on the same virtual views: pixels whose opacity is
    under 0.5 are pulled to transparency (opacities learn, and means as above), so faint
    floaters that the input views cannot rule out (under the belly of a subject filmed from
    above) and soft fringes fade. On the demo: +3.4 dB held-out masked PSNR, IoU 0.978 ->
    0.988 (bench/RESULTS.md); the most important of the sparse-view ingredients once the
    opacity regularizer fades."""
    curvature_weight: float = 0.02
    """Weight of the surface-curvature prior, on the same virtual views: the squared change of
    the rendered depth's slope from pixel to pixel, over the opaque inside of the silhouette
    (means and opacities learn from it, and then from the other two priors too). A few
    silhouettes leave ridges between the cameras (the visual hull's edges); squared curvature
    prefers the surface's turning spread evenly and rounds them, so novel views' outlines sit
    where they should. Assumes a smooth subject; 0 disables. On the demo: +0.4 dB held-out
    masked PSNR over three seeds for 2-6% more time, normals from depth 26 -> 18 degrees off
    (bench/RESULTS.md); with 9 or more cameras it costs 0.1-0.2 dB."""
    curvature_clamp: float = 2.0
    """Changes of depth slope per pixel above this are occlusion steps (an ear in front of the
    head), not curvature, and are left out of the curvature prior."""
    solid_every: int = 4
    """Render a virtual view for the three priors every this many steps."""
    solid_erode: int = 3
    """Virtual-view pixels within this distance of the silhouette's edge are left to the
    clear prior and the input views."""
    crop_margin: int = 16
    """Colour losses run on the subject's bounding box plus this many pixels when masks exist
    (background pixels are pure overhead); the mask loss always covers the whole frame."""
    refine_every: int = 100
    """Relocate / densify every this many steps."""
    refine_start: int = 100
    """First step of relocation / densification."""
    refine_stop_fraction: float = 0.75
    """Stop relocating / densifying after this fraction of the iterations."""
    relocate_unseen: bool = True
    """MCMC: also relocate Gaussians that no training view sees (they only become floaters)."""
    prune_unseen: bool = True
    """Drop Gaussians that no training view sees from the result."""
    optimize_pose: bool = False
    """Learn a 6-dof delta pose per input view (the first training view held fixed as the
    gauge), after a pose stage (``pose_stage``). See docs/fit.md, "Pose refinement"."""
    pose_keypoints: bool = False
    """With ``optimize_pose``, when the scene has 2D keypoints: first align the cameras to
    them (robust bundle adjustment, the cameras turning about their centres, the first
    training view fixed; :func:`splatsynth.cameras.align_to_keypoints`), accepted only when
    the keypoints show an error beyond their noise; the pose stage and the fit start from
    there. Off by default: one frame of the demo's 9 keypoints with 3 px of noise left the
    cameras 0.4-0.6 degrees off, and the photometric stage then won back less (68-74% instead
    of 91-93% on the ring, bench/RESULTS.md, "Pose refinement")."""
    pose_keypoint_px: float = 3.0
    """Expected error of the scene's 2D keypoints in pixels: the scale of the alignment's
    robust loss (labels much further off count as outliers). 3 px is what the real DANNCE
    labels suggest (bench/RESULTS.md, "Pose refinement")."""
    pose_if_rig_refined: bool = True
    """Refine poses (as ``optimize_pose``) for a scene whose ingest found its rig's calibration
    off and refined it from keypoint tracks (its ``source.json`` says ``rig.applied``): what the
    rig refinement leaves, ~0.1 degree, still costs 1-3 dB, and the pose stage wins most of it
    back (90-99% of the loss in all, bench/RESULTS.md, "Rig refinement from keypoint tracks").
    Scenes from exact or unrefined calibrations are fitted as ``optimize_pose`` says."""
    lr_pose: float = 3e-4
    """Learning rate of the pose deltas in the fit, after the pose stage (decays to 10% by its
    end). On the ring demo 3e-4 won back 93% of a 0.5 degree error's loss where 1e-3 won back
    88%, and cost less on exact cameras (bench/RESULTS.md)."""
    pose_warmup: int = 100
    """Steps before pose deltas start to move (the Gaussians need a rough shape first)."""
    pose_stage: int = 150
    """Steps of each round of the pose stage that runs before the fit when ``optimize_pose``
    is on; 0 skips it. Each round fits fresh Gaussians (``pose_stage_gaussians``) from the
    visual hull of the cameras as refined so far, on views 2^k times smaller (k =
    ``pose_stage_levels`` ... 1), while the poses turn (their translations wait for the
    fit): small images widen the basin, and starting over stops the shape from keeping the
    old calibration's errors. On the DANNCE-rig demo at 1 degree of error: 12% of the loss
    won back without the stage, 71% with one 300-step round at 1/4 size, 91% with three
    150-step rounds at 1/8, 1/4, 1/2, for one draw of the errors' directions (26% for
    another: bench/RESULTS.md, "Pose refinement")."""
    pose_stage_levels: int = 3
    """Rounds of the pose stage, coarse to fine: 3 means views at 1/8, 1/4, then 1/2 size.
    Rounds whose views would be under 32 px are skipped."""
    lr_pose_stage: float = 3e-3
    """Learning rate of the pose rotations in the pose stage (decays to 10% each round)."""
    pose_stage_warmup: int = 50
    """Steps of each pose-stage round before the poses move."""
    pose_stage_gaussians: int = 5000
    """Gaussian budget of the pose stage (at most ``num_gaussians``): fewer Gaussians are
    quicker and cannot bend the shape to every view's error as easily."""
    pose_warn_px: float = 4.0
    """A view whose refined pose moves the subject by more than this many pixels (median, at
    the view's resolution) is reported as suspect: a warning in ``report.json`` and on the
    command line."""
    depth_weight: float = 0.1
    """2DGS depth-distortion weight."""
    normal_weight: float = 0.05
    """2DGS normal-consistency weight."""
    regularizer_start: int = 300
    """2DGS regularizers switch on after this many steps."""
    holdout_view: int = -1
    """When >= 0, that input view is left out of training and scored (leave-one-view-out)."""
    seed: int = 0
    """Seed of every random choice in the fit."""
    progress: bool = True
    """Show a progress bar with loss and PSNR."""
    backend: Literal["auto", "numba", "torch"] = "auto"
    """Rasterizer backend."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("iterations", "num_gaussians", "sh_increase_every", "coarse_min_size",
                     "solid_every", "refine_every", "pose_stage_gaussians"):
            self._at_least(name, 1)
        for name in ("refine_start", "pose_warmup", "regularizer_start", "solid_erode",
                     "crop_margin", "seed", "pose_stage", "pose_stage_warmup",
                     "pose_stage_levels"):
            self._at_least(name, 0)
        self._check("sh_degree", 0 <= self.sh_degree <= 3, "0..3")
        # Learning rates: a parameter is never meant to be frozen (0) here.
        for name in ("lr_position", "lr_feature", "lr_opacity", "lr_scaling", "lr_rotation",
                     "lr_pose", "lr_pose_stage", "curvature_clamp", "pose_warn_px",
                     "pose_keypoint_px"):
            self._positive(name)
        # Weights: 0 switches the term off.
        for name in ("mask_weight", "opacity_reg", "scale_reg", "needle_reg", "aniso_reg",
                     "solid_weight", "clear_weight", "curvature_weight", "depth_weight",
                     "normal_weight"):
            self._at_least(name, 0)
        for name in ("ssim_lambda", "opacity_reg_fade", "coarse_fraction",
                     "refine_stop_fraction"):
            self._within(name, 0, 1)
        for name in ("needle_max_ratio", "aniso_max_ratio"):
            self._at_least(name, 1)
        self._check("background", all(0 <= c <= 1 for c in self.background),
                    "three values in [0, 1]")
        # Whether the view exists is checked by the fit, which knows the scene.
        self._at_least("holdout_view", -1)
