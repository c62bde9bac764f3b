"""What a user would see: a model's verdicts on real videos, and its false alarms on real faces.

- The 7 FF++ c23 fixture clips (first ``max_frames`` frames) and their
  ``ffmpeg -c:v libx264 -crf 40`` re-encodes: 14 videos with known truth. The video score is the
  chosen aggregate of the faces' P_fake, judged with the model's own thresholds (three levels
  where it has a band); UNCERTAIN counts as not right.
- Every aggregate in :data:`AGGREGATES` is measured on the same per-face scores, so the choice of
  the shipped one rests on numbers (margin to the thresholds on the 14 videos).
- ``faces/``: real, unmanipulated people from other sources (photos and two clips); the share of
  their faces called FAKE.

The pipeline is the runtime's own (detector, crop geometry, classifier), run in-process.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_detector.aggregate import face_score
from edge_detector.build import PipelineSpec, build_pipeline
from edge_detector.pipeline import Pipeline
from edge_detector.policy import DecisionPolicy
from edge_detector.sources import ImageSource, VideoFileSource

log = logging.getLogger(__name__)

FFPP_MINI = "ffpp_c23_mini"
FACES = "faces"
REENCODE_CRF = 40
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# Video score from the per-face P_fake of the analysed frames (all faces, all tracks), computed by
# the runtime's own aggregate (names as the card records them).
AGGREGATES = {
    "mean": lambda p: face_score(p, "mean"),
    "median": lambda p: face_score(p, "median"),
    "trimmed_mean_10": lambda p: face_score(p, "trimmed"),
    "mean_logit": lambda p: face_score(p, "logit"),
}


@dataclass(frozen=True)
class VideoCheck:
    """One video: truth, scores per aggregate, and the verdict of the chosen one."""

    name: str
    truth: str
    compression: str
    faces: int
    scores: dict[str, float]
    verdict: str = ""
    right: bool = False


@dataclass(frozen=True)
class CheckReport:
    """The card's ``video_check`` entry."""

    max_frames: int
    aggregate: str
    policy: str
    videos: list[VideoCheck]
    right: int
    originals_called_fake: int
    fakes_called_real: int
    uncertain: int
    real_faces: dict = field(default_factory=dict)
    aggregate_margins: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def face_scores(pipeline: Pipeline, media: Path, max_frames: int | None) -> np.ndarray:
    """P_fake of every face in the first ``max_frames`` analysed frames of ``media`` (a fresh
    copy of ``pipeline``: no tracking state carried over)."""
    pipe = pipeline.fresh()
    src = (ImageSource(media) if media.suffix.lower() in IMAGE_SUFFIXES
           else VideoFileSource(media))
    out: list[float] = []
    with src:
        for i, result in enumerate(pipe.run(iter(src))):
            if max_frames and i >= max_frames:
                break
            if result.analysed:
                out += result.faces.p_fake.tolist()
    return np.asarray(out, np.float64)


def reencode(src: Path, dest: Path, crf: int = REENCODE_CRF) -> Path:
    """``ffmpeg -c:v libx264 -crf N`` of ``src`` (cached in ``dest``)."""
    if dest.is_file():
        return dest
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FileNotFoundError("ffmpeg not found: install it (Debian: apt-get install ffmpeg)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part.mp4")
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-an",
                    "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", str(part)],
                   check=True)
    part.replace(dest)
    return dest


def _videos(fixtures: Path, cache: Path) -> list[tuple[str, str, str, Path]]:
    root = fixtures / FFPP_MINI
    out = []
    for path in sorted(root.glob("*/*.mp4")):
        cls = path.parent.name
        rel = f"{cls}/{path.name}"
        out.append((rel, cls, "c23", path))
        out.append((rel, cls, f"crf{REENCODE_CRF}",
                    reencode(path, cache / f"crf{REENCODE_CRF}" / cls / path.name)))
    return out


