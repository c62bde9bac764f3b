"""``edge-detect serve``: options, the safety checks, then uvicorn. Importable without the extra.

Exit codes: 130 stopped by Ctrl-C and 143 by SIGTERM (as every edge-detect run), 2 usage
(another --host without --token, bad values), 5 the data folder or its database cannot be used,
7 the ``serve`` extra is not installed or the address cannot be bound.
"""

from __future__ import annotations

import importlib
import logging
import socket
from pathlib import Path

import click

from .settings import DEFAULT_HOST, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, ServeError, Settings

EXTRA_MODULES = ("fastapi", "uvicorn", "python_multipart")
INSTALL_HINT = 'pip install -e ".[serve]"'


def require_extra() -> None:
    missing = []
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ServeError(f"'serve' needs the serve extra ({', '.join(missing)} not installed): "
                         f"{INSTALL_HINT}")


def _check_bind(host: str, port: int) -> None:
    """Fail with one line before starting workers when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def serve_command(command_class: type[click.Command]) -> click.Command:
    """The command, built with the CLI's command class (so errors print as one line)."""

    @click.command(cls=command_class, name="serve", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--host", default=DEFAULT_HOST, show_default=True,
                  help="Address to listen on; anything but loopback needs --token.")
    @click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
    @click.option("--data", type=click.Path(path_type=Path), default=Path("edge-detect-serve"),
                  show_default=True, help="Folder for the job database, uploads and results.")
    @click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True,
                  help="Worker processes analysing jobs in parallel.")
    @click.option("--max-upload-mb", type=click.IntRange(1, 100_000), default=DEFAULT_MAX_UPLOAD_MB,
                  show_default=True, help="Largest upload accepted (413 past it).")
    @click.option("--max-queue", type=click.IntRange(1, 10_000), default=32, show_default=True,
                  help="Queued + running jobs accepted (429 past it).")
    @click.option("--token", envvar="EDGE_SERVE_TOKEN",
                  help="Bearer token every API call must send (required for a non-loopback "
                       "--host; also read from $EDGE_SERVE_TOKEN).")
    @click.option("--quiet", "-q", is_flag=True, help="Only errors.")
    def serve(host, port, data, workers, max_upload_mb, max_queue, token, quiet):
        """Serve the web page and the REST API (docs at /docs) on HOST:PORT."""
        settings = Settings(data=data, host=host, port=port, workers=workers,
                            max_upload_mb=max_upload_mb, max_queue=max_queue, token=token)
        require_extra()
        _check_bind(host, port)
        return run(settings, quiet)

    return serve


def run(settings: Settings, quiet: bool = False) -> int:
    """Serve until Ctrl-C (exit 130) or SIGTERM (143), the CLI's codes for a stopped run."""
    import signal

    import uvicorn

    from .app import create_app
    from .db import JobStore

    try:  # a data folder or database we cannot use is an output error (5), before any worker
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..errors import SinkError

        raise SinkError(f"cannot create {settings.jobs_dir}: {exc.strerror or exc}") from exc
    JobStore(settings.db_path).migrate()
    level = logging.ERROR if quiet else logging.INFO
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("edge-detect serve: %(levelname)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(level)
    app = create_app(settings)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    if not quiet:
        click.echo(f"edge-detect serve: http://{shown}:{settings.port}/ (API docs at /docs); "
                   f"{settings.workers} worker(s), data in {settings.data}; Ctrl-C stops", err=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, workers=1,
                            log_level="warning" if quiet else "info", access_log=not quiet,
                            timeout_graceful_shutdown=30, limit_concurrency=256)
    server = uvicorn.Server(config)
    stopped_by: list[int] = []
    # uvicorn handles the signals while it runs, then re-raises the one it got: record it here
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopped_by.append(signum))
    server.run()
    if not server.started:
        raise ServeError(f"the server did not start on {settings.host}:{settings.port} (see above)")
    if not quiet:
        click.echo("edge-detect serve: stopped", err=True)
    return 128 + stopped_by[-1] if stopped_by else 0
