"""CSV cells that are safe to open in a spreadsheet (OWASP "CSV injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``+cmd|...``, ``-2+3``).
Every text cell the project writes to a CSV (file names, class names, labels, errors) goes through
:func:`escape_cell`, which prefixes such a cell with ``'`` (shown by spreadsheets, never run).
Numbers the project formats itself are not text cells and stay as they are. The prefix is
reversible: :func:`unescape_cell` gives back the original text, so files the project reads back
(the ETL manifest) round-trip exactly; a text that itself starts with quotes before a formula
character gets one more quote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def needs_escape(text: str) -> bool:
    return text.lstrip(QUOTE).startswith(FORMULA_START)


def escape_cell(value: Any) -> Any:
    """``'`` + ``value`` for a formula-leading string; anything else unchanged."""
    if isinstance(value, str) and needs_escape(value):
        return QUOTE + value
    return value


def unescape_cell(value: Any) -> Any:
    """The inverse of :func:`escape_cell` (for CSVs the project reads back)."""
    if isinstance(value, str) and value.startswith(QUOTE) and needs_escape(value[1:]):
        return value[1:]
    return value


def escape_row(values: Iterable[Any]) -> list[Any]:
    return [escape_cell(v) for v in values]


def escape_frame(df):
    """A copy of a pandas DataFrame with its text cells (and column names) escaped."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(escape_cell)
    out.columns = [escape_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def unescape_frame(df):
    """The inverse of :func:`escape_frame` on a DataFrame read back from a CSV."""
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype) in ("string", "str"):
            df[col] = df[col].map(unescape_cell)
    return df
