"""Fitting: ``fit_scene(scene, cfg) -> FitResult``, its config, the method adapters, the
objective, initialisation and rendering."""

from .config import FitConfig
from .fit import FitResult, StepRecord, evaluate_views, fit_scene, make_strategy
from .methods import METHODS, Method, method_of
from .rendering import Renders, camera_tensors, render_cameras

__all__ = ["FitConfig", "FitResult", "StepRecord", "fit_scene", "evaluate_views",
           "make_strategy", "Method", "METHODS", "method_of", "Renders", "render_cameras",
           "camera_tensors"]
