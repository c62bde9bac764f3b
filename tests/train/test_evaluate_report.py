"""``train evaluate`` writes a self-contained report.html that agrees with metrics.json."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import cv2
import numpy as np

from edge_detector.contract import ModelContract
from tests.onnx_factory import tiny_model
from train.evaluate import evaluate
from train.manifest import read_manifest

SIZE = 48


class _Page(HTMLParser):
    """Collects the pieces the tests look at: banner stats, confusion cells, svg shapes, links."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.banner: dict[str, str] = {}
        self.cm_cells: list[str] = []
        self.svgs: list[dict] = []
        self.polylines: list[dict] = []
        self.imgs: list[dict] = []
        self.links: list[dict] = []
        self.scripts: list[dict] = []
        self.warnings: list[str] = []
        self._value: str | None = None
        self._text: list[str] = []

    def _inside(self, cls: str) -> bool:
        return any(cls in (a.get("class") or "").split() for _, a in self.stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        {"svg": self.svgs, "polyline": self.polylines, "img": self.imgs, "link": self.links,
         "script": self.scripts}.get(tag, []).append(a)
        if tag not in ("img", "link", "meta", "br", "polyline", "line", "rect", "circle"):
            self.stack.append((tag, a))
            self._text = []

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            return
        _, a = self.stack.pop()
        text = "".join(self._text).strip()
        cls = (a.get("class") or "").split()
        if "cm" in cls and tag == "td":
            self.cm_cells.append(text)
        if self._inside("banner") and "v" in cls:
            self._value = text
        if self._inside("banner") and "k" in cls and self._value is not None:
            self.banner[text], self._value = self._value, None
        if "warn" in cls:
            self.warnings.append(text)

    def handle_data(self, data):
        self._text.append(data)


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_html_matches_metrics_and_is_self_contained(synthetic_etl, tmp_path):
    data_dir = synthetic_etl[1].data_dir
    classes = synthetic_etl[1].classes
    model = tiny_model(tmp_path / "m" / "model.onnx", size=SIZE, classes=classes)
    # beside the model as in a run folder: the report embeds the training curves
    cv2.imwrite(str(tmp_path / "m" / "training_curves.png"), np.full((20, 30, 3), 200, np.uint8))
    res = evaluate(model, data_dir, "test", tmp_path / "r", progress=False)
    report = tmp_path / "r" / "report.html"
    text = report.read_text(encoding="utf-8")
    page = _parse(report)
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())

    c = len(classes)
    assert page.banner[f"{c}-class accuracy"] == f"{saved['multiclass']['accuracy']:.3f}"
    assert page.banner["macro-F1"] == f"{saved['multiclass']['macro_f1']:.3f}"
    assert page.banner["frame AUC"] == f"{saved['binary_frame']['auc']:.3f}"
    n_test = len(read_manifest(data_dir).query("split == 'test' and status == 'ok'"))
    assert len(page.cm_cells) == c * c
    assert sum(int(v) for v in page.cm_cells) == n_test == res.frames
    assert any("roc" in (s.get("class") or "") for s in page.svgs)
    curves = [p for p in page.polylines if p.get("class") == "roc-curve"]
    assert len(curves) == 2 and all(len(p["points"].split()) >= 2 for p in curves)
    for bad in ("http://", "https://", "url("):
        assert bad not in text, bad
    assert not page.links and not any("src" in s for s in page.scripts)
    assert page.imgs and all(i["src"].startswith("data:image/") for i in page.imgs)
    assert not any("Demo model" in w for w in page.warnings)


def test_report_html_warns_about_a_synthetic_demo_model(synthetic_etl, tmp_path):
    data_dir = synthetic_etl[1].data_dir
    contract = ModelContract(synthetic_etl[1].classes, SIZE, architecture="tiny-test",
                             trained_on="synthetic demo data", synthetic_demo=True)
    model = tiny_model(tmp_path / "model.onnx", size=SIZE, classes=contract.class_names,
                       contract=contract)
    evaluate(model, data_dir, "test", tmp_path / "r", progress=False)
    page = _parse(tmp_path / "r" / "report.html")
    assert any("Demo model" in w and "synthetic" in w for w in page.warnings)
    assert "tiny-test" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
