"""Colorizing video: same size, frame count and rate; streaming; cuts; consistency; errors.

Clips are generated here (64x48, 20 frames): a textured colour scene with a
square moving across it, and per-frame noise so that frame-by-frame colour
has something to flicker at. The shipped .tflite model colours them.
"""

import json
import os
import subprocess

import cv2
import numpy as np
import pytest

from keras_colorize import colorize_video
from keras_colorize.color.fullres import lightness
from keras_colorize.colorize import main
from keras_colorize.video.frames import VideoReader, ffmpeg_binary, has_audio

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 20, 12.0
STEP = 2  # pixels the square moves per frame


def _scene(seed, frames=FRAMES, noise=6.0):
    """uint8 RGB frames (N, H, W, 3): a textured background and a square moving right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 2)
    background = np.stack([x * 3 + 40, 120 + 0.5 * texture, 200 - y * 2], -1)
    patch = cv2.GaussianBlur(rng.uniform(0, 255, (16, 16, 3)).astype(np.float32), (0, 0), 1.5)
    out = []
    for t in range(frames):
        frame = background.copy()
        left = 4 + STEP * t
        frame[16:32, left : left + 16] = patch * 0.6 + np.array([160, 40, 30])
        frame += rng.normal(0, noise, frame.shape)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(out)


def _write(path, frames, fourcc="MJPG", fps=FPS):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (WIDTH, HEIGHT))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def _read(path):
    with VideoReader(path) as reader:
        return reader.info, np.stack(list(reader))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("clip") / "motion.avi", _scene(0))


@pytest.fixture(scope="module")
def backend():
    from keras_colorize.inference.backends import open_backend
    from keras_colorize.inference.shipped import find_model

    return open_backend(find_model(), None)


def test_video_keeps_size_frame_count_rate_and_lightness_without_tensorflow(clip, tmp_path):
    from tests.test_without_tensorflow import run_without_tensorflow

    out = tmp_path / "out"
    outcome, _ = run_without_tensorflow("keras_colorize.colorize", clip, "--out", out, "--quiet")
    assert outcome == {"code": 0, "loaded": []}
    assert sorted(os.listdir(out)) == ["motion.avi"]  # no hidden leftovers
    info, frames = _read(str(out / "motion.avi"))
    source_info, source = _read(clip)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert len(frames) == len(source) == FRAMES
    assert info.fps == pytest.approx(FPS, rel=1e-3)
    # Lightness is the input's (up to the codec's loss); colour is there.
    assert np.mean(np.abs(lightness(frames[5]) - lightness(source[5]))) < 2.5
    spread = np.abs(frames.astype(np.int16) - frames.mean(-1, keepdims=True)).mean()
    assert spread > 1.0


def test_frames_stream_through(clip, tmp_path, monkeypatch):
    """Each frame is written before the next is read: memory does not grow with the length."""
    from keras_colorize.video.frames import VideoSink

    read, lead = [0], []
    original_iter, original_write = VideoReader.__iter__, VideoSink.write

    def counting_iter(self):
        read[0] = 0  # per pass over a file (the check before colorizing reads one frame)
        for rgb in original_iter(self):
            read[0] += 1
            yield rgb

    def checking_write(self, rgb):
        lead.append(read[0] - self.frames)
        original_write(self, rgb)

    monkeypatch.setattr(VideoReader, "__iter__", counting_iter)
    monkeypatch.setattr(VideoSink, "write", checking_write)
    assert main([clip, "--out", str(tmp_path), "--quiet"]) == 0
    assert len(lead) == FRAMES and max(lead) == 1


def test_cut_is_found_and_nothing_crosses_it(backend):
    from keras_colorize.video.colorizer import VideoColorizer

    first, second = _scene(1)[:10], 255 - _scene(2)[:10]  # another scene, other levels
    frames = np.concatenate([first, second])
    whole = VideoColorizer(backend, WIDTH, HEIGHT)
    results = [whole(rgb) for rgb in frames]
    assert [i for i, r in enumerate(results) if r.cut] == [0, 10]
    # After the cut the colours are those of a run that starts there: no bleed.
    fresh = VideoColorizer(backend, WIDTH, HEIGHT)
    for index in range(10, 14):
        np.testing.assert_array_equal(fresh(frames[index]).rgb, results[index].rgb)


def test_temporal_mode_reduces_warping_error(clip, tmp_path):
    from keras_colorize.evaluate import main as evaluate

    out = tmp_path / "eval"
    assert evaluate(["--video", clip, "--out", str(out), "--quiet"]) == 0
    (result,) = json.loads((out / "video_metrics.json").read_text())
    assert result["frames"] == FRAMES and result["truth_cuts"] == []
    by_frame, temporal = result["frame-by-frame"], result["temporal"]
    assert temporal["warping_error"] < 0.8 * by_frame["warping_error"]
    assert temporal["colour_change"] < by_frame["colour_change"]
    # Most of the colour stays (>= 95% on real clips, docs/bench.md; this noisy toy clip
    # flickers more, and flicker itself scores as colourfulness).
    assert temporal["colourfulness"] > 0.8 * by_frame["colourfulness"]
    assert abs(temporal["psnr"] - by_frame["psnr"]) < 1.0


def test_hints_follow_the_picture_until_the_cut(backend, tmp_path):
    from keras_colorize.video.colorizer import VideoColorizer, read_keyframe_hints

    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 12, "y": 24, "color": "#20c020", "frame": 2}]))
    keyframes = read_keyframe_hints(str(hints), (HEIGHT, WIDTH))
    frames = np.concatenate([_scene(3, 12, noise=2.0), 255 - _scene(4, 4)])
    colorizer = VideoColorizer(backend, WIDTH, HEIGHT, keyframe_hints=keyframes)
    counts, places = [], []
    for rgb in frames:
        counts.append(colorizer(rgb).hints)
        places.append(colorizer.points[0][0] if colorizer.points else None)
    assert counts[:2] == [0, 0] and all(counts[2:12]) and not any(counts[12:])
    # The point rides on the square, STEP pixels a frame.
    assert places[10] - places[2] == pytest.approx(8 * STEP, abs=1.5)


def test_hints_with_a_bad_frame_are_a_usage_error(clip, tmp_path, capsys):
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 12, "y": 24, "color": "#20c020", "frame": -1}]))
    assert main([clip, "--out", str(tmp_path / "o"), "--hints", str(hints), "--quiet"]) == 2
    assert "frame must be" in capsys.readouterr().err


def test_interrupted_run_leaves_no_file(clip, tmp_path, monkeypatch):
    from keras_colorize.video.colorizer import VideoColorizer

    original, calls = VideoColorizer.__call__, [0]

    def interrupted(self, rgb):
        calls[0] += 1
        if calls[0] == 8:
            raise KeyboardInterrupt
        return original(self, rgb)

    monkeypatch.setattr(VideoColorizer, "__call__", interrupted)
    out = tmp_path / "out"
    assert main([clip, "--out", str(out), "--quiet"]) == 130
    assert os.listdir(out) == []


@pytest.mark.parametrize("case", ["not a video", "no frames", "codec", "fourcc", "out is a file"])
def test_bad_input_is_one_line_exit_2(case, clip, tmp_path, capsys):
    out, source, extra = tmp_path / "out", clip, []
    if case == "not a video":
        source = tmp_path / "notes.mp4"
        source.write_text("not a video")
    elif case == "no frames":
        source = _write(tmp_path / "empty.avi", [])
    elif case == "codec":
        extra = ["--codec", "ZZZZ"]
    elif case == "fourcc":
        extra = ["--codec", "h264-please"]
    else:
        out.write_text("a file")
    assert main([str(source), "--out", str(out), "--quiet", *extra]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("colorize: error: ")
    assert not (out.is_dir() and os.listdir(out))


def test_video_inputs_are_recognised_by_extension():
    assert colorize_video.wants_video(["film.MP4", "--out", "x"])
    assert not colorize_video.wants_video(["photo.jpg", "--out", "colorized"])


@pytest.mark.skipif(ffmpeg_binary() is None, reason="imageio-ffmpeg is not installed")
def test_audio_is_kept(tmp_path):
    ffmpeg = ffmpeg_binary()
    source = tmp_path / "talk.mp4"
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:v", "mpeg4", "-c:a", "aac",
         str(source)],
        check=True,
    )  # fmt: skip
    out = tmp_path / "out"
    assert main([str(source), "--out", str(out), "--quiet"]) == 0
    assert has_audio(ffmpeg, str(source)) and has_audio(ffmpeg, str(out / "talk.mp4"))
    assert len(_read(str(out / "talk.mp4"))[1]) == 10
