"""``python -m demo``: the whole system on embedded data, what ``make demo`` runs."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

_PATH = click.Path(path_type=Path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=_PATH, default=Path("demo-output"), show_default=True)
@click.option("--identities", default=32, show_default=True)
@click.option("--epochs", default=24, show_default=True)
@click.option("--fixtures", type=_PATH, default=None,
              help="Real media folder [$EDGE_FIXTURES or ../shared/fixtures when present].")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def demo(out: Path, identities: int, epochs: int, fixtures: Path | None, quiet: bool) -> None:
    """The whole system on embedded data: data -> etl -> fit -> evaluate -> export -> edge-detect."""
    from .run import DemoConfig, format_demo, run_demo

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    fixtures = fixtures or Path(os.environ.get("EDGE_FIXTURES", "../shared/fixtures"))
    cfg = DemoConfig(out, identities=identities, epochs=epochs,
                     fixtures=fixtures if fixtures.is_dir() else None)
    click.echo(format_demo(run_demo(cfg)))


def main(argv: list[str] | None = None) -> int:
    """Entry point with the training CLI's error handling (one line for user errors)."""
    from train.cli import run_click

    return run_click(demo, argv, "python -m demo")


if __name__ == "__main__":
    sys.exit(main())
