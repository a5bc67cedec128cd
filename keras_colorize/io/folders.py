"""Finding the image files under a folder, the same way for every command."""

import os

from keras_colorize.io.images import IMAGE_EXTENSIONS


def is_image_name(path):
    """True if the file name has one of the image extensions (any case)."""
    return path.lower().endswith(IMAGE_EXTENSIONS)


def image_files(folder, exclude=None):
    """Yields (path, path relative to folder) of the image files under folder, sorted.

    Hidden files and folders are skipped (e.g. macOS `._photo.jpg` files on USB
    drives), and so is the folder ``exclude`` (a command's output folder, so
    that a re-run does not read its own outputs).
    """
    exclude = os.path.realpath(exclude) if exclude else None
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != exclude
        )
        for name in sorted(files):
            if not name.startswith(".") and is_image_name(name):
                path = os.path.join(root, name)
                yield path, os.path.relpath(path, folder)
