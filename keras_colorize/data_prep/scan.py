"""Finding the image files under the source folders."""

import os

import tensorflow as tf

from keras_colorize.io.folders import is_image_name


def scan_sources(sources):
    """Lists image files below each source folder, recursively.

    Args:
        sources: folder paths, local or any URL tf.io.gfile reads (gs://, hdfs://).

    Returns:
        (files, ignored): `files` is a sorted list of (source_root, path) for
        files with an image extension; `ignored` lists the other files' paths.
        Sorting makes the build order, and so the output, reproducible.
    """
    files, ignored = [], []
    for root in sources:
        for folder, _, names in tf.io.gfile.walk(root):
            for name in sorted(names):
                path = os.path.join(folder, name)
                if is_image_name(name):
                    files.append((root, path))
                elif not name.startswith("."):
                    ignored.append(path)
    return sorted(files, key=lambda item: item[1]), ignored
