"""report.html: one point per analysed face frame, marked no-face gaps, real thumbnails, no URLs."""

import base64
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.contract import FFPP_CLASSES, ModelContract
from edge_detector.notices import SYNTHETIC_WARNING
from edge_detector.policy import DecisionPolicy
from edge_detector.report import write_report
from edge_detector.results import DetectorInfo, RunResult
from edge_detector.timeline import Timeline
from edge_detector.types import VideoInfo, VideoSummary

CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """Every start tag with its attributes, plus the visible text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags
                if t == tag and (cls is None or cls in a.get("class", "").split())]


def run_cli(*args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def every1(tmp_path_factory, face_video, tiny_onnx):
    out = tmp_path_factory.mktemp("report") / "out"
    run_cli(face_video, "--model", tiny_onnx, "-o", out, "--no-video")
    return out, Page((out / "report.html").read_text(encoding="utf-8"))


def face_frames(out: Path) -> set[int]:
    df = pd.read_csv(out / "frames.csv")
    return set(df[(df.analysed == 1) & (df.label != "NO_FACE")].frame)


def test_one_point_per_analysed_frame_with_a_face(every1):
    out, page = every1
    frames = [int(a["data-frame"]) for a in page.find("circle", "pt")]
    summary = json.loads((out / "summary.json").read_text())
    assert len(frames) == len(set(frames)) == summary["frames"]["with_faces"] == 27
    assert set(frames) == face_frames(out) == set(range(30)) - {10, 11, 12}
    df = pd.read_csv(out / "frames.csv").dropna(subset=["p_fake"])
    csv_p = df.groupby("frame").p_fake.max()
    for a in page.find("circle", "pt"):
        assert float(a["data-p"]) == pytest.approx(csv_p[int(a["data-frame"])], abs=1e-4)
        assert a["data-method"] in FFPP_CLASSES


def test_no_face_frames_are_marked_as_a_gap(every1):
    _, page = every1
    assert sorted(int(a["data-frame"]) for a in page.find("rect", "nf")) == [10, 11, 12]
    gaps = page.find("rect", "gap")
    assert [(g["data-first"], g["data-last"], g["data-frames"]) for g in gaps] == [("10", "12", "3")]
    assert page.find("line", "threshold")


def test_thumbnails_are_decodable_jpegs_of_face_frames(every1):
    out, page = every1
    imgs = [a["src"] for a in page.find("img")]
    assert 3 <= len(imgs) <= 6  # the top 6, at most one per 1/12 of the video
    for src in imgs:
        assert src.startswith("data:image/jpeg;base64,")
        img = cv2.imdecode(np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8),
                           cv2.IMREAD_COLOR)
        assert img is not None and img.shape == (320, 480, 3)  # no wider than 480: kept as is
    thumb_frames = {int(a["data-frame"]) for a in page.find("figure", "thumb")}
    assert len(thumb_frames) == len(imgs) and thumb_frames <= face_frames(out)
    assert min(np.diff(sorted(thumb_frames))) >= 3  # 30 frames at 25 fps: gaps of >= 0.1 s


def test_report_has_no_external_reference(every1):
    out, page = every1
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "@import" not in text
    assert "url(" not in text
    for tag, attrs in page.tags:
        assert tag not in ("link", "script", "iframe", "object", "embed"), tag
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), (tag, attrs[key][:40])


def test_banner_numbers_and_model_card_match_summary(every1):
    out, page = every1
    s = json.loads((out / "summary.json").read_text())
    banner = page.find("div", "verdict")
    assert [b["data-verdict"] for b in banner] == [s["verdict"]]
    text = " ".join(page.text)
    assert f"{s['score']:.3f}" in text
    assert "nothing (test model)" in text and "tiny-test" in text
    card = page.find("table", "model-card")
    assert card and ", ".join(FFPP_CLASSES) in text
    assert SYNTHETIC_WARNING not in text and not page.find("div", "synthetic")


def test_every_3_plots_only_analysed_frames(tmp_path, face_video, tiny_onnx):
    out = tmp_path / "out"
    run_cli(face_video, "--model", tiny_onnx, "-o", out, "--no-video", "--every", "3")
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    points = sorted(int(a["data-frame"]) for a in page.find("circle", "pt"))
    assert points == sorted(face_frames(out)) == [f for f in range(0, 30, 3) if f != 12]
    assert [int(a["data-frame"]) for a in page.find("rect", "nf")] == [12]


def make_run(contract: ModelContract, summary: VideoSummary, source: VideoInfo,
             threshold: float = 0.5, warnings: list[str] | None = None) -> RunResult:
    return RunResult(summary, source, contract, DecisionPolicy(threshold),
                     DetectorInfo(0.5, 300, "full"), model_path="m.onnx", fps=25.0,
                     warnings=warnings or [])


def no_face_summary(threshold: float = 0.5, **kw) -> VideoSummary:
    fields = {"verdict": "NO_FACE", "aggregation": "mean", "score": float("nan"), "mean_p_fake": None,
              "median_p_fake": None, "fake_frame_fraction": None, "frames_read": 3,
              "frames_analysed": 3, "frames_with_faces": 0, "faces_classified": 0,
              "top_method": None, "method_share": {}, "tracks": [], "threshold": threshold}
    return VideoSummary(**{**fields, **kw})


def test_no_face_report_is_grey_and_escapes_text_and_warns_about_demo_models(tmp_path):
    contract = ModelContract(FFPP_CLASSES, 32, model_name="<b>demo</b>", synthetic_demo=True)
    source = VideoInfo("<script>alert(1)</script>.mp4", 64, 48, 25.0, 3, False, "video")
    run = make_run(contract, no_face_summary(), source,
                   warnings=[SYNTHETIC_WARNING, "no face found in x.mp4"])
    timeline = Timeline(contract)
    path = write_report(tmp_path / "report.html", run, timeline)
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;demo" in text
    assert [b["data-verdict"] for b in page.find("div", "verdict")] == ["NO_FACE"]
    assert "#546e7a" in text  # the grey verdict colour
    assert len(page.find("div", "synthetic")) == 1
    visible = "".join(page.text)  # entities decoded: &#39; and &#x27; are both an apostrophe
    assert visible.count(SYNTHETIC_WARNING) == 1 and "no face found in x.mp4" in visible
    assert not page.find("circle", "pt") and not page.find("img")
    assert not list(tmp_path.glob("*.part"))


def render(html_path: Path, png: Path, tmp: Path) -> np.ndarray:
    """Headless Chromium screenshot of a local file; offline flags so nothing leaves the machine."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp / 'chromium-profile'}", "--hide-scrollbars",
           f"--screenshot={png}", "--window-size=1280,2000", html_path.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert image is not None, f"chromium wrote no PNG at {png}"
    return image


