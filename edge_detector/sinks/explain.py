"""``--explain``: occlusion maps for the faces that decide a verdict, written once the run ends.

While frames stream by, only candidate crops are kept (a copy of the model-size crop each): the
most suspicious face of the ``count`` most suspicious frames, picked with the report's rule (at
most one per :func:`~edge_detector.timeline.thumbnail_gap_s`, so they are the report's suspicious
frames), plus the highest-P_fake face of each of the ``count`` most suspicious tracks. After the
run each gets a map (:func:`edge_detector.explain.occlusion_map`), an overlay PNG and an npz.
"""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic
from ..contract import ModelContract
from ..explain import FORWARD_PASSES, GRID, Classifier, blur_sigma, occlusion_map, patch_layout
from ..heatmap import encode_png, render_overlay
from ..results import ExplainedFace, ExplainRecord, RunResult
from ..timeline import thumbnail_gap_s
from ..types import FrameResult, VideoInfo
from .base import Sink, write_error

log = logging.getLogger(__name__)

DEFAULT_EXPLAIN = 6  # the report's number of suspicious frames
MAX_EXPLAIN = 50  # faces per kind (top frames, tracks): at most 100 maps, ~5,000 forward passes
FOLDER = "explain"


@dataclass(frozen=True, eq=False)
class Candidate:
    frame: int
    time_s: float
    face: int
    track: int
    p_fake: float
    label: str
    method: str
    crop_bgr: np.ndarray


class FaceSelector:
    """Streaming choice of the faces to explain; keeps at most ``2 * count`` crops."""

    def __init__(self, count: int, min_gap_s: float) -> None:
        self.count, self.min_gap_s = count, min_gap_s
        self.top: list[Candidate] = []
        self.tracks: dict[int, Candidate] = {}

    def offer(self, r: FrameResult) -> None:
        if not r.analysed or not len(r.faces) or r.crops_bgr is None:
            return
        best = r.faces.most_suspicious()
        if self._wants_top(best.p_fake, r.frame.time_s):
            near = [c for c in self.top if abs(c.time_s - r.frame.time_s) < self.min_gap_s]
            self.top = [c for c in self.top if c not in near] + [self._candidate(r, best.index)]
            self.top.sort(key=lambda c: (-c.p_fake, c.frame))
            del self.top[self.count :]
        for face in r.faces:
            if face.track < 0:
                continue
            held = self.tracks.get(face.track)
            if held is not None and held.p_fake >= face.p_fake:
                continue
            if held is None and len(self.tracks) >= self.count:
                weakest = min(self.tracks.values(), key=lambda c: (c.p_fake, -c.frame))
                if weakest.p_fake >= face.p_fake:
                    continue
                del self.tracks[weakest.track]
            self.tracks[face.track] = self._candidate(r, face.index)

    def _wants_top(self, p_fake: float, time_s: float) -> bool:
        """The report's thumbnail rule (:meth:`edge_detector.timeline.Timeline.wants`)."""
        if any(abs(c.time_s - time_s) < self.min_gap_s and c.p_fake >= p_fake for c in self.top):
            return False
        return len(self.top) < self.count or p_fake > min(c.p_fake for c in self.top)

    @staticmethod
    def _candidate(r: FrameResult, i: int) -> Candidate:
        f = r.faces[i]
        return Candidate(r.frame.index, r.frame.time_s, i, f.track, f.p_fake, f.label, f.method,
                         np.array(r.crops_bgr[i], copy=True))

    def chosen(self) -> list[tuple[str, Candidate]]:
        """``(reason, candidate)``: the top frames by P_fake, then track maxima not among them."""
        out = [("top", c) for c in self.top]
        seen = {(c.frame, c.face) for c in self.top}
        extra = sorted(self.tracks.values(), key=lambda c: (-c.p_fake, c.frame))
        return out + [("track", c) for c in extra if (c.frame, c.face) not in seen]


class ExplainSink(Sink):
    """``explain/``: one overlay PNG and one npz per explained face, listed in summary.json."""

    name = "explain"

    def __init__(self, folder: str | os.PathLike, classifier: Classifier,
                 count: int = DEFAULT_EXPLAIN) -> None:
        if not 1 <= count <= MAX_EXPLAIN:
            raise ValueError(f"count must be in [1, {MAX_EXPLAIN}], got {count}")
        self.folder, self.classifier, self.count = Path(folder), classifier, count
        self.selector: FaceSelector | None = None

    def files(self) -> list[Path]:
        """Maps an earlier run left here (their names depend on the faces, so: what exists)."""
        return sorted(self.folder.glob("frame*-face*.*")) if self.folder.is_dir() else []

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.selector = FaceSelector(self.count, thumbnail_gap_s(info))

    def write(self, result: FrameResult) -> None:
        self.selector.offer(result)

    def close(self, run: RunResult) -> None:
        if run.interrupted:
            run.warnings.append("explanations skipped: the run was interrupted")
            return
        try:
            self.folder.mkdir(exist_ok=True)
            for stale in self.folder.glob("frame*-face*.*"):  # an earlier (--force) run's maps
                if stale.suffix in (".png", ".npz"):
                    stale.unlink()
        except OSError as exc:
            raise write_error(self.folder, exc) from exc
        size = self.classifier.contract.input_size
        patch, _ = patch_layout(size)
        faces, t0 = [], time.perf_counter()
        for reason, c in self.selector.chosen():
            faces.append(self._explain(reason, c))
        ms = (time.perf_counter() - t0) * 1e3
        run.explain = ExplainRecord(
            grid=GRID, patch_px=patch, blur_sigma_px=round(blur_sigma(size), 2),
            forward_passes_per_face=FORWARD_PASSES, ms_per_face=ms / len(faces) if faces else 0.0,
            faces=tuple(faces), folder=self.folder.name)
        run.outputs[self.name] = self.folder
        log.info("explained %d faces in %.0f ms", len(faces), ms)

    def _explain(self, reason: str, c: Candidate) -> ExplainedFace:
        omap = occlusion_map(self.classifier, c.crop_bgr)
        stem = f"frame{c.frame:06d}-face{c.face}"
        png = encode_png(render_overlay(c.crop_bgr, omap))
        buf = io.BytesIO()
        np.savez_compressed(
            buf, heat=omap.heat, patch_drops=omap.patch_drops, p_occluded=omap.p_occluded,
            starts=omap.starts,
            patch=np.int64(omap.patch), p_fake=np.float32(omap.p_fake),
            run_p_fake=np.float32(c.p_fake), crop_bgr=c.crop_bgr, frame=np.int64(c.frame),
            face=np.int64(c.face), track=np.int64(c.track))
        for suffix, data in ((".png", png), (".npz", buf.getvalue())):
            path = self.folder / f"{stem}{suffix}"
            try:
                atomic.write_bytes(path, data)
            except OSError as exc:
                raise write_error(path, exc) from exc
        return ExplainedFace(
            frame=c.frame, time_s=c.time_s, face=c.face, track=c.track, p_fake=c.p_fake,
            label=c.label, method=c.method, reason=reason, peak_drop=omap.peak_drop,
            overlay=f"{self.folder.name}/{stem}.png", map=f"{self.folder.name}/{stem}.npz", png=png)
