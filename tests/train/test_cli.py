"""``python -m train``: help on every command, the ETL through the CLI, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from train.cli import main
from train.manifest import read_manifest

from .conftest import REPO

COMMANDS = ("etl", "import-crops", "fit", "evaluate", "make-demo-data", "bench-decode")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: python -m train {command}")
    assert "--help" in out


def test_python_dash_m_train_runs_and_etl_never_imports_tensorflow(small_videos, tmp_path):
    top = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
    code = ("import sys; from train.cli import main; "
            f"rc = main(['-q', 'etl', {str(small_videos.root)!r}, '--out', "
            f"{str(tmp_path / 'data')!r}, '--frames-per-video', '1', '--size', '32', "
            "'--workers', '1']); "
            "assert 'tensorflow' not in sys.modules, 'ETL imported TensorFlow'; sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "failed videos: 0" in run.stdout
    df = read_manifest(tmp_path / "data")
    assert (df["frame"] == -1).sum() == 12


def test_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["-q", "fit", "--arch", "scratch", "--data", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no classes.json") and "\n" not in err
    assert main(["-q", "etl", str(tmp_path / "empty"), "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no 'original' videos" in err and "\n" not in err
    assert main(["fit", "--arch", "vgg", "--data", str(tmp_path), "--out", str(tmp_path)]) == 2


def test_make_demo_data_command(tmp_path, capsys):
    assert main(["-q", "make-demo-data", str(tmp_path / "demo"), "--identities", "2",
                 "--frames", "3", "--classes", "original,Face2Face"]) == 0
    assert "4 videos" in capsys.readouterr().out
    assert sorted(p.relative_to(tmp_path / "demo").as_posix()
                  for p in (tmp_path / "demo").rglob("*.mp4")) == [
        "Face2Face/000_001.mp4", "Face2Face/001_000.mp4", "original/000.mp4",
        "original/001.mp4"]


def test_bugs_keep_their_traceback_user_errors_do_not(tmp_path, monkeypatch, capsys):
    import train.synthetic
    from train.errors import ConfigError, TrainError

    def bug(*args, **kwargs):
        raise KeyError("a bug, not a user error")

    monkeypatch.setattr(train.synthetic, "make_dataset", bug)
    with pytest.raises(KeyError, match="a bug"):  # not swallowed into one line
        main(["-q", "make-demo-data", str(tmp_path / "demo")])

    def user_error(*args, **kwargs):
        raise ConfigError("classes must include 'original'")

    monkeypatch.setattr(train.synthetic, "make_dataset", user_error)
    assert main(["-q", "make-demo-data", str(tmp_path / "demo")]) == 1
    assert capsys.readouterr().err == "error: classes must include 'original'\n"
    assert issubclass(ConfigError, TrainError) and issubclass(ConfigError, ValueError)


def test_demo_is_not_a_train_command():
    from demo.cli import main as demo_main

    assert main(["demo", "--help"]) == 2  # moved to `python -m demo` (train never imports export)
    assert demo_main(["--help"]) == 0