def colour_pixels(image: np.ndarray, hex_rgb: str, tol: int = 12) -> int:
    rgb = [int(hex_rgb[i:i + 2], 16) for i in (1, 3, 5)]
    bgr = np.array(rgb[::-1], np.int16)
    return int((np.abs(image.astype(np.int16) - bgr).max(axis=2) <= tol).sum())


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed")


@needs_chromium
def test_chromium_renders_the_report(every1, tmp_path):
    out, _ = every1
    s = json.loads((out / "summary.json").read_text())
    image = render(out / "report.html", tmp_path / "report.png", tmp_path)
    assert image.shape == (2000, 1280, 3)
    assert image.std() > 20  # not a blank page
    verdict_colour = {"FAKE": "#c62828", "REAL": "#2e7d32"}[s["verdict"]]
    assert colour_pixels(image, verdict_colour) > 2000  # the verdict banner was styled
    assert colour_pixels(image, "#2e9e5b") + colour_pixels(image, "#7b3fbf") > 200  # timeline points


@needs_chromium
def test_chromium_renders_a_report_of_a_real_clip(real_fixtures, tmp_path, tiny_onnx):
    clip = real_fixtures / "faces" / "stage_clip_360p.mp4"
    out = tmp_path / "out"
    run_cli(clip, "--model", tiny_onnx, "-o", out, "--no-video", "--every", "2", "--max-frames", "120")
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    assert len(page.find("circle", "pt")) == len(face_frames(out)) > 0
    assert 3 <= len(page.find("img")) <= 6
    image = render(out / "report.html", tmp_path / "report.png", tmp_path)
    assert image.std() > 20


