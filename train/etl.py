"""ETL: FaceForensics++ videos -> face crops (JPEG) + manifest, split by identity.

Each video is handled by one worker process with its own ``FaceDetector``; crops come from the
runtime's ``crop_face`` so training and inference see identical crops. The main process writes a
video's manifest rows in one append, so an interrupted run resumes cleanly (see ``manifest``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from edge_detector.csvsafe import escape_frame
from edge_detector.faces import DEFAULT_MARGIN, FaceDetector, crop_face
from edge_detector.outlock import LockHeld, pid_lock
from edge_detector.sinks import write_image

from .errors import ConfigError
from .frames import DECODERS, DEFAULT_DECODER, VideoReadError, read_sampled
from .layout import SYNTHETIC_MARKER, scan_dataset
from .manifest import (
    DONE,
    FAILED,
    NO_FACE,
    OK,
    UNREADABLE,
    ManifestRow,
    ManifestWriter,
    load_finished,
    read_manifest,
)
from .splits import DEFAULT_FRACTIONS, SPLIT_MODES, SPLITS, assign_splits

log = logging.getLogger(__name__)

CLASSES_JSON = "classes.json"
ETL_CONFIG_JSON = "etl_config.json"
LOCK_FILE = ".etl.lock"
SPLITS_CSV = "splits.csv"
JPEG_QUALITY = 95
# Lossless PNG by default, so training sees exactly the pixels the runtime crops; JPEG is opt-in.
CROP_FORMATS = {"png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
                "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])}
# Settings that change the crops or the splits: a resumed run must use the same values.
_RESUME_KEYS = ("frames_per_video", "size", "margin", "split", "seed", "conf_threshold",
                "splits_dir", "fractions", "crop_format")


@dataclass(frozen=True)
class EtlConfig:
    """Options of ``python -m train etl`` (defaults as documented there)."""

    dataset_root: Path
    out: Path
    frames_per_video: int = 8
    size: int = 224
    margin: float = DEFAULT_MARGIN
    split: str = "identity"
    splits_dir: Path | None = None
    seed: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    decoder: str = DEFAULT_DECODER
    conf_threshold: float = 0.5
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    progress: bool = True
    cluster: str | None = None  # a Dask scheduler address or local[:N] (see train.etl_cluster)
    crop_format: str = "png"

    def __post_init__(self) -> None:
        # written as "not (lo <= x <= hi)" so that NaN, which fails every comparison, is refused
        if not 1 <= self.frames_per_video <= 10_000:
            raise ConfigError(f"--frames-per-video must be in [1, 10000], got {self.frames_per_video}")
        if not 16 <= self.size <= 1024:
            raise ConfigError(f"--size must be in [16, 1024], got {self.size}")
        if not (math.isfinite(self.margin) and 1.0 <= self.margin <= 4.0):
            raise ConfigError(f"--margin must be in [1.0, 4.0], got {self.margin}")
        if not (math.isfinite(self.conf_threshold) and 0.0 < self.conf_threshold <= 1.0):
            raise ConfigError(f"--conf must be in (0, 1], got {self.conf_threshold}")
        if self.split not in SPLIT_MODES:
            raise ConfigError(f"--split must be one of {', '.join(SPLIT_MODES)}, got {self.split}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"--decoder must be one of {', '.join(DECODERS)}")
        if self.crop_format not in CROP_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(CROP_FORMATS)}, got {self.crop_format}")
        if not 1 <= self.workers <= 256:
            raise ConfigError(f"--workers must be in [1, 256], got {self.workers}")

    def resume_key(self) -> dict:
        d = asdict(self)
        return {k: (str(d[k]) if isinstance(d[k], Path) else d[k]) for k in _RESUME_KEYS}


@dataclass(frozen=True)
class VideoJob:
    """Everything a worker needs for one video (picklable)."""

    path: Path
    key: str
    cls: str
    stem: str
    group: str
    split: str
    frames: int
    size: int
    margin: float
    decoder: str
    out: Path
    crop_format: str = "png"


@dataclass(frozen=True)
class EtlResult:
    """Outcome of an ETL run over the whole manifest (earlier resumed runs included)."""

    data_dir: Path
    classes: tuple[str, ...]
    missing_classes: tuple[str, ...]
    table: pd.DataFrame  # split, class, videos, crops
    failed: dict[str, str]  # video key -> reason
    faceless_frames: int
    unreadable_frames: int
    processed: int  # videos handled by this run (not skipped)
    skipped: int
    seconds: float

    @property
    def videos_per_s(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


_DETECTOR: FaceDetector | None = None
_INIT_ERROR: str | None = None


class WorkerStartError(RuntimeError):
    """A worker could not load its face detector: the run stops once, with one line."""


def _init_worker(conf_threshold: float, threads: int) -> None:
    """Never raises: a failing pool initializer makes ``multiprocessing.Pool`` respawn the worker
    forever, printing a traceback each time. The error is reported by the first job instead."""
    global _DETECTOR, _INIT_ERROR
    try:
        cv2.setNumThreads(threads)
        _DETECTOR = FaceDetector(conf_threshold=conf_threshold)
    except Exception as exc:
        _INIT_ERROR = f"{type(exc).__name__}: {exc}".splitlines()[0]


def process_video(job: VideoJob, detector: FaceDetector | None = None) -> list[ManifestRow]:
    """Sample, detect, crop and save one video; returns its rows ending with a terminal row."""
    if _INIT_ERROR is not None and detector is None:
        raise WorkerStartError(f"ETL worker failed to start: {_INIT_ERROR}")
    det = detector or _DETECTOR
    if det is None:
        raise RuntimeError("process_video needs a FaceDetector (worker not initialised)")
    base = dict(video=job.key, cls=job.cls, group=job.group, split=job.split)
    try:
        _, frames = read_sampled(job.path, job.frames, job.decoder)
    except VideoReadError as exc:
        return [ManifestRow(**base, frame=-1, status=FAILED, detail=str(exc))]
    rows: list[ManifestRow] = []
    folder = job.out / job.split / job.cls
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for f in frames:
            common = dict(base, frame=f.index, time_s=round(f.time_s, 3))
            if f.image_bgr is None:
                rows.append(ManifestRow(**common, status=UNREADABLE, detail="decode failed"))
                continue
            faces = det.detect(f.image_bgr)
            if len(faces) == 0:
                rows.append(ManifestRow(**common, status=NO_FACE))
                continue
            box = faces.xyxy[0]
            suffix, params = CROP_FORMATS[job.crop_format]
            rel = f"{job.split}/{job.cls}/{job.stem}_{f.index:05d}{suffix}"
            crop = crop_face(f.image_bgr, box, job.size, job.margin)
            write_image(job.out / rel, crop, suffix, params)
            x1, y1, x2, y2 = (round(float(v), 1) for v in box)
            rows.append(ManifestRow(**common, x1=x1, y1=y1, x2=x2, y2=y2,
                                    confidence=round(float(faces.score[0]), 4), crop=rel))
    except Exception as exc:  # one bad video must not stop a run over thousands
        return [ManifestRow(**base, frame=-1, status=FAILED,
                            detail=f"{type(exc).__name__}: {exc}".splitlines()[0])]
    n_ok = sum(r.status == OK for r in rows)
    rows.append(ManifestRow(**base, frame=-1, status=DONE, detail=f"{n_ok}/{len(rows)} crops"))
    return rows


def _check_resume(cfg: EtlConfig) -> None:
    path = cfg.out / ETL_CONFIG_JSON
    key = cfg.resume_key()
    if path.is_file():
        old = json.loads(path.read_text()).get("resume_key", {})
        diff = [k for k in key if json.dumps(old.get(k)) != json.dumps(key[k])]
        if diff:
            k = diff[0]
            raise ConfigError(f"{cfg.out} was made with {k}={old.get(k)!r}, not {key[k]!r}: "
                              "use the same settings to resume, or another --out")
    cfg.out.mkdir(parents=True, exist_ok=True)
    record = {"resume_key": key, "dataset_root": str(cfg.dataset_root), "decoder": cfg.decoder,
              "synthetic": (Path(cfg.dataset_root) / SYNTHETIC_MARKER).is_file()}
    path.write_text(json.dumps(record, indent=2))


def _check_same_splits(data_dir: Path, finished: set[str], assign: dict) -> None:
    """A resumed run must not move finished videos to another split (dataset changed?)."""
    if not finished:
        return
    df = read_manifest(data_dir)
    term = df[df["frame"] == -1]
    moved = [v for v, s in zip(term["video"], term["split"], strict=True)
             if v in assign and assign[v].split != s]
    if moved:
        raise ConfigError(f"{len(moved)} finished videos (e.g. {moved[0]}) would now go to another "
                          "split (was the dataset changed?): use another --out")


def summarize(data_dir: Path, classes: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, str],
                                                                  int, int]:
    """(table of videos and crops per split and class, failed videos, face-less, unreadable)."""
    df = read_manifest(data_dir)
    term = df[df["frame"] == -1]
    done = term[term["status"] == DONE]
    failed = dict(zip(term.loc[term["status"] == FAILED, "video"],
                      term.loc[term["status"] == FAILED, "detail"], strict=True))
    ok = df[df["status"] == OK]
    rows = []
    for split in SPLITS:
        for cls in classes:
            rows.append({"split": split, "class": cls,
                         "videos": int(((done["split"] == split) & (done["class"] == cls)).sum()),
                         "crops": int(((ok["split"] == split) & (ok["class"] == cls)).sum())})
    table = pd.DataFrame(rows, columns=["split", "class", "videos", "crops"])
    return (table, failed, int((df["status"] == NO_FACE).sum()),
            int((df["status"] == UNREADABLE).sum()))


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """One ETL run per ``--out``: an exclusive ``flock`` on ``out/.etl.lock``, which holds the
    owner's pid. The kernel drops the lock when its process dies, so a lock file left by a killed
    run (a stale pid) never blocks a new run."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        with pid_lock(out / LOCK_FILE, 0o644):
            yield
    except LockHeld as exc:
        owner = "unknown" if exc.holder == "?" else exc.holder
        raise RuntimeError(f"another ETL run (pid {owner}) is writing to {out}; wait for it "
                           "or use another --out") from None


