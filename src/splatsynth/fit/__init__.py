"""Fitting: ``fit_scene(scene, cfg) -> FitResult``, its config, initialisation and rendering."""

from .config import FitConfig
from .fit import FitResult, evaluate_views, fit_scene
from .rendering import Renders, camera_tensors, render_cameras

__all__ = ["FitConfig", "FitResult", "fit_scene", "evaluate_views", "Renders", "render_cameras",
           "camera_tensors"]
