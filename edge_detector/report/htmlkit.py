"""HTML building blocks for self-contained reports (no network, no external assets).

The markup lives in jinja2 templates (``templates/kit.html``, ``base.html``); these functions render
its macros, so the detection report and the training evaluation report share one look. Every value is
escaped by the template engine; HTML passed in (``body``) is trusted as already built by these
functions. They return plain ``str``, so callers can concatenate pieces without re-escaping them.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

# One fixed colour per FaceForensics++ class, so a method has the same colour in every report.
CLASS_COLORS: dict[str, str] = {
    "original": "#2e9e5b",
    "DeepFakeDetection": "#c2185b",
    "Deepfakes": "#d9342b",
    "Face2Face": "#ef8a17",
    "FaceShifter": "#8d6e00",
    "FaceSwap": "#2f6fd6",
    "NeuralTextures": "#7b3fbf",
}
_SPARE_COLORS = ("#6d4c41", "#5c6bc0", "#9e9d24", "#ad1457", "#00838f", "#455a64")
GREY = "#9aa3ad"



@cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescaping, strict about missing values, ``fmt`` filter."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("edge_detector.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    return env


def _kit() -> Any:
    return environment().get_template("kit.html").module


def __getattr__(name: str) -> Any:
    if name == "CSS":  # the shared stylesheet, for readers of the old constant
        return resources.files("edge_detector.report").joinpath("templates/base.css").read_text("utf-8")
    raise AttributeError(name)


def esc(value: Any) -> str:
    """Text for HTML; ``None`` becomes an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers rounded for people; missing or non-finite values read as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def class_color(name: str | None, order: Sequence[str] = ()) -> str:
    """The fixed colour of a class; unknown classes get a spare colour by their position."""
    if name is None:
        return GREY
    if name in CLASS_COLORS:
        return CLASS_COLORS[name]
    index = list(order).index(name) if name in order else sum(map(ord, name))
    return _SPARE_COLORS[index % len(_SPARE_COLORS)]


def page(title: str, body: str, extra_css: str = "") -> str:
    """A complete HTML document with the shared stylesheet inlined."""
    return environment().get_template("base.html").render(
        title=title, body=Markup(body), extra_css=Markup(extra_css))


def section(title: str, body: str, cls: str = "card", id_: str | None = None) -> str:
    """A titled card."""
    return str(_kit().section(title, Markup(body), cls, id_))


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None,
          numeric: Sequence[int] = (), cls: str = "") -> str:
    """A table of escaped cells; columns listed in ``numeric`` are right-aligned."""
    return str(_kit().table([list(r) for r in rows], header, set(numeric), cls))


def kv_table(items: Mapping[str, Any], cls: str = "") -> str:
    """Two-column key/value table (e.g. a model card)."""
    return table(list(items.items()), ("field", "value"), cls=cls)


def stats(items: Mapping[str, Any], cls: str = "") -> str:
    """A grid of headline numbers: label under a large value."""
    return str(_kit().stats(items, cls))


def bar_chart(values: Mapping[str, float], colors: Mapping[str, str] | None = None,
              max_value: float = 1.0, percent: bool = True) -> str:
    """Horizontal CSS bars, one per label, in the given order."""
    bars = []
    for label, v in values.items():
        width = 0.0 if max_value <= 0 else max(0.0, min(1.0, float(v) / max_value)) * 100
        bars.append({"label": label, "width": width,
                     "color": (colors or {}).get(label) or class_color(label),
                     "shown": f"{float(v) * 100:.1f}%" if percent else fmt(float(v))})
    return str(_kit().bar_chart(bars))


def legend(colors: Mapping[str, str], lines: Mapping[str, str] | None = None) -> str:
    """Colour swatches with labels; ``lines`` adds dashed-line entries (e.g. a threshold)."""
    return str(_kit().legend(colors, lines or {}))


def warning(text: str) -> str:
    return str(_kit().warning(text))


def img_data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """Embeds image bytes, so the report opens offline and can be mailed as one file."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img(data: bytes, alt: str, mime: str = "image/jpeg", cls: str = "") -> str:
    return str(_kit().img(img_data_uri(data, mime), alt, cls))
