"""edge_detector.atomic: a reader sees the old file or the new one, never half of one."""

import json
import re

import pytest

from edge_detector import atomic
from edge_detector.values import finite_or_none


def test_write_text_bytes_json_and_no_part_left(tmp_path):
    assert atomic.write_text(tmp_path / "a" / "x.txt", "héllo") == tmp_path / "a" / "x.txt"
    assert (tmp_path / "a" / "x.txt").read_text(encoding="utf-8") == "héllo"
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    atomic.write_json(tmp_path / "c.json", {"b": 1, "a": [1.5]}, sort_keys=True)
    assert (tmp_path / "c.json").read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'
    assert json.loads((tmp_path / "c.json").read_text()) == {"a": [1.5], "b": 1}
    assert sorted(p.name for p in tmp_path.rglob("*.part")) == []


def test_a_failed_write_keeps_the_old_file_and_removes_the_part(tmp_path):
    target = tmp_path / "summary.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="half-way"), atomic.atomic_open(target) as fh:
        fh.write("new, half")
        raise RuntimeError("half-way")
    assert target.read_text() == "old\n"
    with pytest.raises(TypeError):
        atomic.write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv"]  # no part left behind


def test_part_names():
    assert atomic.part_path("d/report.html").as_posix() == "d/report.html.part"
    assert atomic.part_path("d/clip.mp4", keep_suffix=True).as_posix() == "d/clip.part.mp4"


def test_unique_part_names_keep_the_suffix_and_the_umask_mode(tmp_path):
    a = atomic.unique_part_path(tmp_path / "report.html")
    b = atomic.unique_part_path(tmp_path / "report.html")
    video = atomic.unique_part_path(tmp_path / "clip.mp4", keep_suffix=True)
    assert a != b and a.is_file() and b.is_file() and a.stat().st_size == 0
    assert re.fullmatch(r"report\.[0-9a-f]{8}\.html\.part", a.name)
    assert re.fullmatch(r"clip\.[0-9a-f]{8}\.part\.mp4", video.name)
    (tmp_path / "plain").write_text("")  # what open() makes under this umask
    assert a.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


def test_concurrent_writers_of_one_file_do_not_share_a_part(tmp_path):
    """Two writers interleave on one target: each keeps its own bytes, the last rename wins."""
    target = tmp_path / "model.onnx"
    with atomic.atomic_path(target) as first, atomic.atomic_path(target) as second:
        assert first != second
        first.write_bytes(b"first")
        second.write_bytes(b"second")
    assert target.read_bytes() == b"first"  # the outer block renamed last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0.0), (0.25, 0.25), (3, 3.0), (float("nan"), None), (float("inf"), None),
    (None, None), ("0.5", None), (True, None),
])
def test_finite_or_none(value, expected):
    assert finite_or_none(value) == expected
