"""The import contracts in pyproject.toml hold, and `lint-imports` really fails when one is broken.

Each broken case copies the packages and pyproject.toml into tmp_path, adds one reversed import and
runs the same command as `make test` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("edge_detector", "train", "export", "demo")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy wins over the editable install
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def copy_project(dst: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
    shutil.copy(REPO / "pyproject.toml", dst / "pyproject.toml")
    return dst


def test_contracts_are_kept_today():
    res = lint_imports(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert f"{len(config['tool']['importlinter']['contracts'])} kept, 0 broken" in res.stdout


def test_every_runtime_module_has_a_layer():
    """A module left out of the layers contract would escape the check without anyone noticing."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c.get("containers") == ["edge_detector"])
    named = {m.strip().strip("()") for layer in layers for m in layer.split("|")}
    runtime = REPO / "edge_detector"
    modules = {p.stem for p in runtime.glob("*.py")} | {p.parent.name for p in runtime.glob("*/__init__.py")}
    assert modules - {"__init__"} - named == set()


@pytest.mark.parametrize(("module", "line", "broken"), [
    # a layer imports upwards (types -> cli would also close a cycle through scan: two contracts)
    ("edge_detector/types.py", "from . import runner", "Runtime layers"),
    ("edge_detector/report/page.py", "from .. import runner", "Runtime layers"),  # the old cycle
    ("edge_detector/cluster.py", "from .scan import rows", "Runtime layers"),  # the old Dask cycle
    ("edge_detector/cluster_worker.py", "from . import cluster", "Runtime layers"),
    ("edge_detector/scan/worker.py", "from . import folder", "Folder scan"),
    ("edge_detector/sources.py", "import tensorflow", "never imports training, export or TensorFlow"),
    ("edge_detector/faces.py", "import train.layout", "never imports training, export or TensorFlow"),
    ("train/fit.py", "import export.parity", "export may import train, never the reverse"),
    ("edge_detector/serve/db.py", "from . import api", "Web server"),
    ("edge_detector/runner.py", "import fastapi", "Only the web server imports the web stack"),
])
def test_a_reversed_import_fails_the_check(tmp_path, module, line, broken):
    root = copy_project(tmp_path)
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # deliberately reversed\n",
                    encoding="utf-8")
    res = lint_imports(root)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 broken" in res.stdout
    broken_lines = [ln for ln in res.stdout.splitlines() if ln.rstrip().endswith("BROKEN")]
    assert len(broken_lines) == 1 and broken in broken_lines[0], res.stdout
    assert module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") in res.stdout
