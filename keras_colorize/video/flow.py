"""Dense optical flow between gray frames, warping, occlusion checks and shot cuts (OpenCV).

Flow is computed on small gray frames (long side FLOW_SIDE): colour is
predicted at the network's 128-pixel working size anyway, so a finer flow
would only move colour more precisely than it is known, at several times the
cost. ``Motion`` holds both directions of the flow between two frames and
answers the questions the temporal filter asks: where each pixel of the new
frame came from, and whether that correspondence can be trusted
(forward-backward consistency and brightness constancy, as in Lai et al.,
"Learning Blind Video Temporal Consistency", ECCV 2018).
"""

import cv2
import numpy as np

FLOW_SIDE = 256  # long side of the frames the flow is computed on
# Forward-backward check (Sundaram et al. 2010, used by Lai et al.): a pixel is
# occluded when |f + b|^2 > ALPHA (|f|^2 + |b|^2) + BETA, in flow-frame pixels.
# Lai et al.'s BETA is 0.5 at full resolution; here 4 (2 px at 256 px, about 5 at
# 640): DIS disagrees with itself by more than 0.7 px in smooth regions, and a
# stricter check there reset the history so often that warping error stayed at
# 1.2x the truth's on cup.mp4 (1.0x with 4); colour is only known to 128 px anyway.
CONSISTENCY_ALPHA = 0.01
CONSISTENCY_BETA = 4.0
# Brightness constancy: a correspondence whose lightness changed by BRIGHTNESS_SIGMA
# (L units, 0..100) keeps exp(-1) of its weight; lighting flicker is smaller than this.
BRIGHTNESS_SIGMA = 6.0
# A shot cut: fewer than CUT_MATCHED of the pixels find a trusted match in the
# previous frame, or the lightness histograms share less than CUT_OVERLAP of their mass.
CUT_MATCHED = 0.4
CUT_OVERLAP = 0.55
HISTOGRAM_BINS = 32


def flow_size(width, height, side=FLOW_SIDE):
    """(width, height) of the flow frames: the video's aspect ratio, long side at most ``side``."""
    scale = min(1.0, side / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def small_lightness(lightness_full, size):
    """L (H, W, 1) float32 in [0, 100] -> uint8 (h, w) gray at ``size`` = (w, h), for the flow."""
    small = cv2.resize(lightness_full[..., 0], size, interpolation=cv2.INTER_AREA)
    return np.clip(small * 2.55 + 0.5, 0, 255).astype(np.uint8)


class FlowEstimator:
    """DIS optical flow (Kroeger et al. 2016): (h, w) uint8, (h, w) uint8 -> (h, w, 2) float32."""

    def __init__(self, preset=cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, first, second):
        return self.dis.calc(first, second, None)


class Motion:
    """The flow between a previous frame and the current one, both ways, and its trust.

    ``backward`` maps each pixel of the current frame to where it was in the
    previous one; ``confidence`` (h, w) float32 in [0, 1] is 0 where that
    match is occluded, leaves the frame or changes brightness, and decays
    with the brightness change otherwise.
    """

    def __init__(self, estimator, previous, current):
        height, width = current.shape
        self.forward = estimator(previous, current)  # (h, w, 2): previous -> current
        self.backward = estimator(current, previous)  # (h, w, 2): current -> previous
        grid_x, grid_y = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        self.map_x = grid_x + self.backward[..., 0]
        self.map_y = grid_y + self.backward[..., 1]
        forward_there = self.warp(self.forward)
        mismatch = np.sum((self.backward + forward_there) ** 2, axis=-1)
        bound = CONSISTENCY_ALPHA * (
            np.sum(self.backward**2, axis=-1) + np.sum(forward_there**2, axis=-1)
        )
        inside = (
            (self.map_x >= 0)
            & (self.map_x <= width - 1)
            & (self.map_y >= 0)
            & (self.map_y <= height - 1)
        )
        consistent = (mismatch <= bound + CONSISTENCY_BETA) & inside
        change = (current.astype(np.float32) - self.warp(previous).astype(np.float32)) / 2.55
        self.confidence = np.where(
            consistent, np.exp(-((change / BRIGHTNESS_SIGMA) ** 2)), 0.0
        ).astype(np.float32)
        self.matched = float(np.mean(self.confidence > 0.5))

    def warp(self, image, interpolation=cv2.INTER_LINEAR):
        """The previous frame's image (h, w, ...) moved onto the current frame's pixels."""
        return cv2.remap(
            image, self.map_x, self.map_y, interpolation, borderMode=cv2.BORDER_REPLICATE
        )

    def move_points(self, points):
        """Points (x, y) of the previous frame -> their places in the current frame, or None
        where the match is not trusted (occluded, left the frame)."""
        height, width = self.forward.shape[:2]
        moved = []
        for x, y in points:
            col, row = min(int(x), width - 1), min(int(y), height - 1)
            dx, dy = self.forward[row, col]
            nx, ny = x + dx, y + dy
            inside = 0 <= nx < width and 0 <= ny < height
            ok = inside and self.confidence[min(int(ny), height - 1), min(int(nx), width - 1)] > 0.5
            moved.append((float(nx), float(ny)) if ok else None)
        return moved


def histogram_overlap(first, second):
    """Shared mass of the two gray frames' histograms, in [0, 1] (1 = the same histogram)."""
    ranges = [0, 256]
    a = cv2.calcHist([first], [0], None, [HISTOGRAM_BINS], ranges).ravel()
    b = cv2.calcHist([second], [0], None, [HISTOGRAM_BINS], ranges).ravel()
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def is_cut(motion, previous, current):
    """True if the current frame starts a new shot: few trusted matches, or a new histogram."""
    return motion.matched < CUT_MATCHED or histogram_overlap(previous, current) < CUT_OVERLAP
