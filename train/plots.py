"""Figures for runs and reports.

Uses ``matplotlib.figure.Figure`` directly (rendered by Agg when saved as PNG), never pyplot, so
no global backend is switched and nothing needs a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .metrics import RocCurve


def _figure(w: float, h: float, cols: int = 1):
    fig = Figure(figsize=(w, h))
    axes = fig.subplots(1, cols)
    return fig, axes


def training_curves(history: pd.DataFrame, path: Path, fine_tune_epoch: int | None = None) -> None:
    """Loss, accuracy and AUC per epoch (train and val); a dashed line where fine-tuning starts."""
    fig, axes = _figure(13, 3.8, 3)
    epochs = history["epoch"].to_numpy() + 1
    for ax, key, title in zip(axes, ("loss", "accuracy", "auc"),
                              ("loss", "accuracy (all classes)", "real-vs-fake AUC"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            col = prefix + key
            if col in history:
                ax.plot(epochs, history[col], style, marker=".",
                        label="val" if prefix else "train")
        if fine_tune_epoch is not None:
            ax.axvline(fine_tune_epoch + 0.5, color="grey", linestyle=":", label="fine-tuning")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def confusion_matrix_png(cm: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    """Row-normalised confusion matrix with counts in each cell."""
    fig, ax = _figure(1.2 * len(classes) + 2, 1.1 * len(classes) + 1.5)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (row-normalised colour, counts)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def roc_png(curves: dict[str, tuple[RocCurve, float | None]], path: Path) -> None:
    """ROC curves (label -> (curve, AUC)); a curve with AUC None is drawn as a note only."""
    fig, ax = _figure(5, 5)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    for label, (curve, auc) in curves.items():
        if auc is None:
            ax.plot([], [], " ", label=f"{label}: AUC undefined")
            continue
        ax.plot(curve.fpr, curve.tpr, label=f"{label} (AUC {auc:.3f})")
    ax.set_xlabel("false positive rate (real called fake)")
    ax.set_ylabel("true positive rate (fake caught)")
    ax.set_title("real vs fake ROC")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
