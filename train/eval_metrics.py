"""Everything ``metrics.json`` holds, computed from predictions: numbers, baselines, warnings.

Each number sits next to what a model without information would score (majority class, always
FAKE, AUC 0.5), and the report says when the test set itself cannot support the numbers (small,
one-sided, a dataset caveat) or when the model is degenerate.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from .degenerate import check_degenerate
from .metrics import (
    BinaryMetrics,
    binary_baselines,
    binary_metrics,
    confusion_matrix,
    macro_f1,
    multiclass_baselines,
    per_class,
)

SMALL_TEST_SET = 200  # crops; below this intervals are wide
LOPSIDED_SHARE = 0.05  # real or fake share below this: the binary numbers rest on a handful
CAVEAT_KEY = "dataset_caveat"  # in the data folder's etl_config.json (written by import-crops)
ETL_CONFIG = "etl_config.json"


def dataset_caveat(data_dir: Path) -> str | None:
    """The data folder's own warning about its numbers (e.g. identities crossing the split)."""
    try:
        record = json.loads((Path(data_dir) / ETL_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    caveat = record.get(CAVEAT_KEY) if isinstance(record, dict) else None
    return str(caveat).strip() or None if caveat else None


def binary_dict(m: BinaryMetrics, is_fake: np.ndarray) -> dict:
    d = asdict(m)
    d["auc_ci95"] = list(m.auc_ci95) if m.auc_ci95 else None
    d["accuracy_at_threshold"] = d.pop("accuracy")
    d["accuracy_at_0.5"] = d.pop("accuracy_at_half")
    d["fakes"] = d.pop("positives")
    d["baseline"] = binary_baselines(is_fake)
    return d


def video_scores(videos: list[str], is_fake: np.ndarray, p_fake: np.ndarray) -> pd.DataFrame:
    """Per video: its label and mean P_fake."""
    return pd.DataFrame({"video": videos, "fake": is_fake, "p_fake": p_fake}).groupby(
        "video", sort=True).agg(fake=("fake", "first"), p_fake=("p_fake", "mean"))


def video_metrics(per_video: pd.DataFrame, n_frames: int, threshold: float) -> BinaryMetrics:
    """Video-level metrics; none when every crop is its own video (no video ids)."""
    if len(per_video) >= n_frames and n_frames > 1:
        return BinaryMetrics(len(per_video), int(per_video["fake"].sum()), None, None, None,
                             None, None, threshold, None,
                             "no video ids (one crop per video): see the frame metrics")
    return binary_metrics(per_video["fake"].to_numpy(), per_video["p_fake"].to_numpy(), threshold)


def per_method_auc(labels: np.ndarray, p_fake: np.ndarray, classes: tuple[str, ...],
                   original_index: int) -> dict:
    """AUC of original vs each method, on the originals plus that method's crops only."""
    out = {}
    real = labels == original_index
    for i, name in enumerate(classes):
        if i == original_index or not (labels == i).any():
            continue
        keep = real | (labels == i)
        m = binary_metrics(labels[keep] == i, p_fake[keep])
        pred_fake = p_fake[labels == i]
        out[name] = {"auc": m.auc, "auc_ci95": list(m.auc_ci95) if m.auc_ci95 else None,
                     "n": int(keep.sum()), "fakes": int((labels == i).sum()),
                     "baseline_auc": 0.5, "reason": m.reason,
                     "mean_p_fake": round(float(pred_fake.mean()), 4)}  # float noise: .keras = .onnx
    return out


def data_warnings(n: int, fakes: int) -> list[str]:
    out = []
    if n < SMALL_TEST_SET:
        out.append(f"small test set: {n} crops (< {SMALL_TEST_SET}); the intervals are wide")
    if n and (fakes == 0 or fakes == n):
        out.append(f"one-sided test set: only {'fake' if fakes else 'real'} crops; "
                   "real-vs-fake AUC is undefined")
    elif n and min(fakes, n - fakes) / n < LOPSIDED_SHARE:
        out.append(f"lopsided test set: {min(fakes, n - fakes)} of {n} crops are "
                   f"{'real' if fakes > n / 2 else 'fake'}")
    return out


def compute_metrics(probs: np.ndarray, labels: np.ndarray, videos: list[str],
                    classes: tuple[str, ...], original_index: int, threshold: float,
                    threshold_source: str, robustness: dict[int, np.ndarray] | None = None,
                    caveat: str | None = None) -> dict:
    """The content of ``metrics.json`` minus the model/data paths (see :func:`train.evaluate`).

    ``robustness``: JPEG quality -> probabilities on the same crops re-encoded at that quality.
    """
    n = len(labels)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(labels, y_pred, len(classes))
    prec, rec, f1 = per_class(labels, y_pred, len(classes))
    is_fake = labels != original_index
    p_fake = 1.0 - probs[:, original_index]
    frame = binary_metrics(is_fake, p_fake, threshold)
    per_video = video_scores(videos, is_fake, p_fake)
    video = video_metrics(per_video, n, threshold)
    base = multiclass_baselines(labels)
    major = base.pop("majority_class_index")
    degenerate = check_degenerate(probs, original_index, labels, classes)
    warnings = data_warnings(n, int(is_fake.sum()))
    if degenerate:
        warnings.insert(0, f"DEGENERATE MODEL: {degenerate['reason']}")
    rob = {}
    for q, p in sorted((robustness or {}).items(), reverse=True):
        m = binary_metrics(is_fake, 1.0 - p[:, original_index], threshold)
        rob[f"jpeg_{q}"] = {"jpeg_quality": int(q), "auc": m.auc,
                            "auc_ci95": list(m.auc_ci95) if m.auc_ci95 else None, "ap": m.ap,
                            "eer": m.eer, "accuracy_at_threshold": m.accuracy,
                            "accuracy": float(np.mean(p.argmax(axis=1) == labels)) if n else None,
                            "baseline_auc": 0.5}
    return {
        "frames": n,
        "videos": len(per_video),
        "classes": list(classes),
        "threshold": {"value": float(threshold), "source": threshold_source},
        "multiclass": {
            "accuracy": float(np.mean(y_pred == labels)) if n else None,
            "macro_f1": macro_f1(labels, y_pred),
            "baseline": {**base, "majority_class": classes[major] if major is not None else None},
            "per_class": {
                c: {"precision": prec[i], "recall": rec[i], "f1": f1[i],
                    "support": int(cm[i].sum())}
                for i, c in enumerate(classes)
            },
            "confusion_matrix": cm.tolist(),
        },
        "binary_frame": binary_dict(frame, is_fake),
        "binary_video": binary_dict(video, per_video["fake"].to_numpy()),
        "per_method_auc": per_method_auc(labels, p_fake, classes, original_index),
        "robustness": rob,
        "degenerate": degenerate,
        "warnings": warnings,
        "dataset_caveat": caveat,
        "binary_definition": "fake is positive; P_fake = 1 - P(original); video score = mean "
                             "P_fake of its frames; 95 % intervals: stratified bootstrap, 1,000 "
                             "resamples, seed 0",
    }


def level_metrics(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                  original_index: int, fake_at: float, real_below: float | None = None) -> dict:
    """One compression level: frame AUC with interval, per-method AUC, and what the decision
    does per class: the share called FAKE (recall of each method, false alarms on originals)
    and, for three-level models, the share left UNCERTAIN."""
    is_fake = labels != original_index
    p_fake = 1.0 - probs[:, original_index]
    m = binary_metrics(is_fake, p_fake, fake_at)
    calls = {}
    for i, name in enumerate(classes):
        sel = labels == i
        if not sel.any():
            continue
        p = p_fake[sel]
        entry = {"n": int(sel.sum()), "called_fake": round(float(np.mean(p >= fake_at)), 4)}
        if real_below is not None:
            entry["uncertain"] = round(float(np.mean((p >= real_below) & (p < fake_at))), 4)
        calls[name] = entry
    return {"auc": m.auc, "auc_ci95": list(m.auc_ci95) if m.auc_ci95 else None, "ap": m.ap,
            "eer": m.eer, "per_method_auc": {k: {"auc": v["auc"], "auc_ci95": v["auc_ci95"]}
                                             for k, v in per_method_auc(
                                                 labels, p_fake, classes, original_index).items()},
            "calls": calls, "fake_at": fake_at, "real_below": real_below}
