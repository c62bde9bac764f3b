"""evaluate reports every compression level that degrade.json lists (no ffmpeg needed here)."""

import cv2
import numpy as np

from edge_detector.atomic import write_json
from tests.onnx_factory import tiny_model
from train.degrade import DegradeRecord, variant_dir
from train.manifest import DONE, OK, ManifestRow, ManifestWriter


def _data(root, n=12):
    """Originals redder, fakes bluer (the tiny model rule); crf23 washes the colour out, crf40
    inverts it (so a level scored on the wrong files shows)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    with ManifestWriter(root) as w:
        for i in range(n):
            cls = "original" if i % 2 == 0 else "Deepfakes"
            img = np.full((32, 32, 3), 128, np.uint8)
            shift = int(rng.integers(20, 80))
            img[..., 2 if cls == "original" else 0] += shift  # BGR: red or blue
            rel = f"test/{cls}/c{i}.png"
            for prefix, k in (("", 1.0), (variant_dir(23) + "/", 0.6), (variant_dir(40) + "/", -0.3)):
                path = root / prefix / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                washed = (128 + (img.astype(float) - 128) * k).round().astype(np.uint8)
                washed[0, 0] = (i * 7) % 255  # keep every crop distinct
                cv2.imwrite(str(path), washed)
            base = dict(video=f"v{i}", cls=cls, group=f"v{i}", split="test")
            w.write_video([ManifestRow(**base, frame=0, crop=rel, status=OK),
                           ManifestRow(**base, frame=-1, status=DONE)])
    (root / "classes.json").write_text('["original", "Deepfakes"]')
    rec = DegradeRecord([23, 40], [64, 192], 32, 0, "libx264", "medium", "intra", "ffmpeg test",
                        {"crf23": variant_dir(23), "crf40": variant_dir(40)}, {"test": n})
    write_json(root / "degrade.json", rec.to_json())


def test_every_level_is_scored_with_its_own_crops(tmp_path):
    from train.evaluate import evaluate

    data = tmp_path / "data"
    _data(data)
    model = tiny_model(tmp_path / "m.onnx", 32, classes=("original", "Deepfakes"))
    res = evaluate(model, data, "test", tmp_path / "rep", batch_size=8, progress=False, jpeg=())
    comp = res.metrics["compression"]
    assert list(comp) == ["c23", "crf23", "crf40", "protocol"]
    assert comp["c23"]["auc"] == res.metrics["binary_frame"]["auc"] == 1.0
    assert comp["crf40"]["calls"]["original"]["n"] == 6
    # each level is scored on its own files: recompute crf40's calls from them directly
    from edge_detector.classifier import OnnxClassifier

    clf = OnnxClassifier(model)
    for level, prefix in (("c23", ""), ("crf40", variant_dir(40) + "/")):
        for cls in ("original", "Deepfakes"):
            files = sorted((data / prefix / "test" / cls).glob("*.png"))
            p_fake = 1 - clf.predict(np.stack([cv2.imread(str(f)) for f in files]))[:, 0]
            expected = round(float(np.mean(p_fake >= comp[level]["fake_at"])), 4)
            assert comp[level]["calls"][cls]["called_fake"] == expected, (level, cls)
    assert comp["crf40"]["auc"] < 0.5 < comp["crf23"]["auc"]  # inverted colours rank backwards
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "| crf40 |" in md and "Compression levels (test crops at 32 px" in md
