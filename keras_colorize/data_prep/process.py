"""Per-image work done in worker processes: read, decode, resize, crop, score, encode.

Imports no TensorFlow so that spawning a worker stays cheap.
"""

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from keras_colorize.color.colorfulness import colorfulness
from keras_colorize.io.images import ImageReadError, decode_image


@dataclass(frozen=True)
class ProcessOptions:
    """How every image is turned into a record (a slice of the build options)."""

    short_side: int  # resize so the short side has this many pixels ...
    crop: str  # ... then crop a short_side square: "center" or "random"
    encoding: str  # "jpeg" or "png"
    jpeg_quality: int


@dataclass
class ProcessedImage:
    """What a worker sends back for one file (small: no decoded pixels)."""

    path: str
    key: str = ""  # hex SHA-256 of the file's bytes
    error: str = ""  # why the file was skipped, if it was
    encoded: bytes = b""
    height: int = 0
    width: int = 0
    colorfulness: float = 0.0
    max_abs_ab: float = 0.0  # the largest |a| or |b| over the image's pixels


def resize_short_side(rgb, short_side):
    """Resizes uint8 (H, W, 3) so min(H, W) == short_side, keeping the aspect ratio."""
    height, width = rgb.shape[:2]
    scale = short_side / min(height, width)
    size = (max(short_side, round(width * scale)), max(short_side, round(height * scale)))
    # Area averaging avoids aliasing when shrinking; cubic is sharper when enlarging.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interpolation)


def crop_square(rgb, side, mode, key):
    """Crops a side x side square: centred, or at an offset drawn from the file's hash.

    Seeding the "random" crop by the content hash keeps re-runs byte-identical.
    """
    height, width = rgb.shape[:2]
    if mode == "center":
        top, left = (height - side) // 2, (width - side) // 2
    else:
        rng = np.random.default_rng(int(key[:16], 16))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    return rgb[top : top + side, left : left + side]


def max_abs_ab(rgb):
    """The largest |a| or |b| of an 8-bit RGB image.

    OpenCV's float Lab is within about 0.6 of exact, which is immaterial for
    the gray test (threshold constants.GRAY_AB_THRESHOLD).
    """
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return float(np.abs(lab[..., 1:]).max())


def encode(rgb, options):
    """uint8 RGB -> JPEG or PNG bytes."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if options.encoding == "png":
        ok, buffer = cv2.imencode(".png", bgr)
    else:
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality])
    if not ok:
        raise ImageReadError(f"could not encode as {options.encoding}")
    return buffer.tobytes()


def process_file(path, options):
    """Reads one local file and prepares its record; never raises for a bad file.

    Returns:
        ProcessedImage; `error` is set (and nothing else but `path`/`key`) when
        the file cannot be used.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return ProcessedImage(path=path, error=f"cannot read file ({error.strerror})")
    return process_bytes(path, data, options)


def process_bytes(path, data, options):
    """Prepares the record of a file already read into `data`; never raises for bad bytes.

    Shared by the local pool and the Beam pipeline, which reads through tf.io.gfile.
    """
    result = ProcessedImage(path=path)
    result.key = hashlib.sha256(data).hexdigest()
    try:
        draft = (options.short_side, options.short_side)
        decoded = decode_image(data, draft_size=draft)
        rgb = resize_short_side(decoded.rgb, options.short_side)
        rgb = np.ascontiguousarray(crop_square(rgb, options.short_side, options.crop, result.key))
        result.encoded = encode(rgb, options)
    except ImageReadError as error:
        result.error = str(error)
        return result
    result.height, result.width = rgb.shape[:2]
    result.colorfulness = colorfulness(rgb)
    result.max_abs_ab = max_abs_ab(rgb)
    return result
