"""Tiny HTML building blocks for self-contained reports (no network, no external assets).

Every function returns a string of HTML and escapes the text it is given, so callers can glue the
pieces together without thinking about escaping. Shared by the detection report and the training
evaluation report.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#1f2933;
 font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px;color:#323f4b}
.muted{color:#616e7c}.small{font-size:12px}
.card{background:#fff;border:1px solid #e1e6ec;border-radius:10px;padding:18px 20px;margin:16px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px}
.stat{background:#f7f9fb;border:1px solid #e8ecf1;border-radius:8px;padding:10px 12px}
.stat .v{font-size:18px;font-weight:600;overflow-wrap:anywhere}
.stat .k{font-size:12px;color:#616e7c}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #edf0f4;vertical-align:top}
th{background:#f7f9fb;font-weight:600;color:#3e4c59}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff6e0;border:1px solid #f0c36d;color:#7a4d00;border-radius:8px;
 padding:10px 14px;margin:12px 0}
.bars{display:flex;flex-direction:column;gap:6px}
.bar{display:grid;grid-template-columns:170px 1fr 56px;align-items:center;gap:10px}
.bar .track{background:#edf0f4;border-radius:4px;height:14px;overflow:hidden}
.bar .fill{height:100%;border-radius:4px}
.bar .val{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;
 vertical-align:baseline}
.dash{display:inline-block;width:18px;border-top:2px dashed;margin-right:6px;vertical-align:middle}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:12px;color:#3e4c59;margin-top:6px}
svg text{font:11px -apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#616e7c}
figure{margin:0}figure img{width:100%;border-radius:6px;display:block}
figcaption{font-size:12px;color:#3e4c59;margin-top:4px}
footer{font-size:12px;color:#7b8794;margin-top:24px}
"""


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
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}{extra_css}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def section(title: str, body: str, cls: str = "card", id_: str | None = None) -> str:
    """A titled card."""
    ident = f' id="{esc(id_)}"' if id_ else ""
    return f'<section class="{esc(cls)}"{ident}><h2>{esc(title)}</h2>{body}</section>'


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None,
          numeric: Sequence[int] = (), cls: str = "") -> str:
    """A table of escaped cells; columns listed in ``numeric`` are right-aligned."""
    num = set(numeric)

    def cell(tag: str, i: int, v: Any) -> str:
        css = ' class="num"' if i in num else ""
        return f"<{tag}{css}>{esc(fmt(v))}</{tag}>"

    head = "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    css = f' class="{esc(cls)}"' if cls else ""
    return f"<table{css}><thead>{head}</thead><tbody>{body}</tbody></table>"


def kv_table(items: Mapping[str, Any], cls: str = "") -> str:
    """Two-column key/value table (e.g. a model card)."""
    return table(list(items.items()), ("field", "value"), cls=cls)


def stats(items: Mapping[str, Any], cls: str = "") -> str:
    """A grid of headline numbers: label under a large value."""
    cells = "".join(
        f'<div class="stat"><div class="v">{esc(fmt(v))}</div><div class="k">{esc(k)}</div></div>'
        for k, v in items.items()
    )
    return f'<div class="grid {esc(cls)}">{cells}</div>'


def bar_chart(values: Mapping[str, float], colors: Mapping[str, str] | None = None,
              max_value: float = 1.0, percent: bool = True) -> str:
    """Horizontal CSS bars, one per label, in the given order."""
    rows = []
    for label, v in values.items():
        width = 0.0 if max_value <= 0 else max(0.0, min(1.0, float(v) / max_value)) * 100
        color = (colors or {}).get(label) or class_color(label)
        shown = f"{float(v) * 100:.1f}%" if percent else fmt(float(v))
        rows.append(
            f'<div class="bar" data-label="{esc(label)}"><span>{esc(label)}</span>'
            f'<div class="track"><div class="fill" style="width:{width:.1f}%;background:{esc(color)}">'
            f'</div></div><span class="val">{esc(shown)}</span></div>'
        )
    return f'<div class="bars">{"".join(rows)}</div>'


def legend(colors: Mapping[str, str], lines: Mapping[str, str] | None = None) -> str:
    """Colour swatches with labels; ``lines`` adds dashed-line entries (e.g. a threshold)."""
    items = "".join(
        f'<span><i class="swatch" style="background:{esc(c)}"></i>{esc(k)}</span>'
        for k, c in colors.items()
    ) + "".join(
        f'<span><i class="dash" style="border-color:{esc(c)}"></i>{esc(k)}</span>'
        for k, c in (lines or {}).items()
    )
    return f'<div class="legend">{items}</div>'


def warning(text: str) -> str:
    return f'<div class="warn">{esc(text)}</div>'


def img_data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """Embeds image bytes, so the report opens offline and can be mailed as one file."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img(data: bytes, alt: str, mime: str = "image/jpeg", cls: str = "") -> str:
    css = f' class="{esc(cls)}"' if cls else ""
    return f'<img{css} alt="{esc(alt)}" src="{img_data_uri(data, mime)}">'
