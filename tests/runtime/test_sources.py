"""Sources: the threaded file decoder keeps order and stops cleanly; a live source keeps the newest frame."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edge_detector.errors import SourceError
from edge_detector.sources import ImageSource, LiveSource, VideoFileSource, open_source

FRAMES, FPS = 20, 25.0


@pytest.fixture(scope="module")
def ramp_video(tmp_path_factory):
    """Frame i is a flat grey of level 10 * i, so a decoded frame tells its own index."""
    path = tmp_path_factory.mktemp("src") / "ramp.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (64, 48))
    assert writer.isOpened()
    for i in range(FRAMES):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def level(image: np.ndarray) -> int:
    return int(round(float(image.mean()) / 10))


def test_threaded_decode_yields_every_frame_in_order(ramp_video):
    with VideoFileSource(ramp_video, prefetch=2) as src:
        assert (src.info.width, src.info.height, src.info.fps, src.info.frame_count) == (64, 48, FPS, FRAMES)
        assert not src.info.live and src.info.kind == "video"
        frames = list(src)
    assert [f.index for f in frames] == list(range(FRAMES))
    assert [level(f.image_bgr) for f in frames] == list(range(FRAMES))
    assert [f.time_s for f in frames] == pytest.approx([i / FPS for i in range(FRAMES)])
    assert not src._thread.is_alive()


def test_decoder_runs_at_most_prefetch_frames_ahead_and_stops_on_close(ramp_video):
    src = VideoFileSource(ramp_video, prefetch=3)
    it = iter(src)
    assert next(it).index == 0
    time.sleep(0.3)  # the decoder fills the queue, then waits
    assert src._queue.qsize() <= 3
    src.close()
    assert not src._thread.is_alive()


def test_live_source_keeps_only_the_latest_frame(ramp_video):
    src = LiveSource(str(ramp_video), "ramp")  # not paced: the grabber reads as fast as it can
    try:
        assert src.info.live and src.info.kind == "live"
        deadline = time.monotonic() + 10
        while src.captured < FRAMES and time.monotonic() < deadline:  # a slow consumer
            time.sleep(0.02)
        frames = list(src)
    finally:
        src.close()
    assert src.captured == FRAMES
    assert [f.index for f in frames] == [FRAMES - 1]  # everything older was dropped, not queued
    assert level(frames[0].image_bgr) == FRAMES - 1
    assert src.dropped == FRAMES - 1


def test_open_source_picks_the_source_by_its_spec(ramp_video, tmp_path):
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), np.full((10, 12, 3), 7, np.uint8))
    with open_source(image) as src:
        assert isinstance(src, ImageSource) and src.info.kind == "image"
        assert [f.image_bgr.shape for f in src] == [(10, 12, 3)]
    with open_source(ramp_video) as src:
        assert isinstance(src, VideoFileSource)
    with open_source(ramp_video, realtime=True) as src:
        assert isinstance(src, LiveSource) and src.info.kind == "file-realtime"


class _FailingCapture:
    """Wraps a capture; raises on the ``fail_at``-th read, like a decoder crashing mid-file."""

    def __init__(self, cap, fail_at: int):
        self.cap, self.fail_at, self.reads = cap, fail_at, 0

    def read(self):
        self.reads += 1
        if self.reads == self.fail_at:
            raise RuntimeError("decoder exploded")
        return self.cap.read()

    def get(self, prop):  # the source reads each frame's timestamp
        return self.cap.get(prop)

    def release(self):
        self.cap.release()


def test_a_decoder_thread_error_reaches_the_consumer_after_the_good_frames(ramp_video):
    src = VideoFileSource(ramp_video, prefetch=2)
    src._cap = _FailingCapture(src._cap, fail_at=5)  # the first frame was read when opening
    got = []
    with pytest.raises(SourceError, match="decoding ramp.mp4 failed: decoder exploded"):
        with src:
            got.extend(f.index for f in src)
    assert got == [0, 1, 2, 3, 4]  # every frame decoded before the error, in order
    assert not src._thread.is_alive()


def test_a_file_played_in_real_time_is_paced_at_its_fps(ramp_video):
    t0 = time.monotonic()
    with open_source(ramp_video, realtime=True) as src:
        frames = list(src)  # a fast consumer: sees (nearly) every frame, at the file's pace
    elapsed = time.monotonic() - t0
    assert elapsed >= (FRAMES - 1) / FPS * 0.9  # 20 frames at 25 fps: not faster than 0.76 s
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[-1] == FRAMES - 1
    assert len(frames) + src.dropped == FRAMES
