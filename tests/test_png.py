"""The parallel PNG encoder writes files that Pillow and OpenCV decode to the same pixels."""

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from keras_colorize.io import png


def _encode(pixels, workers=None):
    buffer = io.BytesIO()
    png.write_png(buffer, pixels, workers)
    return buffer.getvalue()


def _decode(data):
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 4), (9, 1, 3), (300, 517, 3), (64, 33, 4)])
def test_round_trip_through_pillow(shape):
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(_decode(_encode(pixels)), pixels)


def test_a_large_image_is_deflated_in_parts_and_decodes_exactly(monkeypatch):
    rng = np.random.default_rng(0)
    # A photo-like mix: smooth gradients (compress well) plus noise (do not).
    ramp = np.linspace(0, 255, 1200, dtype=np.float32)
    pixels = (ramp[:, None, None] * 0.5 + ramp[None, :900, None] * 0.5).astype(np.uint8)
    pixels = np.repeat(pixels, 3, axis=-1) ^ rng.integers(0, 8, (1200, 900, 3), dtype=np.uint8)
    parts = []
    real_deflate = png._deflate

    def recording_deflate(part, last):
        parts.append(last)
        return real_deflate(part, last)

    monkeypatch.setattr(png, "_deflate", recording_deflate)
    data = _encode(pixels, workers=3)
    assert parts == [False, False, True]  # three parts, only the last one finishes the stream
    assert np.array_equal(_decode(data), pixels)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decoded[..., ::-1], pixels)  # OpenCV: BGR


def _idat(data):
    start = data.index(b"IDAT")
    length = int.from_bytes(data[start - 4 : start], "big")
    return data[start + 4 : start + 4 + length]


def test_the_joined_stream_is_one_valid_zlib_stream_with_its_checksum():
    # Pillow stops once it has the pixels; zlib itself checks the Adler-32 at the end.
    pixels = np.random.default_rng(3).integers(0, 256, (700, 800, 3), dtype=np.uint8)
    stream = _idat(_encode(pixels, workers=2))
    rows = zlib.decompress(stream)
    assert len(rows) == 700 * (1 + 800 * 3)
    broken = stream[:-1] + bytes([stream[-1] ^ 0xFF])
    with pytest.raises(zlib.error, match="incorrect data check"):
        zlib.decompress(broken)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8)],
)
def test_refuses_what_it_cannot_write(pixels):
    with pytest.raises(ValueError):
        _encode(pixels)