def _run_jobs(cfg: EtlConfig, jobs: list[VideoJob]):
    if not jobs:
        return
    # Load the detector here first: a bad detector file or setting fails once, in this process.
    det = FaceDetector(conf_threshold=cfg.conf_threshold)
    if cfg.cluster:
        from .etl_cluster import run_jobs_on_cluster

        yield from run_jobs_on_cluster(cfg.cluster, cfg.conf_threshold, jobs, cfg.out, cfg.progress)
        return
    if cfg.workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_video(job, det)
        return
    ctx = mp.get_context("spawn")  # fork is unsafe once TensorFlow or threads are loaded
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    with ctx.Pool(min(cfg.workers, len(jobs)), _init_worker,
                  (cfg.conf_threshold, threads)) as pool:
        yield from pool.imap_unordered(process_video, jobs, chunksize=1)


def run_etl(cfg: EtlConfig,
            on_video: Callable[[list[ManifestRow]], None] | None = None) -> EtlResult:
    """Run (or resume) the ETL; ``on_video`` is called after each video's rows are on disk."""
    t0 = time.perf_counter()
    with out_lock(cfg.out):
        return _run_etl(cfg, on_video, t0)


def _run_etl(cfg: EtlConfig, on_video, t0: float) -> EtlResult:
    scan = scan_dataset(cfg.dataset_root)
    _check_resume(cfg)
    assign = assign_splits(scan.videos, cfg.split, cfg.seed, cfg.fractions, cfg.splits_dir)
    (cfg.out / CLASSES_JSON).write_text(json.dumps(list(scan.classes)))
    escape_frame(pd.DataFrame([{"video": v.key, "class": v.cls, "group": assign[v.key].group,
                                "split": assign[v.key].split} for v in scan.videos])
                 ).to_csv(cfg.out / SPLITS_CSV, index=False)
    finished = load_finished(cfg.out)
    _check_same_splits(cfg.out, finished, assign)
    jobs = [VideoJob(v.path, v.key, v.cls, v.stem, assign[v.key].group, assign[v.key].split,
                     cfg.frames_per_video, cfg.size, cfg.margin, cfg.decoder, cfg.out, cfg.crop_format)
            for v in scan.videos if v.key not in finished]
    skipped = len(scan.videos) - len(jobs)
    if skipped:
        log.info("resuming: %d of %d videos already done", skipped, len(scan.videos))
    with ManifestWriter(cfg.out) as writer, logging_redirect_tqdm(), \
            tqdm(total=len(jobs), unit="video", desc="etl", disable=not cfg.progress) as bar, \
            contextlib.closing(_run_jobs(cfg, jobs)) as videos:  # Ctrl-C stops the workers too
        for rows in videos:
            writer.write_video(rows)
            last = rows[-1]
            if last.status == FAILED:
                log.warning("%s failed: %s", last.video, last.detail)
            elif faceless := sum(r.status == NO_FACE for r in rows):
                log.info("%s: %d of %d frames without a face", last.video, faceless, len(rows) - 1)
            bar.update(1)
            if on_video is not None:
                on_video(rows)
    table, failed, faceless, unreadable = summarize(cfg.out, scan.classes)
    return EtlResult(cfg.out, scan.classes, scan.missing_classes, table, failed, faceless,
                     unreadable, len(jobs), skipped, time.perf_counter() - t0)


def format_result(res: EtlResult) -> str:
    """Human-readable end-of-run table."""
    pivot = res.table.pivot_table(index="class", columns="split", values=["videos", "crops"],
                                  aggfunc="sum", sort=False)
    lines = [pivot.to_string(), "",
             f"classes: {', '.join(res.classes)}"
             + (f" (absent: {', '.join(res.missing_classes)})" if res.missing_classes else ""),
             f"videos processed: {res.processed}, skipped (already done): {res.skipped}, "
             f"{res.videos_per_s:.2f} videos/s",
             f"failed videos: {len(res.failed)}; frames without a face: {res.faceless_frames}; "
             f"unreadable frames: {res.unreadable_frames}"]
    lines += [f"  failed {k}: {why}" for k, why in sorted(res.failed.items())]
    return "\n".join(lines)
