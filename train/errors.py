"""Training errors: subclasses of the runtime's EdgeDetectError, so every CLI prints one line.

They also subclass the built-in they replace (ValueError, FileNotFoundError), so callers that caught
those keep working. Anything else reaching the CLI is a bug and is shown with its traceback.
"""

from __future__ import annotations

from edge_detector.errors import EdgeDetectError


class TrainError(EdgeDetectError):
    """A training command cannot go on because of its input (user error, not a bug)."""

    exit_code = 1


class ConfigError(TrainError, ValueError):
    """An option or an input file holds a value training cannot use."""


class MissingFileError(TrainError, FileNotFoundError):
    """A file or folder the command needs is not there."""
