"""Evaluate a ``.keras`` or ``.onnx`` model on one ETL split: ``python -m train evaluate``.

Both formats get the same input: crops read with ``cv2.imread`` and passed through the runtime's
``preprocess`` (``OnnxClassifier.predict`` does it internally; for Keras we call it ourselves), so
a faithful export reproduces the Keras numbers. The decision threshold is the model's own (the
contract's, or run.json's beside a ``.keras`` file), else 0.5. Robustness: the same crops
re-encoded as JPEG at lower qualities (``jpeg``), since users' videos are more compressed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from edge_detector.contract import ModelContract
from edge_detector.csvsafe import escape_frame

from .data import load_classes, read_crops_bgr, split_data
from .errors import ConfigError, MissingFileError
from .eval_metrics import compute_metrics, dataset_caveat, level_metrics, video_scores
from .metrics import BinaryMetrics, roc_curve
from .plots import confusion_matrix_png, roc_png
from .report import summary_markdown
from .report_html import write_report_html

log = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]
DEFAULT_JPEG = (60, 40)
DEFAULT_THRESHOLD = 0.5


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
    degenerate: dict | None = None


def _keras_classes(model_path: Path, data_dir: Path) -> tuple[str, ...]:
    beside = model_path.parent / "classes.json"
    if beside.is_file():
        return tuple(json.loads(beside.read_text()))
    log.warning("no classes.json next to %s: using the class list of %s", model_path, data_dir)
    return load_classes(data_dir)


def _run_decision(model_path: Path) -> dict:
    """The decision ``fit`` wrote to run.json beside a ``.keras`` model: the validation-chosen
    threshold and, when there is one, the three-level band (as ModelContract keywords)."""
    try:
        run = json.loads((model_path.parent / "run.json").read_text())
        value, c = run.get("threshold"), run.get("contract")
    except (OSError, ValueError, AttributeError):
        return {}
    c = c if isinstance(c, dict) else {}
    out = {"threshold": float(value)} if isinstance(value, (int, float)) and 0 < value < 1 else {}
    keys = ("threshold_real", "threshold_fake")
    if all(c.get(k) is not None for k in keys):
        out.update({k: float(c[k]) for k in keys})
    return out


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
    contract = ModelContract(_keras_classes(model_path, Path(data_dir)), model_input_size(model),
                             **_run_decision(model_path))
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


def jpeg_reencode(crops_bgr: np.ndarray, quality: int) -> np.ndarray:
    """Crops decoded back from JPEG at ``quality`` (what a more compressed video does to them)."""
    out = np.empty_like(crops_bgr)
    for i, img in enumerate(crops_bgr):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError(f"cannot JPEG-encode a crop at quality {quality}")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def predict_split(predict: Predictor, paths: list[str], batch_size: int = 64,
                  progress: bool = True, jpeg: tuple[int, ...] = ()
                  ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Probabilities on the crops as stored, and on them re-encoded at each ``jpeg`` quality."""
    out, rob = [], {q: [] for q in jpeg}
    for i in tqdm(range(0, len(paths), batch_size), desc="evaluate", unit="batch",
                  disable=not progress):
        crops = read_crops_bgr(paths[i : i + batch_size])
        out.append(np.asarray(predict(crops), np.float32))
        for q in jpeg:
            rob[q].append(np.asarray(predict(jpeg_reencode(crops, q)), np.float32))
    if not out:
        return np.zeros((0, 0), np.float32), {}
    return np.concatenate(out), {q: np.concatenate(v) for q, v in rob.items()}


def parse_jpeg(text: str | None) -> tuple[int, ...]:
    """``"60,40"`` -> (60, 40); ``""`` / ``"none"`` -> (); qualities must lie in 1..100."""
    if text is None or text.strip().lower() in ("", "none", "off"):
        return ()
    try:
        qs = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ConfigError(f"--jpeg wants comma-separated qualities like 60,40, got {text!r}") from None
    bad = [q for q in qs if not 1 <= q <= 100]
    if bad:
        raise ConfigError(f"--jpeg qualities must be in 1..100, got {bad}")
    return qs


