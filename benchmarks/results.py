"""Typed records of one benchmark run; ``BenchReport.to_dict()`` is the JSON that is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .stats import Latency


@dataclass(frozen=True)
class OrtCell:
    """ONNX Runtime latency of one model file at one (threads, batch); ms are per image."""

    threads: int
    batch: int
    per_image: Latency
    images_per_s: float


@dataclass
class VariantResult:
    """One ONNX file of a model (fp32 or int8) and its timings."""

    precision: str
    path: str
    origin: str
    size_bytes: int
    macs: int
    graph_parameters: int
    ort: list[OrtCell] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class KerasCell:
    """Keras latency for one mode (``predict``, ``tf.function``, ``eager``) at one batch, and
    the ORT fp32 p50 timed alongside it (``ort_speedup`` = Keras p50 / ORT p50)."""

    mode: str
    batch: int
    per_image: Latency
    images_per_s: float
    ort_speedup: float | None
    ort_p50_ms: float | None


@dataclass
class KerasResult:
    """Keras timings of the same architecture, taken in the same process as the ORT ones."""

    origin: str
    threads: int
    ort_threads: int
    cells: list[KerasCell] = field(default_factory=list)


@dataclass
class ModelResult:
    """Everything measured for one classifier."""

    name: str
    architecture: str
    input_size: int
    parameters: int
    random_weights: bool
    variants: list[VariantResult] = field(default_factory=list)
    keras: KerasResult | None = None
    notes: list[str] = field(default_factory=list)

    def variant(self, precision: str) -> VariantResult | None:
        return next((v for v in self.variants if v.precision == precision), None)


@dataclass(frozen=True)
class DetectorCell:
    """Face detector latency on one video frame: the SSD (resize + blob + forward + filter) at an
    input size, or a shipped BlazeFace model (letterbox + forward + decode + NMS + refinement)."""

    input_size: int
    threads: int
    latency: Latency
    detector: str = "ssd"


@dataclass
class DetectorResult:
    frame_wh: tuple[int, int]
    cells: list[DetectorCell] = field(default_factory=list)
    fixtures_dir: str | None = None
    faces_found: dict[str, dict[str, int]] = field(default_factory=dict)  # image -> size|name -> count


@dataclass
class PipelineResult:
    """End-to-end run(s) of the runtime in a fresh process (no TensorFlow ever imported there)."""

    model: str
    precision: str
    every: int
    det_size: int
    threads: int
    frames: int
    repeats: int
    fps: float
    fps_runs: list[float]
    stage_ms: dict[str, float]
    decode_only_ms: float
    peak_rss_mb: float
    tensorflow_imported: bool
    faces_classified: int


@dataclass(frozen=True)
class Target:
    """One speed goal: reported as pass / miss, never asserted."""

    name: str
    measured: float | None
    goal: float
    unit: str
    higher_is_better: bool

    @property
    def status(self) -> str:
        if self.measured is None:
            return "n/a"
        ok = self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal
        return "pass" if ok else "miss"


@dataclass
class BenchReport:
    environment: dict[str, Any]
    settings: dict[str, Any]
    models: list[ModelResult] = field(default_factory=list)
    detector: DetectorResult | None = None
    pipeline: list[PipelineResult] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = [{**asdict(t), "status": t.status} for t in self.targets]
        return d
