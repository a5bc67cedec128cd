"""The picture of docs/video-strip.jpg: a few frames of a clip, four ways side by side.

    python -m benchmarks.video_strip bigbuckbunny.mp4 --frames 60 62 64 --out docs/video-strip.jpg

Columns: the gray input | colour frame by frame | temporally consistent colour
| the true colour. Rows: the chosen frames, in order, so that flicker shows as
a colour change down a column. Every frame up to the last chosen one is
colorized (the temporal filter needs its history).
"""

import argparse
import sys

import cv2
import numpy as np

from keras_colorize.colorize import open_backend
from keras_colorize.inference.shipped import find_model
from keras_colorize.video.colorizer import VideoColorizer
from keras_colorize.video.frames import VideoReader

PANEL_WIDTH = 320
GAP = 4  # white pixels between panels
JPEG_QUALITY = 90


def strip(clip, frames, model=None):
    """uint8 RGB: one row per frame index, columns gray | frame-by-frame | temporal | truth."""
    from keras_colorize.color.fullres import lightness, recombine

    backend = open_backend(find_model(model), None)
    wanted, rows = set(frames), []
    with VideoReader(clip) as reader:
        width, height = reader.info.width, reader.info.height
        by_frame = VideoColorizer(backend, width, height, temporal=False)
        temporal = VideoColorizer(backend, width, height, temporal=True)
        for index, rgb in enumerate(reader):
            if index > max(frames):
                break
            consistent = temporal(rgb).rgb
            if index not in wanted:
                by_frame.index += 1  # keeps its frame count without running the network
                continue
            gray = recombine(lightness(rgb), np.zeros((1, 1, 2), np.float32))
            panels = [gray, by_frame(rgb).rgb, consistent, rgb]
            size = (PANEL_WIDTH, round(height * PANEL_WIDTH / width))
            small = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in panels]
            gap = np.full((size[1], GAP, 3), 255, np.uint8)
            rows.append(np.concatenate([x for p in small for x in (p, gap)][:-1], axis=1))
    gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="video_strip", description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--frames", nargs="+", type=int, required=True)
    parser.add_argument("--model")
    parser.add_argument("--out", required=True, help="a .jpg path")
    args = parser.parse_args(argv)
    picture = strip(args.clip, sorted(args.frames), args.model)
    cv2.imwrite(
        args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
