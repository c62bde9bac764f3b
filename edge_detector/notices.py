"""User-facing notices shared by the runner, the CLI, the folder scan and the reports.

They live below every module that shows them, so the report does not import the runner.
"""

from __future__ import annotations

SYNTHETIC_WARNING = (
    "this model was trained on synthetic demo data: it detects the demo's synthetic edits, "
    "not real deepfakes"
)
