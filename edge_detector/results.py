"""The typed outcome of one run, and its one conversion into the summary.json record.

Every output that needs the verdict (summary.json, report.html, a folder scan's summary.csv row)
is written from a :class:`RunResult`; only summary.json sees it as a dict, via :func:`summary_record`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .contract import ModelContract
from .policy import DecisionPolicy
from .types import VideoInfo, VideoSummary
from .version import __version__


@dataclass(frozen=True)
class DetectorInfo:
    """How faces were found: detector settings and, in track mode, how often the whole frame was scanned."""

    conf_threshold: float | None
    input_size: int | None
    mode: str
    full_every: int | None = None
    full_passes: int | None = None
    window_passes: int | None = None
    name: str | None = None  # "ssd", "blazeface", "blazeface-full"


@dataclass(frozen=True)
class ExplainedFace:
    """One face with an occlusion map: where it is, why it was picked, and its two files."""

    frame: int
    time_s: float
    face: int
    track: int
    p_fake: float  # as the run classified it
    label: str
    method: str
    reason: str  # "top": among the most suspicious frames; "track": its track's highest P_fake
    peak_drop: float  # the largest P_fake drop one patch caused
    overlay: str  # PNG, relative to the output folder
    map: str  # npz, relative to the output folder
    png: bytes = field(default=b"", repr=False, compare=False)  # the overlay, for the report

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "png"}


@dataclass(frozen=True)
class ExplainRecord:
    """The explanations of a run (``--explain``) and what they cost."""

    grid: int
    patch_px: int
    blur_sigma_px: float
    forward_passes_per_face: int
    ms_per_face: float
    faces: tuple[ExplainedFace, ...]
    folder: str = "explain"

    def record(self) -> dict[str, Any]:
        return {"method": "occlusion (patch replaced by a Gaussian-blurred copy)",
                **{k: v for k, v in asdict(self).items() if k != "faces"},
                "faces": [f.record() for f in self.faces]}


@dataclass
class RunResult:
    """The outcome of one source: verdict, what produced it, where the files are, and speed.

    ``outputs`` grows while the sinks close (each adds the file it wrote), so a later sink (the
    JSON summary, the report) lists the files written before it.
    """

    summary: VideoSummary
    source: VideoInfo
    contract: ModelContract
    policy: DecisionPolicy
    detector: DetectorInfo
    model_path: str = ""
    every: int = 1
    dropped: int = 0
    fps: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    stream_ended: bool = False  # a live stream stopped by itself before the user stopped it
    stalled: bool = False  # a live stream sent nothing for --read-timeout seconds
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    explain: ExplainRecord | None = None  # set by the explain sink (--explain)

    @property
    def seconds(self) -> float | None:
        """Analysis time of the frames read (None before the first frame)."""
        return self.summary.frames_read / self.fps if self.fps else None


def summary_record(run: RunResult) -> dict[str, Any]:
    """Everything a reader of summary.json needs to trust (or doubt) the verdict."""
    s, det = run.summary, run.detector
    return {
        "tool": {"name": "edge-detect", "version": __version__},
        "source": asdict(run.source),
        "verdict": s.verdict,
        "score": s.score,
        "aggregation": s.aggregation,
        "threshold": s.threshold,
        # three-level models: REAL below, UNCERTAIN between, FAKE at or above; null: two levels
        "verdict_levels": 3 if s.threshold_real is not None else 2,
        "threshold_real": s.threshold_real,
        "threshold_fake": s.threshold_fake,
        "mean_p_fake": s.mean_p_fake,
        "median_p_fake": s.median_p_fake,
        "fake_frame_fraction": s.fake_frame_fraction,
        "top_method": s.top_method,
        "method_share": s.method_share,
        "frames": {
            "read": s.frames_read, "analysed": s.frames_analysed,
            "with_faces": s.frames_with_faces, "faces_classified": s.faces_classified,
            "dropped_live": run.dropped, "every": run.every,
        },
        "tracks": [asdict(t) for t in s.tracks],
        "speed": {"fps": run.fps, "stage_ms_per_frame": run.stage_ms},
        "detector": asdict(det),
        "model": {"path": run.model_path, "contract": run.contract.to_dict()},
        "interrupted": run.interrupted,
        "stream_ended": run.stream_ended,
        "stalled": run.stalled,
        "warnings": run.warnings,
        "outputs": {k: str(v.name) for k, v in run.outputs.items()},
        **({"explain": run.explain.record()} if run.explain is not None else {}),
    }
