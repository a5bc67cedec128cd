"""The dataset builder: filtering, splitting, sharding, idempotence and user errors."""

import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_colorize import constants as C
from keras_colorize.data import schema
from keras_colorize.data_prep.__main__ import main
from keras_colorize.data_prep.build import BuildOptions, DataPrepError, build_dataset
from keras_colorize.data_prep.splits import assign_split
from tests.conftest import photo_paths


def _copy_photos(folder, paths=None):
    os.makedirs(folder, exist_ok=True)
    for path in paths or photo_paths():
        shutil.copy(path, folder)
    return str(folder)


def _read_records(out, split):
    return [
        schema.parse_example(r) for r in tf.data.TFRecordDataset(schema.shard_paths(out, split))
    ]


def _manifest(out):
    with open(os.path.join(out, schema.MANIFEST_FILE), encoding="utf-8") as handle:
        return json.load(handle)


def _folder_bytes(out):
    return {name: open(os.path.join(out, name), "rb").read() for name in sorted(os.listdir(out))}


@pytest.fixture
def messy_source(tmp_path):
    """Real photos plus a gray photo, a corrupt, a truncated, an empty file, a text file,
    a duplicate in a subfolder and a PNG with alpha."""
    src = tmp_path / "src"
    _copy_photos(src)
    photos = photo_paths()
    Image.open(photos[0]).convert("L").save(src / "gray.png")
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    data = open(photos[1], "rb").read()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (src / "empty.png").write_bytes(b"")
    (src / "notes.txt").write_text("not an image")
    nested = src / "nested" / "deeper"
    nested.mkdir(parents=True)
    shutil.copy(photos[2], nested / "copy.jpg")
    rgba = Image.open(photos[3]).convert("RGBA")
    rgba.putalpha(200)
    rgba.save(nested / "alpha.png")
    return str(src)


