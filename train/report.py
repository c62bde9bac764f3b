"""The readable Markdown summary of ``metrics.json`` (see :mod:`train.eval_metrics`)."""

from __future__ import annotations

from pathlib import Path


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _ci(b: dict) -> str:
    ci = b.get("auc_ci95")
    return f"{_f(b['auc'])} [{_f(ci[0])}, {_f(ci[1])}]" if ci else _f(b["auc"])


def summary_markdown(m: dict) -> str:
    """Readable summary: warnings first, every number next to its trivial-model baseline."""
    mc, fr, vi = m["multiclass"], m["binary_frame"], m["binary_video"]
    base, thr = mc["baseline"], m["threshold"]
    lines = [f"# Evaluation of `{Path(m['model']).name}` on split `{m['split']}`", "",
             f"{m['frames']} frames from {m['videos']} videos ({m['data_dir']}).", ""]
    for w in m.get("warnings", []):
        lines.append(f"> **Warning:** {w}")
    if m.get("dataset_caveat"):
        lines.append(f"> **Dataset caveat:** {m['dataset_caveat']}")
    if m.get("warnings") or m.get("dataset_caveat"):
        lines.append("")
    lines += [
        f"- {len(m['classes'])}-class accuracy: **{_f(mc['accuracy'])}** (majority class "
        f"'{base['majority_class']}': {_f(base['majority_accuracy'])}), "
        f"macro-F1: **{_f(mc['macro_f1'])}** (majority: {_f(base['majority_macro_f1'])})",
        f"- decision threshold P_fake >= {thr['value']:.3f}: {thr['source']}",
        "",
        "| real vs fake | AUC [95% CI] | AP | EER | accuracy @thr | accuracy @0.5 | n (fakes) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, b in (("frames", fr), ("videos (mean P_fake)", vi)):
        lines.append(f"| {name} | {_ci(b)} | {_f(b['ap'])} | {_f(b['eer'])} | "
                     f"{_f(b['accuracy_at_threshold'])} | {_f(b['accuracy_at_0.5'])} | "
                     f"{b['n']} ({b['fakes']}) |")
    fb = fr["baseline"]
    lines.append(f"| *baseline* | 0.500 | {_f(fb['ap'])} | 0.500 | {_f(fb['all_fake_accuracy'])} "
                 "(all FAKE) | | |")
    for name, b in (("frames", fr), ("videos", vi)):
        if b["reason"]:
            lines.append(f"\n{name}: {b['reason']}")
    if m.get("per_method_auc"):
        lines += ["", "| original vs | AUC [95% CI] | mean P_fake | n (fakes) |",
                  "| --- | --- | --- | --- |"]
        for c, pm in m["per_method_auc"].items():
            lines.append(f"| {c} | {_ci(pm)} | {_f(pm['mean_p_fake'])} | {pm['n']} "
                         f"({pm['fakes']}) |")
        lines.append("| *baseline* | 0.500 | | |")
    if m.get("robustness"):
        lines += ["", "| test crops re-encoded | frame AUC [95% CI] | EER | "
                  f"{len(m['classes'])}-class accuracy |", "| --- | --- | --- | --- |",
                  f"| as stored | {_ci(fr)} | {_f(fr['eer'])} | {_f(mc['accuracy'])} |"]
        for r in m["robustness"].values():
            lines.append(f"| JPEG q{r['jpeg_quality']} | {_ci(r)} | {_f(r['eer'])} | "
                         f"{_f(r['accuracy'])} |")
    lines += _compression(m.get("compression") or {})
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


def _compression(comp: dict) -> list[str]:
    """Per compression level: AUC, per-method AUC and the share of each class called FAKE."""
    levels = {k: v for k, v in comp.items() if isinstance(v, dict)}
    if not levels:
        return []
    methods = sorted({m for v in levels.values() for m in v.get("per_method_auc", {})})
    classes = list(next(iter(levels.values())).get("calls", {}))
    lines = ["", f"Compression levels ({comp.get('protocol', 'crops as given')}); "
             "'called FAKE': share of the class at or above the FAKE threshold:", "",
             "| level | frame AUC [95% CI] | " + " | ".join(f"{m} AUC" for m in methods) + " | "
             + " | ".join(f"{c} called FAKE" for c in classes) + " |",
             "| --- " * (2 + len(methods) + len(classes)) + "|"]
    for name, v in levels.items():
        pm = v.get("per_method_auc", {})
        calls = v.get("calls", {})
        lines.append(f"| {name} | {_ci(v)} | "
                     + " | ".join(_f((pm.get(m) or {}).get("auc")) for m in methods) + " | "
                     + " | ".join(_f((calls.get(c) or {}).get("called_fake")) for c in classes)
                     + " |")
    return lines
