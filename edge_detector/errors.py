"""Error hierarchy: the CLI turns any EdgeDetectError into one line and a non-zero exit code."""

from __future__ import annotations


class EdgeDetectError(Exception):
    """Base class for every error the runtime reports to a user."""

    exit_code = 1


class UsageError(EdgeDetectError):
    """The command line asks for something contradictory (an output folder that holds the input)."""

    exit_code = 2


class SourceError(EdgeDetectError):
    """A video, image, camera or stream cannot be opened or decoded."""

    exit_code = 3


class LimitError(SourceError):
    """An input is over a documented limit (pixels, bytes, size); reported as such, not as corrupt."""


class ModelError(EdgeDetectError):
    """A model file is missing, unreadable or not usable."""

    exit_code = 4


class ModelContractError(ModelError):
    """The model's preprocessing contract is missing pieces or contradicts its graph."""


class ModelIntegrityError(ModelError):
    """A weights file does not match its expected SHA-256."""


class SinkError(EdgeDetectError):
    """An output (folder, CSV, video, report) cannot be written."""

    exit_code = 5


class ClusterError(EdgeDetectError):
    """Dask is missing, the scheduler cannot be reached, or workers cannot see the inputs."""

    exit_code = 6
