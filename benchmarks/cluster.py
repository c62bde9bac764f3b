"""Folder-scan throughput: local 1 worker vs local process pool vs a Dask LocalCluster, + Dask overhead.

    python benchmarks/cluster.py [--videos 8] [--frames 24] [--workers 2] [--model M.onnx]

Generates a folder of face clips, scans it three ways into fresh output folders and prints videos/s
and the ratio to the 1-worker run. The Dask cluster is started before its run (its start-up time is
printed apart), and its per-task overhead is a no-op task's round trip, one at a time and in bulk.
Needs the ``cluster`` extra; without ``--model`` it builds a tiny ONNX model (needs ``onnx``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _noop(x=None):
    return x


def _scan(folder: Path, model: Path, out: Path, workers: int = 1, cluster: str | None = None,
          threads: int | None = None) -> float:
    from edge_detector.build import PipelineSpec
    from edge_detector.scan import ScanOptions, scan_folder

    opts = ScanOptions(out_dir=out, workers=workers, write_video=False, report=False, progress=False,
                       quiet=True, cluster=cluster)
    t0 = time.perf_counter()
    code = scan_folder(folder, PipelineSpec(model=model, threads=threads), opts)
    if code != 0:
        raise SystemExit(f"scan failed (exit {code}); see {out / 'summary.csv'}")
    return time.perf_counter() - t0


def _overhead(client, n: int = 200) -> tuple[float, float]:
    """(ms per no-op task submitted and awaited one by one, ms per task of n submitted at once)."""
    client.submit(_noop, 0, pure=False).result()  # warm
    t0 = time.perf_counter()
    for i in range(n):
        client.submit(_noop, i, pure=False).result()
    serial = (time.perf_counter() - t0) / n * 1e3
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    bulk = (time.perf_counter() - t0) / n * 1e3
    return serial, bulk


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--model", type=Path)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    import distributed

    from benchmarks.media import make_clip

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        tmp = Path(tmp)
        model = a.model
        if model is None:
            from tests.onnx_factory import tiny_model

            model = tiny_model(tmp / "tiny.onnx")
        folder = tmp / "videos"
        folder.mkdir()
        for i in range(a.videos):
            make_clip(folder / f"v{i:03d}.mp4", 640, 360, a.frames)
        rows = [("local, 1 worker", _scan(folder, model, tmp / "o1"))]
        rows.append((f"local pool, {a.workers} workers",
                     _scan(folder, model, tmp / "o2", workers=a.workers)))
        t0 = time.perf_counter()
        with distributed.LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=":0",
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            startup = time.perf_counter() - t0
            serial, bulk = _overhead(client)
            share = max(1, (os.cpu_count() or 1) // a.workers)  # as the pool and local:N do
            rows.append((f"Dask LocalCluster, {a.workers} workers",
                         _scan(folder, model, tmp / "o3", cluster=cluster.scheduler_address,
                               threads=share)))
    base = a.videos / rows[0][1]
    print(f"{a.videos} videos x {a.frames} frames 640x360, model {model.name}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| run | seconds | videos/s | ratio to 1 worker |\n|---|---|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.1f} | {a.videos / sec:.3f} | {a.videos / sec / base:.2f} |")
    print(f"Dask: cluster start-up {startup:.1f} s; no-op task round trip {serial:.1f} ms one by one, "
          f"{bulk:.2f} ms per task when 200 are submitted at once")


if __name__ == "__main__":
    main()
