"""The evaluation report: ``metrics.json`` content and a readable Markdown summary."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from .metrics import BinaryMetrics, macro_f1


def _binary(m: BinaryMetrics) -> dict:
    d = asdict(m)
    d["accuracy_at_0.5"] = d.pop("accuracy")
    d["fakes"] = d.pop("positives")
    return d


def metrics_dict(model_path: Path, data_dir: Path, split: str, classes: tuple[str, ...],
                 cm: np.ndarray, prec: list, rec: list, f1: list, frame: BinaryMetrics,
                 video: BinaryMetrics, n_videos: int) -> dict:
    n = int(cm.sum())
    return {
        "model": str(model_path),
        "data_dir": str(data_dir),
        "split": split,
        "frames": n,
        "videos": n_videos,
        "classes": list(classes),
        "multiclass": {
            "accuracy": float(np.trace(cm) / n) if n else None,
            "macro_f1": macro_f1(cm),
            "per_class": {
                c: {"precision": prec[i], "recall": rec[i], "f1": f1[i],
                    "support": int(cm[i].sum())}
                for i, c in enumerate(classes)
            },
            "confusion_matrix": cm.tolist(),
        },
        "binary_frame": _binary(frame),
        "binary_video": _binary(video),
        "binary_definition": "fake is positive; P_fake = 1 - P(original); video score = mean "
                             "P_fake of its frames",
    }


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def summary_markdown(m: dict) -> str:
    """Readable summary of a :func:`metrics_dict`."""
    mc, fr, vi = m["multiclass"], m["binary_frame"], m["binary_video"]
    lines = [
        f"# Evaluation of `{Path(m['model']).name}` on split `{m['split']}`",
        "",
        f"{m['frames']} frames from {m['videos']} videos ({m['data_dir']}).",
        "",
        f"- {len(m['classes'])}-class accuracy: **{_f(mc['accuracy'])}**, "
        f"macro-F1: **{_f(mc['macro_f1'])}**",
        "",
        "| real vs fake | AUC | AP | EER | accuracy @0.5 | n (fakes) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, b in (("frames", fr), ("videos (mean P_fake)", vi)):
        lines.append(f"| {name} | {_f(b['auc'])} | {_f(b['ap'])} | {_f(b['eer'])} | "
                     f"{_f(b['accuracy_at_0.5'])} | {b['n']} ({b['fakes']}) |")
    for name, b in (("frames", fr), ("videos", vi)):
        if b["reason"]:
            lines.append(f"\n{name}: {b['reason']}")
    lines += ["", "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    for c, pc in mc["per_class"].items():
        lines.append(f"| {c} | {_f(pc['precision'])} | {_f(pc['recall'])} | {_f(pc['f1'])} | "
                     f"{pc['support']} |")
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", "", "```"]
    width = max(len(c) for c in m["classes"]) + 1
    lines.append(" " * width + " ".join(f"{c[:8]:>8}" for c in m["classes"]))
    for c, row in zip(m["classes"], mc["confusion_matrix"], strict=True):
        lines.append(f"{c:<{width}}" + " ".join(f"{v:>8}" for v in row))
    lines += ["```", ""]
    return "\n".join(lines)
