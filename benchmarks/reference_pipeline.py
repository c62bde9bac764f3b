"""The report-style pipeline, rebuilt from the original report's description, to compare against.

OpenCV's ResNet-10 SSD on the whole frame at 300x300, the top face only, a tight crop (the box
itself, no margin), Keras ``model.predict`` on one crop per frame, a text overlay with
``cv2.putText`` and ``cv2.VideoWriter`` (mp4v). Benchmarks only: it imports TensorFlow.

    python -m benchmarks.reference_pipeline '{"video": "clip.mp4", "out": "ref.mp4", "threads": 2}'

prints one JSON line: FPS (after one warm-up predict), frames, frames with a face.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import caffe_net_from_files, video_capture, video_writer
from edge_detector.faces import SSD_MEAN_BGR
from edge_detector.weights import locate_detector_files


def load_keras(size: int, threads: int, keras_path: str | None = None):
    """The given ``.keras`` model, else the project's scratch CNN with random weights."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from train.models import build_model, load_model

    if keras_path:
        return load_model(Path(keras_path))
    return build_model("scratch", 7, size)


def run(video: Path, out: Path, threads: int = 2, keras_path: str | None = None,
        max_frames: int | None = None, size: int = 128) -> dict:
    cv2.setNumThreads(threads)
    files = locate_detector_files()
    net = caffe_net_from_files(files.config, files.model)
    model = load_keras(size, threads, keras_path)
    model.predict(np.zeros((1, size, size, 3), np.float32), verbose=0)  # warm-up
    cap = video_capture(video)
    fps_in = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = video_writer(out, "mp4v", fps_in, (w, h))
    frames = with_face = 0
    t0 = time.perf_counter()
    while max_frames is None or frames < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), SSD_MEAN_BGR)
        net.setInput(blob)
        det = net.forward()[0, 0]
        top = int(np.argmax(det[:, 2]))
        if det[top, 2] >= 0.5:
            x1, y1, x2, y2 = (np.clip(det[top, 3:7], 0, 1) * [w, h, w, h]).astype(int)
            if x2 - x1 > 1 and y2 - y1 > 1:
                with_face += 1
                crop = cv2.resize(frame[y1:y2, x1:x2], (size, size))
                x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)[None].astype(np.float32)
                p_fake = 1.0 - float(model.predict(x, verbose=0)[0, 0])
                label = f"{'FAKE' if p_fake >= 0.5 else 'REAL'} {p_fake:.2f}"
                cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 255, 0), 2)
                cv2.putText(frame, label, (x1, max(y1 - 8, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (0, 255, 0), 2)
        writer.write(frame)
    elapsed = time.perf_counter() - t0
    cap.release()
    writer.release()
    return {"fps": frames / elapsed if elapsed else 0.0, "frames": frames, "with_face": with_face}


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    result = run(Path(spec["video"]), Path(spec["out"]), spec.get("threads", 2),
                 spec.get("keras"), spec.get("max_frames"))
    print(json.dumps(result))
