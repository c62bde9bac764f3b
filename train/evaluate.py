"""Evaluate a ``.keras`` or ``.onnx`` model on one ETL split: ``python -m train evaluate``.

Both formats get the same input: crops read with ``cv2.imread`` and passed through the runtime's
``preprocess`` (``OnnxClassifier.predict`` does it internally; for Keras we call it ourselves), so
a faithful export reproduces the Keras numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from edge_detector.contract import ModelContract

from .data import load_classes, read_crops_bgr, split_data
from .errors import ConfigError, MissingFileError
from .metrics import BinaryMetrics, binary_metrics, confusion_matrix, macro_f1, per_class, roc_curve
from .plots import confusion_matrix_png, roc_png
from .report import metrics_dict, summary_markdown
from .report_html import write_report_html

log = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalResult:
    """Numbers of one evaluation (``metrics`` is what ``metrics.json`` holds)."""

    model_path: Path
    split: str
    out_dir: Path
    classes: tuple[str, ...]
    frames: int
    videos: int
    accuracy: float
    macro_f1: float | None
    confusion: np.ndarray
    frame: BinaryMetrics
    video: BinaryMetrics
    metrics: dict
    probs: np.ndarray


def _keras_classes(model_path: Path, data_dir: Path) -> tuple[str, ...]:
    beside = model_path.parent / "classes.json"
    if beside.is_file():
        return tuple(json.loads(beside.read_text()))
    log.warning("no classes.json next to %s: using the class list of %s", model_path, data_dir)
    return load_classes(data_dir)


def load_predictor(model_path: str | Path, data_dir: str | Path, batch_size: int = 64
                   ) -> tuple[Predictor, ModelContract]:
    """(BGR uint8 crops -> probabilities, contract) for a ``.onnx`` or ``.keras`` file."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise MissingFileError(f"model file not found: {model_path}")
    if model_path.suffix == ".onnx":
        from edge_detector.classifier import OnnxClassifier

        clf = OnnxClassifier(model_path)
        return clf.predict, clf.contract
    if model_path.suffix != ".keras":
        raise ConfigError(f"{model_path}: expected a .keras or .onnx model")
    from edge_detector.preprocess import preprocess

    from .models import load_model, model_input_size

    model = load_model(model_path)
    contract = ModelContract(_keras_classes(model_path, Path(data_dir)), model_input_size(model))
    if int(model.outputs[0].shape[-1]) != contract.num_classes:
        raise ConfigError(f"{model_path} has {model.outputs[0].shape[-1]} outputs but "
                          f"{contract.num_classes} classes are listed")

    def predict(crops_bgr: np.ndarray) -> np.ndarray:
        x = preprocess(crops_bgr, contract)
        n = len(x)
        if n < batch_size:  # one input shape for every call: no tf.function retracing
            x = np.concatenate([x, np.zeros((batch_size - n, *x.shape[1:]), x.dtype)])
        return model.predict(x, batch_size=len(x), verbose=0)[:n]

    return predict, contract


def predict_split(predict: Predictor, paths: list[str], batch_size: int = 64,
                  progress: bool = True) -> np.ndarray:
    out = []
    for i in tqdm(range(0, len(paths), batch_size), desc="evaluate", unit="batch",
                  disable=not progress):
        out.append(np.asarray(predict(read_crops_bgr(paths[i : i + batch_size])), np.float32))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate(model_path: str | Path, data_dir: str | Path, split: str = "test",
             out_dir: str | Path = "report", batch_size: int = 64,
             progress: bool = True) -> EvalResult:
    """Predict every crop of ``split``, compute metrics, write the report (incl. report.html)."""
    model_path, data_dir, out_dir = Path(model_path), Path(data_dir), Path(out_dir)
    predict, contract = load_predictor(model_path, data_dir, batch_size)
    classes, oi = contract.class_names, contract.original_index
    data = split_data(data_dir, split, classes)
    if len(data) == 0:
        raise ConfigError(f"no '{split}' crops in {data_dir}")
    probs = predict_split(predict, data.paths, batch_size, progress)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(data.labels, y_pred, len(classes))
    is_fake = data.labels != oi
    p_fake = 1.0 - probs[:, oi]
    frame = binary_metrics(is_fake, p_fake)
    per_video = pd.DataFrame({"video": data.videos, "fake": is_fake, "p_fake": p_fake}
                             ).groupby("video", sort=True).agg(fake=("fake", "first"),
                                                               p_fake=("p_fake", "mean"))
    video = binary_metrics(per_video["fake"].to_numpy(), per_video["p_fake"].to_numpy())

    out_dir.mkdir(parents=True, exist_ok=True)
    prec, rec, f1 = per_class(cm)
    result_metrics = metrics_dict(model_path, data_dir, split, classes, cm, prec, rec, f1,
                                  frame, video, len(per_video))
    (out_dir / "metrics.json").write_text(json.dumps(result_metrics, indent=2))
    (out_dir / "summary.md").write_text(summary_markdown(result_metrics))
    preds = pd.DataFrame({"video": data.videos, "frame": data.frames,
                          "crop": [str(Path(p).relative_to(data_dir)) for p in data.paths],
                          "true": [classes[i] for i in data.labels],
                          "pred": [classes[i] for i in y_pred], "p_fake": p_fake})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = probs[:, i]
    preds.to_csv(out_dir / "predictions.csv", index=False, float_format="%.6f")
    confusion_matrix_png(cm, classes, out_dir / "confusion_matrix.png")
    rocs = {"frames": roc_curve(is_fake, p_fake),
            "videos (mean P_fake)": roc_curve(per_video["fake"].to_numpy(),
                                              per_video["p_fake"].to_numpy())}
    roc_png({"frames": (rocs["frames"], frame.auc),
             "videos (mean P_fake)": (rocs["videos (mean P_fake)"], video.auc)}, out_dir / "roc.png")
    write_report_html(out_dir / "report.html", result_metrics, contract, rocs)
    log.info("%s on %s/%s: accuracy %.3f, frame AUC %s, video AUC %s", model_path.name,
             data_dir, split, result_metrics["multiclass"]["accuracy"], frame.auc, video.auc)
    return EvalResult(model_path, split, out_dir, classes, len(data), len(per_video),
                      float(np.mean(y_pred == data.labels)), macro_f1(cm), cm, frame, video,
                      result_metrics, probs)
