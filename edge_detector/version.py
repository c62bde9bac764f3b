"""The installed package version, for records and ``--version`` (a leaf: imports nothing of ours)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("edge-deepfake-detector")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
