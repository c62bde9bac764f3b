"""Draws face boxes, verdict labels and a header line onto frames (configured once, called per frame)."""

from __future__ import annotations

import cv2
import numpy as np

from .types import FrameResult
from .verdicts import FAKE, UNCERTAIN, display_method

GREEN = (60, 190, 60)
RED = (40, 40, 230)
AMBER = (0, 150, 235)
GREY = (160, 160, 160)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def face_label(label: str, p_fake: float, method: str) -> str:
    """``FAKE 0.93 NeuralTextures`` / ``REAL 0.07``: the score shown is always P_fake."""
    return (f"{label} {p_fake:.2f} {display_method(method)}" if label == FAKE
            else f"{label} {p_fake:.2f}")


class Annotator:
    """Scales line widths and fonts to the frame size once, then draws in place."""

    def __init__(self, width: int, height: int) -> None:
        self.scale = max(0.4, min(width, height) / 720.0)
        self.thickness = max(1, int(round(2 * self.scale)))
        self.font = cv2.FONT_HERSHEY_SIMPLEX
        self.font_scale = 0.6 * self.scale

    def _text(self, image: np.ndarray, text: str, x: int, y: int, bg: tuple[int, int, int]) -> None:
        (tw, th), base = cv2.getTextSize(text, self.font, self.font_scale, self.thickness)
        h, w = image.shape[:2]
        x = int(min(max(x, 0), max(w - tw - 4, 0)))
        y = int(min(max(y, th + base + 4), h - 1))
        cv2.rectangle(image, (x, y - th - base - 4), (x + tw + 4, y), bg, cv2.FILLED)
        cv2.putText(image, text, (x + 2, y - base - 2), self.font, self.font_scale, WHITE,
                    self.thickness, cv2.LINE_AA)

    def draw(self, image_bgr: np.ndarray, result: FrameResult, header: str | None = None) -> None:
        """Boxes green (REAL), amber (UNCERTAIN) or red (FAKE); carried-over boxes from skipped
        frames drawn the same."""
        for face in result.faces:
            color = {FAKE: RED, UNCERTAIN: AMBER}.get(face.label, GREEN)
            x1, y1, x2, y2 = (int(round(c)) for c in face.xyxy)
            cv2.rectangle(image_bgr, (x1, y1), (x2, y2), color, self.thickness)
            text = face_label(face.label, face.p_fake, face.method)
            if face.track >= 0:
                text = f"#{face.track} {text}"
            self._text(image_bgr, text, x1, y1 - 2, color)
        if header:
            self._text(image_bgr, header, 0, 0, BLACK)
