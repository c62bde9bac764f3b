"""Crop geometry: where a model's training crops lie relative to the runtime detector's face box.

A model trained on crops made by another recipe (e.g. tight Haar boxes) must see, at run time, the
same part of the face. ``CropGeometry`` says how to turn an SSD box into that crop: scale the box,
shift its centre, keep it square or not. It travels in the model contract; the default reproduces
the project's own crop (a square 1.3x the box, centred), so older models keep working unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_MARGIN = 1.3
# Bounds that no sane crop leaves: a crop much smaller than the face loses it, a much larger one
# is mostly background, and a centre shifted by more than a box size is another object.
SCALE_RANGE = (0.25, 4.0)
MAX_SHIFT = 1.0


@dataclass(frozen=True)
class CropGeometry:
    """Crop window relative to a detector box of width ``w`` and height ``h``.

    Centre: box centre + (``shift_x`` * w, ``shift_y`` * h). Size: ``scale`` * max(w, h) on both
    sides when ``square`` (the crop is never distorted), else (``scale`` * w, ``scale`` * h).
    """

    scale: float = DEFAULT_MARGIN
    shift_x: float = 0.0
    shift_y: float = 0.0
    square: bool = True

    def __post_init__(self) -> None:
        for name in ("scale", "shift_x", "shift_y"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"crop geometry {name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        lo, hi = SCALE_RANGE
        if not lo <= self.scale <= hi:
            raise ValueError(f"crop geometry scale must be in [{lo}, {hi}], got {self.scale}")
        for name in ("shift_x", "shift_y"):
            if abs(getattr(self, name)) > MAX_SHIFT:
                raise ValueError(f"crop geometry {name} must be in [-{MAX_SHIFT}, {MAX_SHIFT}], "
                                 f"got {getattr(self, name)}")
        if not isinstance(self.square, bool):
            raise ValueError(f"crop geometry square must be true or false, got {self.square!r}")

    @property
    def is_default(self) -> bool:
        return self == CropGeometry()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> CropGeometry:
        """From JSON; unknown keys are an error (a typo must not silently fall back)."""
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ValueError(f"crop geometry must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"crop geometry has unknown keys {unknown}")
        return cls(**d)


def as_geometry(geometry: CropGeometry | float | int) -> CropGeometry:
    """A ``CropGeometry``, or a bare margin (the historical API) as a centred square crop."""
    if isinstance(geometry, CropGeometry):
        return geometry
    return CropGeometry(scale=geometry)
