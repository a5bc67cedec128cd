"""What guidance does to the guided models: the hint sweep, the reach of one point and the
reference shift, as a report.

``evaluate --hint-counts N ...`` scores each guided model (and Levin et al.'s
learning-free propagation) with N random ground-truth hints per photo
(evaluation.hint_sweep); ``--reference-photos`` measures how each reference
photo moves the colours.
"""

import os
import sys

from keras_colorize.cli import UsageError
from keras_colorize.evaluation import hint_sweep, locality
from keras_colorize.evaluation.metrics import summarize
from keras_colorize.evaluation.sources import load_photo
from keras_colorize.io.images import ImageReadError, read_image


def guidance_report(
    out_dir, entries, models, photos, hint_counts=(), reference_photos=(), quiet=False
):
    """Scores the guided models with hints and reference photos; writes and returns the tables.

    Args:
        out_dir: the evaluation's folder (hint_sweep.csv/.md/.png, reference_shift.md).
        entries: the evaluation's photo entries (evaluation.sources).
        models: the evaluated models (evaluation.compare.Model), guided ones among them.
        photos: their automatic results (evaluation.compare.Photo), for the comparison rows.
        hint_counts: numbers of ground-truth hints to sweep (with Levin et al.'s baseline).
        reference_photos: paths of colour photos to use as references.

    Raises:
        UsageError: no guided model, or a reference photo that does not read.
    """
    guided = [(m.name, m.backend) for m in models if getattr(m.backend, "guided", False)]
    if not guided:
        raise UsageError(
            "--hint-counts and --reference-photos need a guided model (fit --guided) among --model"
        )
    pictures = []
    for entry in entries:
        try:
            pictures.append((entry.name, load_photo(entry)))
        except ImageReadError:
            continue  # reported by the evaluation above
    automatic = {
        m.name: summarize([p.metrics[m.name] for p in photos])
        for m in models
        if not getattr(m.backend, "guided", False)
    }
    text = ""
    if hint_counts:
        counts = sorted(set(hint_counts))
        rows = hint_sweep.sweep(pictures, guided, counts, quiet=quiet)
        text = hint_sweep.write(out_dir, rows, automatic)
        print(f"wrote hint_sweep.csv, .md and .png to {out_dir}", file=sys.stderr)
        reach = locality.locality(pictures, locality.model_methods(guided))
        text += locality.write(out_dir, reach)
        print(f"wrote locality.csv and .md to {out_dir}", file=sys.stderr)
    if reference_photos:
        references = []
        for path in reference_photos:
            try:
                references.append((os.path.basename(path), read_image(path).rgb))
            except ImageReadError as error:
                raise UsageError(f"--reference-photos {path}: {error}") from None
        shifts = hint_sweep.reference_shift(pictures, guided, references)
        table = hint_sweep.reference_markdown(shifts)
        with open(os.path.join(out_dir, "reference_shift.md"), "w", encoding="utf-8") as handle:
            handle.write(table)
        text += table
    return text
