"""One real Dask cluster per session: a scheduler and two worker processes on 127.0.0.1."""

from __future__ import annotations

import os

import pytest

distributed = pytest.importorskip("distributed", reason="needs the 'cluster' extra (dask[distributed])")


@pytest.fixture(scope="session")
def dask_client():
    """A client of a LocalCluster with 2 worker processes (1 thread each), restarted by nannies."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def run_task_count(stream: list[dict]) -> int:
    """How many of our per-video tasks ran (get_task_stream records, retries included)."""
    return sum(1 for t in stream if str(t["key"]).startswith("run_task-"))