def evaluate(model_path: str | Path, data_dir: str | Path, split: str = "test",
             out_dir: str | Path = "report", batch_size: int = 64,
             progress: bool = True, jpeg: tuple[int, ...] = DEFAULT_JPEG) -> EvalResult:
    """Predict every crop of ``split``, compute metrics, write the report (incl. report.html)."""
    model_path, data_dir, out_dir = Path(model_path), Path(data_dir), Path(out_dir)
    predict, contract = load_predictor(model_path, data_dir, batch_size)
    classes, oi = contract.class_names, contract.original_index
    data = split_data(data_dir, split, classes)
    if len(data) == 0:
        raise ConfigError(f"no '{split}' crops in {data_dir}")
    threshold = contract.threshold or DEFAULT_THRESHOLD
    source = ("model contract (chosen on validation data)" if contract.threshold
              else "default 0.5 (the model carries none)")
    probs, rob = predict_split(predict, data.paths, batch_size, progress, tuple(jpeg))
    caveat = dataset_caveat(data_dir)
    m = compute_metrics(probs, data.labels, data.videos, classes, oi, threshold, source, rob,
                        caveat)
    result_metrics = {"model": str(model_path), "data_dir": str(data_dir), "split": split, **m}
    result_metrics["compression"] = _levels(predict, data, data_dir, contract, threshold,
                                            batch_size, progress, probs)
    for w in m["warnings"]:
        log.warning("%s", w)
    if caveat:
        log.warning("dataset caveat: %s", caveat)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result_metrics, indent=2))
    (out_dir / "summary.md").write_text(summary_markdown(result_metrics))
    y_pred = probs.argmax(axis=1)
    is_fake = data.labels != oi
    p_fake = 1.0 - probs[:, oi]
    preds = pd.DataFrame({"video": data.videos, "frame": data.frames,
                          "crop": [str(Path(p).relative_to(data_dir)) for p in data.paths],
                          "true": [classes[i] for i in data.labels],
                          "pred": [classes[i] for i in y_pred], "p_fake": p_fake})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = probs[:, i]
    escape_frame(preds).to_csv(out_dir / "predictions.csv", index=False, float_format="%.6f")
    cm = np.asarray(m["multiclass"]["confusion_matrix"])
    confusion_matrix_png(cm, classes, out_dir / "confusion_matrix.png")
    per_video = video_scores(data.videos, is_fake, p_fake)
    frame = binary_from_dict(m["binary_frame"])
    video = binary_from_dict(m["binary_video"])
    rocs = {"frames": roc_curve(is_fake, p_fake),
            "videos (mean P_fake)": roc_curve(per_video["fake"].to_numpy(),
                                              per_video["p_fake"].to_numpy())}
    roc_png({"frames": (rocs["frames"], frame.auc),
             "videos (mean P_fake)": (rocs["videos (mean P_fake)"], video.auc)}, out_dir / "roc.png")
    write_report_html(out_dir / "report.html", result_metrics, contract, rocs)
    log.info("%s on %s/%s: accuracy %.3f, frame AUC %s, video AUC %s", model_path.name,
             data_dir, split, result_metrics["multiclass"]["accuracy"], frame.auc, video.auc)
    return EvalResult(model_path, split, out_dir, classes, len(data), len(per_video),
                      float(np.mean(y_pred == data.labels)), m["multiclass"]["macro_f1"], cm,
                      frame, video, result_metrics, probs, m["degenerate"])


def _levels(predict: Predictor, data, data_dir: Path, contract: ModelContract, threshold: float,
            batch_size: int, progress: bool, probs: np.ndarray) -> dict:
    """Metrics per compression level: the crops as given (``c23``) and each H.264 variant that
    ``train degrade`` wrote (the test split's at the fixed protocol width)."""
    from .data import level_paths
    from .degrade import read_record

    record = read_record(data_dir)
    band = contract.band
    fake_at = band[1] if band else threshold
    out = {}
    for name, paths in level_paths(data, data_dir).items():
        p = probs if name == "c23" else predict_split(predict, paths, batch_size, progress)[0]
        out[name] = level_metrics(p, data.labels, contract.class_names,
                                  contract.original_index, fake_at, band[0] if band else None)
    if record:
        out["protocol"] = (f"test crops at {record.test_width} px, libx264 intra at each CRF "
                           f"({record.ffmpeg.split(' Copyright')[0]})")
    return out


def binary_from_dict(d: dict) -> BinaryMetrics:
    """A :class:`BinaryMetrics` back from its ``metrics.json`` form."""
    ci = d["auc_ci95"]
    return BinaryMetrics(d["n"], d["fakes"], d["auc"], tuple(ci) if ci else None, d["ap"],
                         d["eer"], d["accuracy_at_threshold"], d["threshold"], d["accuracy_at_0.5"],
                         d["reason"])
