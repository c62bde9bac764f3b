"""``report.html`` of ``train evaluate``: the evaluation as one self-contained page.

Built from the runtime report's pieces (:mod:`edge_detector.report.htmlkit`, :mod:`edge_detector.report.svg`):
inline CSS and SVG, images as data: URIs, nothing that points outside the page.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge_detector.atomic import write_text
from edge_detector.contract import ModelContract
from edge_detector.report import htmlkit as hk
from edge_detector.report import svg

from .manifest import crops
from .metrics import RocCurve
from .runinfo import is_synthetic
from .splits import SPLITS

ROC_COLORS = ("#2f6fd6", "#d9342b")
MAX_ROC_POINTS = 500  # per curve: the page stays small for test sets of any size
EXTRA_CSS = """
.banner{background:#1f2933;border-radius:12px;padding:16px 20px;margin:16px 0}
.banner .stat{background:#2c3a47;border-color:#3e4c59}.banner .stat .v{color:#fff;font-size:24px}
.banner .stat .k{color:#cbd2d9}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin:16px 0;align-items:start}
.two>section{margin:0}
.roc{max-width:460px}
table.cm{width:auto}table.cm td.cm{text-align:center;min-width:64px;border:2px solid #fff}
table.cm th.pred{text-align:center;font-size:12px}
@media (max-width:800px){.two{grid-template-columns:1fr}}
"""


def write_report_html(path: Path, metrics: dict[str, Any], contract: ModelContract,
                      rocs: dict[str, RocCurve]) -> Path:
    """Render and replace ``path`` atomically (``metrics`` is what ``metrics.json`` holds)."""
    return write_text(path, render_report_html(metrics, contract, rocs))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_card(model_path: Path, contract: ModelContract) -> tuple[dict[str, Any], bool]:
    """(model card, trained on synthetic demo data?).

    The contract (ONNX metadata) wins; a model inside its run folder adds run.json/config.json,
    and the ETL record (etl_config.json) of the run's data folder says whether it was synthetic.
    """
    config, run = _read_json(model_path.parent / "config.json"), _read_json(model_path.parent / "run.json")
    run_contract = run.get("contract") if isinstance(run.get("contract"), dict) else {}
    etl = _read_json(Path(config["data_dir"]) / "etl_config.json") if config.get("data_dir") else {}
    c = contract.to_dict()

    def pick(key: str, *alts: str) -> Any:
        for source, keys in ((c, (key,)), (run_contract, (key,)), (run, (key, *alts)),
                             (config, (key, *alts))):
            for k in keys:
                if source.get(k) not in (None, "", "unknown"):
                    return source[k]
        return None

    synthetic = bool(contract.synthetic_demo) or is_synthetic(config, run, etl)
    trained_on = pick("trained_on", "data_dir") or "unknown"
    if synthetic and "synthetic" not in str(trained_on):
        trained_on = f"{trained_on} (synthetic demo data)"
    card = {"file": str(model_path), "format": model_path.suffix.lstrip("."),
            "architecture": pick("architecture", "arch") or "unknown",
            "model name": pick("model_name") or "unknown", "parameters": pick("parameters"),
            "input size": f"{contract.input_size} px", "classes": ", ".join(contract.class_names),
            "crop margin": contract.crop_margin, "trained on": trained_on,
            "synthetic demo": synthetic}
    return card, synthetic


def render_report_html(m: dict[str, Any], contract: ModelContract, rocs: dict[str, RocCurve]) -> str:
    model_path, data_dir = Path(m["model"]), Path(m["data_dir"])
    card, synthetic = model_card(model_path, contract)
    mc, fr, vi = m["multiclass"], m["binary_frame"], m["binary_video"]
    title = f"Evaluation of {model_path.name} on split {m['split']}"
    body = [
        f"<h1>{hk.esc(title)}</h1>",
        f'<div class="muted small">{hk.esc(data_dir)} · {m["frames"]} frames from {m["videos"]} '
        f'videos · {len(m["classes"])} classes</div>',
        _warnings(m, synthetic, data_dir),
        '<div class="banner" id="headline">' + hk.stats({
            f"{len(m['classes'])}-class accuracy": mc["accuracy"], "macro-F1": mc["macro_f1"],
            "frame AUC": fr["auc"], "video AUC": vi["auc"], "frame EER": fr["eer"],
            "video EER": vi["eer"]}) + "</div>",
        '<div class="two">' + hk.section("Real vs fake ROC", _roc(rocs, fr, vi), id_="roc")
        + hk.section("Model", hk.kv_table(card, cls="model-card"), id_="model") + "</div>",
        hk.section("Confusion matrix (rows: true class, columns: predicted)",
                   _confusion(m["classes"], mc["confusion_matrix"]), id_="confusion"),
        '<div class="two">' + hk.section("Per class", _per_class(mc["per_class"]), id_="per-class")
        + hk.section("Real vs fake (fake is positive)", _binary(m), id_="binary") + "</div>",
        '<div class="two">' + hk.section("Original vs each method", _per_method(m),
                                         id_="per-method")
        + hk.section("Robustness: test crops re-encoded as JPEG", _robustness(m),
                     id_="robustness") + "</div>",
        hk.section("Data splits", _splits(data_dir, m["split"]), id_="splits"),
        _figures(model_path),
        f"<footer>{hk.esc(_footer(m))}</footer>",
    ]
    return hk.page(title, "".join(body), EXTRA_CSS)


def _warnings(m: dict[str, Any], synthetic: bool, data_dir: Path) -> str:
    from edge_detector.notices import SYNTHETIC_WARNING

    out = []
    if synthetic:
        out.append(f'<div class="warn synthetic"><b>Demo model.</b> {hk.esc(SYNTHETIC_WARNING)}; '
                   "these numbers say nothing about real deepfakes.</div>")
    if _read_json(data_dir / "etl_config.json").get("synthetic"):
        out.append(hk.warning(f"The evaluation data ({data_dir}) is synthetic demo data, "
                              "not FaceForensics++."))
    for w in m.get("warnings", []):
        out.append(hk.warning(w))
    if m.get("dataset_caveat"):
        out.append(hk.warning(f"Dataset caveat: {m['dataset_caveat']}"))
    for name, b in (("frames", m["binary_frame"]), ("videos", m["binary_video"])):
        if b.get("reason"):
            out.append(hk.warning(f"{name}: {b['reason']}"))
    return "".join(out)


def _ci(ci) -> str:
    return f"[{hk.fmt(ci[0])}, {hk.fmt(ci[1])}]" if ci else "n/a"


def _per_method(m: dict[str, Any]) -> str:
    rows = [(c, pm["auc"], _ci(pm["auc_ci95"]), pm["mean_p_fake"], pm["n"], pm["fakes"])
            for c, pm in m.get("per_method_auc", {}).items()]
    if not rows:
        return '<p class="muted">no originals and fakes of one method to compare</p>'
    note = ('<p class="muted small">Each row: the originals plus that method\'s crops only. '
            "Baseline (no information): AUC 0.5.</p>")
    return hk.table(rows, ("method", "AUC", "95% CI", "mean P_fake", "n", "fake"),
                    numeric=(1, 3, 4, 5), cls="per-method") + note


def _robustness(m: dict[str, Any]) -> str:
    fr, mc = m["binary_frame"], m["multiclass"]
    rows = [("as stored", fr["auc"], _ci(fr["auc_ci95"]), fr["eer"], mc["accuracy"])]
    rows += [(f"JPEG q{r['jpeg_quality']}", r["auc"], _ci(r["auc_ci95"]), r["eer"], r["accuracy"])
             for r in m.get("robustness", {}).values()]
    if len(rows) == 1:
        return '<p class="muted">not measured (evaluate --jpeg none)</p>'
    return hk.table(rows, ("test crops", "frame AUC", "95% CI", "EER", "N-class accuracy"),
                    numeric=(1, 3, 4), cls="robustness")


def _thin(curve: RocCurve) -> list[tuple[float, float]]:
    n = len(curve.fpr)
    idx = np.unique(np.linspace(0, n - 1, MAX_ROC_POINTS).round().astype(int)) if n > MAX_ROC_POINTS \
        else np.arange(n)
    return [(float(curve.fpr[i]), float(curve.tpr[i])) for i in idx]


def _roc(rocs: dict[str, RocCurve], fr: dict[str, Any], vi: dict[str, Any]) -> str:
    """Square ROC plot from the svg primitives (``svg.line_chart`` draws wide 1000x280 charts)."""
    aucs = {"frames": fr["auc"], "videos": vi["auc"]}
    ax = svg.Axes(width=440, height=420, left=52, right=14, top=12, bottom=42)
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    parts = [svg.frame(ax, ticks, ticks, lambda v: f"{v:g}", lambda v: f"{v:g}",
                       "false positive rate (real called fake)", "true positive rate (fakes caught)"),
             f'<line class="chance" x1="{ax.x(0):.1f}" y1="{ax.y(0):.1f}" x2="{ax.x(1):.1f}" '
             f'y2="{ax.y(1):.1f}" stroke="{hk.GREY}" stroke-dasharray="5 4"/>']
    colors: dict[str, str] = {}
    for (name, curve), color in zip(rocs.items(), ROC_COLORS, strict=False):
        auc = next((a for k, a in aucs.items() if name.startswith(k)), None)
        if auc is None:  # one class only: the curve would be a meaningless diagonal
            continue
        label = f"{name} (AUC {hk.fmt(auc)})"
        parts.append(svg.polyline([(ax.x(x), ax.y(y)) for x, y in _thin(curve)], color,
                                  cls="roc-curve", width=2))
        colors[label] = color
    if not colors:
        return '<p class="muted">AUC undefined: the split holds only one of real / fake</p>'
    chart = svg.svg(ax, "".join(parts), "real vs fake ROC", cls="chart roc")
    return chart + hk.legend(colors, {"chance": hk.GREY})


def _confusion(classes: list[str], cm: list[list[int]]) -> str:
    """Counts, each cell shaded by its share of the true class (its row)."""
    head = '<tr><th>true \\ predicted</th>' + "".join(
        f'<th class="pred">{hk.esc(c)}</th>' for c in classes) + '<th class="num">support</th></tr>'
    rows = []
    for name, row in zip(classes, cm, strict=True):
        total = sum(row)
        cells = []
        for j, v in enumerate(row):
            share = v / total if total else 0.0
            color = "#fff" if share > 0.55 else "#1f2933"
            tip = f"{name} -> {classes[j]}: {v} ({share * 100:.1f}% of {name})"
            cells.append(f'<td class="cm" data-count="{v}" title="{hk.esc(tip)}" style="background:'
                         f'rgba(47,111,214,{0.04 + 0.9 * share:.3f});color:{color}">{v}</td>')
        rows.append(f"<tr><th>{hk.esc(name)}</th>{''.join(cells)}"
                    f'<td class="num">{total}</td></tr>')
    note = ('<p class="muted small">Shade: share of the row (true class); the diagonal is correct. '
            "Hover a cell for its percentage.</p>")
    return f'<table class="cm"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>{note}'


def _per_class(per_class: dict[str, dict[str, Any]]) -> str:
    rows = [(c, p["precision"], p["recall"], p["f1"], p["support"]) for c, p in per_class.items()]
    return hk.table(rows, ("class", "precision", "recall", "F1", "support"), numeric=(1, 2, 3, 4),
                    cls="per-class")


def _binary(m: dict[str, Any]) -> str:
    fr, vi, thr = m["binary_frame"], m["binary_video"], m["threshold"]["value"]
    rows = [(name, b["auc"], _ci(b["auc_ci95"]), b["ap"], b["eer"], b["accuracy_at_threshold"],
             b["n"], b["fakes"], b["n"] - b["fakes"]) for name, b in (("frames", fr), ("videos", vi))]
    fb = fr["baseline"]
    rows.append(("baseline", 0.5, "", fb["ap"], 0.5, fb["all_fake_accuracy"], "", "", ""))
    base = m["multiclass"]["baseline"]
    note = (f'<p class="muted small">P_fake = 1 − P(original); a video scores the mean P_fake of '
            f"its frames; accuracy at P_fake ≥ {thr:.3f} ({hk.esc(m['threshold']['source'])}). "
            "Baseline: a constant score (AUC 0.5) and always answering FAKE. "
            f"{len(m['classes'])}-class baseline (always '{hk.esc(base['majority_class'])}'): "
            f"accuracy {hk.fmt(base['majority_accuracy'])}, macro-F1 "
            f"{hk.fmt(base['majority_macro_f1'])}.</p>")
    return hk.table(rows, ("", "AUC", "95% CI", "AP", "EER", "acc @thr", "n", "fake", "real"),
                    numeric=(1, 3, 4, 5, 6, 7, 8), cls="binary") + note


def _splits(data_dir: Path, evaluated: str) -> str:
    try:
        df = crops(data_dir)
    except (OSError, ValueError, KeyError) as exc:
        return f'<p class="muted">no manifest: {hk.esc(exc)}</p>'
    rows = []
    for split in sorted(df["split"].unique(), key=lambda s: (SPLITS + (s,)).index(s)):
        g = df[df["split"] == split]
        rows.append((f"{split} (evaluated)" if split == evaluated else split, g["video"].nunique(),
                     len(g), g["group"].nunique(), ", ".join(sorted(g["class"].unique()))))
    table = hk.table(rows, ("split", "videos", "frames (crops)", "identity groups", "classes"),
                     numeric=(1, 2, 3), cls="splits")
    key = _read_json(data_dir / "etl_config.json").get("resume_key", {})
    names = {"split": "split by", "seed": "split seed", "fractions": "train / val / test fractions",
             "frames_per_video": "frames per video", "size": "crop size (px)"}
    info = {"data folder": str(data_dir), **{n: key[k] for k, n in names.items() if k in key}}
    info = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in info.items()}
    return table + '<div style="height:12px"></div>' + hk.kv_table(info)


def _figures(model_path: Path) -> str:
    """The run's training curves, when the model still sits in its run folder."""
    png = model_path.parent / "training_curves.png"
    if not png.is_file():
        return ""
    fig = (f'<figure>{hk.img(png.read_bytes(), "training curves", "image/png")}'
           f"<figcaption>{hk.esc(png)}</figcaption></figure>")
    return hk.section("Training curves", fig, id_="training")


def _footer(m: dict[str, Any]) -> str:
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"train evaluate · generated {when} · {m.get('binary_definition', '')}"
