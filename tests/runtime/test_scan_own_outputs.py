"""Issue 19, class 2: a folder scan never reads its own outputs (or any run's)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.media import write_video
from tests.runtime.test_hostile_cli import edge_detect


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    write_video(root / "a.mp4", frames=4, size=(160, 120))
    write_video(root / "sub" / "b.mp4", frames=5, size=(160, 120))
    return root


def _paths(out):
    return sorted(pd.read_csv(out / "summary.csv").path)


def test_scans_with_outputs_inside_the_tree_never_grow(tree, tiny_onnx):
    """The example: a second scan (another -o inside the tree) saw the first one's annotated.mp4."""
    for out in ("res1", "res2", "res1"):
        r = edge_detect(tree, "-r", "-m", tiny_onnx, "-o", tree / out, "--no-report")
        assert r.returncode == 0, r.stderr
        assert _paths(tree / out) == ["a.mp4", "sub/b.mp4"]


def test_a_single_run_folder_inside_the_tree_is_skipped(tree, tiny_onnx):
    """Another member: `edge-detect a.mp4 -o tree/sub/result` then a scan of the tree."""
    assert edge_detect(tree / "a.mp4", "-m", tiny_onnx, "-o", tree / "sub" / "result").returncode == 0
    assert (tree / "sub" / "result" / "annotated.mp4").is_file()
    out = tree.parent / "out"
    r = edge_detect(tree, "-r", "-m", tiny_onnx, "-o", out, "--no-video", "--no-report")
    assert r.returncode == 0, r.stderr
    assert _paths(out) == ["a.mp4", "sub/b.mp4"]


@pytest.mark.parametrize("where, word", [("same", "is"), ("above", "contains")])
def test_output_equal_to_or_above_the_scanned_folder_is_refused(tree, tiny_onnx, where, word):
    out = tree if where == "same" else tree.parent
    r = edge_detect(tree, "-r", "-m", tiny_onnx, "-o", out)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{word} the scanned folder" in lines[0] and "pass -o outside" in lines[0]
    assert not (out / "summary.csv").exists()


def test_scanning_an_output_folder_says_so(tree, tiny_onnx):
    out = tree.parent / "out"
    assert edge_detect(tree, "-m", tiny_onnx, "-o", out, "--no-report").returncode == 0
    r = edge_detect(out / "a", "-m", tiny_onnx, "-o", tree.parent / "again")
    assert r.returncode == 3 and "is an edge-detect output folder" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
