"""Load check for `edge-detect serve`, loopback only: N concurrent uploads of one short clip.

    python benchmarks/serve_load.py [--uploads 8] [--concurrency 8] [--workers 2] [--frames 48]
                                    [--size 640x360] [--model scratch] [--max-queue 32]

Starts a real server (``edge-detect serve`` on 127.0.0.1, a fresh --data folder), uploads the
clip N times from ``--concurrency`` client threads (a 429 is retried after its Retry-After, at
most 20 times per upload, and counted), waits for every job, and checks that nothing was lost
and that each job's summary.json numbers and frames.csv (timing columns aside) are identical to
the CLI's on the same clip. The server's process tree (server + workers) is sampled every 0.2 s:
peak RSS overall, in the first and second half of the run (bounded memory: the second half must
not keep growing), and per process. Exit 1 if any check fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SUMMARY_KEYS = ("verdict", "score", "mean_p_fake", "median_p_fake", "fake_frame_fraction",
                "top_method", "method_share", "frames", "tracks", "threshold")
TIMING_COLUMNS = {"detect_ms", "classify_ms"}
HOST = "127.0.0.1"  # never anything else: this is a loopback check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _rows(text: str) -> list[dict]:
    rows = csv.DictReader(io.StringIO(text))
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children, sampled until stopped."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc, self.every_s = psutil.Process(pid), every_s
        self.samples: list[tuple[float, int, int]] = []  # (time, total bytes, largest process)
        self._stop_flag = threading.Event()

    def run(self) -> None:
        import psutil

        while not self._stop_flag.wait(self.every_s):
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = [p.memory_info().rss for p in procs]
            except psutil.Error:
                continue
            self.samples.append((time.monotonic(), sum(rss), max(rss)))

    def stop(self) -> None:
        self._stop_flag.set()
        self.join(5)


def _cli_reference(clip: Path, model: str, out: Path) -> tuple[dict, list[dict]]:
    cmd = [sys.executable, "-m", "edge_detector.cli", str(clip), "--model", model, "-o", str(out), "-q",
           "--threads", "1"]
    subprocess.run(cmd, check=True)
    return json.loads((out / "summary.json").read_text()), _rows((out / "frames.csv").read_text())


def _start_server(data: Path, port: int, args) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "edge_detector.cli", "serve", "--host", HOST,
                             "--port", str(port), "--data", str(data), "--workers", str(args.workers),
                             "--max-queue", str(args.max_queue), "-q"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            h = httpx.get(f"http://{HOST}:{port}/api/health", timeout=2).json()
            if h["workers_alive"] == args.workers:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)


def _upload(url: str, clip: Path, model: str, i: int) -> tuple[str, float, int]:
    """(job id, seconds until accepted, 429s met on the way)."""
    import httpx

    t0, refused = time.perf_counter(), 0
    for _ in range(20):
        with open(clip, "rb") as f:
            r = httpx.post(f"{url}/api/jobs", files={"file": (f"clip-{i}.mp4", f, "video/mp4")},
                           data={"model": model}, timeout=120)
        if r.status_code == 201:
            return r.json()["id"], time.perf_counter() - t0, refused
        if r.status_code != 429:
            raise SystemExit(f"upload {i}: HTTP {r.status_code} {r.text}")
        refused += 1
        time.sleep(float(r.headers.get("retry-after", "1")))
    raise SystemExit(f"upload {i}: still 429 after 20 tries")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def run(args) -> int:
    import httpx

    from benchmarks.media import make_clip

    work = Path(tempfile.mkdtemp(prefix="serve-load-"))
    try:
        w, h = (int(v) for v in args.size.split("x"))
        clip = make_clip(work / f"clip_{w}x{h}_{args.frames}.mp4", w, h, args.frames)
        ref_summary, ref_rows = _cli_reference(clip, args.model, work / "cli")
        port = _free_port()
        url = f"http://{HOST}:{port}"
        server = _start_server(work / "data", port, args)
        sampler = RssSampler(server.pid)
        sampler.start()
        try:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                accepted = list(pool.map(lambda i: _upload(url, clip, args.model, i), range(args.uploads)))
            t_uploaded = time.perf_counter() - t0
            ids = [a[0] for a in accepted]
            jobs = {}
            deadline = time.monotonic() + args.timeout
            while len(jobs) < len(ids):
                for job_id in ids:
                    if job_id not in jobs:
                        j = httpx.get(f"{url}/api/jobs/{job_id}", timeout=30).json()
                        if j["status"] in ("done", "failed", "cancelled"):
                            jobs[job_id] = j
                if time.monotonic() > deadline:
                    raise SystemExit(f"{len(ids) - len(jobs)} jobs unfinished after {args.timeout} s")
                time.sleep(0.2)
            wall = time.perf_counter() - t0
            problems = []
            for job_id, j in jobs.items():
                if j["status"] != "done":
                    problems.append(f"{job_id}: {j['status']} {j['error']}")
                    continue
                s = j["summary"]
                diff = [k for k in SUMMARY_KEYS if s[k] != ref_summary[k]]
                if diff:
                    problems.append(f"{job_id}: summary differs from the CLI's in {diff}")
                csv_text = httpx.get(f"{url}/api/jobs/{job_id}/files/frames.csv", timeout=30).text
                if _rows(csv_text) != ref_rows:
                    problems.append(f"{job_id}: frames.csv differs from the CLI's")
            listed = httpx.get(f"{url}/api/jobs", params={"limit": 200}, timeout=30).json()["jobs"]
            if len(set(ids)) != args.uploads or {j["id"] for j in listed} != set(ids):
                problems.append(f"lost jobs: {args.uploads} uploaded, {len(set(ids))} ids, "
                                f"{len(listed)} listed")
        finally:
            sampler.stop()
            server.terminate()
            server.wait(60)

        done = [j for j in jobs.values() if j["status"] == "done"]
        latency = [j["finished"] - j["created"] for j in done]
        run_s = [j["finished"] - j["started"] for j in done]
        mid = sampler.samples[len(sampler.samples) // 2][0] if sampler.samples else 0
        first = max((s[1] for s in sampler.samples if s[0] <= mid), default=0)
        second = max((s[1] for s in sampler.samples if s[0] > mid), default=0)
        peak_total = max((s[1] for s in sampler.samples), default=0)
        peak_proc = max((s[2] for s in sampler.samples), default=0)
        frames = sum(j["summary"]["frames"]["read"] for j in done)
        mb = 1 / (1 << 20)
        print(f"serve load check: {args.uploads} uploads of a {w}x{h} {args.frames}-frame clip, "
              f"{args.concurrency} client threads, {args.workers} worker(s), model {args.model}, "
              f"cores {os.cpu_count()}")
        print(f"  accepted all uploads in {t_uploaded:.2f} s; 429s met (retried): "
              f"{sum(a[2] for a in accepted)}; upload p50/p95 {_pct([a[1] for a in accepted], .5):.2f}/"
              f"{_pct([a[1] for a in accepted], .95):.2f} s")
        print(f"  all jobs finished in {wall:.1f} s: {len(done)}/{args.uploads} done, "
              f"{60 * len(done) / wall:.1f} jobs/min, {frames / wall:.1f} frames/s overall")
        if done:
            print(f"  job latency (upload -> done) p50/p95 {_pct(latency, .5):.1f}/"
                  f"{_pct(latency, .95):.1f} s; "
                  f"analysis per job p50 {_pct(run_s, .5):.2f} s")
        print(f"  peak RSS, server + workers: {peak_total * mb:.0f} MB (first half {first * mb:.0f} MB, "
              f"second half {second * mb:.0f} MB); largest process {peak_proc * mb:.0f} MB; "
              f"{len(sampler.samples)} samples")
        print(f"  results identical to the CLI's: {'yes' if not problems else 'NO'}")
        if second > first * 1.25 + 64 * (1 << 20):
            problems.append(f"memory kept growing: {first * mb:.0f} MB -> {second * mb:.0f} MB")
        for p in problems:
            print(f"  PROBLEM: {p}")
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uploads", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="640x360")
    p.add_argument("--model", default="scratch", help="a shipped model name or an ONNX file")
    p.add_argument("--max-queue", type=int, default=32)
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args(argv)
    if not (1 <= args.uploads <= 200 and 1 <= args.concurrency <= 32 and 1 <= args.workers <= 8):
        p.error("bounded check: --uploads 1-200, --concurrency 1-32, --workers 1-8")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
