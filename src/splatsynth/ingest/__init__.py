"""Recordings -> scene folders (SPEC section 3b): ``splatsynth ingest``.

A recording is per camera one synchronized video (plus, often, a mask video and a 2-D
keypoint track) and the rig's calibration. :func:`ingest` reads one in any supported format
(one small adapter each over one reader), makes a mask per view (mask videos, or a background
model), makes the views agree (visual hull), checks every frame, crops round the animal and
writes one scene folder per good frame, resumably and atomically.

    from splatsynth.ingest import IngestConfig, ingest
    summary = ingest("markerless", "markerless_mouse_1_nerf", "scenes",
                     IngestConfig(every=10, skip="5900,11800,17700"))
"""

from .config import BackgroundConfig, CheckConfig, IngestConfig, RigConfig
from .crop import CropBox, crop_image, subject_box
from .formats import READERS, RecordingFormat, read_recording
from .frame import FrameResult
from .recording import CameraStreams, Recording
from .run import IngestSummary, ingest
from .writer import INGEST_LOG, SCENES_LIST, SOURCE_FILE, scene_id

__all__ = [
    "ingest", "IngestConfig", "BackgroundConfig", "CheckConfig", "RigConfig", "IngestSummary",
    "read_recording", "Recording", "CameraStreams", "FrameResult", "READERS",
    "RecordingFormat", "CropBox", "subject_box", "crop_image", "scene_id", "SCENES_LIST",
    "INGEST_LOG", "SOURCE_FILE",
]
