"""Placeholder HTML report (replaced by the full report module)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .sinks import SinkError
from .timeline import Timeline


def write_report(path: Path, record: dict[str, Any], timeline: Timeline) -> Path:
    body = f"<h1>{html.escape(str(record['verdict']))}</h1>"
    try:
        path.write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc}") from exc
    return path
