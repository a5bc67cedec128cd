"""Temporal consistency of predicted colour: a flow-guided, confidence-weighted running mean of ab.

Colour predicted frame by frame flickers: the network sees each frame anew,
and a small change of lightness can flip a region's colour. Lightness itself
never needs smoothing (every output frame keeps its input's exact L), so only
ab is filtered, at the flow's resolution, before the full-resolution
recombination.

Per pixel x of frame t, with the previous state carried along the flow to x
(``Motion.warp``) and the trust c(x) in [0, 1] of that match:

    w'    = min(c * w_{t-1}, MAX_WEIGHT)          how many frames of history count
    ab_t  = (ab_net + w' * ab_{t-1}) / (1 + w')   the running mean of the vectors
    m_t   = (|ab_net| + w' * m_{t-1}) / (1 + w')  the running mean of their lengths
    w_t   = w' + 1
    out   = ab_t * min(m_t / |ab_t|, MAX_GAIN)    the mean hue at the mean chroma

Compared with a fixed blend of the warped previous frame (the issue's
baseline), the history weight grows where a surface stays visible and
trusted, up to MAX_WEIGHT frames, so static regions settle; it falls to zero
at once where the match breaks (occlusion, new content), so those pixels
follow the network without lag. Averaging ab vectors that disagree shortens
them, which washes colours out; rescaling to the running mean of the lengths
keeps the network's saturation. A shot cut (or new hints) restarts the state.

The network may run on every other frame only (``VideoColorizer``'s
``network_every``): a skipped frame's colour is the history moved along the
flow (``carry``), which is what the running mean would mostly return anyway,
at a tenth of the network's cost.
"""

import numpy as np

MAX_WEIGHT = 8.0  # history counts at most 8 frames' worth: the newest frame has >= 1/9 weight
MAX_GAIN = 2.0  # chroma restored at most 2x: beyond that the mean hue is noise
_EPSILON = 1e-3


class TemporalFilter:
    """Feeds on the network's ab of each frame (h, w, 2), Lab units; returns the consistent ab."""

    def __init__(self):
        self.ab = self.chroma = self.weight = None

    def reset(self):
        """Forgets the history: the next frame starts a shot."""
        self.ab = self.chroma = self.weight = None

    def carry(self, motion):
        """A frame the network skipped: the history moved along the flow, its weight kept."""
        self.ab, self.chroma = motion.warp(self.ab), motion.warp(self.chroma)
        self.weight = np.minimum(motion.confidence * motion.warp(self.weight), MAX_WEIGHT)
        return self._output()

    def __call__(self, ab_net, motion=None):
        """ab_net float32 (h, w, 2) -> float32 (h, w, 2); ``motion`` None starts a new shot."""
        ab_net = np.asarray(ab_net, np.float32)
        chroma_net = np.sqrt(np.sum(ab_net * ab_net, axis=-1))
        if motion is None or self.ab is None:
            self.ab, self.chroma = ab_net, chroma_net
            self.weight = np.ones(ab_net.shape[:2], np.float32)
            return ab_net
        history = np.minimum(motion.confidence * motion.warp(self.weight), MAX_WEIGHT)
        share = (history / (1.0 + history))[..., None]  # the history's share, (h, w, 1)
        self.ab = ab_net + share * (motion.warp(self.ab) - ab_net)
        self.chroma = chroma_net + share[..., 0] * (motion.warp(self.chroma) - chroma_net)
        self.weight = history + 1.0
        return self._output()

    def _output(self):
        length = np.sqrt(np.sum(self.ab * self.ab, axis=-1))
        gain = np.minimum(self.chroma / np.maximum(length, _EPSILON), MAX_GAIN)
        return self.ab * gain[..., None]
