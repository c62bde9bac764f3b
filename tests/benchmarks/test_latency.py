"""``benchmarks/latency.py --quick`` end to end, checking every field of the JSON it writes.

Speed targets are reported by the benchmark, never asserted here.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.onnx_factory import tiny_model

REPO = Path(__file__).resolve().parents[2]
STAGES = {"decode_ms", "detect_ms", "crop_ms", "classify_ms", "overlay_ms", "encode_ms"}
THREADS, BATCHES, EVERY, DET_SIZES = (1, 2), (1, 8), (1, 3), (300, 224, 160)
BLAZEFACE = {"blazeface": 128, "blazeface-full": 192}


def run_bench(tmp_path: Path, *args: str, timeout: float = 240) -> dict:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "latency.py"), "--quick", "--json", str(out),
         "--cache-dir", str(tmp_path / "cache"), "--models-dir", str(tmp_path / "no-models"), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    titles = ["### Classifiers", "### End to end", "### Targets"]
    if "detector" not in args:
        titles.append("### Face detector")
    if "--keras" in args:
        titles.append("### Keras vs ONNX Runtime")
    assert all(t in proc.stdout for t in titles), proc.stdout
    return json.loads(out.read_text())


def check_percentiles(lat: dict) -> None:
    assert lat["n"] >= 1
    assert 0 < lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"]


def check_model(m: dict, precisions: set[str], threads=THREADS, batches=BATCHES) -> None:
    assert m["parameters"] > 0 and m["input_size"] > 0
    assert {v["precision"] for v in m["variants"]} == precisions
    for v in m["variants"]:
        assert v["size_bytes"] > 0 and v["macs"] > 0
        cells = {(c["threads"], c["batch"]): c for c in v["ort"]}
        assert set(cells) == {(t, b) for t in threads for b in batches}
        for c in cells.values():
            check_percentiles(c["per_image"])
            assert c["images_per_s"] > 0


def check_detector(d: dict) -> None:
    assert {(c["detector"], c["input_size"], c["threads"]) for c in d["cells"]} == {
        ("ssd", s, t) for s in DET_SIZES for t in THREADS} | {
        (n, s, t) for n, s in BLAZEFACE.items() for t in THREADS}
    for c in d["cells"]:
        check_percentiles(c["latency"])
    clip = d["faces_found"]["benchmark clip (1 face)"]
    assert set(clip) == {str(s) for s in DET_SIZES} | set(BLAZEFACE) and clip["300"] == 1


def check_pipeline(runs: list[dict], names: set[str], every=EVERY) -> None:
    assert {(p["model"], p["every"]) for p in runs} == {(n, e) for n in names for e in every}
    for p in runs:
        assert p["fps"] > 0 and p["frames"] > 0 and p["faces_classified"] > 0
        assert set(p["stage_ms"]) == STAGES and all(v >= 0 for v in p["stage_ms"].values())
        assert p["stage_ms"]["detect_ms"] > 0
        assert 0 < p["peak_rss_mb"] < 4096
        assert p["tensorflow_imported"] is False  # the runtime-only process


def check_targets(targets: list[dict]) -> None:
    assert len(targets) == 8
    for t in targets:
        assert t["status"] in ("pass", "miss", "n/a") and t["goal"] > 0


@pytest.mark.slow
def test_quick_run_with_tiny_models(tmp_path):
    a = tiny_model(tmp_path / "tiny32.onnx", size=32)
    b = tiny_model(tmp_path / "tiny64.onnx", size=64)
    report = run_bench(tmp_path, "--models", str(a), str(b), "--no-int8")
    assert report["environment"]["tensorflow_imported"] is False
    assert report["settings"]["quick"] is True
    assert [m["name"] for m in report["models"]] == ["tiny32", "tiny64"]
    for m in report["models"]:
        check_model(m, {"fp32"})
    check_detector(report["detector"])
    check_pipeline(report["pipeline"], {"tiny32", "tiny64"})
    check_targets(report["targets"])
    rss = next(t for t in report["targets"] if "RSS" in t["name"])
    assert rss["measured"] == max(p["peak_rss_mb"] for p in report["pipeline"])


@pytest.mark.slow
def test_default_path_builds_random_scratch_model_with_int8_and_keras(tmp_path):
    # Installed is enough: the benchmark imports them in its own process (importing TensorFlow
    # here too would cost seconds for nothing).
    for name in ("tensorflow", "tf2onnx"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} not installed")
    # One thread, --every 1 and batches 1 and 2 (Keras runs the 128 px CNN at ~30 ms/img, eager):
    # the full grid of cells is the quick run's to check (above); this one checks what is its own.
    batches = (1, 2)
    report = run_bench(tmp_path, "--arch", "scratch", "--random", "--keras", "--skip", "detector",
                       "--threads", "1", "--every", "1", "--batch", "1,2")
    (m,) = report["models"]
    assert m["architecture"] == "scratch" and m["random_weights"] is True
    check_model(m, {"fp32", "int8"}, threads=(1,), batches=batches)
    # Counted from the graph; equals the hand count of the scratch CNN at 128x128.
    assert all(v["macs"] == 91_816_832 for v in m["variants"])
    modes = {(c["mode"], c["batch"]) for c in m["keras"]["cells"]}
    assert modes == {(mode, b) for mode in ("predict", "tf.function", "eager") for b in batches}
    assert all(c["ort_speedup"] > 0 for c in m["keras"]["cells"])
    check_pipeline(report["pipeline"], {m["name"]}, every=(1,))
    assert report["detector"] is None
    check_targets(report["targets"])


@pytest.mark.slow
def test_default_path_times_the_shipped_models(tmp_path):
    from edge_detector.zoo import shipped_models

    shipped = {m.name for m in shipped_models()}
    if not {"scratch", "lite0"} <= shipped:
        pytest.skip(f"scratch and lite0 are not both shipped in this installation ({shipped})")
    report = run_bench(tmp_path, "--arch", "scratch", "lite0", "--no-int8", "--skip", "detector",
                       "--threads", "1", "--batch", "1", "--every", "1")
    assert [m["name"] for m in report["models"]] == ["scratch (shipped)", "lite0 (shipped)"]
    assert [m["architecture"] for m in report["models"]] == ["scratch", "lite0"]
    assert not any(m["random_weights"] for m in report["models"])
    for m in report["models"]:
        check_model(m, {"fp32"}, threads=(1,), batches=(1,))
    check_pipeline(report["pipeline"], {"scratch (shipped)", "lite0 (shipped)"}, every=(1,))
