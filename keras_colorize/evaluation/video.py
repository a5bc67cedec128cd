"""Scoring video colorization: temporal consistency, colourfulness, accuracy and speed.

Every clip's colour frames are the truth; the colorizers see only their
lightness. Two ways of colouring are compared with the truth itself:
"frame-by-frame" (each frame on its own) and "temporal" (video.temporal).

- Warping error (Lai et al., "Learning Blind Video Temporal Consistency",
  ECCV 2018): the mean over frame pairs of sum_x M(x) |O_t(x) - warp(O_{t-1})(x)|^2
  / sum_x M(x), RGB in [0, 1], M the non-occluded pixels (forward-backward
  check). The flow is Farneback's on the gray frames at full resolution: a
  different algorithm from the DIS flow the temporal method follows, so the
  method is not graded by its own flow. Pairs across a shot cut (fewer than
  MIN_VALID of the pixels matched, or a new colour histogram in the truth) are left out.
- Colour change: the same mean of the ab distance (Lab units) between warped frames.
- Colourfulness (Hasler-Suesstrunk), PSNR and AuC (ab error 0..150) per frame against
  the truth, averaged over frames.
- Speed: frames per second of the colorizer alone (reading the file and scoring excluded).
"""

import json
import os
import sys
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from keras_colorize.cli import UsageError
from keras_colorize.color import np_lab
from keras_colorize.color.colorfulness import colorfulness
from keras_colorize.color.fullres import lightness
from keras_colorize.video.colorizer import VideoColorizer
from keras_colorize.video.frames import VideoError, VideoReader

TRUTH, FRAME_BY_FRAME, TEMPORAL = "truth", "frame-by-frame", "temporal"
METHODS = (TRUTH, FRAME_BY_FRAME, TEMPORAL)
# Lai et al.'s occlusion check at full resolution: |f + b|^2 <= ALPHA (|f|^2 + |b|^2) + BETA.
CONSISTENCY_ALPHA = 0.01
CONSISTENCY_BETA = 0.5
MIN_VALID = 0.3  # a pair with fewer matched pixels than this is a cut, not motion
TRUTH_CUT_OVERLAP = 0.6  # hue-saturation histogram overlap below which the truth has a cut
CUT_BLEED_FRAMES = 5  # frames after each cut whose temporal vs frame-by-frame ab is compared


def farneback(first, second):
    """Farneback flow (h, w, 2) float32 between uint8 gray frames (OpenCV's default settings)."""
    return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def occlusion_mask(backward, forward):
    """Pixels of frame t whose flow to t-1 and back agrees and stays inside: bool (h, w)."""
    height, width = backward.shape[:2]
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    map_x, map_y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    there = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mismatch = np.sum((backward + there) ** 2, axis=-1)
    bound = CONSISTENCY_ALPHA * (np.sum(backward**2, -1) + np.sum(there**2, -1)) + CONSISTENCY_BETA
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return (mismatch <= bound) & inside, map_x, map_y


def colour_histogram(rgb):
    hsv = cv2.cvtColor(cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    return histogram / histogram.sum()


@dataclass
class Scores:
    """Running sums of one method's per-frame and per-pair scores."""

    warp: list = field(default_factory=list)
    change: list = field(default_factory=list)
    colourfulness: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    auc: list = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, frames):
        def mean(values):
            return float(np.mean(values)) if values else float("nan")

        return {
            "warping_error": mean(self.warp),
            "colour_change": mean(self.change),
            "colourfulness": mean(self.colourfulness),
            "psnr": mean(self.psnr),
            "auc_0_150": mean(self.auc),
            "fps": frames / self.seconds if self.seconds > 0 else float("nan"),
        }


