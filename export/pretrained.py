"""``make pretrained``: reproduce the models shipped in ``edge_detector/models`` from a dataset.

import-crops -> fit (seeded) -> export (+ int8) -> evaluate on the test split (fp32 and int8)
-> ship: the ONNX file, a card with the test numbers and their intervals, and the index that
makes the best model the default. Each step runs the same CLI a user would and is skipped when
its output exists, so an interrupted recipe resumes; ``pretrained.json`` records what ran.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from edge_detector.atomic import atomic_path, write_json
from train.runinfo import environment

from .card import card_path, int8_path

log = logging.getLogger(__name__)

DATASET = ("FaceForensics++ c23 face crops (ffpp_c23_faces: 5,988 tight Haar-cascade crops of the "
           "YouTube originals and Deepfakes, Face2Face, FaceSwap, NeuralTextures; split by video)")
TERMS = ("Trained on FaceForensics++ material, which is for research use only under the "
         "FaceForensics++ Terms of Use; the weights are shipped for research and evaluation.")
INT8_MAX_AUC_DROP = 0.005  # ship int8 only when it keeps the test AUC (and export's 99 % top-1)


@dataclass(frozen=True)
class Recipe:
    """One training run; ``init_from`` continues another recipe's model, ``ship`` publishes it.

    ``self_blend``/``degrade``: the data folder gets self-blended pseudo-fakes and H.264
    variants first (``python -m train self-blend`` / ``degrade``).
    """

    name: str
    size: int
    fit_args: tuple[str, ...]
    init_from: str | None = None
    ship: bool = True
    self_blend: bool = True
    degrade: bool = True

    @property
    def data_name(self) -> str:
        return (f"data{self.size}" + ("_sbi" if self.self_blend else "")
                + ("_h264" if self.degrade else ""))


# Lite0 at 128 px on crops + self-blended pseudo-fakes + H.264 variants: 1 frozen-backbone epoch,
# then the whole backbone (BatchNorm frozen) with 1 warm-up epoch and cosine decay; originals
# carry half of the loss. Resumable: an interrupted fit continues from its last epoch.
_LITE0 = ("--arch", "lite0", "--weights", "imagenet", "--input-size", "128", "--epochs", "1",
          "--schedule", "cosine", "--warmup-epochs", "1", "--balance", "half-original",
          "--unfreeze-from", "0", "--fine-tune-lr", "3e-4", "--patience", "8")
RECIPES = (
    Recipe("lite0", 128, (*_LITE0, "--fine-tune-epochs", "24")),
    Recipe("scratch", 128, ("--arch", "scratch", "--epochs", "24", "--balance", "half-original",
                            "--patience", "8")),
)


def _run(cmd: list[str], record: dict[str, Any], name: str, check: bool = True) -> int:
    log.info("%s: %s", name, " ".join(cmd))
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, check=check).returncode
    record.setdefault("steps", {})[name] = {"command": cmd, "exit": rc,
                                            "seconds": round(time.perf_counter() - t0, 1)}
    return rc


def card_numbers(metrics: dict[str, Any]) -> dict[str, Any]:
    """The card's digest of ``train evaluate``'s metrics.json."""
    frame, mc = metrics["binary_frame"], metrics["multiclass"]
    per_class = mc.get("per_class", {})
    return {
        "split": metrics.get("split"), "frames": metrics.get("frames"),
        "accuracy": mc["accuracy"], "macro_f1": mc["macro_f1"],
        "accuracy_baseline_majority": mc.get("baseline", {}).get("majority_accuracy"),
        "frame_auc": frame["auc"], "frame_auc_ci95": frame["auc_ci95"], "ap": frame.get("ap"),
        "eer": frame.get("eer"), "accuracy_at_threshold": frame.get("accuracy_at_threshold"),
        "binary_baseline": frame.get("baseline"),
        "per_method_auc": {k: {"auc": v["auc"], "auc_ci95": v["auc_ci95"]}
                           for k, v in metrics.get("per_method_auc", {}).items()},
        "recall": {c: v["recall"] for c, v in per_class.items()},
        "jpeg_robustness": {k: {"auc": v["auc"], "auc_ci95": v["auc_ci95"]}
                            for k, v in metrics.get("robustness", {}).items()},
        "compression": {k: v for k, v in metrics.get("compression", {}).items()},
        "dataset_caveat": metrics.get("dataset_caveat"),
        "warnings": metrics.get("warnings"),
    }


def _threshold_note(contract: dict[str, Any]) -> str:
    if contract.get("threshold_real") is not None:
        return (f"three levels: REAL below {contract['threshold_real']:.3f}, FAKE at or above "
                f"{contract['threshold_fake']:.3f}, UNCERTAIN in between "
                f"({contract.get('band_rule')}); --threshold T forces two levels")
    method = contract.get("threshold_method") or "chosen on the validation split"
    return f"P_fake at or above it is FAKE ({method}); --threshold overrides it"


def ship(onnx: Path, metrics: dict[str, Any], name: str, dest: Path,
         training: dict[str, Any] | None = None, video_check: dict[str, Any] | None = None
         ) -> Path:
    """Copy ``onnx`` to ``dest/<name>.onnx`` with a card that carries its test numbers."""
    # export writes one card, beside the fp32 file; it describes the int8 file too
    card = json.loads(card_path(_fp32_of(onnx)).read_text())
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{name}.onnx"
    with atomic_path(target) as part:
        shutil.copyfile(onnx, part)
    card.update({
        "shipped_file": {"name": target.name, "precision": "int8" if ".int8." in onnx.name else "fp32",
                         "size_bytes": target.stat().st_size},
        "dataset": DATASET, "terms": TERMS,
        "test_metrics": card_numbers(metrics),
        "threshold_note": _threshold_note(card.get("contract", {})),
        "training": training or {},
    })
    if video_check is not None:
        card["video_check"] = video_check
    write_json(dest / f"{name}.card.json", card, sort_keys=True)
    return target


def _fp32_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name.replace(".int8.onnx", ".onnx"))


def write_index(dest: Path) -> list[str]:
    """Default first: the shipped model with the highest test frame AUC."""
    aucs = {}
    for card in dest.glob("*.card.json"):
        aucs[card.name[: -len(".card.json")]] = json.loads(card.read_text())["test_metrics"]["frame_auc"]
    order = sorted(aucs, key=lambda n: -(aucs[n] or 0.0))
    write_json(dest / "index.json", {"models": order, "rule": "highest test frame AUC first"})
    return order


def build(recipe: Recipe, data_src: Path, work: Path, dest: Path, record: dict[str, Any]) -> None:
    py = sys.executable
    data = work / recipe.data_name
    if not (data / "manifest.csv").is_file():
        _run([py, "-m", "train", "import-crops", str(data_src), "--out", str(data), "--size",
              str(recipe.size), "--seed", "0"], record, f"import-crops {recipe.size}")
        if recipe.self_blend:
            _run([py, "-m", "train", "self-blend", str(data), "--seed", "0"], record,
                 f"self-blend {recipe.data_name}")
        if recipe.degrade:
            _run([py, "-m", "train", "degrade", str(data), "--seed", "0"], record,
                 f"degrade {recipe.data_name}")
    run = work / recipe.name
    if not (run / "run.json").is_file():
        init = []
        if recipe.init_from:
            dep = next(r for r in RECIPES if r.name == recipe.init_from)
            build(dep, data_src, work, dest, record)
            init = ["--init-weights", str(work / dep.name / "model.keras")]
        _run([py, "-m", "train", "fit", *recipe.fit_args, *init, "--data", str(data), "--out",
              str(run), "--seed", "0"], record, f"fit {recipe.name}")
    if not recipe.ship:
        return
    onnx = run / f"{recipe.name}.onnx"
    if not card_path(onnx).is_file():
        # export refuses an int8 model below 99 % top-1 agreement (non-zero exit) after writing
        # the fp32 model and its card: then the fp32 model ships
        rc = _run([py, "-m", "export", str(run), "-o", str(onnx), "--data", str(data), "--int8"],
                  record, f"export {recipe.name}", check=False)
        if rc and not card_path(onnx).is_file():
            raise click.ClickException(f"export of {run} failed (exit {rc})")
    results = {}
    for model in (onnx, int8_path(onnx)):
        if not model.is_file():
            continue
        out = run / f"eval_{'int8' if '.int8.' in model.name else 'fp32'}"
        if not (out / "metrics.json").is_file():
            _run([py, "-m", "train", "evaluate", str(model), "--data", str(data), "--out", str(out)],
                 record, f"evaluate {model.name}")
        results[model] = json.loads((out / "metrics.json").read_text())
    chosen = onnx
    q = int8_path(onnx)
    if q in results:
        drop = results[onnx]["binary_frame"]["auc"] - results[q]["binary_frame"]["auc"]
        if drop <= INT8_MAX_AUC_DROP:
            chosen = q
        record.setdefault("int8", {})[recipe.name] = {"auc_drop": round(drop, 4),
                                                       "shipped": chosen == q}
    run_record = json.loads((run / "run.json").read_text())
    training = {k: run_record.get(k) for k in ("arch", "epochs_run", "best_epoch", "best_val_auc",
                                               "seconds", "train_images_per_s", "threshold",
                                               "calibration")}
    training["recipe"] = list(recipe.fit_args)
    training["fp32_test_auc"] = results[onnx]["binary_frame"]["auc"]
    ship(chosen, results[chosen], recipe.name, dest, training,
         _video_check(chosen, run, record))


def _video_check(model: Path, run: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The 14 fixture videos and the real faces (skipped, and said so, without the fixtures)."""
    import os

    from .video_check import check_videos

    fixtures = Path(os.environ.get("EDGE_FIXTURES", "../shared/fixtures"))
    if not (fixtures / "ffpp_c23_mini").is_dir():
        log.warning("no fixtures at %s: the card gets no video check", fixtures)
        return None
    out = run / f"video_check_{model.stem}.json"
    if not out.is_file():
        t0 = time.perf_counter()
        rep = check_videos(model, fixtures, run.parent / "video_cache")
        write_json(out, rep.to_json())
        record.setdefault("steps", {})[f"video check {model.name}"] = {
            "seconds": round(time.perf_counter() - t0, 1)}
    return json.loads(out.read_text())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", "data_src", type=click.Path(path_type=Path, exists=True, file_okay=False),
              required=True, help="Image-folder dataset (e.g. ffpp_c23_faces).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("build/pretrained"),
              show_default=True, help="Crops, runs and reports (resumable).")
@click.option("--dest", type=click.Path(path_type=Path), default=Path("edge_detector/models"),
              show_default=True, help="Where shipped models and cards go.")
@click.option("--only", multiple=True, help="Build only these shipped models (lite0, scratch).")
def main(data_src: Path, work: Path, dest: Path, only: tuple[str, ...]) -> None:
    """Reproduce the shipped pretrained models from DATA, seeded, with a run record."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"data": str(data_src.resolve()), **environment()}
    for recipe in RECIPES:
        if recipe.ship and (not only or recipe.name in only):
            build(recipe, data_src, work, dest, record)
    record["index"] = write_index(dest)
    write_json(work / "pretrained.json", record)
    click.echo(f"shipped {', '.join(record['index'])} -> {dest} (default {record['index'][0]})")


if __name__ == "__main__":
    main()