def test_htmlkit_and_svg_helpers_for_other_reports():
    from edge_detector.report import htmlkit as hk
    from edge_detector.report import svg

    assert svg.nice_ticks(0, 1, 5) == [0, 0.25, 0.5, 0.75, 1.0]
    assert svg.nice_ticks(0, 9.2, 6) == [0, 2, 4, 6, 8]
    ax = svg.Axes((0, 10), (0, 1))
    assert (ax.x(0), ax.x(10), ax.y(0), ax.y(1)) == (ax.x0, ax.x1, ax.y0, ax.y1)
    chart = svg.line_chart({"loss": [(0, 1.0), (1, 0.5), (2, 0.2)], "val<": [(0, 1.1), (2, 0.4)]},
                           {"loss": "#123456"}, "epoch", "loss")
    page = Page(hk.page("t", chart + hk.table([("a<b", 0.5)], ("k", "v"), numeric=(1,))))
    assert len(page.find("polyline", "series")) == 2 and "val&lt;" in chart
    assert page.find("td", "num") and "a<b" in " ".join(page.text)
    assert hk.img_data_uri(b"\xff\xd8", "image/jpeg") == "data:image/jpeg;base64,/9g="
    bars = Page(hk.bar_chart({"FaceSwap": 0.75, "Deepfakes": 0.25}))
    assert [b["data-label"] for b in bars.find("div", "bar")] == ["FaceSwap", "Deepfakes"]
    assert "width:75.0%" in hk.bar_chart({"FaceSwap": 0.75})


def test_threshold_zero_is_drawn_at_zero_not_at_the_default():
    from edge_detector.report import render_report

    contract = ModelContract(FFPP_CLASSES, 32)
    timeline = Timeline(contract)
    summary = no_face_summary(0.0, verdict="FAKE", score=0.2, mean_p_fake=0.2)
    run = make_run(contract, summary, VideoInfo("a.mp4", 64, 48, 25.0, 3, False, "video"), 0.0)
    text = render_report(run, timeline)
    assert "threshold 0.00" not in text  # no analysed frame: no chart, so no threshold legend
    timeline.points.append(_point(0))
    page = Page(render_report(run, timeline))
    assert "threshold 0.00" in " ".join(page.text)
    (line,) = page.find("line", "threshold")
    assert float(line["y1"]) == pytest.approx(240.0)  # the bottom of the plot box (P_fake = 0)


def test_cli_threshold_zero_reaches_the_verdicts_the_summary_and_the_report_line(
        tmp_path, face_video, tiny_onnx):
    out = tmp_path / "out"
    run_cli(face_video, "--model", tiny_onnx, "-o", out, "--no-video", "--threshold", "0",
            "--max-frames", "6")
    s = json.loads((out / "summary.json").read_text())
    assert s["threshold"] == 0.0 and s["verdict"] == "FAKE"  # every P_fake >= 0
    df = pd.read_csv(out / "frames.csv")
    assert set(df[df.label != "NO_FACE"].label) == {"FAKE"}
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    (line,) = page.find("line", "threshold")
    assert float(line["y1"]) == pytest.approx(240.0)  # drawn at P_fake 0, not at 0.5 (y 127)
    assert "threshold 0.00" in " ".join(page.text) and "FAKE at or above 0.00" in " ".join(page.text)


def _point(frame):
    from edge_detector.timeline import TimelinePoint

    return TimelinePoint(frame=frame, time_s=frame / 25, p_fake=0.2, label="FAKE", method="Deepfakes",
                         faces=1)


def test_the_runtime_loads_the_report_and_jinja2_only_to_write_a_report():
    probe = ("import sys, edge_detector.cli, edge_detector.runner, edge_detector.pipeline; "
             "print(sorted(m for m in sys.modules if m.startswith(('jinja2', 'edge_detector.report'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
