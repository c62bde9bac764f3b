"""The speed goals, and the markdown tables printed at the end of a run."""

from __future__ import annotations

from .results import BenchReport, ModelResult, PipelineResult, Target

STAGE_COLUMNS = (("decode_ms", "decode wait"), ("detect_ms", "detect"), ("crop_ms", "crop"),
                 ("classify_ms", "preprocess+classify"), ("overlay_ms", "overlay"),
                 ("encode_ms", "encode (bg thread)"))


def _model(report: BenchReport, arch: str) -> ModelResult | None:
    return next((m for m in report.models if m.architecture == arch), None)


def _ort_p50(m: ModelResult | None, threads: int = 2, batch: int = 1) -> float | None:
    v = m.variant("fp32") if m else None
    cell = next((c for c in (v.ort if v else []) if c.threads == threads and c.batch == batch), None)
    return cell.per_image.p50_ms if cell else None


def _speedup(m: ModelResult | None, mode: str) -> float | None:
    if m is None or m.keras is None or m.keras.ort_threads != 2:
        return None
    cell = next((c for c in m.keras.cells if c.mode == mode and c.batch == 1), None)
    return cell.ort_speedup if cell else None


def _fps(report: BenchReport, arch: str, every: int) -> float | None:
    m = _model(report, arch)
    run = next((p for p in report.pipeline if m and p.model == m.name and p.every == every
                and p.precision == "fp32" and p.det_size == 300), None)
    return run.fps if run else None


