"""Inline-SVG chart primitives: data -> pixel mapping, axes with ticks, points, lines.

Charts are strings of SVG meant to sit inside an HTML page (no scripts, no external assets). Shapes
take ``cls`` and ``attrs`` so tests and readers can find them (``class="pt" data-frame="12"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .htmlkit import esc, legend


@dataclass(frozen=True)
class Axes:
    """A plot box inside a ``width`` x ``height`` viewBox, mapping data ranges to pixels."""

    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    width: int = 1000
    height: int = 280
    left: int = 52
    right: int = 18
    top: int = 14
    bottom: int = 40

    @property
    def x0(self) -> float:
        return float(self.left)

    @property
    def x1(self) -> float:
        return float(self.width - self.right)

    @property
    def y0(self) -> float:
        """Pixel row of the bottom of the plot box (``y_range[0]``)."""
        return float(self.height - self.bottom)

    @property
    def y1(self) -> float:
        return float(self.top)

    def x(self, v: float) -> float:
        lo, hi = self.x_range
        span = hi - lo or 1.0
        return self.x0 + (v - lo) / span * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        lo, hi = self.y_range
        span = hi - lo or 1.0
        return self.y0 - (v - lo) / span * (self.y0 - self.y1)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + step * 1e-6:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _attrs(cls: str = "", attrs: Mapping[str, Any] | None = None) -> str:
    parts = [f' class="{esc(cls)}"'] if cls else []
    parts += [f' {esc(k)}="{esc(v)}"' for k, v in (attrs or {}).items()]
    return "".join(parts)


def svg(axes: Axes, content: str, label: str, cls: str = "chart") -> str:
    """Wraps shapes in a responsive ``<svg>`` that scales to its container's width."""
    return (
        f'<svg{_attrs(cls)} viewBox="0 0 {axes.width} {axes.height}" width="100%" role="img" '
        f'aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>{content}</svg>"
    )


def frame(axes: Axes, x_ticks: Sequence[float], y_ticks: Sequence[float],
          x_fmt: Callable[[float], str] = str, y_fmt: Callable[[float], str] = str,
          x_label: str = "", y_label: str = "") -> str:
    """Plot background, grid lines, tick labels and axis titles."""
    out = [f'<rect x="{axes.x0:.1f}" y="{axes.y1:.1f}" width="{axes.x1 - axes.x0:.1f}" '
           f'height="{axes.y0 - axes.y1:.1f}" fill="#fbfcfd" stroke="#dde3ea"/>']
    for t in y_ticks:
        y = axes.y(t)
        out.append(f'<line x1="{axes.x0:.1f}" x2="{axes.x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#e8ecf1"/>')
        out.append(f'<text x="{axes.x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{esc(y_fmt(t))}</text>')
    for t in x_ticks:
        x = axes.x(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axes.y0:.1f}" y2="{axes.y0 + 4:.1f}" '
                   'stroke="#9aa5b1"/>')
        out.append(f'<text x="{x:.1f}" y="{axes.y0 + 17:.1f}" text-anchor="middle">{esc(x_fmt(t))}</text>')
    if x_label:
        out.append(f'<text x="{(axes.x0 + axes.x1) / 2:.1f}" y="{axes.height - 4}" '
                   f'text-anchor="middle">{esc(x_label)}</text>')
    if y_label:
        cy = (axes.y0 + axes.y1) / 2
        out.append(f'<text x="12" y="{cy:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {cy:.1f})">{esc(y_label)}</text>')
    return "".join(out)


def hline(axes: Axes, value: float, color: str = "#d9342b", dash: str = "6 4", cls: str = "",
          label: str = "") -> str:
    """A horizontal reference line across the plot (e.g. a decision threshold)."""
    y = axes.y(value)
    text = (f'<text x="{axes.x1 - 4:.1f}" y="{y - 5:.1f}" text-anchor="end" '
            f'style="fill:{esc(color)}">{esc(label)}</text>') if label else ""
    return (f'<line{_attrs(cls)} x1="{axes.x0:.1f}" x2="{axes.x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{esc(color)}" stroke-width="1.5" stroke-dasharray="{esc(dash)}"/>{text}')


def circle(cx: float, cy: float, r: float, fill: str, cls: str = "",
           attrs: Mapping[str, Any] | None = None, tooltip: str = "") -> str:
    title = f"<title>{esc(tooltip)}</title>" if tooltip else ""
    return (f'<circle{_attrs(cls, attrs)} cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" '
            f'fill="{esc(fill)}">{title}</circle>')


def rect(x: float, y: float, w: float, h: float, fill: str, cls: str = "",
         attrs: Mapping[str, Any] | None = None, opacity: float = 1.0) -> str:
    return (f'<rect{_attrs(cls, attrs)} x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
            f'height="{max(h, 0):.1f}" fill="{esc(fill)}" fill-opacity="{opacity:g}"/>')


def polyline(points: Sequence[tuple[float, float]], stroke: str, cls: str = "",
             width: float = 1.5, opacity: float = 1.0) -> str:
    """A line through pixel coordinates."""
    if len(points) < 2:
        return ""
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (f'<polyline{_attrs(cls)} points="{pts}" fill="none" stroke="{esc(stroke)}" '
            f'stroke-width="{width:g}" stroke-opacity="{opacity:g}" stroke-linejoin="round"/>')


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], colors: Mapping[str, str],
               x_label: str = "", y_label: str = "", y_range: tuple[float, float] | None = None,
               x_range: tuple[float, float] | None = None, title: str = "chart") -> str:
    """Lines (e.g. training curves or a ROC curve) with a legend below; empty series are skipped."""
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    if not xs:
        return '<p class="muted">no data</p>'
    xr = x_range or (min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1)
    yr = y_range or (min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1)
    ax = Axes(xr, yr)
    body = frame(ax, nice_ticks(*xr), nice_ticks(*yr), _short, _short, x_label, y_label)
    for name, pts in series.items():
        body += polyline([(ax.x(x), ax.y(y)) for x, y in pts], colors.get(name, "#3e4c59"),
                         cls="series", width=2)
    return svg(ax, body, title) + legend({k: colors.get(k, "#3e4c59") for k in series})


def _short(v: float) -> str:
    return f"{v:g}"
