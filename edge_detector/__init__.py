"""Edge deepfake detector runtime: OpenCV + onnxruntime + numpy, never TensorFlow."""

from __future__ import annotations

import os

# Quiet FFmpeg/OpenCV logging before cv2 is first imported: errors reach users as one clear line
# (OpenCV's ERROR level still printed "[ERROR:0@0.2] ... Camera index out of range").
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from .blazeface import BlazeFaceDetector
from .classifier import OnnxClassifier
from .contract import FFPP_CLASSES, METADATA_KEY, ModelContract
from .errors import (
    EdgeDetectError,
    ModelContractError,
    ModelError,
    ModelIntegrityError,
    SinkError,
    SourceError,
)
from .explain import OcclusionMap, occlusion_map
from .faces import FaceDetector, crop_box, crop_face, crop_faces
from .preprocess import preprocess
from .types import Face, FaceDetections, Faces, Frame, FrameResult, VideoSummary
from .version import __version__ as __version__

__all__ = [
    "BlazeFaceDetector", "FFPP_CLASSES", "METADATA_KEY", "EdgeDetectError", "Face", "FaceDetections",
    "FaceDetector",
    "Faces", "Frame", "FrameResult", "ModelContract", "ModelContractError", "ModelError",
    "ModelIntegrityError", "OcclusionMap", "OnnxClassifier", "SinkError", "SourceError",
    "VideoSummary", "crop_box", "crop_face", "crop_faces", "occlusion_map", "preprocess",
]
