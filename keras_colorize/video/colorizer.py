"""Colorizing a stream of frames: the network per frame, flow between frames, hints carried.

    rgb (H, W) -> L (H, W) --> L (S, S) -> backend -> ab (S, S) --resize--> ab (h, w)
    L (h, w) of this frame and the last --> Motion --> TemporalFilter --> ab (h, w)
    L (H, W) + ab (h, w) -> rgb (H, W)                     (color.fullres.recombine)

S is the network's working size (128 for the shipped model) and (h, w) the
flow frames' size (flow.FLOW_SIDE on the long side). Memory is that of a few
frames, whatever the video's length.
"""

import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from keras_colorize import constants as C
from keras_colorize.cli import UsageError
from keras_colorize.color.fullres import lightness, recombine
from keras_colorize.guidance import hints as H
from keras_colorize.inference.pipeline import working_lightness
from keras_colorize.io.json_file import read_json
from keras_colorize.video.flow import FlowEstimator, Motion, flow_size, is_cut, small_lightness
from keras_colorize.video.frames import DEFAULT_CODEC, VideoError, VideoReader, VideoSink
from keras_colorize.video.temporal import TemporalFilter

# The network (~50-80 ms at 128 px on one busy core) costs more than the rest of a
# 640x480 frame together; on every other frame the flow carries its colour instead.
NETWORK_EVERY = 2


def read_keyframe_hints(path, image_shape, keyframe=0):
    """A hints JSON file -> {frame index: [(x, y, a, b, radius), ...]}; HintError if bad.

    The file is the photo format (guidance.hints.parse_hints); each point may
    also say its "frame" (0-based), else it belongs to ``keyframe``.
    """
    data = read_json(path, H.HintError, "hints file")
    points = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(points, list):
        raise H.HintError(f'{path}: expected a list of points or {{"hints": [...]}}')
    by_frame = {}
    for number, point in enumerate(points, 1):
        frame = point.get("frame", keyframe) if isinstance(point, dict) else keyframe
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise H.HintError(f"{path}: point {number}: frame must be a whole number >= 0")
        by_frame.setdefault(frame, []).append((number, point))
    parsed = {}
    for frame, numbered in by_frame.items():
        try:
            parsed[frame] = H.parse_hints([p for _, p in numbered], image_shape, source=str(path))
        except H.HintError as error:  # its point numbers count within the frame; say the file's
            first = numbered[0][0]
            raise H.HintError(f"{error} (frame {frame}, from point {first} of the file)") from None
    return parsed


@dataclass
class Frame:
    """One colorized frame: uint8 RGB (H, W, 3), and whether a shot starts with it."""

    rgb: np.ndarray
    cut: bool
    hints: int = 0  # colour points the network saw for this frame
    ab: np.ndarray = field(default=None, repr=False)  # the ab recombined, (h, w, 2) Lab units


