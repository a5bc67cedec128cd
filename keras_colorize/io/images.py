"""Reading image files into 8-bit RGB arrays, whatever their format and mode.

Pillow decodes (JPEG, PNG, WebP, BMP, TIFF, GIF ...), applies the EXIF
orientation and converts palette, gray, CMYK, 16-bit and alpha images. No
TensorFlow here: data_prep runs this in worker processes.
"""

import io
import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# Errors Pillow raises for corrupt, truncated or unsupported files.
DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


class ImageReadError(Exception):
    """A file that is not a readable image; the message says why."""


@dataclass
class DecodedImage:
    """An image as 8-bit arrays.

    rgb: uint8 (H, W, 3). alpha: uint8 (H, W) or None. was_gray: the file held
    no colour information (a gray or 1-bit mode, or RGB with R == G == B).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    was_gray: bool


def _to_uint8(values):
    """Scales integer or float pixel values of any bit depth to uint8."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.floating):
        peak = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        return np.round(np.clip(values / peak, 0.0, 1.0) * 255.0).astype(np.uint8)
    # 16-bit files arrive as uint16 or int32 in 0..65535; 65535 / 255 = 257.
    peak = 65535 if values.max(initial=0) > 255 else 255
    return np.round(values.astype(np.float64) * (255.0 / peak)).astype(np.uint8)


def is_gray(rgb):
    """True if every pixel of uint8 RGB (..., 3) has R = G = B."""
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def _pillow_to_arrays(image):
    """A loaded Pillow image -> (rgb uint8 (H, W, 3), alpha or None, was_gray)."""
    mode = image.mode
    alpha = None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    if mode in ("1", "L", "LA"):
        gray = np.asarray(image.convert("L"))
        return np.repeat(gray[..., None], 3, axis=-1), alpha, True
    if mode.startswith("I") or mode == "F":
        # 16/32-bit integer or float gray: scale by bit depth, not clip.
        gray = _to_uint8(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=-1), alpha, True
    rgb = np.asarray(image.convert("RGB"))
    return rgb, alpha, is_gray(rgb)


_BUFFER_NAME = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def decode_image(data, draft_size=None):
    """Decodes encoded image bytes.

    Args:
        data: the file's bytes.
        draft_size: optional (width, height). A JPEG is then decoded at the
            smallest DCT scale (1/2, 1/4, 1/8) that stays at least this large,
            which is much faster for a big photo that will be shrunk anyway.

    Returns:
        DecodedImage with the EXIF orientation applied.

    Raises:
        ImageReadError: the bytes are empty, truncated, corrupt or not an image.
    """
    if not data:
        raise ImageReadError("empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", draft_size)
            image.load()  # forces a full decode so truncation is caught here
            image = ImageOps.exif_transpose(image)
            rgb, alpha, was_gray = _pillow_to_arrays(image)
    except DECODE_ERRORS as error:
        # Pillow names the buffer it read ("<_io.BytesIO object at 0x...>"): an address
        # that would make data_prep's manifest differ from run to run.
        reason = _BUFFER_NAME.sub("", str(error))
        raise ImageReadError(f"not a readable image ({reason})") from error
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageReadError("image has no pixels")
    return DecodedImage(rgb=np.ascontiguousarray(rgb), alpha=alpha, was_gray=was_gray)


def read_image(path, draft_size=None):
    """Reads and decodes an image file; see decode_image. Raises ImageReadError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageReadError(f"cannot read file ({error.strerror})") from error
    return decode_image(data, draft_size=draft_size)


def shrink_to_side(rgb, side):
    """uint8 (H, W, C) -> the same with its long side at most ``side`` (area averaging).

    A photo that already fits is returned as it is.
    """
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
