"""Reading numbers back from records (summary.json, CSV cells) for display."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite int/float; ``None`` for NaN, inf, text, bool or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
