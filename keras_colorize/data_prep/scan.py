"""Finding the image files under the source folders."""

import os

from keras_colorize.io.folders import is_image_name


def scan_sources(sources):
    """Lists image files below each source folder, recursively.

    Args:
        sources: folder paths.

    Returns:
        (files, ignored): `files` is a sorted list of (source_root, path) for
        files with an image extension; `ignored` lists the other files' paths.
        Sorting makes the build order, and so the output, reproducible.
    """
    files, ignored = [], []
    for root in sources:
        for folder, subfolders, names in os.walk(root):
            subfolders.sort()
            for name in sorted(names):
                path = os.path.join(folder, name)
                if is_image_name(name):
                    files.append((root, path))
                elif not name.startswith("."):
                    ignored.append(path)
    return sorted(files, key=lambda item: item[1]), ignored