def check_videos(model: Path, fixtures: Path, cache: Path, aggregate: str = "median",
                 max_frames: int = 120) -> CheckReport:
    """All 14 videos and the real faces; verdicts with the model's thresholds and ``aggregate``."""
    pipeline = build_pipeline(PipelineSpec(model=Path(model), threads=2))
    contract = pipeline.contract
    policy = DecisionPolicy.choose(None, contract.threshold, "mean", contract.band)
    checks = []
    for name, cls, comp, path in _videos(fixtures, cache):
        p = face_scores(pipeline, path, max_frames)
        scores = {k: (f(p) if len(p) else float("nan")) for k, f in AGGREGATES.items()}
        verdict = policy.label(scores[aggregate]) if len(p) else "NO_FACE"
        right = verdict == ("REAL" if cls == "original" else "FAKE")
        checks.append(VideoCheck(name, cls, comp, len(p), scores, verdict, right))
        log.info("%s %s: %s %.3f", name, comp, verdict, scores[aggregate])
    margins = {k: _margin(checks, k, policy) for k in AGGREGATES}
    return CheckReport(
        max_frames=max_frames, aggregate=aggregate, policy=policy.describe(), videos=checks,
        right=sum(c.right for c in checks),
        originals_called_fake=sum(c.truth == "original" and c.verdict == "FAKE" for c in checks),
        fakes_called_real=sum(c.truth != "original" and c.verdict == "REAL" for c in checks),
        uncertain=sum(c.verdict == "UNCERTAIN" for c in checks),
        real_faces=real_faces(pipeline, fixtures / FACES, policy), aggregate_margins=margins)


def _margin(checks: list[VideoCheck], aggregate: str, policy: DecisionPolicy) -> dict:
    """How an aggregate does on the 14 videos: verdicts right, and the worst signed distance to
    the threshold that would make a video wrong (positive: every video on its right side)."""
    lo, hi = policy.band if policy.band else (policy.threshold, policy.threshold)
    dist, right = [], 0
    for c in checks:
        s = c.scores[aggregate]
        if not np.isfinite(s):
            continue
        fake = c.truth != "original"
        dist.append(s - hi if fake else lo - s)
        right += policy.label(s) == ("FAKE" if fake else "REAL")
    return {"right": right, "worst_margin": round(float(min(dist)), 4) if dist else None}


def real_faces(pipeline: Pipeline, folder: Path, policy: DecisionPolicy) -> dict:
    """Share of the faces in ``folder`` (real people) called FAKE, per file and overall."""
    per_file, total, fake, uncertain = {}, 0, 0, 0
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            continue
        p = face_scores(pipeline, path, None)
        labels = policy.labels(p) if len(p) else np.array([])
        n_fake = int(np.sum(labels == "FAKE"))
        n_unc = int(np.sum(labels == "UNCERTAIN"))
        per_file[path.name] = {"faces": len(p), "called_fake": n_fake, "uncertain": n_unc,
                               "mean_p_fake": round(float(p.mean()), 4) if len(p) else None}
        total, fake, uncertain = total + len(p), fake + n_fake, uncertain + n_unc
    return {"faces": total, "called_fake": fake, "uncertain": uncertain,
            "fake_rate": round(fake / total, 4) if total else None, "per_file": per_file}


def table(report: CheckReport) -> str:
    """The 14 videos as a Markdown table (for notes and the README)."""
    lines = ["| video | truth | compression | faces | score | verdict | right |",
             "|---|---|---|---|---|---|---|"]
    for c in report.videos:
        lines.append(f"| {c.name} | {c.truth} | {c.compression} | {c.faces} | "
                     f"{c.scores[report.aggregate]:.3f} | {c.verdict} | "
                     f"{'yes' if c.right else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m export.video_check MODEL [--fixtures DIR] [--out FILE]``: print the table."""
    import argparse
    import json
    import os

    ap = argparse.ArgumentParser(prog="python -m export.video_check", description=__doc__)
    ap.add_argument("model", type=Path)
    ap.add_argument("--fixtures", type=Path,
                    default=Path(os.environ.get("EDGE_FIXTURES", "../shared/fixtures")))
    ap.add_argument("--cache", type=Path, default=Path("build/video_check"))
    ap.add_argument("--aggregate", choices=sorted(AGGREGATES), default="median")
    ap.add_argument("--max-frames", type=int, default=120)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rep = check_videos(args.model, args.fixtures, args.cache, args.aggregate, args.max_frames)
    print(table(rep))
    print(f"right {rep.right}/{len(rep.videos)}, originals called FAKE "
          f"{rep.originals_called_fake}, uncertain {rep.uncertain}; real faces called FAKE "
          f"{rep.real_faces.get('called_fake')}/{rep.real_faces.get('faces')}")
    print("aggregates:", json.dumps(rep.aggregate_margins))
    if args.out:
        args.out.write_text(json.dumps(rep.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
