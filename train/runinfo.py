"""Provenance recorded with every run: git commit, library versions, time."""

from __future__ import annotations

import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit(repo: Path = REPO) -> str | None:
    """HEAD commit (with ``-dirty`` if the tree has changes), or None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head or None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    return {
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "versions": {d: _version(d) for d in ("tensorflow-cpu", "tensorflow", "keras",
                                              "opencv-python", "numpy")},
    }


def is_synthetic(*records: dict) -> bool:
    """Whether any run record (config.json, run.json, etl_config.json, a contract dict) marks
    its data as synthetic: the flag that makes a model a demo model."""
    for r in records:
        if r.get("synthetic") or r.get("synthetic_demo"):
            return True
        contract = r.get("contract")
        if isinstance(contract, dict) and contract.get("synthetic_demo"):
            return True
    return False
