"""Reading every supported format and mode into 8-bit RGB."""

import io

import numpy as np
import pytest
from PIL import Image

from keras_colorize.io.images import ImageReadError, decode_image, read_image
from tests.conftest import photo_paths


def _encode(image, fmt, **params):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _gradient(width=24, height=16):
    x = np.linspace(0, 255, width, dtype=np.uint8)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = x
    rgb[..., 1] = 255 - x
    rgb[..., 2] = 128
    return rgb


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_round_trip(fmt):
    rgb = _gradient()
    params = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode_image(_encode(Image.fromarray(rgb), fmt, **params))
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape == rgb.shape
    np.testing.assert_array_equal(decoded.rgb, rgb)
    assert decoded.alpha is None and not decoded.was_gray


def test_real_jpeg():
    decoded = read_image(photo_paths()[0])
    assert decoded.rgb.ndim == 3 and decoded.rgb.shape[-1] == 3 and not decoded.was_gray


def test_exif_orientation_is_applied():
    rgb = _gradient(width=24, height=16)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    decoded = decode_image(_encode(Image.fromarray(rgb), "PNG", exif=exif))
    assert decoded.rgb.shape == (24, 16, 3)
    np.testing.assert_array_equal(decoded.rgb, np.rot90(rgb, k=-1))


def test_gray_and_one_bit_images_become_gray_rgb():
    gray = _gradient()[..., 0]
    for image in (Image.fromarray(gray), Image.fromarray(gray > 127)):
        decoded = decode_image(_encode(image, "PNG"))
        assert decoded.was_gray and decoded.rgb.shape == (16, 24, 3)
        assert (decoded.rgb[..., 0] == decoded.rgb[..., 2]).all()


def test_sixteen_bit_gray_is_scaled_not_clipped():
    values = np.linspace(0, 65535, 24).astype(np.uint16)[None].repeat(4, axis=0)
    decoded = decode_image(_encode(Image.fromarray(values), "PNG"))
    np.testing.assert_array_equal(decoded.rgb[..., 0], np.round(values / 257).astype(np.uint8))


def test_rgba_keeps_alpha_and_palette_converts():
    rgba = np.dstack([_gradient(), np.full((16, 24), 77, np.uint8)])
    decoded = decode_image(_encode(Image.fromarray(rgba), "PNG"))
    np.testing.assert_array_equal(decoded.rgb, rgba[..., :3])
    assert (decoded.alpha == 77).all()
    palette = Image.fromarray(_gradient()).quantize(16)
    decoded = decode_image(_encode(palette, "PNG"))
    np.testing.assert_array_equal(decoded.rgb, np.asarray(palette.convert("RGB")))


def test_cmyk_jpeg_converts_to_rgb():
    cmyk = Image.fromarray(_gradient()).convert("CMYK")
    decoded = decode_image(_encode(cmyk, "JPEG", quality=95))
    assert decoded.rgb.shape == (16, 24, 3)
    assert np.abs(decoded.rgb.astype(int) - _gradient().astype(int)).mean() < 10


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"this is not an image", "not a readable image")],
)
def test_bad_bytes_raise_a_readable_error(data, message):
    with pytest.raises(ImageReadError, match=message):
        decode_image(data)


def test_truncated_jpeg_raises():
    with open(photo_paths()[0], "rb") as handle:
        data = handle.read()
    with pytest.raises(ImageReadError):
        decode_image(data[: len(data) // 2])


def test_missing_file_raises(tmp_path):
    with pytest.raises(ImageReadError, match="cannot read"):
        read_image(str(tmp_path / "nope.jpg"))


def test_draft_decodes_a_large_jpeg_smaller_but_not_below_the_request():
    big = np.asarray(Image.fromarray(_gradient(800, 600)).resize((800, 600)))
    decoded = decode_image(_encode(Image.fromarray(big), "JPEG"), draft_size=(128, 128))
    assert min(decoded.rgb.shape[:2]) >= 128 and decoded.rgb.shape[1] < 800


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_sixteen_bit_rgb_files_become_eight_bit(tmp_path, ext):
    import cv2

    rgb16 = (np.random.default_rng(1).random((10, 12, 3)) * 65535).astype(np.uint16)
    path = str(tmp_path / f"deep.{ext}")
    cv2.imwrite(path, rgb16[..., ::-1])  # OpenCV writes BGR
    decoded = read_image(path)
    expected = np.round(rgb16 / 257).astype(int)
    assert np.abs(decoded.rgb.astype(int) - expected).max() <= 1
