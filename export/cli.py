"""``python -m export RUN_DIR_or_MODEL.keras --out models/scratch.onnx``: the export command line.

TensorFlow is imported only once arguments are parsed, so ``--help`` and usage errors are instant.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from edge_detector.errors import EdgeDetectError

log = logging.getLogger("export")


def _classes(_ctx, _param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(c.strip() for c in value.split(",") if c.strip())
    if len(names) < 2:
        raise click.BadParameter("give at least two comma-separated class names")
    return names


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("export: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("export", "edge_detector", "train"):
        logging.getLogger(name).setLevel(level)


def _report(result) -> None:
    """The numbers a person checks before shipping a model (stdout: this is the CLI's output)."""
    p = result.parity
    click.echo(f"wrote {result.onnx_path} ({result.onnx.size_bytes / 1e6:.2f} MB, "
               f"sha256 {result.onnx.sha256[:12]}..., opset {result.opset}, "
               f"{result.parameters:,} parameters)")
    click.echo(f"  classes: {', '.join(result.contract.class_names)}; input "
               f"{result.contract.input_size}x{result.contract.input_size} "
               f"{result.contract.color} {result.contract.pixel_range}")
    click.echo(f"  parity ORT vs Keras on {p.n} crops ({p.source}): max |diff| "
               f"{p.max_abs_diff:.2e}, mean {p.mean_abs_diff:.2e}, top-1 agreement "
               f"{p.top1_agreement:.2%}")
    if result.int8 is not None:
        a = result.int8_report.agreement
        click.echo(f"wrote {result.int8_path} ({result.int8.size_bytes / 1e6:.2f} MB)")
        click.echo(f"  int8 vs fp32 on {a.n} held-out crops ({a.source}): top-1 agreement "
                   f"{a.top1_agreement:.2%}, max probability drift {a.max_abs_diff:.4f}, "
                   f"mean {a.mean_abs_diff:.4f}")
    c = result.contract
    thr = "none (runtime default 0.5)" if c.threshold is None else f"{c.threshold:.4f}"
    click.echo(f"  decision threshold: {thr}")
    if c.extra.get("degenerate"):
        click.echo(f"  DEGENERATE MODEL (exported with --force): {c.extra['degenerate']['reason']}")
    click.echo(f"wrote {result.card_path}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Output .onnx (default models/<name>.onnx).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Crop folder DATA_DIR/<split>/<class>/*.jpg for the parity check.")
@click.option("--classes", callback=_classes, help="Comma-separated class names (bare .keras).")
@click.option("--trained-on", help="Training data description for the contract.")
@click.option("--synthetic-demo", is_flag=True, default=None,
              help="Mark the model as trained on synthetic demo data.")
@click.option("--opset", type=click.IntRange(13, 18), default=17, show_default=True)
@click.option("--int8", is_flag=True, help="Also write a static int8 model (<name>.int8.onnx).")
@click.option("--calibration", "calibration_dir",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Crop folder for int8 calibration (default: --data).")
@click.option("--force", is_flag=True,
              help="Export a degenerate (near-constant) model, and write the int8 model even "
                   "below --min-agreement.")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Minimum int8-vs-fp32 top-1 agreement on held-out crops.")
@click.option("--tolerance", type=click.FloatRange(0, min_open=True), default=1e-4,
              show_default=True, help="Max |ORT - Keras| probability difference.")
@click.option("--parity-count", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--calibration-count", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--held-out-count", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="ONNX Runtime threads for verification (default: min(2, cores)).")
@click.option("--quiet", "-q", is_flag=True, help="Only errors.")
@click.option("--verbose", "-v", count=True)
def cli(source: Path, out: Path | None, data_dir: Path | None, classes: tuple[str, ...] | None,
        trained_on: str | None, synthetic_demo: bool | None, opset: int, int8: bool,
        calibration_dir: Path | None, force: bool, min_agreement: float, tolerance: float,
        parity_count: int, calibration_count: int, held_out_count: int, threads: int | None,
        quiet: bool, verbose: int) -> None:
    """Export SOURCE (a training run folder or a .keras file) to the ONNX model edge-detect runs."""
    _setup_logging(verbose, quiet)
    if calibration_dir is not None and not int8:
        raise click.UsageError("--calibration only makes sense with --int8")
    if int8 and calibration_dir is None and data_dir is None:
        raise click.UsageError("--int8 needs real crops to calibrate on: add --calibration DATA_DIR")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .onnx_export import export_model  # TensorFlow loads here, after argument checks

    result = export_model(
        source, out, classes=classes, trained_on=trained_on, synthetic_demo=synthetic_demo,
        data_dir=data_dir, int8=int8, calibration_dir=calibration_dir,
        parity_count=parity_count, calibration_count=calibration_count,
        held_out_count=held_out_count, opset=opset, tolerance=tolerance,
        min_agreement=min_agreement, force=force, threads=threads,
    )
    if not quiet:
        _report(result)


def main(argv: list[str] | None = None) -> int:
    """Run the command; user errors become one line on stderr and a non-zero exit code."""
    try:
        rv = cli.main(args=argv, prog_name="python -m export", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("export: aborted", err=True)
        return 130
    except EdgeDetectError as exc:
        click.echo(f"export: error: {exc}", err=True)
        return exc.exit_code
    return rv if isinstance(rv, int) else 0
