"""report.html: one self-contained page (inline CSS, SVG and base64 JPEGs) that explains a verdict.

It opens offline and can be mailed as a single file; nothing in it points outside the page. The page
is the ``report.html`` template; this module turns the typed run result and timeline into its values.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..atomic import write_text
from ..contract import ModelContract
from ..errors import SinkError
from ..notices import SYNTHETIC_WARNING
from ..policy import FAKE, NO_FACE, UNCERTAIN, DecisionPolicy
from ..results import ExplainedFace, ExplainRecord, RunResult
from ..timeline import Timeline, TimelinePoint
from ..types import VideoInfo, VideoSummary
from ..values import finite_or_none as _num
from ..verdicts import display_method
from ..version import __version__
from . import htmlkit as hk
from . import svg

VERDICT_STYLE = {"FAKE": ("#c62828", "#fdecea"), "REAL": ("#2e7d32", "#e8f5e9"),
                 "UNCERTAIN": ("#a15c00", "#fff4e0"), "NO_FACE": ("#546e7a", "#eceff1")}
THRESHOLD_COLOR = "#3e4c59"


def write_report(path: Path, run: RunResult, timeline: Timeline) -> Path:
    """Render and replace ``path`` atomically, so a reader never sees half a page."""
    try:
        return write_text(path, render_report(run, timeline), errors="backslashreplace")
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc


def render_report(run: RunResult, timeline: Timeline) -> str:
    src, contract, s = run.source, run.contract, run.summary
    image = src.kind == "image"  # one frame: no timeline to draw
    return hk.environment().get_template("report.html").render(
        title=f"edge-detect: {s.verdict} - {src.name}",
        name=src.name,
        source_line=_source_line(src),
        banner=_banner(run),
        synthetic_warning=SYNTHETIC_WARNING if contract.synthetic_demo else None,
        warnings=[w for w in run.warnings if w != SYNTHETIC_WARNING],
        key_numbers=_key_numbers(run),
        image=image,
        timeline_chart=None if image else Markup(_timeline_chart(run, timeline)),
        thumbnails=_thumbnails(timeline, run.policy, run.explain),
        explained=_explained(run.explain, timeline),
        explain_note=EXPLAIN_NOTE if run.explain is not None else None,
        methods=Markup(_methods(s, contract)),
        tracks=Markup(_tracks(s)),
        model_card=_model_card(run),
        speed=Markup(_speed(run.stage_ms)),
        footer=_footer(),
    )


def _source_line(src: VideoInfo) -> str:
    parts = [f"{src.width}x{src.height}"]
    if src.kind != "image":
        parts.append(f"{hk.fmt(_num(src.fps), 2)} fps")
        if src.frame_count:
            parts.append(f"{src.frame_count} frames")
    parts.append(src.kind)
    return " · ".join(parts)


def _banner(run: RunResult) -> dict[str, Any]:
    s = run.summary
    fg, bg = VERDICT_STYLE.get(s.verdict, VERDICT_STYLE[NO_FACE])
    score = _num(s.score)
    if s.verdict == NO_FACE or score is None:
        what, score = "no face was found, so there is no verdict", None
    else:
        what = f"{s.aggregation} P_fake over every analysed face; {run.policy.describe()}"
        if s.verdict == UNCERTAIN:
            what += ("; the score lies between the model's REAL and FAKE thresholds, where "
                     "neither call reached its precision target on validation: check by eye")
        if s.verdict == FAKE and s.top_method:
            what += f"; most likely method: {display_method(s.top_method)}"
    if run.interrupted:
        what += " (run interrupted: covers only the frames read)"
    return {"verdict": s.verdict, "fg": fg, "bg": bg, "score": score, "what": what}


def _key_numbers(run: RunResult) -> dict[str, Any]:
    s, c = run.summary, run.contract
    model = f"{c.model_name or 'unknown'} ({c.architecture or 'unknown'})"
    band = run.policy.band
    p_fake = (f"{hk.fmt(band[0], 2)}-{hk.fmt(band[1], 2)}" if band
              else hk.fmt(run.policy.threshold, 2))
    thresholds = f"{p_fake} / {hk.fmt(_num(run.detector.conf_threshold), 2)}"
    method_label = "top method" if s.verdict == FAKE else "strongest method hint"
    return {
        "frames read": s.frames_read,
        f"frames analysed (every {run.every})": s.frames_analysed,
        "frames with faces": s.frames_with_faces,
        "faces classified": s.faces_classified,
        "mean P_fake": _num(s.mean_p_fake),
        "median P_fake": _num(s.median_p_fake),
        "frames judged FAKE": _pct(s.fake_frame_fraction),
        method_label: display_method(s.top_method) or "–",
        "speed (frames per second)": hk.fmt(_num(run.fps), 1),
        ("P_fake band REAL-FAKE / face detector" if band
         else "thresholds (P_fake / face detector)"): thresholds,
        "model": model,
        "trained on": c.trained_on or "unknown",
    }


def _pct(v: Any) -> str:
    v = _num(v)
    return "–" if v is None else f"{v * 100:.1f}%"


def _point_color(p: TimelinePoint) -> str:
    if p.label == UNCERTAIN:
        return VERDICT_STYLE[UNCERTAIN][0]
    return hk.class_color("original" if p.label != "FAKE" else p.method)


def _point_key(p: TimelinePoint) -> str:
    if p.label == UNCERTAIN:
        return "UNCERTAIN"
    return "original (REAL)" if p.label != "FAKE" else str(display_method(p.method))


def _timeline_chart(run: RunResult, timeline: Timeline) -> str:
    points, threshold = timeline.points, run.policy.threshold
    if not points:
        return '<p class="muted">no frame was analysed</p>'
    fps = _num(run.source.fps) or 0.0
    step = run.every / fps if fps > 0 else 0.0
    end = max(points[-1].time_s + step, (run.source.frame_count or 0) / fps if fps else 0.0, 1e-3)
    ax = svg.Axes((0.0, end), (0.0, 1.0))
    long = end >= 120
    fmt_t = (lambda t: f"{int(t // 60)}:{int(t % 60):02d}") if long else (lambda t: f"{t:g}")
    parts = [svg.frame(ax, svg.nice_ticks(0.0, end, 10), [0, 0.25, 0.5, 0.75, 1.0], fmt_t,
                       lambda v: f"{v:g}", "time (m:s)" if long else "time (s)", "P_fake")]
    parts += _gaps(ax, points, step)
    traces, trace = [], []
    for p in points:  # the trace breaks where the face disappears
        if p.p_fake is None:
            traces.append(trace)
            trace = []
        else:
            trace.append((ax.x(p.time_s), ax.y(p.p_fake)))
    traces.append(trace)
    parts += [svg.polyline(t, "#9aa5b1", cls="trace", width=1.2, opacity=0.8) for t in traces]
    band = run.policy.band
    cuts = {f"REAL below {band[0]:.2f}": band[0], f"FAKE from {band[1]:.2f}": band[1]} if band \
        else {f"threshold {threshold:.2f}": threshold}
    for value in cuts.values():
        parts.append(svg.hline(ax, value, color=THRESHOLD_COLOR, cls="threshold"))
    faces = [p for p in points if p.p_fake is not None]
    radius = 3.6 if len(faces) < 200 else 2.6 if len(faces) < 1000 else 1.8
    for p in faces:
        tip = f"frame {p.frame} · {p.time_s:.2f} s · P_fake {p.p_fake:.3f} · {p.label} {p.method}"
        parts.append(svg.circle(ax.x(p.time_s), ax.y(p.p_fake), radius, _point_color(p), cls="pt",
                                attrs={"data-frame": p.frame, "data-p": f"{p.p_fake:.4f}",
                                       "data-method": p.method, "data-faces": p.faces},
                                tooltip=tip))
    chart = svg.svg(ax, "".join(parts), "P_fake per analysed frame", cls="chart timeline")
    shown: dict[str, str] = {}
    for p in faces:
        shown.setdefault(_point_key(p), _point_color(p))
    order = ["original (REAL)", "UNCERTAIN", *map(display_method, run.contract.class_names)]
    colors = {k: shown[k] for k in sorted(shown, key=lambda k: order.index(k) if k in order else 99)}
    colors["no face"] = hk.GREY
    note = (f"One point per analysed frame with a face (highest P_fake in the frame); "
            f"{len(faces)} points, {len(points) - len(faces)} analysed frames without a face "
            "(grey bands). Hover a point for details.")
    lines = dict.fromkeys(cuts, THRESHOLD_COLOR)
    return chart + hk.legend(colors, lines) + f'<p class="chart-note">{hk.esc(note)}</p>'


def _gaps(ax: svg.Axes, points: list[TimelinePoint], step: float) -> list[str]:
    """Grey bands over runs of analysed frames without a face, plus one tick per such frame."""
    out, run = [], []
    for p in [*points, None]:
        if p is not None and p.p_fake is None:
            run.append(p)
            continue
        if run:
            x0, x1 = ax.x(run[0].time_s), ax.x(run[-1].time_s + step)
            out.append(svg.rect(x0, ax.y1, max(x1 - x0, 2.0), ax.y0 - ax.y1, hk.GREY, cls="gap",
                                attrs={"data-first": run[0].frame, "data-last": run[-1].frame,
                                       "data-frames": len(run)}, opacity=0.22))
            out += [svg.rect(ax.x(q.time_s) - 0.75, ax.y0 - 7, 1.5, 7, "#7b8794", cls="nf",
                             attrs={"data-frame": q.frame}) for q in run]
            run = []
    return out


def _thumbnails(timeline: Timeline, policy: DecisionPolicy,
                explain: ExplainRecord | None) -> list[dict[str, Any]]:
    out = []
    for rank, t in enumerate(timeline.thumbnails, 1):
        caption = (f"#{rank} · frame {t.frame} · {t.time_s:.2f} s · P_fake {t.p_fake:.3f}"
                   + (f" · {display_method(t.method)}" if policy.is_fake(t.p_fake) else ""))
        heat = [_heat(f) for f in (explain.faces if explain else ()) if f.frame == t.frame]
        out.append({"frame": t.frame, "src": hk.img_data_uri(t.jpeg), "caption": caption,
                    "heat": heat})
    return out


EXPLAIN_NOTE = (
    "Occlusion maps: each patch of the face crop the model saw was replaced by a blurred copy of "
    "itself, one at a time; warm colours mark where that lowered P_fake most (full colour = the "
    "drop on the bar). They show which regions the model's score depends on, not proof that "
    "those regions were manipulated, and they say nothing about faces or frames not shown.")


def _heat(f: ExplainedFace) -> dict[str, Any]:
    why = "most suspicious frames" if f.reason == "top" else f"highest P_fake of track #{f.track}"
    caption = (f"frame {f.frame} · face {f.face} · P_fake {f.p_fake:.3f} · largest drop "
               f"{f.peak_drop:.3f} ({why})")
    return {"frame": f.frame, "face": f.face, "src": hk.img_data_uri(f.png, "image/png"),
            "caption": caption, "file": f.overlay}


def _explained(explain: ExplainRecord | None, timeline: Timeline) -> list[dict[str, Any]]:
    """Explained faces whose frame has no thumbnail (track maxima, or N above the thumbnails)."""
    if explain is None:
        return []
    shown = {t.frame for t in timeline.thumbnails}
    return [_heat(f) for f in explain.faces if f.frame not in shown]


def _methods(s: VideoSummary, contract: ModelContract) -> str:
    if not s.method_share:
        return '<p class="muted">no face was judged FAKE</p>'
    shares = {display_method(m): v for m, v in s.method_share.items()}
    colors = {display_method(m): hk.class_color(m, contract.class_names) for m in s.method_share}
    return hk.bar_chart(shares, colors)


def _tracks(s: VideoSummary) -> str:
    tracks = sorted(s.tracks, key=lambda t: -t.faces)
    if not tracks:
        return '<p class="muted">no face tracks</p>'
    rows = [(f"#{t.track}", t.faces, _num(t.mean_p_fake), t.verdict) for t in tracks[:50]]
    hidden = len(tracks) - len(rows)
    more = f'<p class="muted small">{hidden} smaller tracks not shown</p>' if hidden else ""
    return hk.table(rows, ("track", "faces", "mean P_fake", "verdict"), numeric=(1, 2)) + more


def _speed(stages: dict[str, float]) -> str:
    if not stages:
        return '<p class="muted">no timings</p>'
    rows = [(k.removesuffix("_ms"), _num(v)) for k, v in stages.items()]
    return hk.table(rows, ("stage", "ms / frame"), numeric=(1,))


def _model_card(run: RunResult) -> dict[str, Any]:
    card: dict[str, Any] = {"file": run.model_path or "–"}
    for k, v in run.contract.to_dict().items():
        card[k] = ", ".join(map(str, v)) if isinstance(v, list) else (
            json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
    return card


def _footer() -> str:
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"edge-detect {__version__} · generated {when} · "
            "P_fake = 1 − P(original); a verdict is a model's estimate, not proof.")
