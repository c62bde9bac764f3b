"""report.html: one self-contained page (inline CSS, SVG and base64 JPEGs) that explains a verdict.

It opens offline and can be mailed as a single file; nothing in it points outside the page. The page
is the ``report.html`` template; this module turns the run's record and timeline into its values.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..atomic import write_text
from ..errors import SinkError
from ..notices import SYNTHETIC_WARNING
from ..timeline import Timeline, TimelinePoint
from ..values import finite_or_none as _num
from . import htmlkit as hk
from . import svg

VERDICT_STYLE = {"FAKE": ("#c62828", "#fdecea"), "REAL": ("#2e7d32", "#e8f5e9"),
                 "NO_FACE": ("#546e7a", "#eceff1")}
THRESHOLD_COLOR = "#3e4c59"
DEFAULT_THRESHOLD = 0.5  # only for records written before the threshold was recorded


def write_report(path: Path, record: dict[str, Any], timeline: Timeline) -> Path:
    """Render and replace ``path`` atomically, so a reader never sees half a page."""
    try:
        return write_text(path, render_report(record, timeline), errors="backslashreplace")
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc


def render_report(record: dict[str, Any], timeline: Timeline) -> str:
    src = record.get("source", {})
    contract = record.get("model", {}).get("contract", {})
    name = src.get("name", "source")
    image = src.get("kind") == "image"  # one frame: no timeline to draw
    threshold = _threshold(record)
    return hk.environment().get_template("report.html").render(
        title=f"edge-detect: {record.get('verdict', '')} - {name}",
        name=name,
        source_line=_source_line(src),
        banner=_banner(record),
        synthetic_warning=SYNTHETIC_WARNING if contract.get("synthetic_demo") else None,
        warnings=[w for w in record.get("warnings", []) if w != SYNTHETIC_WARNING],
        key_numbers=_key_numbers(record, contract),
        image=image,
        timeline_chart=None if image else Markup(_timeline_chart(record, timeline, contract, threshold)),
        thumbnails=_thumbnails(timeline, threshold),
        methods=Markup(_methods(record, contract)),
        tracks=Markup(_tracks(record)),
        model_card=_model_card(record, contract),
        speed=Markup(_speed(record)),
        footer=_footer(record),
    )


def _threshold(r: dict[str, Any]) -> float:
    """The run's threshold; 0 is a threshold like any other (it used to fall back to 0.5)."""
    value = _num(r.get("threshold"))
    return DEFAULT_THRESHOLD if value is None else value


def _source_line(src: dict[str, Any]) -> str:
    parts = [f"{src.get('width', '?')}x{src.get('height', '?')}"]
    if src.get("kind") != "image":
        parts.append(f"{hk.fmt(_num(src.get('fps')), 2)} fps")
        if src.get("frame_count"):
            parts.append(f"{src['frame_count']} frames")
    parts.append(str(src.get("kind", "")))
    return " · ".join(parts)


def _banner(r: dict[str, Any]) -> dict[str, Any]:
    verdict = str(r.get("verdict", "NO_FACE"))
    fg, bg = VERDICT_STYLE.get(verdict, VERDICT_STYLE["NO_FACE"])
    score = _num(r.get("score"))
    if verdict == "NO_FACE" or score is None:
        what, score = "no face was found, so there is no verdict", None
    else:
        what = (f"{r.get('aggregation', 'mean')} P_fake over every analysed face; "
                f"FAKE at or above {hk.fmt(_num(r.get('threshold')), 2)}")
        if verdict == "FAKE" and r.get("top_method"):
            what += f"; most likely method: {r['top_method']}"
    if r.get("interrupted"):
        what += " (run interrupted: covers only the frames read)"
    return {"verdict": verdict, "fg": fg, "bg": bg, "score": score, "what": what}


