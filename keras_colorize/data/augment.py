"""Training augmentations beyond crops and flips: small rotations, and pasted object cut-outs.

With a few hundred photos a colorizer overfits within epochs and rarely sees
saturated reds, oranges and yellows. Two remedies, both geometric or
content-level, never a colour jitter (that would change the target colour):

- ``rotate``: a small random rotation (reflected borders), a view the crops
  and flips do not give.
- ``paste_objects``: a few real-photo object cut-outs (RGBA: flowers, fruit,
  birds, vehicles ...) pasted onto the crop at random scale and position, as
  in copy-paste augmentation (Ghiasi et al., CVPR 2021). Their alpha is eroded
  by a pixel so that no fringe of their old background comes along.

Every function is TF ops on float RGB (S, S, 3) in [0, 1] with a stateless
seed, so a run is reproducible under a parallel tf.data map.
"""

import math
import os

import numpy as np
import tensorflow as tf

from keras_colorize.io.folders import image_files

OBJECT_MAX_SIDE = 192  # cut-outs are stored at most this long: memory, and crops are small
PASTE_SCALE = (0.25, 0.6)  # an object's long side as a fraction of the crop side


class ObjectsError(Exception):
    """A cut-out folder that is missing or holds no RGBA images; one-line message."""


def load_objects(folder, max_side=OBJECT_MAX_SIDE):
    """The RGBA cut-outs under ``folder`` as one padded tensor, for ``paste_objects``.

    Returns:
        (pixels uint8 (N, M, M, 4), sizes int32 (N, 2) of (height, width)), each
        cut-out shrunk to a long side of at most ``max_side`` = M, alpha eroded by
        one pixel, in the top-left corner of its M x M slot.
    """
    import cv2
    from PIL import Image

    if not os.path.isdir(folder):
        raise ObjectsError(f"object folder {folder} does not exist")
    pixels, sizes = [], []
    for path, _ in image_files(folder):
        with Image.open(path) as image:
            if image.mode != "RGBA":
                continue  # only cut-outs carry the transparency that pasting needs
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            rgba = np.asarray(image).copy()
        rgba[..., 3] = cv2.erode(rgba[..., 3], np.ones((3, 3), np.uint8))
        slot = np.zeros((max_side, max_side, 4), np.uint8)
        slot[: rgba.shape[0], : rgba.shape[1]] = rgba
        pixels.append(slot)
        sizes.append(rgba.shape[:2])
    if not pixels:
        raise ObjectsError(f"{folder} holds no RGBA images to paste")
    return np.stack(pixels), np.asarray(sizes, np.int32)


def rotate(rgb, max_degrees, seed):
    """Rotates float RGB (S, S, 3) by a uniform angle in [-max_degrees, max_degrees].

    Reflected borders: no black corners for the model to learn.
    """
    angle = tf.random.stateless_uniform([], seed, -max_degrees, max_degrees) * (math.pi / 180.0)
    size = tf.cast(tf.shape(rgb)[0], tf.float32)
    centre = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2).
    transform = tf.stack(
        [
            cos,
            -sin,
            centre - cos * centre + sin * centre,
            sin,
            cos,
            centre - sin * centre - cos * centre,
            0.0,
            0.0,
        ]
    )[None]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=rgb[None],
        transforms=transform,
        output_shape=tf.shape(rgb)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return rotated[0]


def _paste_one(rgb, pixels, sizes, seed):
    """Pastes one random cut-out onto float RGB (S, S, 3) at a random scale and place."""
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    side = tf.shape(rgb)[0]
    index = tf.random.stateless_uniform([], seeds[0], 0, tf.shape(pixels)[0], dtype=tf.int32)
    height, width = sizes[index][0], sizes[index][1]
    cut = tf.cast(pixels[index][:height, :width], tf.float32) / 255.0  # (h, w, 4)
    fraction = tf.random.stateless_uniform([], seeds[1], *PASTE_SCALE)
    scale = fraction * tf.cast(side, tf.float32) / tf.cast(tf.maximum(height, width), tf.float32)
    new_h = tf.maximum(1, tf.cast(tf.cast(height, tf.float32) * scale, tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.cast(width, tf.float32) * scale, tf.int32))
    cut = tf.image.resize(cut, [new_h, new_w], antialias=True)
    cut = tf.image.stateless_random_flip_left_right(cut, seeds[2])
    # Anywhere on the crop, the object possibly cut by its border.
    top = tf.random.stateless_uniform([], seeds[3], -new_h // 2, side - new_h // 2, tf.int32)
    left = tf.random.stateless_uniform([], seeds[4], -new_w // 2, side - new_w // 2, tf.int32)
    y0, x0 = tf.maximum(top, 0), tf.maximum(left, 0)
    y1, x1 = tf.minimum(top + new_h, side), tf.minimum(left + new_w, side)
    visible = cut[y0 - top : y1 - top, x0 - left : x1 - left]  # (h', w', 4)
    layer = tf.image.pad_to_bounding_box(visible, y0, x0, side, side)  # (S, S, 4)
    alpha = tf.minimum(tf.maximum(layer[..., 3:], 0.0), 1.0)
    return layer[..., :3] * alpha + rgb * (1.0 - alpha)


def paste_objects(rgb, pixels, sizes, max_objects, probability, seed):
    """Pastes up to ``max_objects`` cut-outs, each with ``probability``, onto float RGB (S, S, 3).

    pixels, sizes: from ``load_objects`` (as tensors). Returns float RGB in [0, 1].
    """
    seeds = tf.random.experimental.stateless_split(seed, num=2 * max_objects)
    for slot in range(max_objects):
        chosen = tf.random.stateless_uniform([], seeds[2 * slot]) < probability
        pasted = _paste_one(rgb, pixels, sizes, seeds[2 * slot + 1])
        rgb = tf.where(chosen, pasted, rgb)
    return tf.minimum(tf.maximum(rgb, 0.0), 1.0)


class Augmentation:
    """The extra augmentations of a training pipeline (see make_dataset's ``augmentation``).

    rotate_degrees: largest rotation, 0 for none. objects: ``load_objects``'s
    (pixels, sizes) or None. paste_max, paste_probability: up to paste_max
    cut-outs per crop, each pasted with paste_probability.
    """

    def __init__(self, rotate_degrees=0.0, objects=None, paste_max=2, paste_probability=0.5):
        self.rotate_degrees = float(rotate_degrees)
        self.paste_max = int(paste_max) if objects is not None else 0
        self.paste_probability = float(paste_probability)
        if objects is not None:
            self.pixels = tf.constant(objects[0])
            self.sizes = tf.constant(objects[1])

    def __call__(self, rgb, seed):
        """float RGB (S, S, 3) in [0, 1] -> augmented float RGB (S, S, 3) in [0, 1]."""
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        if self.rotate_degrees:
            rgb = rotate(rgb, self.rotate_degrees, seeds[0])
        if self.paste_max:
            rgb = paste_objects(
                rgb, self.pixels, self.sizes, self.paste_max, self.paste_probability, seeds[1]
            )
        return rgb