def evaluate_targets(report: BenchReport) -> list[Target]:
    """The issue's goals, measured in this run (``n/a`` where this run did not measure them)."""
    small, b0 = _model(report, "scratch"), _model(report, "effnetb0")
    rss = max((p.peak_rss_mb for p in report.pipeline), default=None)
    return [
        Target("small CNN ORT fp32, batch 1, 2 threads", _ort_p50(small), 0.6, "ms", False),
        Target("EfficientNetB0 ORT fp32, batch 1, 2 threads", _ort_p50(b0), 8.0, "ms", False),
        Target("small CNN: ORT vs Keras tf.function (same run)", _speedup(small, "tf.function"),
               3.0, "x", True),
        Target("small CNN: ORT vs Keras predict (same run)", _speedup(small, "predict"), 30.0, "x",
               True),
        Target("720p end to end, small CNN, every frame", _fps(report, "scratch", 1), 30.0, "FPS",
               True),
        Target("720p end to end, small CNN, --every 3", _fps(report, "scratch", 3), 60.0, "FPS",
               True),
        Target("720p end to end, EfficientNetB0, every frame", _fps(report, "effnetb0", 1), 20.0,
               "FPS", True),
        Target("runtime peak RSS (worst pipeline run)", rss, 400.0, "MB", False),
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _f(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def models_table(report: BenchReport) -> str:
    rows = []
    for m in report.models:
        for v in m.variants:
            for c in v.ort:
                lat = c.per_image
                rows.append([m.name, v.precision, f"{m.parameters:,}", _f(v.size_bytes / 1e6),
                             _f(v.macs / 1e6, 1), str(c.threads), str(c.batch), _f(lat.p50_ms, 3),
                             _f(lat.p90_ms, 3), _f(lat.p99_ms, 3), _f(c.images_per_s, 0)])
    return _table(["model", "precision", "params", "file MB", "MMAC/img", "threads", "batch",
                   "p50 ms/img", "p90", "p99", "img/s"], rows)


def model_notes(report: BenchReport) -> str:
    """Where each file came from, and anything worth knowing about it, as a bullet list."""
    lines = []
    for m in report.models:
        for v in m.variants:
            extra = f"; {v.note}" if v.note else ""
            lines.append(f"- {m.name} {v.precision}: {v.origin or 'given'}{extra}")
        lines += [f"- {m.name}: {n}" for n in m.notes]
    return "\n".join(lines)


def keras_table(report: BenchReport) -> str | None:
    rows = []
    for m in report.models:
        if m.keras is None:
            continue
        for c in m.keras.cells:
            rows.append([m.name, f"Keras {c.mode}", str(c.batch), _f(c.per_image.p50_ms, 3),
                         _f(c.per_image.p90_ms, 3), _f(c.images_per_s, 0), _f(c.ort_p50_ms, 3),
                         "—" if c.ort_speedup is None else f"{c.ort_speedup:.1f}x"])
    if not rows:
        return None
    t = next(m.keras for m in report.models if m.keras)
    header = ["model", "runtime", "batch", "p50 ms/img", "p90", "img/s",
              f"ORT fp32 {t.ort_threads} thr p50 (same rounds)", "ORT speed-up"]
    return _table(header, rows)


def detector_table(report: BenchReport) -> str | None:
    d = report.detector
    if d is None:
        return None
    images = list(d.faces_found)
    rows = []
    for c in sorted(d.cells, key=lambda c: (c.detector != "ssd", c.detector, -c.input_size)):
        key = str(c.input_size) if c.detector == "ssd" else c.detector
        faces = [str(d.faces_found[i].get(key, "—")) for i in images]
        rows.append([c.detector, f"{c.input_size}x{c.input_size}", str(c.threads),
                     _f(c.latency.p50_ms), _f(c.latency.p90_ms), _f(c.latency.p99_ms), *faces])
    return _table(["detector", "input", "threads", "p50 ms", "p90", "p99",
                   *(f"faces: {i}" for i in images)], rows)


def pipeline_table(runs: list[PipelineResult]) -> str:
    rows = [[p.model, p.precision, str(p.every), str(p.det_size), _f(p.fps, 1),
             *(_f(p.stage_ms.get(k)) for k, _ in STAGE_COLUMNS), _f(p.decode_only_ms),
             _f(p.peak_rss_mb, 0)] for p in runs]
    return _table(["model", "precision", "every", "det size", "FPS",
                   *(f"{label} ms" for _, label in STAGE_COLUMNS), "decode alone ms",
                   "peak RSS MB"], rows)


def targets_table(targets: list[Target]) -> str:
    rows = [[t.name, "—" if t.measured is None else f"{t.measured:.2f} {t.unit}",
             f"{'>=' if t.higher_is_better else '<='} {t.goal:g} {t.unit}", t.status]
            for t in targets]
    return _table(["target", "measured", "goal", "result"], rows)


def _busy(env: dict) -> str:
    """A warning when other work was loading the CPU (the load average counts runnable tasks)."""
    try:
        load = max(float(env.get("load_before", 0)), float(env.get("load_after", 0)))
    except (TypeError, ValueError):
        return ""
    cores = env.get("cpu_count") or 1
    if load > 0.75 * cores:
        return (f"\n\n**Warning: the machine was busy (load {load:.1f} on {cores} cores); absolute "
                "times are inflated and noisy, compare ratios within this run.**")
    return ""


def render(report: BenchReport) -> str:
    """All tables, each under a title, as one markdown document."""
    env = report.environment
    busy = _busy(env)
    parts = [f"## Edge detector benchmark ({env.get('when', '')})",
             f"{env.get('cpu', '?')}, {env.get('cpu_count', '?')} cores; load average before/after: "
             f"{env.get('load_before', '?')} / {env.get('load_after', '?')}; onnxruntime "
             f"{env.get('onnxruntime', '?')}, opencv {env.get('opencv', '?')}" + busy,
             "### Classifiers: ONNX Runtime alone (session.run on a preprocessed batch; ms per image)\n\n"
             "ORT default (spinning) worker threads; the pipeline turns spinning off, see below.",
             models_table(report), model_notes(report)]
    if (k := keras_table(report)) is not None:
        parts += ["### Keras vs ONNX Runtime (same process, same run; ms per image)", k]
    if (d := detector_table(report)) is not None:
        w, h = report.detector.frame_wh  # type: ignore[union-attr]
        parts += [f"### Face detector: detect() on a {w}x{h} frame", d]
    if report.pipeline:
        s = report.settings
        parts += [f"### End to end: {s.get('video')} ({s.get('video_frames')} frames), runtime-only "
                  "subprocess; stage ms are per frame (analysed or not)",
                  pipeline_table(report.pipeline)]
    parts += ["### Targets (goals, not assertions)", targets_table(report.targets)]
    return "\n\n".join(parts) + "\n"
