"""Shared fixtures: the small photo set shipped in tests/data and a dataset built from it."""

import os
import shutil

import pytest

PHOTOS_DIR = os.path.join(os.path.dirname(__file__), "data", "photos")


def photo_paths():
    """Sorted paths of the shipped test photos (see tests/README.md for licences)."""
    return sorted(os.path.join(PHOTOS_DIR, n) for n in os.listdir(PHOTOS_DIR) if n.endswith(".jpg"))


@pytest.fixture(scope="session")
def photos_dir():
    return PHOTOS_DIR


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """A dataset built from the test photos: 64 px crops stored at 80 px, 3 val images.

    Session-scoped: built once, read by many tests, never modified by them.
    """
    from data_prep.build import BuildOptions, build_dataset

    src = tmp_path_factory.mktemp("src")
    for path in photo_paths():
        shutil.copy(path, src)
    out = str(tmp_path_factory.mktemp("dataset"))
    options = BuildOptions(image_size=64, short_side=80, val_fraction=0.3, images_per_shard=2)
    build_dataset([str(src)], out, options, progress=False, figure=False)
    return out
