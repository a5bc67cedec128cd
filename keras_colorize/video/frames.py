"""Reading and writing video files a frame at a time, with OpenCV (no TensorFlow).

Frames are uint8 RGB (H, W, 3) throughout; OpenCV's BGR stays inside this
module. A video is written to a hidden file beside its final name and renamed
at the end, so a killed run never leaves a half-written video under the name
a re-run would skip. The audio track is copied with the ffmpeg binary that
imageio-ffmpeg (PyPI) bundles, when it is installed.
"""

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass

import cv2

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
DEFAULT_CODEC = "mp4v"  # MPEG-4 Part 2: what every OpenCV wheel can encode
DEFAULT_FPS = 25.0  # for a file that does not say its frame rate
FFMPEG_TIMEOUT = 600  # seconds; copying streams is fast, this only stops a hung ffmpeg


class VideoError(Exception):
    """A video that cannot be read or written; the message is one line."""


def is_video_name(path):
    """True if the file name has one of the video extensions (any case)."""
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: size in pixels, frames per second, frame count (an estimate)."""

    width: int
    height: int
    fps: float
    frames: int  # 0 when the container does not say


class VideoReader:
    """Iterates over a video's frames as uint8 RGB (H, W, 3); VideoError if it does not open."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise VideoError(f"{path} does not exist")
        self.path = path
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise VideoError(f"{path} does not open as a video")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(
            width=int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=fps if fps and 0 < fps < 1000 else DEFAULT_FPS,
            frames=max(0, int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        )

    def __iter__(self):
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self):
        self.capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_codec(codec):
    """The FOURCC code of a codec name; VideoError unless it is 4 characters."""
    if len(codec) != 4:
        raise VideoError(f"codec {codec!r} is not a FOURCC code (4 characters, such as mp4v)")
    return cv2.VideoWriter_fourcc(*codec)


def ffmpeg_binary():
    """The ffmpeg executable bundled by imageio-ffmpeg, or None if that is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # installed without a binary for this platform
        return None


def has_audio(ffmpeg, path):
    """True if ffmpeg sees an audio stream in the file."""
    probe = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", path],
        capture_output=True,
        text=True,
        timeout=FFMPEG_TIMEOUT,
        check=False,
    )
    return any("Audio:" in line for line in probe.stderr.splitlines() if "Stream #" in line)


def mux_audio(ffmpeg, video, source, output):
    """Writes output = video's picture + source's audio; True on success.

    The audio is copied as it is, or re-encoded to AAC if the container of
    ``output`` cannot hold it (PCM in MP4, for example).
    """
    for audio_codec in ("copy", "aac"):
        command = [ffmpeg, "-v", "error", "-y", "-i", video, "-i", source]
        command += ["-map", "0:v:0", "-map", "1:a", "-c:v", "copy", "-c:a", audio_codec, output]
        try:
            done = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False
        if done.returncode == 0:
            return True
    return False


@contextlib.contextmanager
def _quiet_stderr():
    """Silences file descriptor 2: OpenCV's FFmpeg layer prints its codec complaints there
    itself, and the user gets our one-line error instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class VideoSink:
    """Writes uint8 RGB frames to a hidden file; ``commit`` renames it onto ``path``.

    Without ``commit`` (an error, Ctrl-C) ``close`` deletes the hidden file.
    """

    def __init__(self, path, info, codec=DEFAULT_CODEC):
        folder, name = os.path.split(path)
        stem, extension = os.path.splitext(name)
        os.makedirs(folder or ".", exist_ok=True)
        self.path = path
        # The extension stays last: OpenCV and ffmpeg pick the container by it.
        self.temporary = os.path.join(folder, f".{stem}.{os.getpid()}.part{extension}")
        self.muxed = os.path.join(folder, f".{stem}.{os.getpid()}.audio{extension}")
        with _quiet_stderr():
            self.writer = cv2.VideoWriter(
                self.temporary, check_codec(codec), info.fps, (info.width, info.height)
            )
        self.size = (info.width, info.height)
        self.frames = 0
        if not self.writer.isOpened():
            self.close()
            raise VideoError(
                f"cannot write {os.path.splitext(path)[1] or 'this'} video with codec {codec!r} "
                f"(try --codec {DEFAULT_CODEC} and a .mp4 or .avi name)"
            )

    def write(self, rgb):
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            raise VideoError(
                f"frame {self.frames} is {rgb.shape[1]}x{rgb.shape[0]}, not {self.size}"
            )
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def commit(self, audio_source=None):
        """Closes the file and renames it onto the final name.

        Returns what became of the audio: "copied", "none" (the source has
        none), "dropped" (ffmpeg could not mux it) or "no ffmpeg".
        """
        self.writer.release()
        audio = "no ffmpeg"
        final = self.temporary
        ffmpeg = ffmpeg_binary() if audio_source else None
        if ffmpeg:
            audio = "none"
            if has_audio(ffmpeg, audio_source):
                audio = "dropped"
                if mux_audio(ffmpeg, self.temporary, audio_source, self.muxed):
                    audio, final = "copied", self.muxed
        os.replace(final, self.path)
        self.close()
        return audio

    def close(self):
        """Releases the writer and deletes whatever hidden file is left."""
        self.writer.release()
        for leftover in (self.temporary, self.muxed):
            if os.path.exists(leftover):
                os.remove(leftover)
