"""The HTML report (``report.html``) and the pieces other reports reuse (htmlkit, svg).

Loaded only when a report is written: importing it pulls in jinja2 and the templates.
"""

from __future__ import annotations

from .page import render_report, write_report

__all__ = ["render_report", "write_report"]