class VideoColorizer:
    """Call with each frame's uint8 RGB (H, W, 3), in order; returns a ``Frame``.

    ``temporal`` False colours every frame on its own (cuts are still found,
    and hints still carried along the flow). ``keyframe_hints`` maps a frame
    index to colour points in the video's pixels; they hold from that frame
    to the end of its shot, moving with the flow and dropped where occluded.
    ``reference`` (REFERENCE_BINS,) steers every frame. With ``temporal``,
    the network runs on every ``network_every``-th frame of a shot (and on
    its first, and where hints start); the frames between follow the flow.
    """

    def __init__(
        self,
        backend,
        width,
        height,
        temporal=True,
        keyframe_hints=None,
        reference=None,
        network_every=NETWORK_EVERY,
    ):
        self.backend = backend
        self.shape = (height, width)
        self.size = flow_size(width, height)  # (w, h) of the flow frames
        self.scale = (self.size[0] / width, self.size[1] / height)
        self.temporal = temporal
        self.keyframe_hints = dict(keyframe_hints or {})
        self.reference = None if reference is None else reference[None]
        self.estimator = FlowEstimator()
        self.filter = TemporalFilter()
        self.previous = None  # the last frame's small gray
        self.points = []  # carried hints: (x, y, a, b, radius) in the video's pixels
        self.index = 0
        self.network_every = network_every if temporal else 1
        self.since_network = 0  # frames since the network last ran in this shot

    def _carry(self, motion, cut):
        """Moves the carried hints to this frame; adds this frame's own. True if it has new ones."""
        if cut:
            self.points = []
        elif self.points:
            sx, sy = self.scale
            moved = motion.move_points([(x * sx, y * sy) for x, y, *_ in self.points])
            self.points = [
                (to[0] / sx, to[1] / sy, *point[2:])
                for point, to in zip(self.points, moved, strict=True)
                if to is not None
            ]
        new = self.keyframe_hints.pop(self.index, None)
        if new:
            self.points += new
        return bool(new)

    def __call__(self, rgb):
        full = lightness(rgb)  # (H, W, 1), L in [0, 100]
        gray = small_lightness(full, self.size)
        motion = None
        cut = self.previous is None
        if self.previous is not None and (self.temporal or self.points):
            motion = Motion(self.estimator, self.previous, gray)
            cut = is_cut(motion, self.previous, gray)
        new_hints = self._carry(motion, cut)
        self.previous = gray
        self.index += 1
        self.since_network += 1
        if self.temporal and not (cut or new_hints) and self.since_network < self.network_every:
            ab = self.filter.carry(motion)
            return Frame(recombine(full, ab), cut, len(self.points), ab)
        self.since_network = 0
        guidance = {}
        if self.points:
            size = self.backend.working_size
            guidance["hints"] = H.hint_map(self.points, self.shape, size)[None]
        if self.reference is not None:
            guidance["reference"] = self.reference
        l_norm = working_lightness(full, self.backend.working_size) / C.L_HALF - 1.0
        ab = self.backend.predict_ab(l_norm[None], **guidance)[0] * C.AB_SCALE  # (S, S, 2)
        if self.temporal:
            ab = cv2.resize(ab, self.size, interpolation=cv2.INTER_LINEAR)  # (h, w, 2)
            # New hints restart the history, so the fixed colour shows at once.
            ab = self.filter(ab, None if cut or new_hints else motion)
        return Frame(recombine(full, ab), cut, len(self.points), ab)


AUDIO_NOTES = {
    "no ffmpeg": "note: the audio track (if any) was dropped: pip install imageio-ffmpeg keeps it",
    "dropped": "note: the audio track could not be copied and was dropped",
}


def colorize_video(
    source,
    output,
    backend,
    progress,
    temporal=True,
    network_every=NETWORK_EVERY,
    codec=DEFAULT_CODEC,
    keyframe_hints=None,
    reference=None,
):
    """Colorizes one video file into ``output``, atomically, reporting frames to ``progress``.

    Args:
        source: a video file OpenCV reads (gray or colour: only lightness is used).
        output: the file to write (a hidden temporary name until it is complete).
        backend: the colorizer (inference.backends).
        progress: a tqdm bar, reset to the container's frame count.
        temporal, network_every, keyframe_hints, reference: see VideoColorizer.
        codec: the output's FOURCC.

    Returns:
        (frames, cuts, audio, seconds): frames written, shot cuts found, what
        happened to the audio track (a key of AUDIO_NOTES or "copied"/"none"),
        and the seconds spent.

    Raises:
        UsageError: the output cannot be written with that codec.
    """
    with VideoReader(source) as reader:
        info = reader.info
        colorizer = VideoColorizer(
            backend,
            info.width,
            info.height,
            temporal=temporal,
            keyframe_hints=keyframe_hints,
            reference=reference,
            network_every=network_every,
        )
        try:
            sink = VideoSink(output, info, codec)
        except VideoError as error:
            raise UsageError(str(error)) from None
        progress.reset(total=info.frames or None)  # the container's count, an estimate
        progress.set_description(os.path.basename(source))
        started = time.perf_counter()
        cuts = 0
        try:
            for rgb in reader:
                frame = colorizer(rgb)
                cuts += frame.cut and sink.frames > 0
                sink.write(frame.rgb)
                progress.update()
            seconds = time.perf_counter() - started
            audio = sink.commit(audio_source=source)
        finally:
            sink.close()  # after commit, nothing is left to delete
    return sink.frames, cuts, audio, seconds
