"""Dask plumbing for folder scans (:mod:`.scan.on_cluster`) and the training ETL: one task per
video, the client writes. It knows nothing about either: they import it, never the reverse.

Dask is optional (the ``cluster`` extra) and imported only inside functions. The design:

* ``--cluster local[:N]`` starts a ``LocalCluster`` of N worker processes (one thread each);
  anything else is a scheduler address (``tcp://host:8786``).
* The model travels as bytes inside a ``WorkerPlugin``: each worker writes them to its own local
  folder and builds its detector + classifier once (per worker thread), from the CLI's spec. So
  workers need no shared model folder, and a worker that the nanny restarts gets the plugin again.
* Input videos are read by path: every worker must see them at the same absolute path (a shared
  file system); this is checked on every worker before any task is sent.
* Per-video outputs come back to the client as bytes and the client alone writes them, then
  summary.csv, as results arrive; summary.json goes last, so resume sees only complete videos and
  the output folder needs to exist on the client only.
* Faults: a worker that dies has its tasks rescheduled by Dask (up to
  ``distributed.scheduler.allowed-failures``); a video that kills workers that often becomes a
  failed row. Bad videos never raise, so they run once and are recorded once as failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import click

from .errors import ClusterError, UsageError

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'edge-deepfake-detector[cluster]'"


def require_dask():
    """The distributed module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(f"--cluster needs Dask ({exc.name} is not installed): {INSTALL_HINT}") from exc
    return distributed


SCHEMES = ("tcp", "tls")
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?)$")


def max_local_workers() -> int:
    """``local:N`` starts N processes: at most 4 per core (and 64), more only thrash the machine."""
    return max(1, min(64, 4 * (os.cpu_count() or 1)))


def check_address(address: str) -> str:
    """``local``, ``local:N`` (1 <= N <= :func:`max_local_workers`) or ``tcp|tls://HOST[:PORT]``;
    anything else is a usage error (exit 2) naming what is accepted, before Dask is imported."""
    accepted = f"expected local, local:N (N 1-{max_local_workers()}) or tcp://HOST:PORT"
    if address == "local" or address.startswith("local:"):
        n = address.partition(":")[2]
        if n and (not n.isdigit() or not 1 <= int(n) <= max_local_workers()):
            raise UsageError(f"--cluster {address!r}: {accepted}")
        return address
    scheme, sep, rest = address.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        why = f"scheme {scheme}:// is not supported" if sep else "not an address"
        raise UsageError(f"--cluster {address!r}: {why}; {accepted}")
    host, port = rest, ""
    if rest.startswith("["):
        host, _, tail = rest.partition("]")
        host += "]"
        port = tail[1:] if tail.startswith(":") else tail
        if tail and not tail.startswith(":"):
            port = "x"
    elif ":" in rest:
        host, _, port = rest.rpartition(":")
    if not _HOST.match(host) or (port and not (port.isdigit() and 1 <= int(port) <= 65535)) \
            or rest.endswith(":"):
        raise UsageError(f"--cluster {address!r}: bad host or port; {accepted}")
    return address


def parse_local(address: str) -> int | None:
    """Worker count of ``local`` / ``local:N`` (``local`` = one per core), None for an address."""
    check_address(address)
    if address != "local" and not address.startswith("local:"):
        return None
    n = address.partition(":")[2]
    return int(n) if n else os.cpu_count() or 1


@contextlib.contextmanager
def connect(address: str, progress: bool = True, label: str = "edge-detect") -> Iterator[Any]:
    """A Client of a new LocalCluster (closed on exit) or of the scheduler at ``address``."""
    distributed = require_dask()
    n_local = parse_local(address)
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO chatter hides our output
    with contextlib.ExitStack() as stack:
        try:
            if n_local is not None:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n_local, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=":0", silence_logs=logging.ERROR))
                client = stack.enter_context(distributed.Client(cluster))
            else:
                client = stack.enter_context(distributed.Client(address, timeout="20s"))
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: an address Dask refuses
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        if progress:
            info = client.scheduler_info()
            dash = (client.dashboard_link if "dashboard" in info.get("services", {})
                    else "off (install bokeh to get one)")
            click.echo(f"{label}: Dask scheduler {info['address']}, {len(info['workers'])} "
                       f"workers; dashboard {dash}", err=True)
        yield client


def local_threads(address: str) -> int | None:
    """Inference threads per worker: the cores shared out for local:N, else the worker's default."""
    n = parse_local(address)
    return None if n is None else max(1, (os.cpu_count() or 1) // n)


def results(client, plugin_name: str, fn: Callable[[Any, Any], Any],
            items: Iterable[Any]) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Yields ``(item, result, error)`` as tasks finish; Ctrl-C (or closing) cancels the rest.

    ``error`` is set only when Dask gave up on a task (e.g. it killed workers too often): the task
    functions return bad videos as results instead of raising, so Dask never re-runs them.
    """
    distributed = require_dask()
    from .cluster_worker import run_task

    futures = {client.submit(run_task, plugin_name, fn, item, pure=False): item for item in items}
    try:
        for fut in distributed.as_completed(futures):
            item = futures.pop(fut)
            try:
                yield item, fut.result(), None
            except Exception as exc:  # KilledWorker or a bug; recorded as this video's failure
                yield item, None, exc
    finally:
        if futures:
            client.cancel(list(futures))


@contextlib.contextmanager
def worker_state(client, state) -> Iterator[str]:
    """Register a WorkerState plugin for one run and drop it after (the scheduler keeps plugins)."""
    client.register_plugin(state, name=state.name)
    try:
        yield state.name
    finally:
        with contextlib.suppress(Exception):  # the client may already be closing after Ctrl-C
            client.unregister_worker_plugin(state.name)


def one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())

