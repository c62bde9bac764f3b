"""`make demo`: the shipped-model demo runs edge-detect like a user and reports each verdict."""

import json

from demo.real import Verdict, astronaut_video, format_verdicts, run_real_demo
from tests.media import read_video_stats


def test_astronaut_video_is_a_real_face_clip(tmp_path):
    n, fps, wh = read_video_stats(astronaut_video(tmp_path / "a.mp4", frames=10))
    assert (n, fps, wh) == (10, 25.0, (960, 540))


def test_demo_runs_edge_detect_and_reads_its_summary(tmp_path, tiny_onnx):
    verdicts = run_real_demo(tmp_path / "out", None, model=str(tiny_onnx))
    assert len(verdicts) == 1
    v = verdicts[0]
    summary = json.loads((tmp_path / "out" / "astronaut" / "summary.json").read_text())
    assert (v.verdict, v.score, v.frames) == (summary["verdict"], summary["score"], 75)
    assert v.truth == "original" and v.correct == (v.verdict == "REAL")
    assert v.wrong == (v.verdict == "FAKE")


def test_format_counts_correct_verdicts():
    vs = [Verdict("a", "original", "REAL", 0.1, None, 10, 1.0),
          Verdict("b", "Deepfakes", "REAL", 0.2, None, 10, 1.0),
          Verdict("c", "Face2Face", "FAKE", 0.9, "Face2Face", 10, 1.0),
          Verdict("d", "original", "NO_FACE", None, None, 10, 1.0)]
    text = format_verdicts(vs, "m")
    assert "2 of 3 videos judged correctly (0 UNCERTAIN, 1 on the wrong side" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:7]}
    assert rows["b"][-1] == "NO" and rows["c"][-2:] == ["Face2Face", "yes"] and rows["d"][-1] == "-"


def test_uncertain_is_neither_right_nor_on_the_wrong_side():
    vs = [Verdict("a", "original", "UNCERTAIN", 0.4, None, 10, 1.0),
          Verdict("b", "Deepfakes", "FAKE", 0.99, "Deepfakes", 10, 1.0),
          Verdict("c", "NeuralTextures", "UNCERTAIN", 0.3, None, 10, 1.0)]
    assert [(v.correct, v.wrong) for v in vs] == [(False, False), (True, False), (False, False)]
    text = format_verdicts(vs, "m")
    assert "1 of 3 videos judged correctly (2 UNCERTAIN, 0 on the wrong side" in text
    assert [line.split()[-1] for line in text.splitlines()[3:6]] == ["unsure", "yes", "unsure"]
