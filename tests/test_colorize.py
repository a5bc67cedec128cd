"""The colorize command: full resolution, safe writing, every input kind, bounded memory."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_colorize.colorize import main
from tests.conftest import photo_paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An untrained tiny regression colorizer working at 32 px (its sidecar file says so)."""
    import keras

    from keras_colorize.config import make_config
    from keras_colorize.training.families import build_trainer

    keras.utils.set_random_seed(0)
    config = make_config("regression", "tiny")
    folder = tmp_path_factory.mktemp("model")
    network = build_trainer(config.model, config.train).inference_model()
    # Untrained, it predicts ab up to ~110, far outside sRGB, where clipping shifts L;
    # a fifth of that is as saturated as a trained colorizer's output.
    head = network.layers[-1]
    head.set_weights([w * 0.2 for w in head.get_weights()])
    network.save(folder / "colorizer.keras")
    (folder / "keras_colorize.json").write_text(json.dumps({"working_size": 32}))
    return str(folder / "colorizer.keras")


@pytest.fixture(autouse=True)
def keep_environment(monkeypatch):
    """main() quietens TensorFlow's start-up logging; that stays out of other tests."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))


def run(model, *args):
    return main([*map(str, args), "--model", model, "--quiet"])


def _gray(width=48, height=32):
    """uint8 (height, width): a smooth ramp with some texture."""
    y, x = np.mgrid[0:height, 0:width]
    return (40 + 3 * x + 2 * y + 10 * ((x + y) % 3)).clip(0, 255).astype(np.uint8)


def _save(array, path, **params):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **params)
    return path


def test_photo_keeps_full_resolution_and_aspect(model, tmp_path, monkeypatch, capsys):
    photo = next(p for p in photo_paths() if Image.open(p).size == (385, 256))
    monkeypatch.chdir(tmp_path)  # the default --out is ./colorized
    assert run(model, photo) == 0
    name = os.path.splitext(os.path.basename(photo))[0] + ".png"
    with Image.open(tmp_path / "colorized" / name) as out:
        assert out.size == (385, 256) and out.mode == "RGB"
    captured = capsys.readouterr()
    assert "note: 1 input was already in colour; only its lightness was used" in captured.err
    assert re.fullmatch(
        r"colorized 1 photo into colorized in \d+\.\d\d s \(0 skipped\)", captured.out.strip()
    )


def test_folders_recurse_and_keep_relative_paths(model, tmp_path):
    src = tmp_path / "scans"
    for relative in ("a.png", "box1/b.jpg", "box1/old/c.TIF", ".hidden/d.png", "._e.jpg"):
        _save(_gray(), src / relative)
    (src / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    assert run(model, src, "--out", out) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a.png", "box1/b.png", "box1/old/c.png"]


def test_output_folder_inside_input_folder_is_not_reread(model, tmp_path, capsys):
    src = tmp_path / "scans"
    _save(_gray(), src / "a.png")
    for _ in range(2):
        assert run(model, src, "--out", src / "colorized", "--overwrite") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("colorized 1 photo ")
    assert sorted(p.name for p in (src / "colorized").iterdir()) == ["a.png"]


def test_glob_patterns_are_expanded(model, tmp_path):
    for name in ("a.png", "b.png", "c.bmp", "sub/d.png"):
        _save(_gray(), tmp_path / "in" / name)
    out = tmp_path / "out"
    assert run(model, str(tmp_path / "in" / "*.png"), "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


def test_two_inputs_writing_one_output_are_caught(model, tmp_path, capsys):
    _save(_gray(), tmp_path / "one" / "x.png")
    _save(_gray(), tmp_path / "two" / "x.png")
    assert run(model, tmp_path / "one", tmp_path / "two", "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"skipped {tmp_path / 'two' / 'x.png'}: output" in err and "already written" in err


def test_every_mode_and_orientation(model, tmp_path, capsys):
    gray = _gray()  # (32, 48)
    alpha = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))
    rgb = np.dstack([gray, 255 - gray, gray // 2])
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    src = tmp_path / "in"
    _save(gray, src / "gray.png")
    _save(np.dstack([gray] * 3 + [alpha]), src / "rgba.png")
    _save(gray.astype(np.uint16) * 257, src / "sixteen.png")
    Image.fromarray(rgb).quantize(16).save(src / "palette.png")
    _save(gray, src / "rotated.jpg", exif=exif, quality=95)
    out = tmp_path / "out"
    assert run(model, src, "--out", out) == 0
    sizes = {p.stem: Image.open(p).size for p in out.iterdir()}
    assert sizes == {n: (48, 32) for n in ("gray", "rgba", "sixteen", "palette")} | {
        "rotated": (32, 48)
    }
    with Image.open(out / "rgba.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image)[..., 3], alpha)
    assert "note: 1 input was already in colour" in capsys.readouterr().err  # the palette image

    assert run(model, src / "rgba.png", "--out", out, "--format", "jpeg") == 0
    assert Image.open(out / "rgba.jpg").mode == "RGB"
    assert "alpha channel of 1 input was dropped" in capsys.readouterr().err


def test_lightness_is_preserved(model, tmp_path):
    from keras_colorize.color.fullres import lightness

    gray = np.asarray(Image.open(photo_paths()[2]).convert("L"))
    source = _save(gray, tmp_path / "gray.png")
    assert run(model, source, "--out", tmp_path / "out") == 0
    colour = np.asarray(Image.open(tmp_path / "out" / "gray.png"))
    assert colour.shape == (*gray.shape, 3) and np.ptp(colour.astype(int), axis=-1).max() > 0
    delta = np.abs(lightness(colour) - lightness(np.dstack([gray] * 3)))
    assert delta.mean() < 1.0


def test_existing_output_is_kept_without_overwrite(model, tmp_path, capsys):
    source = _save(_gray(), tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"precious")
    assert run(model, source, "--out", out) == 1
    assert (out / "a.png").read_bytes() == b"precious"
    captured = capsys.readouterr()
    assert f"skipped {source}: {out / 'a.png'} exists" in captured.err
    assert "pass --overwrite to replace them" in captured.err
    assert "(1 skipped)" in captured.out
    assert run(model, source, "--out", out, "--overwrite") == 0
    assert Image.open(out / "a.png").size == (48, 32)


def test_an_input_is_never_overwritten(model, tmp_path, capsys):
    source = _save(_gray(), tmp_path / "a.png")
    before = source.read_bytes()
    assert run(model, source, "--out", tmp_path, "--overwrite") == 1
    assert source.read_bytes() == before
    assert "would replace an input" in capsys.readouterr().err


def test_compare_is_gray_beside_colour(model, tmp_path):
    gray = _gray()
    source = _save(gray, tmp_path / "a.png")
    assert run(model, source, "--out", tmp_path / "out", "--compare") == 0
    side = np.asarray(Image.open(tmp_path / "out" / "a_compare.png"))
    assert side.shape == (32, 96, 3)
    np.testing.assert_array_equal(side[:, :48, 0], gray)
    np.testing.assert_array_equal(side[:, 48:], np.asarray(Image.open(tmp_path / "out" / "a.png")))


def test_unreadable_files_are_skipped_and_reported(model, tmp_path, capsys):
    src = tmp_path / "in"
    good = _save(_gray(), src / "good.png")
    (src / "corrupt.jpg").write_bytes(b"definitely not a jpeg" * 20)
    (src / "truncated.png").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (src / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    assert run(model, src, "--out", out, "--batch-size", "2") == 1
    assert [p.name for p in out.iterdir()] == ["good.png"]
    captured = capsys.readouterr()
    for name in ("corrupt.jpg", "truncated.png", "empty.jpg"):
        assert f"skipped {src / name}: " in captured.err
    assert re.fullmatch(
        rf"colorized 1 photo into {re.escape(str(out))} in \d+\.\d\d s \(3 skipped\)",
        captured.out.strip(),
    )


def test_no_shipped_model_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from keras_colorize.inference import shipped

    monkeypatch.setattr(shipped, "SHIPPED_CANDIDATES", (str(tmp_path / "no-such.tflite"),))
    source = _save(_gray(), tmp_path / "a.png")
    assert main([str(source), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        "colorize: error: this install has no shipped model (models/colorizer/colorizer.tflite); "
        "reinstall keras-colorize, or train one with python -m keras_colorize.fit and pass "
        "--model\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("problem", ["missing model", "broken model", "no inputs", "bad flag"])
def test_usage_errors_exit_2(problem, model, tmp_path, capsys):
    source = str(_save(_gray(), tmp_path / "a.png"))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    argv = {
        "missing model": [source, "--model", str(tmp_path / "nope.keras")],
        "broken model": [source, "--model", str(broken)],
        "no inputs": [str(tmp_path / "*.jpg"), "--model", model],
        "bad flag": [source, "--model", model, "--batch-size", "0"],
    }[problem]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("colorize: error: ")
    assert not (tmp_path / "out").exists()


MEASURE = """
import json, resource, sys, time
from keras_colorize.colorize import main
start = time.perf_counter()
code = main(sys.argv[1:])
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({"code": code, "seconds": time.perf_counter() - start, "peak_mb": peak_mb}))
"""


@pytest.mark.slow
def test_forty_megapixel_scan_in_bounded_memory(model, tmp_path):
    height, width = 5500, 7300
    y, x = np.ogrid[0:height, 0:width]
    scan = (60 + 120 * y / height + 20 * np.sin(x / 50.0) + (x % 5)).astype(np.uint8)
    source = _save(scan, tmp_path / "scan.jpg", quality=90)
    del scan
    out = tmp_path / "out"
    argv = [str(source), "--model", model, "--out", str(out), "--format", "jpeg", "--quiet"]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"40 MP scan: peak RSS {measured['peak_mb']:.0f} MB, {measured['seconds']:.1f} s")
    assert measured["code"] == 0
    assert Image.open(out / "scan.jpg").size == (width, height)
    assert measured["peak_mb"] < 3000
