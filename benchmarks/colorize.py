"""The colorize command end to end, as a user runs it: wall time and peak memory per run.

Each run is ``python -m keras_colorize.colorize INPUT --model M --out OUT`` in
a fresh process (benchmarks.process: peak RSS from that child's own
getrusage record), repeated, the median taken:

- one 12-megapixel photo (4000x3000) and one 1-megapixel photo (1152x864),
  each through the model as ``.tflite`` (what ships: the L -> ab float32
  file, artifacts.TFLITE_FILE) and as ``.keras``, start-up included. The
  targets (TFLITE_TARGETS) apply to the .tflite runs; the .keras runs are
  shown beside them for comparison.
- a folder of N photos of mixed sizes (synthetic gray photos, or a --photos
  folder), through the .tflite model (the .keras one if there is none).
- without --quick, the 12 MP photo again with JPEG output (the same work
  without the PNG encoding).

--quick starts all the runs at once (each still in its own process): its
figures mean nothing, it only keeps the command working.

The photo's own time (reading, colorizing, writing; the model loaded) is the
command's own clock, which its summary line prints; wall time minus it is the
start-up (Python, the runtime and the model loading).
"""

import os
import re
import statistics
import tempfile

from benchmarks.inference import size_label, synthetic_photo
from benchmarks.process import child_env, python_module, run_children, start_children

# Mixed sizes for the synthetic folder: phone, scan and web photos.
FOLDER_SIZES = ((1024, 768), (2048, 1536), (640, 480), (1600, 1200), (3000, 2000), (800, 800))
QUICK_FOLDER_SIZES = ((320, 240), (640, 480), (256, 256))
TWELVE_MP = (4000, 3000)
ONE_MP = (1152, 864)  # 0.995 megapixels, 4:3 like the 12 MP photo
SINGLE_PHOTOS = (TWELVE_MP, ONE_MP)
MODEL_FORMATS = (".tflite", ".keras")
# The project's goals for the shipped .tflite model, one photo per fresh process,
# start-up included: (measure, largest value, label) per photo size. The 12 MP
# photo's own time keeps the first round's goal (1 s once the model is loaded).
TFLITE_TARGETS = {
    TWELVE_MP: (
        ("seconds", 1.5, "wall s"),
        ("peak_rss_mb", 600.0, "peak RSS MB"),
        ("photo_seconds", 1.0, "photo's own s"),
    ),
    ONE_MP: (("seconds", 0.6, "wall s"),),
}
JPEG_QUALITY = 92
SUMMARY_SECONDS = re.compile(r"^colorized \d+ photos? into .* in (\d+\.\d+) s \(", re.MULTILINE)


class ColorizeRunError(RuntimeError):
    """The colorize command failed; one-line message."""


