"""``make demo``: the shipped pretrained model on a public-domain video and the real FF++ clips.

Only the runtime is used (``edge-detect`` in a subprocess, as a user runs it); the verdicts are
read back from each run's ``summary.json``. The video is made here from scikit-image's
``astronaut`` (a NASA photo, public domain): a real, unmanipulated face, so REAL is the right
answer. The FF++ clips (research use, never shipped) are used when ``../shared/fixtures`` exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np

from edge_detector.cvfiles import video_writer

FFPP_MINI = "ffpp_c23_mini"


@dataclass(frozen=True)
class Verdict:
    """One demo video: what it is and what ``edge-detect`` said about it."""

    label: str
    truth: str
    verdict: str
    score: float | None
    method: str | None
    frames: int
    seconds: float

    @property
    def correct(self) -> bool | None:
        """True/False for a REAL or FAKE verdict; False for UNCERTAIN (not right, not wrong
        either: see :attr:`wrong`); None when there is no verdict (no face)."""
        if self.verdict == "UNCERTAIN":
            return False
        if self.verdict not in ("REAL", "FAKE"):
            return None
        return (self.verdict == "REAL") == (self.truth == "original")

    @property
    def wrong(self) -> bool:
        """On the wrong side: REAL for a fake or FAKE for an original."""
        return self.verdict in ("REAL", "FAKE") and not self.correct


def astronaut_video(path: Path, frames: int = 75, size: tuple[int, int] = (960, 540),
                    fps: float = 25.0) -> Path:
    """A slow pan over the astronaut photo: one real face, moving, 3 s at 25 fps."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    w, h = size
    side = int(h * 0.9)
    face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = video_writer(path, "mp4v", fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with mp4v")
    try:
        for t in range(frames):
            frame = np.full((h, w, 3), 60, np.uint8)
            x = int((w - side) * (0.2 + 0.6 * t / max(frames - 1, 1)))
            y = (h - side) // 2
            frame[y:y + side, x:x + side] = face
            writer.write(frame)
    finally:
        writer.release()
    return path


def detect(video: Path, out: Path, label: str, truth: str, max_frames: int | None,
           model: str | None = None) -> Verdict:
    """Run ``edge-detect`` like a user would and read its summary."""
    cmd = [sys.executable, "-m", "edge_detector.cli", str(video), "-o", str(out), "--force", "-q"]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    if model:
        cmd += ["--model", model]
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"edge-detect failed on {video} (exit {run.returncode}): "
                           f"{run.stderr.strip()}")
    s = json.loads((out / "summary.json").read_text())
    return Verdict(label, truth, s.get("verdict", "?"), s.get("score"), s.get("top_method"),
                   int(s.get("frames", {}).get("read", 0)), seconds)


def run_real_demo(out: Path, fixtures: Path | None, max_frames: int = 150,
                  model: str | None = None) -> list[Verdict]:
    out.mkdir(parents=True, exist_ok=True)
    video = astronaut_video(out / "videos" / "astronaut.mp4")
    verdicts = [detect(video, out / "astronaut", "astronaut (public domain)", "original", None,
                       model)]
    mini = fixtures / FFPP_MINI if fixtures else None
    if mini and mini.is_dir():
        for clip in sorted(mini.glob("*/*.mp4")):
            name = f"{clip.parent.name}/{clip.name}"
            verdicts.append(detect(clip, out / "ffpp" / clip.parent.name / clip.stem, name,
                                   clip.parent.name, max_frames, model))
    return verdicts


def format_verdicts(verdicts: list[Verdict], model_line: str) -> str:
    lines = [f"model: {model_line}", "",
             f"{'video':<34} {'truth':<15} {'verdict':<9} {'P_fake':>6}  method          ok"]
    for v in verdicts:
        score = "  n/a" if v.score is None else f"{v.score:.3f}"
        ok = "unsure" if v.verdict == "UNCERTAIN" else {True: "yes", False: "NO", None: "-"}[v.correct]
        lines.append(f"{v.label:<34} {v.truth:<15} {v.verdict:<9} {score:>6}  "
                     f"{(v.method or '-') if v.verdict == 'FAKE' else '-':<15} {ok}")
    judged = [v for v in verdicts if v.correct is not None]
    right = sum(v.correct for v in judged)
    unsure = sum(v.verdict == "UNCERTAIN" for v in judged)
    wrong = sum(v.wrong for v in judged)
    lines += ["", f"{right} of {len(judged)} videos judged correctly ({unsure} UNCERTAIN, {wrong} "
                  "on the wrong side; a handful of videos: an illustration, not a measurement; see "
                  "the model card for test-set numbers)"]
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True)
@click.option("--fixtures", type=click.Path(path_type=Path), default=None,
              help="Real media folder [$EDGE_FIXTURES or ../shared/fixtures when present].")
@click.option("--max-frames", default=150, show_default=True, help="Per FF++ clip, to stay short.")
@click.option("--model", default=None, help="Shipped model name or ONNX path [the default model].")
def main(out: Path, fixtures: Path | None, max_frames: int, model: str | None) -> None:
    """The shipped pretrained model on a public-domain video and, when present, real FF++ clips."""
    from edge_detector.zoo import resolve_model, shipped_models

    fixtures = fixtures or Path(os.environ.get("EDGE_FIXTURES", "../shared/fixtures"))
    path = resolve_model(model)
    line = next((m.summary_line() for m in shipped_models() if m.path == path), str(path))
    t0 = time.perf_counter()
    verdicts = run_real_demo(out, fixtures if fixtures.is_dir() else None, max_frames, model)
    click.echo(format_verdicts(verdicts, line))
    click.echo(f"outputs under {out}/ (annotated.mp4, frames.csv, summary.json, report.html per "
               f"video); {time.perf_counter() - t0:.0f} s")
    if not (fixtures / FFPP_MINI).is_dir():
        click.echo(f"(no FF++ clips at {fixtures / FFPP_MINI}: set EDGE_FIXTURES to add them)")


if __name__ == "__main__":
    main()
