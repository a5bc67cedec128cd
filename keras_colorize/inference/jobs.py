"""Which photos a run colorizes and which files each becomes, refusing to overwrite.

The command line's INPUT arguments (files, folders searched recursively, glob
patterns) become (photo, name relative to OUT) pairs; each photo's output
(and its side-by-side comparison) is decided here, before a model is loaded.
Inputs are never overwritten; existing outputs only when asked.
"""

import glob
import os
from dataclasses import dataclass

from keras_colorize.io.folders import image_files, is_image_name

OUTPUT_EXTENSIONS = {"png": ".png", "jpeg": ".jpg"}
COMPARE_SUFFIX = "_compare"
GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class Job:
    """One photo to colorize: its file and the files it becomes."""

    source: str
    output: str
    compare: str | None  # the side-by-side image, with --compare


def expand_inputs(inputs, out_dir):
    """INPUT arguments -> ([(file, output name relative to OUT)], [arguments matching nothing]).

    A file named explicitly is always tried; folders and patterns contribute the
    files with image extensions. The same file reached twice is kept once.
    """
    exclude = os.path.realpath(out_dir)
    found, unmatched, seen = [], [], set()
    for item in inputs:
        path = os.path.expanduser(item)
        if os.path.isdir(path):
            matches = list(image_files(path, exclude))
        elif os.path.exists(path):
            matches = [(path, os.path.basename(path))]
        elif any(c in item for c in GLOB_CHARACTERS):
            matches = []
            for match in sorted(glob.glob(path, recursive=True)):
                if os.path.isdir(match):
                    matches.extend(image_files(match, exclude))
                elif is_image_name(match):
                    matches.append((match, os.path.basename(match)))
        else:
            matches = []
        if not matches:
            unmatched.append(item)
        for source, relative in matches:
            key = os.path.realpath(source)
            if key not in seen:
                seen.add(key)
                found.append((source, relative))
    return found, unmatched


def plan_jobs(found, out_dir, extension, compare, overwrite):
    """Decides each photo's output files; returns (jobs, [(source, reason, output_existed)]).

    Refused whatever the flags: an output that is an input file, or that another
    input already writes. Refused without --overwrite: an output that exists.
    """
    inputs = {os.path.realpath(source) for source, _ in found}
    claimed = {}  # real output path -> the input writing it
    jobs, refused = [], []
    for source, relative in found:
        stem = os.path.join(out_dir, os.path.splitext(relative)[0])
        output = stem + extension
        side = stem + COMPARE_SUFFIX + extension if compare else None
        targets = [t for t in (output, side) if t]
        reals = [os.path.realpath(t) for t in targets]
        clash = next((t for t, r in zip(targets, reals, strict=True) if r in inputs), None)
        if clash:
            reason = f"output {clash} would replace an input; choose another --out"
            refused.append((source, reason, False))
            continue
        taken = next((t for t, r in zip(targets, reals, strict=True) if r in claimed), None)
        if taken:
            other = claimed[os.path.realpath(taken)]
            refused.append((source, f"output {taken} is already written for {other}", False))
            continue
        present = next((t for t in targets if os.path.lexists(t)), None)
        if present and not overwrite:
            refused.append((source, f"{present} exists", True))
            continue
        claimed.update(dict.fromkeys(reals, source))
        jobs.append(Job(source, output, side))
    return jobs, refused
