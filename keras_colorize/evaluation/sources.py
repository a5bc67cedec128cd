"""What evaluate reads: photos from a folder or a dataset split, their categories, --rows, runs.

Every photo is the ground truth. An Entry names a photo (its path relative
to the source, with / separators) and says how to read it. TensorFlow is
imported only to read a data_prep dataset.
"""

import csv
import os
import sys
from dataclasses import dataclass

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError
from keras_colorize.io.folders import image_files
from keras_colorize.io.images import ImageReadError, read_image

MANIFEST = "MANIFEST.csv"  # optional, beside the photos: columns file, category


class EvaluationError(UsageError):
    """A source, model or option that evaluate cannot use; one-line message."""


@dataclass(frozen=True)
class Entry:
    """One photo of the source: its name (relative to the source) and how to read it."""

    name: str
    path: str | None = None  # --images
    encoded: bytes | None = None  # --data


def list_folder(folder, out):
    """The image files under folder (recursively, hidden ones and OUT excluded), sorted."""
    if not os.path.isdir(folder):
        raise EvaluationError(f"--images {folder} is not a folder")
    entries = [
        Entry(relative.replace(os.sep, "/"), path=path)
        for path, relative in image_files(folder, exclude=out)
    ]
    if not entries:
        raise EvaluationError(f"no image files in {folder}")
    return entries


def list_dataset(data_dir, split):
    """The stored images of one split of a data_prep dataset, named by their source path."""
    import tensorflow as tf

    from keras_colorize.data import schema
    from keras_colorize.data.pipeline import DatasetError, read_manifest

    if not os.path.isdir(data_dir):
        raise EvaluationError(f"--data {data_dir} is not a folder")
    paths = schema.shard_paths(data_dir, split)
    if not paths:
        try:
            counts = read_manifest(data_dir).get("counts") or {}
        except DatasetError:  # not a data_prep dataset at all
            counts = None
        if isinstance(counts, dict):  # e.g. a small dataset whose val split came out empty
            held = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no images"
            raise EvaluationError(
                f"the {split} split of {data_dir} is empty (the dataset holds {held}); "
                "choose another --split"
            )
        raise EvaluationError(
            f"no {split} shards (e.g. {schema.shard_name(split, 0, 1)}) in {data_dir}"
        )
    entries, names = [], set()
    try:
        for parsed in tf.data.TFRecordDataset(paths).map(schema.parse_example):
            name = parsed["image/source"].numpy().decode("utf-8")
            if name in names:  # two --src folders can hold the same relative path
                name = f"{name}#{parsed['image/key'].numpy().decode()[:8]}"
            names.add(name)
            entries.append(Entry(name, encoded=parsed["image/encoded"].numpy()))
    except tf.errors.OpError as error:  # a truncated or foreign shard
        raise EvaluationError(
            f"the {split} shards of {data_dir} do not read as data_prep records "
            f"({type(error).__name__})"
        ) from None
    if not entries:
        raise EvaluationError(f"the {split} split of {data_dir} holds no images")
    return entries


def load_photo(entry):
    """uint8 RGB (H, W, 3) of an entry; raises ImageReadError."""
    if entry.path is not None:
        return read_image(entry.path).rgb
    import tensorflow as tf

    from keras_colorize.data import schema

    try:
        return schema.decode_rgb({"image/encoded": tf.constant(entry.encoded)}).numpy()
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ImageReadError(f"stored image does not decode ({type(error).__name__})") from None


def read_categories(folder, entries):
    """{name: category} from folder/MANIFEST.csv (columns file, category), matched by name or
    base name; {} without a usable manifest."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"file", "category"} <= set(reader.fieldnames or ()):
            print(f"note: {path} has no file and category columns; ignored", file=sys.stderr)
            return {}
        by_file = {row["file"]: row["category"] for row in reader if row["category"]}
    categories = {}
    for entry in entries:
        category = by_file.get(entry.name, by_file.get(os.path.basename(entry.name)))
        if category:
            categories[entry.name] = category
    return categories


def resolve_rows(rows, entries):
    """--rows values -> entry names; EvaluationError for a photo not in the source."""
    names = [entry.name for entry in entries]
    resolved = []
    for row in rows:
        wanted = row.replace(os.sep, "/")
        matches = [n for n in names if n == wanted] or [
            n for n in names if n.endswith("/" + wanted) or os.path.basename(n) == wanted
        ]
        if not matches:
            raise EvaluationError(f"--rows {row}: no such photo among the evaluated images")
        if len(matches) > 1:
            raise EvaluationError(
                f"--rows {row} matches {len(matches)} photos; give its relative path"
            )
        resolved.append(matches[0])
    return resolved


def check_runs(runs):
    """Run dirs (or losses.csv files) -> [(label, losses.csv path)]; EvaluationError if absent."""
    found = []
    for run in runs:
        path = run if os.path.isfile(run) else os.path.join(run, A.LOSSES_FILE)
        if not os.path.isfile(path):
            raise EvaluationError(f"--runs {run}: no {A.LOSSES_FILE}")
        folder = os.path.dirname(os.path.abspath(path))
        found.append((os.path.basename(folder), path))
    return found
