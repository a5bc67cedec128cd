"""The dataset build as one Apache Beam pipeline: the local build's records, on any runner.

    list (launcher, tf.io.gfile)
    -> read, decode, resize, score, serialise (workers; process.py's functions)
    -> plan: one global combine of every file's metadata, about 200 bytes a file
       (dedup, gray and colourfulness filters, --keep-top, split, shard layout;
       build.py's own functions, so the rules cannot drift apart)
    -> records routed by the plan, grouped by shard, written in path order
    -> prior summed over the train shards -> prior, figure and manifest staged
    -> the launcher installs the staged files once the pipeline is done.

Records never meet on one worker; only the metadata does (1M photos: ~200 MB).
Sources and output may be local, gs:// or hdfs:// (tf.io.gfile); the figure is
drawn only from local sources.
"""

import io
import json
import logging
import os
import sys
from collections import Counter

import numpy as np
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.data import schema
from keras_colorize.data_prep.build import (
    STAGING_PREFIX,
    BuildReport,
    Candidate,
    DataPrepError,
    _install,
    _manifest,
    _select_top,
    admit,
    check_inputs,
    plan_shards,
)
from keras_colorize.data_prep.figure import FIGURE_FILE, plot_colorfulness
from keras_colorize.data_prep.prior import ab_grid_histogram
from keras_colorize.data_prep.process import ProcessedImage, process_bytes

# Beam's DirectRunner first tries Prism, a Go binary it downloads at run time;
# these names run Beam's in-process FnApiRunner instead, which needs no network.
IN_PROCESS_RUNNERS = ("direct", "directrunner")
STAGED_MANIFEST = "manifest.staged"  # written by the pipeline, installed by the launcher


# Cloud clients `import apache_beam` would load when installed (its S3 file system):
# never used here, as files go through tf.io.gfile.
CLOUD_CLIENTS = ("boto3", "botocore")


