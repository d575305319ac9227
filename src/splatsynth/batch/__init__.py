"""``splatsynth batch``: thousands of scenes, resumable, in parallel, failures contained.

Importing this package starts no process and imports neither Ray nor numba.
"""

from .config import BatchConfig
from .discover import discover_scenes, scene_id_of
from .runner import batch_main, run_batch
from .summary import BatchSummary
from .worker import SceneResult, SceneTask, process_scene

__all__ = ["BatchConfig", "BatchSummary", "SceneResult", "SceneTask", "batch_main",
           "discover_scenes", "process_scene", "run_batch", "scene_id_of"]
