"""The serve load check runs end to end on a small bound and finds the CLI's results."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytestmark = pytest.mark.slow


def test_serve_load_small(capsys):
    from benchmarks.serve_load import main

    code = main(["--uploads", "3", "--concurrency", "3", "--workers", "1", "--frames", "12",
                 "--size", "320x240", "--max-queue", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3/3 done" in out and "results identical to the CLI's: yes" in out
    assert "429s met (retried): " in out and "PROBLEM" not in out


def test_serve_load_refuses_unbounded_runs():
    from benchmarks.serve_load import main

    with pytest.raises(SystemExit) as exc:
        main(["--uploads", "5000"])
    assert exc.value.code == 2
