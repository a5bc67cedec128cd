"""The colorize command end to end, as a user runs it: wall time and peak memory per run.

Each run is ``python -m keras_colorize.colorize INPUT --model M --out OUT`` in
a fresh process (benchmarks.process: peak RSS from that child's own
getrusage record). Three runs, each repeated, the median taken:

- start-up: one 64x64 photo: Python, TensorFlow and the model loading.
- folder: N photos of mixed sizes (synthetic gray photos, or a --photos folder).
- 12 MP: one 4000x3000 photo, against the target of under 1 s and 2 GB.

The photos' own time (reading, colorizing, writing; the model loaded) is the
command's own clock, which its summary line prints: subtracting a start-up
run's wall time instead was swamped by start-up noise on a busy machine.
"""

import os
import re
import statistics
import tempfile

from benchmarks.process import child_env, python_module, run_child

# Mixed sizes for the synthetic folder: phone, scan and web photos.
FOLDER_SIZES = ((1024, 768), (2048, 1536), (640, 480), (1600, 1200), (3000, 2000), (800, 800))
QUICK_FOLDER_SIZES = ((320, 240), (640, 480), (256, 256))
STARTUP_SIZE = (64, 64)
TWELVE_MP = (4000, 3000)
TARGET_SECONDS = 1.0
TARGET_PEAK_MB = 2000.0  # 2 GB
JPEG_QUALITY = 92
SUMMARY_SECONDS = re.compile(r"^colorized \d+ photos? into .* in (\d+\.\d+) s \(", re.MULTILINE)


class ColorizeRunError(RuntimeError):
    """The colorize command failed; one-line message."""


def write_photos(folder, sizes, seed=0):
    """Writes one gray JPEG per (width, height) into folder; returns their total megapixels."""
    from PIL import Image

    from benchmarks.inference import synthetic_photo

    os.makedirs(folder, exist_ok=True)
    pixels = 0
    for index, (width, height) in enumerate(sizes):
        gray = synthetic_photo(width, height, seed=seed + index)[..., 0]
        Image.fromarray(gray).save(
            os.path.join(folder, f"photo-{index:03d}.jpg"), quality=JPEG_QUALITY
        )
        pixels += width * height
    return pixels / 1e6


def _count_photos(folder):
    from keras_colorize.colorize import expand_inputs

    found, _ = expand_inputs([folder], os.path.join(folder, ".none"))
    return len(found)


def _timed_runs(inputs, model, work_dir, repeats, timeout, extra=()):
    """Runs the command ``repeats`` times.

    Returns:
        dict of medians: seconds (wall), photo_seconds (the command's own clock
        after the model loaded), peak_rss_mb; and all_seconds.
    """
    seconds, photo_seconds, peaks = [], [], []
    for repeat in range(repeats):
        out = tempfile.mkdtemp(prefix=f"out-{repeat}-", dir=work_dir)
        command = python_module(
            "keras_colorize.colorize", inputs, "--model", model, "--out", out, "--quiet", *extra
        )
        result = run_child(command, child_env(), timeout)
        if result.returncode != 0:
            raise ColorizeRunError(f"colorize {inputs} failed: {result.error_line()}")
        summary = SUMMARY_SECONDS.search(result.stdout)
        if summary is None:
            raise ColorizeRunError(f"colorize {inputs} printed no summary line")
        seconds.append(result.seconds)
        photo_seconds.append(float(summary.group(1)))
        peaks.append(result.peak_rss_mb)
    return {
        "seconds": statistics.median(seconds),
        "photo_seconds": statistics.median(photo_seconds),
        "peak_rss_mb": statistics.median(peaks),
        "all_seconds": seconds,
    }


def _twelve_mp(run, output_format):
    work = run["photo_seconds"]
    return {
        "photo": "x".join(map(str, TWELVE_MP)),
        "format": output_format,
        **run,
        "seconds_after_startup": work,
        "target_seconds": TARGET_SECONDS,
        "target_peak_rss_mb": TARGET_PEAK_MB,
        "seconds_passed": work < TARGET_SECONDS,
        "memory_passed": run["peak_rss_mb"] < TARGET_PEAK_MB,
    }


def colorize_runs(model, work_dir, photos_dir=None, count=50, quick=False, repeats=3, timeout=900):
    """Times the colorize command on a start-up photo, a folder and a 12 MP photo.

    Args:
        model: the --model path given to the command (e.g. a colorizer.keras).
        work_dir: scratch folder for the photos and outputs.
        photos_dir: real photos to use as the folder; default: ``count`` synthetic
            gray photos of mixed sizes.
        quick: small synthetic photos, no warm-up run, no JPEG-output run.

    Returns:
        dict with startup, folder and twelve_mp (the default PNG output) entries,
        each with seconds and peak_rss_mb; without quick also twelve_mp_jpeg
        (--format jpeg: the same work without the PNG encoding).

    Raises:
        ColorizeRunError: a run exited with an error.
    """
    startup_dir = os.path.join(work_dir, "startup")
    write_photos(startup_dir, [STARTUP_SIZE])
    if photos_dir is None:
        photos_dir = os.path.join(work_dir, "folder")
        sizes = QUICK_FOLDER_SIZES if quick else FOLDER_SIZES
        megapixels = write_photos(photos_dir, [sizes[i % len(sizes)] for i in range(count)], 100)
        source = f"{count} synthetic gray JPEGs of mixed sizes"
    else:
        count = _count_photos(photos_dir)
        megapixels = None
        source = f"the photos of {photos_dir}"
    big_dir = os.path.join(work_dir, "12mp")
    write_photos(big_dir, [TWELVE_MP], 7)

    if not quick:
        # Warm-up: the first run also pays for cold file caches (Python, TF, the model).
        _timed_runs(startup_dir, model, work_dir, 1, timeout)
    startup = _timed_runs(startup_dir, model, work_dir, repeats, timeout)
    folder = _timed_runs(photos_dir, model, work_dir, repeats, timeout)
    folder_work = folder["photo_seconds"]
    result = {
        "command": "python -m keras_colorize.colorize INPUT --model MODEL --out OUT --quiet",
        "model": model,
        "repeats": repeats,
        "warmup_runs": 0 if quick else 1,
        "startup": {"photo": "x".join(map(str, STARTUP_SIZE)), **startup},
        "folder": {
            "source": source,
            "photos": count,
            "megapixels": megapixels,
            **folder,
            "images_per_second": count / folder["seconds"],
            "seconds_after_startup": folder_work,
            "images_per_second_after_startup": count / folder_work if folder_work > 0 else None,
        },
    }
    big = _timed_runs(big_dir, model, work_dir, repeats, timeout)
    result["twelve_mp"] = _twelve_mp(big, "png")
    if not quick:
        big = _timed_runs(big_dir, model, work_dir, repeats, timeout, ("--format", "jpeg"))
        result["twelve_mp_jpeg"] = _twelve_mp(big, "jpeg")
    return result
