"""Frame sampling: spread over the whole video, seek and grab agree, bad files fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media import read_frames
from train.frames import VideoReadError, read_sampled, sample_indices, time_decoders
from train.synthetic import write_video


def _numbered_video(path, n=40, size=(96, 64)):
    """Frame i shows a bright bar at x = 2*i, so every frame differs from its neighbours."""
    w, h = size
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 60, np.uint8)
        f[:, 2 * i : 2 * i + 6] = 230
        frames.append(f)
    write_video(path, frames)
    return path




def test_sample_indices_cover_the_whole_video():
    assert sample_indices(300, 8) == [18, 56, 93, 131, 168, 206, 243, 281]
    idx = sample_indices(751, 8)
    assert idx[0] < 751 / 8 and idx[-1] > 751 * 7 / 8  # not just the first seconds
    assert sample_indices(5, 8) == [0, 1, 2, 3, 4]
    assert sample_indices(0, 8) == [] and sample_indices(10, 0) == []


@pytest.mark.parametrize("decoder", ["seek", "grab"])
def test_decoders_return_the_requested_frames(tmp_path, decoder):
    path = _numbered_video(tmp_path / "n.mp4")
    info, frames = read_sampled(path, 4, decoder)
    assert info.frame_count == 40 and info.fps == pytest.approx(25.0)
    assert [f.index for f in frames] == [5, 15, 25, 35]
    every = read_frames(path)
    for f in frames:
        assert f.time_s == pytest.approx(f.index / 25.0)
        np.testing.assert_array_equal(f.image_bgr, every[f.index])
        assert not np.array_equal(f.image_bgr, every[f.index - 1])


def test_seek_and_grab_decode_identical_pixels(tmp_path):
    path = _numbered_video(tmp_path / "n.mp4", n=60)
    _, a = read_sampled(path, 6, "seek")
    _, b = read_sampled(path, 6, "grab")
    for x, y in zip(a, b, strict=True):
        assert x.index == y.index
        np.testing.assert_array_equal(x.image_bgr, y.image_bgr)
    timings = time_decoders([path], 3, repeats=1)
    assert [t.decoder for t in timings] == ["seek", "grab"]
    assert all(t.frames == 3 and t.seconds > 0 for t in timings)


def test_bad_files_raise_video_read_error(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoReadError, match="cannot open"):
        read_sampled(text, 4)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty"):
        read_sampled(empty, 4)
    with pytest.raises(VideoReadError, match="no such file"):
        read_sampled(tmp_path / "missing.mp4", 4)
    with pytest.raises(ValueError, match="decoder"):
        read_sampled(text, 4, "magic")