def test_build_reports_every_file_and_writes_readable_shards(messy_source, tmp_path):
    out = str(tmp_path / "out")
    options = BuildOptions(image_size=32, images_per_shard=3, min_colorfulness=20)
    manifest = build_dataset([messy_source], out, options, progress=False)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"corrupt.jpg", "truncated.jpg", "empty.png", "copy.jpg"}
    assert reasons["copy.jpg"].startswith("duplicate of")
    assert reasons["empty.png"] == "empty file"
    assert manifest["ignored_non_image_files"] == 1
    assert manifest["dropped"]["gray"] == 1
    # measuringTape4 scores 16 at 32 px, the other photos 22 and more.
    assert manifest["dropped"]["below_min_colorfulness"] == 1
    kept = sum(manifest["counts"].values())
    assert kept == len(photo_paths()) - 1 + 1  # all photos but one, plus the alpha PNG
    records = _read_records(out, "train") + _read_records(out, "val")
    assert len(records) == kept
    for record in records:
        image = schema.decode_rgb(record).numpy()
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert record["image/colorfulness"].numpy() >= 20
    sources = {r["image/source"].numpy().decode() for r in records}
    assert os.path.join("nested", "deeper", "alpha.png") in sources
    assert len(schema.shard_paths(out, "train")) == -(-manifest["counts"]["train"] // 3)
    assert os.path.exists(os.path.join(out, "colorfulness.png"))
    assert not [n for n in os.listdir(out) if n.startswith(".staging")]


def test_splits_follow_the_content_hash_and_survive_added_files(tmp_path):
    photos = photo_paths()
    src = _copy_photos(tmp_path / "src", photos[:5])
    out = str(tmp_path / "out")
    options = BuildOptions(image_size=32, val_fraction=0.4, min_colorfulness=0)
    first = build_dataset([src], out, options, progress=False, figure=False)
    splits_before = {
        s: {r["image/key"].numpy() for r in _read_records(out, s)} for s in ("train", "val")
    }
    _copy_photos(src, photos[5:])
    second = build_dataset([src], out, options, progress=False, figure=False)
    splits_after = {
        s: {r["image/key"].numpy() for r in _read_records(out, s)} for s in ("train", "val")
    }
    for split in ("train", "val"):
        assert splits_before[split] <= splits_after[split]
        for key in splits_after[split]:
            assert assign_split(key.decode(), 0.4, 0.0) == split
    assert sum(second["counts"].values()) == len(photos) > sum(first["counts"].values())


def test_rebuild_is_byte_identical(tmp_path):
    src = _copy_photos(tmp_path / "src")
    out = str(tmp_path / "out")
    options = BuildOptions(image_size=32, images_per_shard=2)
    build_dataset([src], out, options, progress=False)
    before = _folder_bytes(out)
    build_dataset([src], out, options, progress=False)
    assert _folder_bytes(out) == before


def test_parallel_workers_give_the_same_dataset(tmp_path):
    src = _copy_photos(tmp_path / "src")
    options = BuildOptions(image_size=32)
    serial, parallel = str(tmp_path / "serial"), str(tmp_path / "parallel")
    build_dataset([src], serial, options, workers=1, progress=False, figure=False)
    build_dataset([src], parallel, options, workers=2, progress=False, figure=False)
    assert _folder_bytes(serial) == _folder_bytes(parallel)


def test_keep_top_keeps_the_most_colourful(tmp_path):
    src = _copy_photos(tmp_path / "src")
    everything, top = str(tmp_path / "all"), str(tmp_path / "top")
    options = BuildOptions(image_size=32, min_colorfulness=0)
    build_dataset([src], everything, options, progress=False, figure=False)
    manifest = build_dataset([src], top, replace(options, keep_top=3), progress=False, figure=False)

    def scores(out):
        return sorted(
            float(r["image/colorfulness"]) for s in ("train", "val") for r in _read_records(out, s)
        )

    assert scores(top) == scores(everything)[-3:]
    assert manifest["dropped"]["not_in_top_n"] == len(photo_paths()) - 3


def test_prior_counts_every_training_pixel_on_the_ab_grid(small_dataset):
    prior = np.load(os.path.join(small_dataset, schema.PRIOR_FILE))
    manifest = _manifest(small_dataset)
    assert prior.shape == (C.AB_GRID_SIZE, C.AB_GRID_SIZE)
    assert prior.sum() == manifest["counts"]["train"] * 80 * 80 == manifest["prior"]["pixels"]
    centre = C.AB_GRID_SIZE // 2
    assert prior[centre, centre] > 0  # near-neutral pixels exist in every photo
    assert prior[0, 0] == 0  # a=-110, b=-110 is out of the sRGB gamut


def test_random_crop_option_is_deterministic_and_stores_larger_squares(tmp_path):
    src = _copy_photos(tmp_path / "src", photo_paths()[:3])
    options = BuildOptions(
        image_size=32, short_side=48, crop="random", min_colorfulness=0, val_fraction=0
    )
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    build_dataset([src], a, options, progress=False, figure=False)
    build_dataset([src], b, options, progress=False, figure=False)
    assert _folder_bytes(a) == _folder_bytes(b)
    assert schema.decode_rgb(_read_records(a, "train")[0]).shape == (48, 48, 3)


def test_user_errors(tmp_path):
    src = _copy_photos(tmp_path / "src", photo_paths()[:2])
    out = str(tmp_path / "out")
    build_dataset([src], out, BuildOptions(image_size=32), progress=False, figure=False)
    with pytest.raises(DataPrepError, match="other settings.*image_size"):
        build_dataset([src], out, BuildOptions(image_size=48), progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataPrepError, match="no image files"):
        build_dataset([str(empty)], str(tmp_path / "o2"), BuildOptions(), progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(DataPrepError, match="not empty"):
        build_dataset([src], str(foreign), BuildOptions(), progress=False)
    assert os.listdir(foreign) == ["thesis.tex"]
    with pytest.raises(DataPrepError, match="short-side"):
        build_dataset(
            [src], str(tmp_path / "o3"), BuildOptions(image_size=64, short_side=32), progress=False
        )


def test_overwrite_replaces_only_own_files(tmp_path):
    src = _copy_photos(tmp_path / "src", photo_paths()[:2])
    out = tmp_path / "out"
    build_dataset([src], str(out), BuildOptions(image_size=32), progress=False, figure=False)
    (out / "my_notes.md").write_text("keep me")
    build_dataset(
        [src], str(out), BuildOptions(image_size=48), overwrite=True, progress=False, figure=False
    )
    assert (out / "my_notes.md").read_text() == "keep me"
    assert _manifest(str(out))["settings"]["image_size"] == 48


def test_cli_exit_codes_and_messages(tmp_path, capsys):
    src = _copy_photos(tmp_path / "src", photo_paths()[:2])
    out = str(tmp_path / "out")
    assert main(["--src", src, "--out", out, "--image-size", "32", "--quiet", "--no-figure"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("data_prep: error:") and "missing" in err and len(err.splitlines()) == 1
    assert main(["--src", src, "--out", out, "--image-size", "48", "--quiet"]) == 2
    assert main(["--src", src, "--out", out, "--image-size", "big"]) == 2