def write_photos(folder, sizes, seed=0):
    """Writes one gray JPEG per (width, height) into folder; returns their paths."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    paths = []
    for index, (width, height) in enumerate(sizes):
        gray = synthetic_photo(width, height, seed=seed + index)[..., 0]
        path = os.path.join(folder, f"photo-{index:03d}.jpg")
        Image.fromarray(gray).save(path, quality=JPEG_QUALITY)
        paths.append(path)
    return paths


def _count_photos(folder):
    from keras_colorize.io.folders import image_files

    return sum(1 for _ in image_files(folder))


class _Runs:
    """``repeats`` runs of the command on one input; all at once (``start``) or in turn."""

    def __init__(self, inputs, model, work_dir, repeats, timeout, extra=()):
        self.inputs, self.timeout, self._started = inputs, timeout, None
        self._commands = []
        for repeat in range(repeats):
            out = tempfile.mkdtemp(prefix=f"out-{repeat}-", dir=work_dir)
            command = python_module(
                "keras_colorize.colorize", inputs, "--model", model, "--out", out, "--quiet", *extra
            )
            self._commands.append((command, child_env()))

    def start(self):
        """Starts every repeat now, in the background; returns self."""
        self._started = [start_children([command], self.timeout) for command in self._commands]
        return self

    def figures(self):
        """Runs the repeats in turn unless started; returns the medians (see _timed_runs)."""
        if self._started is None:
            results = [run_children([command], self.timeout)[0] for command in self._commands]
        else:
            results = [children.wait()[0] for children in self._started]
        seconds, photo_seconds, peaks = [], [], []
        for result in results:
            if result.returncode != 0:
                raise ColorizeRunError(f"colorize {self.inputs} failed: {result.error_line()}")
            summary = SUMMARY_SECONDS.search(result.stdout)
            if summary is None:
                raise ColorizeRunError(f"colorize {self.inputs} printed no summary line")
            seconds.append(result.seconds)
            photo_seconds.append(float(summary.group(1)))
            peaks.append(result.peak_rss_mb)
        wall, own = statistics.median(seconds), statistics.median(photo_seconds)
        return {
            "seconds": wall,
            "photo_seconds": own,
            "startup_seconds": wall - own,
            "peak_rss_mb": statistics.median(peaks),
            "all_seconds": seconds,
        }

    def close(self):
        for children in self._started or ():
            children.close()


def _timed_runs(inputs, model, work_dir, repeats, timeout, extra=()):
    """Runs the command ``repeats`` times, one after another.

    Returns:
        dict of medians: seconds (wall), photo_seconds (the command's own clock
        after the model loaded), startup_seconds (the difference), peak_rss_mb;
        and all_seconds.
    """
    return _Runs(inputs, model, work_dir, repeats, timeout, extra).figures()


def _targets(model_format, size, run):
    """[{measure, label, value, goal, passed}] of the goals of this run (.tflite runs only)."""
    if model_format != ".tflite":
        return []
    return [
        {
            "measure": measure,
            "label": label,
            "value": run[measure],
            "goal": goal,
            "passed": run[measure] <= goal,
        }
        for measure, goal, label in TFLITE_TARGETS.get(size, ())
    ]


def colorize_runs(models, work_dir, photos_dir=None, count=50, quick=False, repeats=3, timeout=900):
    """Times the colorize command on single photos per model format, and on a folder.

    Args:
        models: {".tflite": path, ".keras": path}, the --model given to the
            command; a format left out is not run.
        work_dir: scratch folder for the photos and outputs.
        photos_dir: real photos to use as the folder; default: ``count`` synthetic
            gray photos of mixed sizes.
        quick: small synthetic folder photos, no warm-up run, no JPEG-output run, and
            every run at once (in fresh processes all the same).

    Returns:
        dict: photos (one row per model format and single photo: model, photo,
        megapixels, format, the _timed_runs figures and targets), folder, concurrent
        (quick), and without quick twelve_mp_jpeg.

    Raises:
        ColorizeRunError: a run exited with an error.
    """
    formats = [f for f in MODEL_FORMATS if f in models]
    if not formats:
        raise ColorizeRunError("no model to run the colorize command with")
    singles = {
        size: write_photos(os.path.join(work_dir, size_label(size)), [size], seed)[0]
        for seed, size in enumerate(SINGLE_PHOTOS)
    }
    if photos_dir is None:
        photos_dir = os.path.join(work_dir, "folder")
        sizes = QUICK_FOLDER_SIZES if quick else FOLDER_SIZES
        folder_sizes = [sizes[i % len(sizes)] for i in range(count)]
        write_photos(photos_dir, folder_sizes, 100)
        megapixels = sum(w * h for w, h in folder_sizes) / 1e6
        source = f"{count} synthetic gray JPEGs of mixed sizes"
    else:
        count = _count_photos(photos_dir)
        megapixels = None
        source = f"the photos of {photos_dir}"

    if not quick:
        # Warm-up: the first run also pays for cold file caches (Python, TF, the model).
        for model_format in formats:
            _timed_runs(singles[ONE_MP], models[model_format], work_dir, 1, timeout)
    folder_model = formats[0]
    runs = {
        (model_format, size): _Runs(singles[size], models[model_format], work_dir, repeats, timeout)
        for model_format in formats
        for size in SINGLE_PHOTOS
    }
    runs["folder"] = _Runs(photos_dir, models[folder_model], work_dir, repeats, timeout)
    try:
        if quick:  # all at once: --quick keeps the command working, its figures mean nothing
            for run in runs.values():
                run.start()
        rows = []
        for model_format in formats:
            for size in SINGLE_PHOTOS:
                run = runs[(model_format, size)].figures()
                rows.append(
                    {
                        "model": model_format,
                        "path": models[model_format],
                        "photo": size_label(size),
                        "megapixels": size[0] * size[1] / 1e6,
                        "format": "png",
                        **run,
                        "targets": _targets(model_format, size, run),
                    }
                )
        folder = runs["folder"].figures()
    finally:
        for run in runs.values():
            run.close()
    own = folder["photo_seconds"]
    result = {
        "command": "python -m keras_colorize.colorize INPUT --model MODEL --out OUT --quiet",
        "repeats": repeats,
        "warmup_runs": 0 if quick else 1,
        "concurrent": quick,
        "photos": rows,
        "folder": {
            "model": folder_model,
            "source": source,
            "photos": count,
            "megapixels": megapixels,
            **folder,
            "images_per_second": count / folder["seconds"],
            "images_per_second_own": count / own if own > 0 else None,
        },
    }
    if not quick:
        model, jpeg = models[folder_model], ("--format", "jpeg")
        big = _timed_runs(singles[TWELVE_MP], model, work_dir, repeats, timeout, jpeg)
        result["twelve_mp_jpeg"] = {
            "model": folder_model,
            "photo": size_label(TWELVE_MP),
            "format": "jpeg",
            **big,
        }
    return result
