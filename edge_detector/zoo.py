"""The pretrained models shipped inside the package, found by name.

Each shipped model is ``edge_detector/models/<name>.onnx`` with its ``<name>.card.json`` (what it
was trained on, its test metrics with intervals, its threshold). ``index.json`` names the default;
``--model NAME`` picks another and ``--model PATH`` any file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ModelError
from .policy import DEFAULT_THRESHOLD

CARD_SUFFIX = ".card.json"
INDEX_FILE = "index.json"
ENV_MODEL = "EDGE_MODEL"


@dataclass(frozen=True)
class ShippedModel:
    """One packaged ONNX classifier and the key numbers of its card."""

    name: str
    path: Path
    card: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.card.get("test_metrics") or {}

    def summary_line(self) -> str:
        m = self.metrics
        auc, ci = m.get("frame_auc"), m.get("frame_auc_ci95")
        auc_s = "n/a" if auc is None else f"{auc:.3f}"
        if ci:
            auc_s += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        c = self.card.get("contract", {})
        size_mb = self.path.stat().st_size / 1e6
        threshold = c.get("threshold")
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if c.get("threshold_real") is not None and c.get("threshold_fake") is not None:
            decision = f"REAL<{c['threshold_real']:.3f} FAKE>={c['threshold_fake']:.3f}"
        else:
            decision = f"threshold {threshold:.3f}"
        return (f"{self.name:<14} {c.get('architecture', '?'):<10} {c.get('input_size', '?'):>4}px "
                f"{size_mb:5.1f} MB  frame AUC {auc_s}  acc {m.get('accuracy', float('nan')):.3f}  "
                f"{decision}  card {self.path.stem}.card.json")

    def detail_line(self) -> str | None:
        """Compressed-video AUC, NeuralTextures recall, fixture videos and real-face false alarms
        (from the card; None for cards that predate them)."""
        parts = []
        comp = self.metrics.get("compression") or {}
        for level in ("crf32", "crf40"):
            v = comp.get(level) or {}
            if v.get("auc") is not None:
                ci = v.get("auc_ci95")
                parts.append(f"{level} AUC {v['auc']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]"
                                                              if ci else ""))
        nt = ((comp.get("c23") or {}).get("calls") or {}).get("NeuralTextures")
        if nt:
            parts.append(f"NeuralTextures called FAKE {nt['called_fake']:.2f}")
        vc = self.card.get("video_check") or {}
        if vc.get("videos"):
            parts.append(f"fixture videos right {vc['right']}/{len(vc['videos'])} "
                         f"({vc['originals_called_fake']} originals FAKE, "
                         f"{vc['uncertain']} UNCERTAIN)")
            rf = vc.get("real_faces") or {}
            if rf.get("faces"):
                parts.append(f"real faces called FAKE {rf['called_fake']}/{rf['faces']}")
        return "; ".join(parts) if parts else None


def models_dir() -> Path:
    return Path(str(resources.files("edge_detector") / "models"))


def _index(root: Path) -> dict[str, Any]:
    f = root / INDEX_FILE
    if not f.is_file():
        return {}
    try:
        value = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"shipped model index {f} is unreadable: {exc}") from exc
    return value if isinstance(value, dict) else {}


def shipped_models(root: Path | None = None) -> list[ShippedModel]:
    """Shipped models in the index's order (default first), then any other packaged file."""
    root = root or models_dir()
    if not root.is_dir():
        return []
    order = list(_index(root).get("models", []))
    names = sorted(p.name[: -len(".onnx")] for p in root.glob("*.onnx") if ".int8." not in p.name)
    names = [n for n in order if n in names] + [n for n in names if n not in order]
    out = []
    for n in names:
        card_file = root / f"{n}{CARD_SUFFIX}"
        try:
            card = json.loads(card_file.read_text()) if card_file.is_file() else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"model card {card_file} is unreadable: {exc}") from exc
        out.append(ShippedModel(n, root / f"{n}.onnx", card))
    return out


def resolve_model(spec: str | os.PathLike | None, root: Path | None = None) -> Path:
    """``None`` -> $EDGE_MODEL or the default shipped model; a shipped name; else a file path."""
    if spec is None or str(spec) == "":
        env = os.environ.get(ENV_MODEL)
        if env:
            return resolve_model(env, root)
        models = shipped_models(root)
        if not models:
            raise ModelError("no model given and none shipped: pass --model M.onnx")
        return models[0].path
    text = str(spec)
    by_name = {m.name: m for m in shipped_models(root)}
    if text in by_name:
        return by_name[text].path
    path = Path(text)
    if not path.exists() and os.sep not in text and not text.endswith(".onnx"):
        known = ", ".join(by_name) or "none"
        raise ModelError(f"no shipped model named {text!r} (shipped: {known}) and no such file")
    return path