def _key_numbers(r: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    f = r.get("frames", {})
    det = r.get("detector", {})
    model = f"{contract.get('model_name', 'unknown')} ({contract.get('architecture', 'unknown')})"
    thresholds = f"{hk.fmt(_num(r.get('threshold')), 2)} / {hk.fmt(_num(det.get('conf_threshold')), 2)}"
    method_label = "top method" if r.get("verdict") == "FAKE" else "strongest method hint"
    return {
        "frames read": f.get("read"),
        f"frames analysed (every {f.get('every', 1)})": f.get("analysed"),
        "frames with faces": f.get("with_faces"),
        "faces classified": f.get("faces_classified"),
        "mean P_fake": _num(r.get("mean_p_fake")),
        "median P_fake": _num(r.get("median_p_fake")),
        "frames judged FAKE": _pct(r.get("fake_frame_fraction")),
        method_label: r.get("top_method") or "–",
        "speed (frames per second)": hk.fmt(_num(r.get("speed", {}).get("fps")), 1),
        "thresholds (P_fake / face detector)": thresholds,
        "model": model,
        "trained on": contract.get("trained_on", "unknown"),
    }


def _pct(v: Any) -> str:
    v = _num(v)
    return "–" if v is None else f"{v * 100:.1f}%"


def _point_color(p: TimelinePoint) -> str:
    return hk.class_color("original" if p.label != "FAKE" else p.method)


def _timeline_chart(r: dict[str, Any], timeline: Timeline, contract: dict[str, Any],
                    threshold: float) -> str:
    points = timeline.points
    if not points:
        return '<p class="muted">no frame was analysed</p>'
    src = r.get("source", {})
    fps = _num(src.get("fps")) or 0.0
    step = (r.get("frames", {}).get("every", 1) / fps) if fps > 0 else 0.0
    end = max(points[-1].time_s + step, (src.get("frame_count") or 0) / fps if fps else 0.0, 1e-3)
    ax = svg.Axes((0.0, end), (0.0, 1.0))
    long = end >= 120
    fmt_t = (lambda t: f"{int(t // 60)}:{int(t % 60):02d}") if long else (lambda t: f"{t:g}")
    parts = [svg.frame(ax, svg.nice_ticks(0.0, end, 10), [0, 0.25, 0.5, 0.75, 1.0], fmt_t,
                       lambda v: f"{v:g}", "time (m:s)" if long else "time (s)", "P_fake")]
    parts += _gaps(ax, points, step)
    runs, run = [], []
    for p in points:  # the trace breaks where the face disappears
        if p.p_fake is None:
            runs.append(run)
            run = []
        else:
            run.append((ax.x(p.time_s), ax.y(p.p_fake)))
    runs.append(run)
    parts += [svg.polyline(run, "#9aa5b1", cls="trace", width=1.2, opacity=0.8) for run in runs]
    parts.append(svg.hline(ax, threshold, color=THRESHOLD_COLOR, cls="threshold"))
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
        key = "original (REAL)" if p.label != "FAKE" else str(p.method)
        shown.setdefault(key, _point_color(p))
    order = ["original (REAL)", *contract.get("class_names", [])]
    colors = {k: shown[k] for k in sorted(shown, key=lambda k: order.index(k) if k in order else 99)}
    colors["no face"] = hk.GREY
    note = (f"One point per analysed frame with a face (highest P_fake in the frame); "
            f"{len(faces)} points, {len(points) - len(faces)} analysed frames without a face "
            "(grey bands). Hover a point for details.")
    lines = {f"threshold {threshold:.2f}": THRESHOLD_COLOR}
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


def _thumbnails(timeline: Timeline, threshold: float) -> list[dict[str, Any]]:
    out = []
    for rank, t in enumerate(timeline.thumbnails, 1):
        caption = (f"#{rank} · frame {t.frame} · {t.time_s:.2f} s · P_fake {t.p_fake:.3f}"
                   + (f" · {t.method}" if t.p_fake >= threshold else ""))
        out.append({"frame": t.frame, "src": hk.img_data_uri(t.jpeg), "caption": caption})
    return out


def _methods(r: dict[str, Any], contract: dict[str, Any]) -> str:
    share = r.get("method_share") or {}
    if not share:
        return '<p class="muted">no face was judged FAKE</p>'
    names = contract.get("class_names", [])
    colors = {m: hk.class_color(m, names) for m in share}
    return hk.bar_chart(share, colors)


def _tracks(r: dict[str, Any]) -> str:
    tracks = sorted(r.get("tracks", []), key=lambda t: -t.get("faces", 0))
    if not tracks:
        return '<p class="muted">no face tracks</p>'
    rows = [(f"#{t['track']}", t["faces"], _num(t["mean_p_fake"]), t["verdict"]) for t in tracks[:50]]
    hidden = len(tracks) - len(rows)
    more = f'<p class="muted small">{hidden} smaller tracks not shown</p>' if hidden else ""
    return hk.table(rows, ("track", "faces", "mean P_fake", "verdict"), numeric=(1, 2)) + more


def _speed(r: dict[str, Any]) -> str:
    stages = r.get("speed", {}).get("stage_ms_per_frame", {})
    if not stages:
        return '<p class="muted">no timings</p>'
    rows = [(k.removesuffix("_ms"), _num(v)) for k, v in stages.items()]
    return hk.table(rows, ("stage", "ms / frame"), numeric=(1,))


def _model_card(r: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = {"file": r.get("model", {}).get("path") or "–"}
    for k, v in contract.items():
        card[k] = ", ".join(map(str, v)) if isinstance(v, list) else (
            json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
    return card


def _footer(r: dict[str, Any]) -> str:
    tool = r.get("tool", {})
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"{tool.get('name', 'edge-detect')} {tool.get('version', '')} · generated {when} · "
            "P_fake = 1 − P(original); a verdict is a model's estimate, not proof.")