def import_beam():
    """Imports apache_beam without loading cloud clients or its chatter about missing ones."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    blocked = [name for name in CLOUD_CLIENTS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # makes `import name` raise ImportError, which Beam expects
    try:
        import apache_beam
    finally:
        root.setLevel(level)
        for name in blocked:
            del sys.modules[name]
    return apache_beam


def make_runner(name):
    """The runner for ``--runner NAME``: an in-process FnApiRunner for 'direct', else NAME.

    The FnApiRunner reads --direct_num_workers and --direct_running_mode
    (in_memory, multi_threading, multi_processing) from the pipeline options.
    """
    if name.lower() in IN_PROCESS_RUNNERS:
        import_beam()
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return name


def _read_and_process(item, process_options, encoding):
    """(root, path) -> (metadata tuple, serialised record or b"")."""
    root, path = item
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            data = handle.read()
    except tf.errors.OpError as error:
        result = ProcessedImage(path=path, error=f"cannot read file ({error.message})")
    else:
        result = process_bytes(path, data, process_options)
    record = b""
    if not result.error:
        record = schema.make_example(
            result.encoded,
            encoding,
            result.height,
            result.width,
            result.colorfulness,
            result.key,
            os.path.relpath(path, root),
        )
    # Plain tuples: Beam's fast coder handles them without pickling.
    meta = (path, result.key, result.error, result.colorfulness, result.max_abs_ab)
    return meta, record


def _plan(metas, options):
    """Every file's metadata -> what goes where, by the local build's rules.

    Returns:
        (report, {path: (split, shard)}, {(split, shard): number of records}).
    """
    report = BuildReport()
    report.dropped.update(gray=0, below_min_colorfulness=0)
    seen = {}
    candidates = []
    # Path order is the local build's processing order: the same first duplicate wins.
    for path, key, error, score, max_abs_ab in sorted(metas):
        result = ProcessedImage(
            path=path, key=key, error=error, colorfulness=score, max_abs_ab=max_abs_ab
        )
        split = admit(result, options, seen, report)
        if split is not None:
            candidates.append(Candidate(key, path, "", split, score, spool_index=-1))
    selected = _select_top(candidates, options.keep_top, report)
    where = plan_shards(selected, options, report)
    return report, where, Counter(where.values())


def _route(processed, plan):
    """Keys a selected record by (split, shard); drops the others."""
    (path, *_), record = processed
    where = plan[1].get(path)
    if where is not None:
        yield where, (path, record)


def _write_shard(group, plan, staging):
    """Writes one shard in path order (as the local build does); yields its train pixel counts."""
    (split, shard), records = group
    records = sorted(records)
    name = plan[0].shards[split][shard]
    if len(records) != plan[2][split, shard]:
        # Seen once with --direct_running_mode multi_threading: fail, never write a short shard.
        raise RuntimeError(
            f"{name}: the runner delivered {len(records)} records, the plan has "
            f"{plan[2][split, shard]}"
        )
    path = os.path.join(staging, name)
    with tf.io.TFRecordWriter(path) as writer:
        for _, record in records:
            writer.write(record)
    if split == "train":
        yield ab_grid_histogram([path])


def _finalize(prior, plan, sources, ignored_count, options, staging, figure):
    """Stages the prior, the figure and the manifest (installed later by the launcher)."""
    report = plan[0]
    buffer = io.BytesIO()
    np.save(buffer, prior)
    with tf.io.gfile.GFile(os.path.join(staging, schema.PRIOR_FILE), "wb") as handle:
        handle.write(buffer.getvalue())
    if figure and report.scored:
        with tf.io.gfile.GFile(os.path.join(staging, FIGURE_FILE), "wb") as handle:
            plot_colorfulness(report.scored, report.kept_paths, options, handle)
    manifest = _manifest(sources, range(ignored_count), options, report, prior)
    with tf.io.gfile.GFile(os.path.join(staging, STAGED_MANIFEST), "w") as handle:
        json.dump(manifest, handle)


def _pipeline(beam, pipeline, files, ignored_count, sources, options, staging, figure):
    """Adds the build's transforms to `pipeline`."""
    cells = (C.AB_GRID_SIZE, C.AB_GRID_SIZE)
    processed = (
        pipeline
        | "List" >> beam.Create(files, reshuffle=True)
        | "Process"
        >> beam.Map(
            _read_and_process, process_options=options.process_options(), encoding=options.encoding
        )
    )
    plan = (
        processed
        | "Metadata" >> beam.Map(lambda item: item[0])
        | "Gather" >> beam.combiners.ToList()
        | "Plan" >> beam.Map(_plan, options=options)
    )
    plan_side = beam.pvalue.AsSingleton(plan)
    prior = (
        processed
        | "Route" >> beam.FlatMap(_route, plan=plan_side)
        | "ByShard" >> beam.GroupByKey()
        | "Write" >> beam.FlatMap(_write_shard, plan=plan_side, staging=staging)
        | "Prior" >> beam.CombineGlobally(lambda counts: sum(counts, np.zeros(cells)))
    )
    _ = prior | "Finalize" >> beam.Map(
        _finalize,
        plan=plan_side,
        sources=sources,
        ignored_count=ignored_count,
        options=options,
        staging=staging,
        figure=figure and not any("://" in s for s in sources),
    )


def build_dataset_beam(sources, out, options, runner, beam_args=(), overwrite=False, figure=True):
    """Builds the dataset in `out` as build.build_dataset does, as one Beam pipeline.

    Args:
        runner: 'direct' (in process, no network) or any Beam runner name.
        beam_args: further command-line flags for Beam's PipelineOptions.

    Returns:
        The manifest dict that was written.

    Raises:
        DataPrepError: a missing or empty source, an output folder that holds
            something else, or a runner Beam does not know.
    """
    beam = import_beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    files, ignored = check_inputs(sources, out, options, overwrite)
    tf.io.gfile.makedirs(out)
    staging = os.path.join(out, f"{STAGING_PREFIX}{os.getpid()}")
    tf.io.gfile.makedirs(staging)
    try:
        try:
            pipeline = beam.Pipeline(runner=make_runner(runner), options=PipelineOptions(beam_args))
        except ValueError as error:  # an unknown runner name
            raise DataPrepError(str(error).splitlines()[0]) from error
        _pipeline(beam, pipeline, files, len(ignored), sources, options, staging, figure)
        state = pipeline.run().wait_until_finish()
        if state not in (None, "DONE"):
            raise DataPrepError(f"the Beam pipeline ended in state {state}")
        manifest_path = os.path.join(staging, STAGED_MANIFEST)
        with tf.io.gfile.GFile(manifest_path, "r") as handle:
            manifest = json.load(handle)
        tf.io.gfile.remove(manifest_path)
        _install(staging, out, manifest)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return manifest
