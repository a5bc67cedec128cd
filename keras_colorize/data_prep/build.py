"""Builds a dataset folder: scan, process in parallel, filter, split, write shards, prior, manifest.

Every stage is deterministic (sorted inputs, content-hash splits and shard
assignment), so a re-run over the same files writes byte-identical output.
Nothing outside the output folder is ever written or deleted, and inside it
only this tool's own files are replaced.
"""

import json
import math
import multiprocessing
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from keras_colorize import __version__
from keras_colorize import constants as C
from keras_colorize.cli import UsageError
from keras_colorize.data import schema
from keras_colorize.data_prep.figure import FIGURE_FILE, plot_colorfulness
from keras_colorize.data_prep.prior import ab_grid_histogram
from keras_colorize.data_prep.process import ProcessOptions, process_file
from keras_colorize.data_prep.scan import scan_sources
from keras_colorize.data_prep.splits import assign_split
from keras_colorize.io.images import IMAGE_EXTENSIONS

STAGING_PREFIX = ".staging-"
HISTOGRAM_BIN_WIDTH = 5.0  # colourfulness histogram in the manifest


class DataPrepError(UsageError):
    """A user mistake (bad source or output folder); the message is one line."""


@dataclass(frozen=True)
class BuildOptions:
    """Settings that define a dataset; a re-run into the same folder must match them."""

    image_size: int = C.DEFAULT_WORKING_SIZE  # training crop size the pipeline defaults to
    short_side: int = 0  # stored square side; 0 means image_size
    crop: str = "center"
    min_colorfulness: float = 15.0  # Hasler-Suesstrunk "slightly colourful" and up
    keep_top: int = 0  # keep only the N most colourful; 0 keeps all
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    encoding: str = "jpeg"
    jpeg_quality: int = 95
    images_per_shard: int = 1024

    @property
    def stored_side(self):
        return self.short_side or self.image_size

    def process_options(self):
        """The slice of these settings that every worker needs."""
        return ProcessOptions(
            short_side=self.stored_side,
            crop=self.crop,
            encoding=self.encoding,
            jpeg_quality=self.jpeg_quality,
        )

    def validate(self):
        """Raises DataPrepError for inconsistent settings."""
        if self.image_size < 8:
            raise DataPrepError(f"--image-size must be at least 8, got {self.image_size}")
        if self.short_side and self.short_side < self.image_size:
            raise DataPrepError(
                f"--short-side ({self.short_side}) must be at least "
                f"--image-size ({self.image_size})"
            )
        if not 0 <= self.val_fraction < 1 or not 0 <= self.test_fraction < 1:
            raise DataPrepError("--val-fraction and --test-fraction must lie in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise DataPrepError("--val-fraction + --test-fraction must leave room for training")
        if self.keep_top < 0 or self.images_per_shard < 1:
            raise DataPrepError("--keep-top must be >= 0 and --images-per-shard >= 1")
        if not 1 <= self.jpeg_quality <= 100:
            raise DataPrepError(f"--jpeg-quality must lie in 1..100, got {self.jpeg_quality}")


@dataclass
class Candidate:
    """A decoded image that passed the per-image filters, spooled to disk."""

    key: str
    path: str
    source: str
    split: str
    colorfulness: float
    spool_index: int  # position in its split's spool file


@dataclass
class BuildReport:
    """What a build did; also the body of manifest.json."""

    counts: dict = field(default_factory=dict)
    shards: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    scored: list = field(default_factory=list)  # (path, colourfulness) of every decoded image
    kept_paths: set = field(default_factory=set)


def _is_own_file(name):
    return bool(
        schema.SHARD_RE.match(name)
        or name in (schema.MANIFEST_FILE, schema.PRIOR_FILE, FIGURE_FILE)
        or name.startswith(STAGING_PREFIX)
    )


def _listdir(folder):
    # Object stores list sub-folders with a trailing slash.
    return [name.rstrip("/") for name in tf.io.gfile.listdir(folder)]


def check_output(out, options, overwrite):
    """Refuses an output folder that holds something else than this dataset.

    Paths go through tf.io.gfile, so `out` may be local, gs:// or hdfs://.
    """
    try:
        exists = tf.io.gfile.exists(out)
    except tf.errors.OpError as error:  # e.g. hdfs://, which TensorFlow 2.21 lacks
        raise DataPrepError(f"--out {out}: {error.message.splitlines()[0]}") from error
    if exists and not tf.io.gfile.isdir(out):
        raise DataPrepError(f"--out {out} exists and is not a folder")
    if not tf.io.gfile.isdir(out):
        return
    manifest_path = os.path.join(out, schema.MANIFEST_FILE)
    if tf.io.gfile.exists(manifest_path):
        try:
            with tf.io.gfile.GFile(manifest_path, "r") as handle:
                previous = json.load(handle).get("settings")
        except (OSError, ValueError, AttributeError, tf.errors.OpError) as error:
            raise DataPrepError(
                f"{manifest_path} is unreadable ({error}); choose another --out"
            ) from error
        if previous != asdict(options) and not overwrite:
            changed = sorted(
                k for k in asdict(options) if (previous or {}).get(k) != asdict(options)[k]
            )
            raise DataPrepError(
                f"{out} holds a dataset built with other settings ({', '.join(changed)}); "
                "choose another --out or pass --overwrite to replace it"
            )
        return
    foreign = [name for name in _listdir(out) if not _is_own_file(name)]
    if foreign:
        raise DataPrepError(
            f"{out} is not empty and holds no keras-colorize dataset "
            f"(found {foreign[0]!r}); choose another --out"
        )


def check_sources(sources):
    for source in sources:
        try:
            found = tf.io.gfile.exists(source) and tf.io.gfile.isdir(source)
        except tf.errors.OpError as error:  # e.g. hdfs://, which TensorFlow 2.21 lacks
            raise DataPrepError(f"--src {source}: {error.message.splitlines()[0]}") from error
        if not found:
            raise DataPrepError(f"--src {source} is not a folder")


def _process_all(files, options, workers, progress):
    """Yields ProcessedImage for each (root, path) in order, using `workers` processes."""
    process = partial(process_file, options=options)
    paths = [path for _, path in files]
    bar = tqdm(total=len(paths), desc="images", unit="img", disable=not progress)
    if workers <= 1:
        results = map(process, paths)
    else:
        # spawn, not fork: the parent has TensorFlow loaded, which is not fork-safe.
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results = pool.imap(process, paths, chunksize=8)
    try:
        for result in results:
            bar.update()
            yield result
    finally:
        bar.close()
        if workers > 1:
            pool.terminate()


def admit(result, options, seen, report):
    """The per-file rules, applied to results in path order: the split of a candidate, or None.

    Records unreadable files and duplicates (the first path of identical bytes
    wins; `seen` maps key -> that path) in report.skipped, every other decoded
    image in report.scored, and gray or dull ones in report.dropped.
    """
    if result.error:
        report.skipped.append({"path": result.path, "reason": result.error})
        return None
    if result.key in seen:
        report.skipped.append({"path": result.path, "reason": f"duplicate of {seen[result.key]}"})
        return None
    seen[result.key] = result.path
    report.scored.append((result.path, result.colorfulness))
    if result.max_abs_ab <= C.GRAY_AB_THRESHOLD:
        report.dropped["gray"] += 1
        return None
    if result.colorfulness < options.min_colorfulness:
        report.dropped["below_min_colorfulness"] += 1
        return None
    return assign_split(result.key, options.val_fraction, options.test_fraction)


def _spool_candidates(files, options, workers, progress, staging, report):
    """Processes every file, writes those that pass the per-image filters to spool files."""
    process_options = options.process_options()
    roots = dict((path, root) for root, path in files)
    writers = {
        split: tf.io.TFRecordWriter(os.path.join(staging, f"spool-{split}"))
        for split in schema.SPLITS
    }
    seen = {}
    candidates = []
    spool_sizes = dict.fromkeys(schema.SPLITS, 0)
    report.dropped.update(gray=0, below_min_colorfulness=0)
    try:
        for result in _process_all(files, process_options, workers, progress):
            split = admit(result, options, seen, report)
            if split is None:
                continue
            source = os.path.relpath(result.path, roots[result.path])
            record = schema.make_example(
                result.encoded,
                options.encoding,
                result.height,
                result.width,
                result.colorfulness,
                result.key,
                source,
            )
            writers[split].write(record)
            candidates.append(
                Candidate(
                    result.key, result.path, source, split, result.colorfulness, spool_sizes[split]
                )
            )
            spool_sizes[split] += 1
    finally:
        for writer in writers.values():
            writer.close()
    return candidates


def _select_top(candidates, keep_top, report):
    """Keeps the `keep_top` most colourful candidates (ties broken by key); 0 keeps all."""
    report.dropped["not_in_top_n"] = 0
    if not keep_top or len(candidates) <= keep_top:
        return candidates
    ranked = sorted(candidates, key=lambda c: (-c.colorfulness, c.key))
    report.dropped["not_in_top_n"] = len(ranked) - keep_top
    return ranked[:keep_top]


def plan_shards(selected, options, report):
    """Deals each split's selected candidates round-robin, in key order, into shards.

    Shards are balanced and their membership depends only on the set of
    images. Fills report.counts, report.shards and report.kept_paths.

    Returns:
        {path: (split, shard index)} of every selected candidate.
    """
    where = {}
    for split in schema.SPLITS:
        chosen = sorted((c for c in selected if c.split == split), key=lambda c: c.key)
        count = math.ceil(len(chosen) / options.images_per_shard)
        report.counts[split] = len(chosen)
        report.shards[split] = [schema.shard_name(split, i, count) for i in range(count)]
        report.kept_paths.update(c.path for c in chosen)
        where.update((c.path, (split, rank % count)) for rank, c in enumerate(chosen))
    return where


def _write_shards(selected, options, staging, report):
    """Copies the selected records from the spool into their final shards.

    Within a shard, records keep the spool's order: the files' path order.
    """
    where = plan_shards(selected, options, report)
    for split in schema.SPLITS:
        names = report.shards[split]
        if not names:
            continue
        shard_of = {c.spool_index: where[c.path][1] for c in selected if c.split == split}
        writers = [tf.io.TFRecordWriter(os.path.join(staging, name)) for name in names]
        try:
            spool = tf.data.TFRecordDataset(os.path.join(staging, f"spool-{split}"))
            for index, record in enumerate(spool.as_numpy_iterator()):
                if index in shard_of:
                    writers[shard_of[index]].write(record)
        finally:
            for writer in writers:
                writer.close()


def _manifest(sources, ignored, options, report, prior):
    scores = [score for _, score in report.scored]
    kept_scores = [score for path, score in report.scored if path in report.kept_paths]
    edges = HISTOGRAM_BIN_WIDTH * np.arange(
        int(max(scores, default=0.0) // HISTOGRAM_BIN_WIDTH) + 2
    )
    return {
        "format_version": schema.FORMAT_VERSION,
        "created_by": f"keras-colorize {__version__}",
        "settings": asdict(options),
        "image_shape": [options.stored_side, options.stored_side, 3],
        "sources": [absolute(s) for s in sources],
        "counts": report.counts,
        "shards": report.shards,
        "files_seen": len(report.scored) + len(report.skipped),
        "dropped": report.dropped,
        "skipped": report.skipped,
        "ignored_non_image_files": len(ignored),
        "split_rule": (
            "u = first 64 bits of the SHA-256 of the file's bytes / 2^64; "
            "test if u < test_fraction, val if u < test_fraction + val_fraction, else train"
        ),
        "colorfulness": {
            "convention": "Hasler-Suesstrunk 2003, signed opponent differences, RGB 0..255",
            "bin_edges": [float(e) for e in edges],
            "all_counts": np.histogram(scores, bins=edges)[0].tolist(),
            "kept_counts": np.histogram(kept_scores, bins=edges)[0].tolist(),
            "min_kept": min(kept_scores, default=None),
            "max_seen": max(scores, default=None),
        },
        "prior": {
            "file": schema.PRIOR_FILE,
            "split": "train",
            "pixels": int(prior.sum()),
            "grid_centres": [float(c) for c in C.AB_GRID_CENTRES],
        },
    }


def absolute(path):
    """An absolute local path; URLs (gs://, hdfs://) unchanged."""
    return path if "://" in path else os.path.abspath(path)


def _install(staging, out, manifest):
    """Replaces this tool's files in `out` by the staged ones; the manifest goes last.

    Through tf.io.gfile: a rename on a local disk or HDFS, a copy on object stores.
    """
    for name in _listdir(out):
        if schema.SHARD_RE.match(name) or name in (
            schema.MANIFEST_FILE,
            schema.PRIOR_FILE,
            FIGURE_FILE,
        ):
            tf.io.gfile.remove(os.path.join(out, name))
    for name in _listdir(staging):
        if not name.startswith("spool-"):
            tf.io.gfile.rename(os.path.join(staging, name), os.path.join(out, name), overwrite=True)
    manifest_tmp = os.path.join(staging, "manifest.tmp")
    with tf.io.gfile.GFile(manifest_tmp, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    tf.io.gfile.rename(manifest_tmp, os.path.join(out, schema.MANIFEST_FILE), overwrite=True)


def check_inputs(sources, out, options, overwrite):
    """Checks the settings, the sources and the output folder; returns scan_sources' (files,
    ignored). DataPrepError for a bad setting, a missing or empty source or a foreign output."""
    options.validate()
    check_sources(sources)
    check_output(out, options, overwrite)
    files, ignored = scan_sources(sources)
    if not files:
        raise DataPrepError(
            f"no image files ({' '.join(IMAGE_EXTENSIONS)}) found in {', '.join(sources)}"
        )
    return files, ignored


def build_dataset(sources, out, options, workers=1, overwrite=False, progress=True, figure=True):
    """Builds (or rebuilds) the dataset in `out` from image folders `sources`.

    Returns:
        The manifest dict that was written.

    Raises:
        DataPrepError: a missing or empty source, or an output folder that
            holds something else.
    """
    files, ignored = check_inputs(sources, out, options, overwrite)
    os.makedirs(out, exist_ok=True)
    staging = os.path.join(out, f"{STAGING_PREFIX}{os.getpid()}")
    os.makedirs(staging)
    report = BuildReport()
    try:
        candidates = _spool_candidates(files, options, workers, progress, staging, report)
        selected = _select_top(candidates, options.keep_top, report)
        _write_shards(selected, options, staging, report)
        train_paths = [os.path.join(staging, name) for name in report.shards["train"]]
        prior = ab_grid_histogram(train_paths)
        np.save(os.path.join(staging, schema.PRIOR_FILE), prior)
        if figure and report.scored:
            plot_colorfulness(
                report.scored, report.kept_paths, options, os.path.join(staging, FIGURE_FILE)
            )
        manifest = _manifest(sources, ignored, options, report, prior)
        _install(staging, out, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
