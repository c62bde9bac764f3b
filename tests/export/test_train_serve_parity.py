"""Train/serve parity: the runtime on a video sees what training saw in the ETL crops.

Generated videos -> ETL -> short fit -> export -> runtime. For every frame the ETL sampled, the
runtime's probabilities for the face must equal the Keras model's on the ETL crop within 1e-4
(float rounding). The ETL writes lossless PNG crops at the model input size (64), so preprocess
never resizes either side and both see the same pixels. Same detector, same ``crop_face``
geometry, same INTER_AREA resize, same BGR->RGB step: any drift in those would show up as a box
mismatch, a pixel difference or a probability gap.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_detector import FaceDetector, OnnxClassifier, crop_face
from edge_detector.preprocess import preprocess

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4
COLOUR_SLIP = 0.02  # what a BGR/RGB swap must at least move an output by
VIDEOS = ("original/", "Deepfakes/", "FaceSwap/")  # one video of each of these classes


def _sampled(pipe):
    """ETL manifest rows with a crop, for one video per prefix in VIDEOS."""
    from train.manifest import OK, read_manifest

    df = read_manifest(pipe.data_dir)
    ok = df[df["status"] == OK]
    keys = sorted(ok["video"].unique())
    picked = [next(k for k in keys if k.startswith(prefix)) for prefix in VIDEOS]
    return {k: ok[ok["video"] == k].set_index("frame") for k in picked}


def _keras_on_etl_crops(pipe, rows, contract) -> dict[int, np.ndarray]:
    from train.models import load_model

    model = load_model(pipe.model_path)
    crops = np.stack([cv2.imread(str(pipe.data_dir / c)) for c in rows["crop"]])
    probs = np.asarray(model(preprocess(crops, contract), training=False))
    return dict(zip(rows.index.tolist(), probs, strict=True))


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield index, frame
            index += 1
    finally:
        cap.release()


def test_runtime_building_blocks_match_keras_on_etl_crops(trained_pipeline):
    pipe = trained_pipeline
    clf = OnnxClassifier(pipe.export.onnx_path)
    c = clf.contract
    assert c.input_size == 64 and c.crop_margin == 1.3 and c.synthetic_demo
    detector = FaceDetector()
    from train.models import load_model

    keras_model = load_model(pipe.model_path)
    diffs, exact, swapped, keras_all, checked = [], [], [], [], 0
    for key, rows in _sampled(pipe).items():
        reference = _keras_on_etl_crops(pipe, rows, c)
        for index, frame in _frames(pipe.videos[key]):
            if index not in rows.index:
                continue
            row = rows.loc[index]
            faces = detector.detect(frame)
            assert len(faces) >= 1, f"{key} frame {index}: runtime found no face"
            box = faces.xyxy[0]
            etl_box = row[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)
            np.testing.assert_allclose(box, etl_box, atol=0.06)  # manifest rounds to 0.1 px
            crop = crop_face(frame, box, c.input_size, c.crop_margin)
            etl_crop = cv2.imread(str(pipe.data_dir / row["crop"]))
            assert crop.shape == etl_crop.shape
            np.testing.assert_array_equal(crop, etl_crop)  # lossless PNG: the very same pixels
            got = clf.predict(crop[None])[0]
            diffs.append(np.abs(got - reference[index]).max())
            exact.append(np.abs(got - keras_model(preprocess(crop[None], c), training=False)[0]))
            swapped.append(np.abs(clf.predict(crop[None, ..., ::-1])[0] - reference[index]).max())
            keras_all.append(reference[index])
            checked += 1
    assert checked == sum(len(r) for r in _sampled(pipe).values()) >= 9
    print(f"runtime vs Keras on {checked} ETL crops: max |diff| {max(diffs):.4f}, "
          f"mean {np.mean(diffs):.4f}; colour-swapped {max(swapped):.3f}")
    assert max(diffs) <= TOLERANCE, f"runtime vs Keras on ETL crops: {max(diffs):.4f}"
    assert np.max(exact) <= 1e-4  # Keras on the runtime's crop: only float rounding left
    # the check has teeth: outputs move with the face, and a colour-order slip would be caught
    assert np.std(keras_all, axis=0).max() > 0.01
    assert max(swapped) > COLOUR_SLIP


def test_edge_detect_cli_matches_keras_on_etl_crops(trained_pipeline, tmp_path):
    import pandas as pd
    from click.testing import CliRunner

    from edge_detector.cli import main

    pipe = trained_pipeline
    contract = OnnxClassifier(pipe.export.onnx_path).contract
    key, rows = next(iter(_sampled(pipe).items()))
    reference = _keras_on_etl_crops(pipe, rows, contract)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(pipe.videos[key]), "--model",
                                       str(pipe.export.onnx_path), "-o", str(out), "--no-video",
                                       "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out / "frames.csv")
    cols = [f"p_{name}" for name in contract.class_names]
    assert set(cols) <= set(df.columns)
    faces = df[(df["face"] == 0) & df["frame"].isin(reference)].set_index("frame")
    assert sorted(faces.index) == sorted(reference)
    gap = max(np.abs(faces.loc[i, cols].to_numpy(np.float64) - p).max()
              for i, p in reference.items())
    assert gap <= TOLERANCE, f"edge-detect vs Keras on ETL crops: {gap:.4f}"
