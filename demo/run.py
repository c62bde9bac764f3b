"""`make demo`: the whole system end to end on embedded data, in minutes on a 2-core CPU.

synthetic videos -> ETL -> fit (small CNN) -> evaluate -> export (+ int8) -> edge-detect on demo
videos and, when ``../shared/fixtures`` exists, on the real FaceForensics++ clips there.
It sits above both ``train`` and ``export`` so that ``export -> train`` is the only way between them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_detector.contract import FFPP_CLASSES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """Sizes chosen so the run finishes in a few minutes yet trains past BatchNorm warm-up."""

    out: Path
    identities: int = 32
    frames: int = 16
    frames_per_video: int = 6
    crop_size: int = 128
    epochs: int = 24
    real_max_frames: int = 150
    batch_size: int = 16
    seed: int = 0
    fixtures: Path | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass
class DemoResult:
    """What the demo made and the numbers worth printing."""

    paths: dict[str, Path] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    videos: list[tuple[str, str, float | None, str | None]] = field(default_factory=list)


def _timed(result: DemoResult, name: str, fn: Callable[[], Any]) -> Any:
    log.info("demo: %s ...", name)
    t0 = time.perf_counter()
    value = fn()
    result.seconds[name] = time.perf_counter() - t0
    return value


def _detect(model: Path, video: Path, out: Path, result: DemoResult, label: str) -> None:
    from edge_detector.build import PipelineSpec, build_pipeline
    from edge_detector.runner import RunOptions, run_source
    from edge_detector.sources import open_source

    with open_source(video) as src:
        run = run_source(src, build_pipeline(PipelineSpec(model=model)),
                         RunOptions(out_dir=out, force=True))
    s = run.summary
    score = None if s.mean_p_fake is None else s.score
    result.videos.append((label, s.verdict, score, s.top_method if s.verdict == "FAKE" else None))
    result.paths[f"edge-detect {label}"] = out


def run_demo(cfg: DemoConfig) -> DemoResult:
    from train.etl import EtlConfig, run_etl
    from train.evaluate import evaluate
    from train.fit import FitConfig, fit
    from train.synthetic import make_dataset

    out, res = Path(cfg.out), DemoResult()
    info = _timed(res, "make-demo-data", lambda: make_dataset(
        out / "dataset", cfg.identities, cfg.frames, classes=FFPP_CLASSES, seed=cfg.seed))
    etl = _timed(res, "etl", lambda: run_etl(EtlConfig(
        info.root, out / "data", frames_per_video=cfg.frames_per_video, size=cfg.crop_size,
        seed=cfg.seed, workers=cfg.workers)))
    fitted = _timed(res, "fit", lambda: fit(FitConfig(
        "scratch", etl.data_dir, out / "run-scratch", epochs=cfg.epochs,
        batch_size=cfg.batch_size, seed=cfg.seed, verbose=2)))
    ev = _timed(res, "evaluate", lambda: evaluate(
        fitted.model_path, etl.data_dir, "test", out / "eval", progress=False))
    exported, int8_note = _timed(res, "export", lambda: _export(fitted.run_dir, out, etl.data_dir))
    model = exported.onnx_path
    res.paths.update(dataset=info.root, data=etl.data_dir, run=fitted.run_dir,
                     evaluation=out / "eval", model=model, model_card=exported.card_path)
    if exported.int8_path:
        res.paths["model_int8"] = model.with_name(exported.int8_path.name)
    res.numbers.update(
        videos=len(info.videos), crops=int(etl.table["crops"].sum()),
        parameters=fitted.parameters, best_val_auc=fitted.best_val_auc,
        train_images_per_s=fitted.train_images_per_s, test_accuracy=ev.accuracy,
        test_macro_f1=ev.macro_f1, test_frame_auc=ev.frame.auc, test_video_auc=ev.video.auc,
        test_eer=ev.frame.eer, parity_max_abs_diff=exported.parity.max_abs_diff,
        onnx_mb=exported.onnx.size_bytes / 2**20,
    )
    if exported.int8_report is not None:
        res.numbers["int8_top1_agreement"] = exported.int8_report.agreement.top1_agreement
    res.numbers["int8"] = int8_note
    test_videos = _test_videos(etl.data_dir)
    for cls in ("original", "NeuralTextures"):
        if cls in test_videos:
            _timed(res, f"edge-detect {cls}", lambda c=cls: _detect(
                model, info.videos[test_videos[c]], out / "detect" / c, res, f"demo {c}"))
    if cfg.fixtures and (cfg.fixtures / "ffpp_c23_mini").is_dir():
        _timed(res, "edge-detect real FF++ clips", lambda: _detect_real(model, cfg, res))
    return res


def _export(run_dir: Path, out: Path, data_dir: Path):
    """fp32 + int8; an int8 model that disagrees with fp32 too often is left out, not forced."""
    from export.errors import QuantizationError
    from export.onnx_export import export_model

    target = out / "models" / "scratch.onnx"
    try:
        result = export_model(run_dir, target, data_dir=data_dir, int8=True,
                              calibration_dir=data_dir)
        return result, "written"
    except QuantizationError as exc:
        log.warning("int8 model not written: %s", exc)
        return export_model(run_dir, target, data_dir=data_dir), f"not written: {exc}"


def _test_videos(data_dir: Path) -> dict[str, str]:
    """One held-out video key (``class/stem``) per class: the demo shows unseen identities."""
    from train.manifest import read_manifest

    m = read_manifest(data_dir)
    m = m[(m["split"] == "test") & (m["frame"] >= 0)]
    return {cls: str(g["video"].iloc[0]) for cls, g in m.groupby("class")}


def _detect_real(model: Path, cfg: DemoConfig, res: DemoResult) -> None:
    from edge_detector.build import PipelineSpec
    from edge_detector.scan import ScanOptions, scan_folder

    out = Path(cfg.out) / "detect" / "ffpp_c23_mini"
    scan_folder(cfg.fixtures / "ffpp_c23_mini", PipelineSpec(model=model), ScanOptions(
        out_dir=out, recursive=True, workers=1, write_video=True, report=True, force=True,
        max_frames=cfg.real_max_frames, progress=True, quiet=True))
    import pandas as pd

    for row in pd.read_csv(out / "summary.csv").itertuples():
        score = None if pd.isna(row.score) else float(row.score)
        res.videos.append((f"real {row.path}", str(row.verdict), score, None))
    res.paths["edge-detect real FF++ clips"] = out


def format_demo(res: DemoResult) -> str:
    lines = ["", "== demo finished ==", "", "where everything is:"]
    lines += [f"  {k:<30} {v}" for k, v in res.paths.items()]
    lines += ["", "key numbers (synthetic data; the model detects the demo's edits, not real deepfakes):"]
    for k, v in res.numbers.items():
        lines.append(f"  {k:<30} {v:.4g}" if isinstance(v, float) else f"  {k:<30} {v}")
    lines += ["", "edge-detect verdicts:"]
    for label, verdict, score, method in res.videos:
        s = "n/a" if score is None else f"{score:.3f}"
        lines.append(f"  {label:<40} {verdict:<8} P_fake {s}" + (f"  {method}" if method else ""))
    lines += ["", "seconds per step:"]
    lines += [f"  {k:<30} {v:.1f}" for k, v in res.seconds.items()]
    lines.append(f"  {'total':<30} {sum(res.seconds.values()):.1f}")
    return "\n".join(lines)