def evaluate_clip(path, backend, max_frames=None, progress=None):
    """Colours one clip both ways and scores them with the truth; returns a dict of results.

    Raises VideoError if the clip does not open, ValueError if it has no frames.
    """
    from keras_colorize.evaluation.metrics import auc, psnr

    scores = {method: Scores() for method in METHODS}
    truth_cuts, detected_cuts, bleed, pairs_left_out = [], [], [], 0
    previous = previous_lab = previous_gray = previous_hist = None
    since_cut = CUT_BLEED_FRAMES
    with VideoReader(path) as reader:
        info = reader.info
        colorizers = {
            FRAME_BY_FRAME: VideoColorizer(backend, info.width, info.height, temporal=False),
            TEMPORAL: VideoColorizer(backend, info.width, info.height, temporal=True),
        }
        count = 0
        for rgb in reader:
            if max_frames and count >= max_frames:
                break
            outputs = {TRUTH: rgb}
            frames = {}
            for method, colorizer in colorizers.items():
                started = time.perf_counter()
                frames[method] = colorizer(rgb)
                scores[method].seconds += time.perf_counter() - started
                outputs[method] = frames[method].rgb
            if frames[TEMPORAL].cut and count:
                detected_cuts.append(count)
            gray = np.clip(lightness(rgb)[..., 0] * 2.55 + 0.5, 0, 255).astype(np.uint8)
            hist = colour_histogram(rgb)
            labs = {method: np_lab.rgb_uint8_to_lab(out) for method, out in outputs.items()}
            for method in (FRAME_BY_FRAME, TEMPORAL):
                scores[method].psnr.append(min(psnr(outputs[method], rgb), 100.0))
                scores[method].auc.append(auc(labs[method][..., 1:], labs[TRUTH][..., 1:]))
            for method in METHODS:
                scores[method].colourfulness.append(colorfulness(outputs[method]))
            if previous is not None:
                overlap = float(np.minimum(hist, previous_hist).sum())
                backward = farneback(gray, previous_gray)
                forward = farneback(previous_gray, gray)
                mask, map_x, map_y = occlusion_mask(backward, forward)
                if mask.mean() < MIN_VALID or overlap < TRUTH_CUT_OVERLAP:
                    truth_cuts.append(count)
                    pairs_left_out += 1
                    since_cut = 0
                else:
                    for method in METHODS:
                        warped = cv2.remap(
                            previous[method],
                            map_x,
                            map_y,
                            cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE,
                        )
                        diff = (outputs[method].astype(np.float32) - warped) / 255.0
                        scores[method].warp.append(float(np.sum(diff**2, -1)[mask].mean()))
                        warped_ab = cv2.remap(
                            previous_lab[method][..., 1:],
                            map_x,
                            map_y,
                            cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE,
                        )
                        change = np.linalg.norm(labs[method][..., 1:] - warped_ab, axis=-1)
                        scores[method].change.append(float(change[mask].mean()))
            if since_cut < CUT_BLEED_FRAMES:
                difference = np.linalg.norm(
                    labs[TEMPORAL][..., 1:] - labs[FRAME_BY_FRAME][..., 1:], axis=-1
                )
                bleed.append(float(difference.mean()))
                since_cut += 1
            previous, previous_lab = outputs, labs
            previous_gray, previous_hist = gray, hist
            count += 1
            if progress is not None:
                progress.update()
    if count == 0:
        raise ValueError(f"{path} has no frames")
    result = {
        "clip": path,
        "size": [info.width, info.height],
        "frames": count,
        "pairs_scored": len(scores[TRUTH].warp),
        "truth_cuts": truth_cuts,
        "detected_cuts": detected_cuts,
        "ab_difference_after_cuts": float(np.mean(bleed)) if bleed else None,
    }
    result.update({method: scores[method].summary(count) for method in METHODS})
    truth = result[TRUTH]
    for method in (FRAME_BY_FRAME, TEMPORAL):
        result[method]["warping_error_vs_truth"] = (
            result[method]["warping_error"] / truth["warping_error"]
        )
        result[method]["colourfulness_vs_truth"] = (
            result[method]["colourfulness"] / truth["colourfulness"]
        )
    return result


def markdown(results):
    """A table of the clips' results, one row per clip and method."""
    lines = [
        "| clip | frames | method | warping error (x1e3) | vs truth | colour change (ab) "
        "| colourfulness | PSNR (dB) | AuC | fps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        name = result["clip"].rsplit("/", 1)[-1]
        for method in METHODS:
            row = result[method]
            ratio = row.get("warping_error_vs_truth", 1.0)
            if method == TRUTH:
                accuracy = "| - | - | - |"
            else:
                accuracy = f"| {row['psnr']:.2f} | {row['auc_0_150']:.4f} | {row['fps']:.1f} |"
            lines.append(
                f"| {name} | {result['frames']} | {method} | {row['warping_error'] * 1e3:.3f} "
                f"| {ratio:.3f} | {row['colour_change']:.2f} | {row['colourfulness']:.1f} "
                + accuracy
            )
    return "\n".join(lines) + "\n"


def evaluate_videos(args):
    """`evaluate --video CLIP ... [--model NAME=PATH] [--max-frames N] [--out DIR]`; returns 0.

    Prints the table; with --out also writes video_metrics.json and .md there.
    """
    from tqdm import tqdm

    from keras_colorize.inference.backends import open_backend
    from keras_colorize.inference.shipped import find_model

    if len(args.model) > 1:
        raise UsageError("--video scores one --model at a time")
    if args.max_frames is not None and args.max_frames < 2:
        raise UsageError("--max-frames must be at least 2 for --video (warping needs pairs)")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    path = args.model[0].partition("=")[2] or args.model[0] if args.model else None
    for clip in args.video:
        try:
            VideoReader(clip).close()
        except VideoError as error:
            raise UsageError(str(error)) from None
    backend = open_backend(find_model(path), None)
    results = []
    for clip in args.video:
        with tqdm(
            desc=os.path.basename(clip), unit="frame", disable=args.quiet, file=sys.stderr
        ) as bar:
            try:
                results.append(evaluate_clip(clip, backend, args.max_frames, bar))
            except ValueError as error:
                raise UsageError(str(error)) from None
    table = markdown(results)
    print(table, end="")
    for result in results:
        print(
            f"{os.path.basename(result['clip'])}: cuts in the truth at {result['truth_cuts']}, "
            f"found by the method at {result['detected_cuts']}"
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "video_metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        with open(os.path.join(args.out, "video_metrics.md"), "w", encoding="utf-8") as handle:
            handle.write(table)
    return 0
