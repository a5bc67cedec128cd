"""The static site in Chromium: page weight, time to the first colorized photo, 12 MP per photo.

    python -m keras_colorize.web --out site/ && python -m benchmarks.web_page --site site/

Serves the folder with a plain static server on 127.0.0.1 (no network latency: a real host
adds the download time of the page weight) and drives Debian's chromium through Playwright
with a fresh profile (empty cache):
- page weight: the bytes of every response the page loaded until its first colorized photo,
  raw and gzipped (level 6, what static hosts typically send);
- time to first photo: from navigation to the colorized preview of --photo on screen, split
  into the page getting ready (runtime + model loaded and compiled) and the photo itself;
- per photo, a 12 MP photo (--large, by default 4000 x 3000 made from the test photo): open
  to preview on screen (decode, lightness, model, preview), then "Download PNG" (full-size
  colour, PNG encoding), median of --repeats photos opened one after the other;
- with --parity PHOTO..., those photos opened together, downloaded with "Download all" and
  compared with `python -m keras_colorize.colorize` (float32 .tflite) on the same files
  ("Download all" saves one ZIP of the PNGs):
  mean, p99 and max |difference| in RGB levels over all of them, and the worst photo's mean.
"""

import argparse
import functools
import gzip
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SETTLED = (
    "() => document.body.dataset.state === 'ready' && "
    "document.body.dataset.done === document.body.dataset.edits && "
    "Number(document.body.dataset.done) > 0"
)
TIMEOUT_MS = 180_000
LARGE_SIZE = (4000, 3000)


def _serve(folder, served):
    class Recording(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def send_head(self):
            served.append(self.path.split("?")[0])
            return super().send_head()

    handler = functools.partial(Recording, directory=folder)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _weight(folder, paths):
    raw = zipped = 0
    for path in sorted(set(paths)):
        file = os.path.join(folder, path.lstrip("/") or "index.html")
        if path.endswith("/"):
            file = os.path.join(file, "index.html")
        if os.path.isfile(file):
            with open(file, "rb") as handle:
                data = handle.read()
            raw += len(data)
            zipped += len(gzip.compress(data, compresslevel=6))
    return raw / 2**20, zipped / 2**20


def _large_photo(folder):
    from PIL import Image

    name = "lomiri-wallpapers-16.04__seeding_by_Clements_Engelhardt.jpg"
    source = os.path.join(ROOT, "tests", "data", "photos", name)
    path = os.path.join(folder, "large_12mp.jpg")
    Image.open(source).convert("RGB").resize(LARGE_SIZE, Image.Resampling.BICUBIC).save(
        path, quality=92
    )
    return path


def measure(site, photo, large, repeats):
    """{name: value} of one fresh browser's run over ``site``."""
    from playwright.sync_api import sync_playwright

    served = []
    httpd = _serve(site, served)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    result = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=BROWSER_ARGS
        )
        page = browser.new_context(accept_downloads=True).new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS)
        result["ready_s"] = time.perf_counter() - started
        opened = time.perf_counter()
        page.set_input_files("#open-photo", photo)
        page.wait_for_function(SETTLED, timeout=TIMEOUT_MS)
        result["first_photo_s"] = time.perf_counter() - opened
        result["first_total_s"] = time.perf_counter() - started
        result["weight_mb"], result["weight_gzip_mb"] = _weight(site, served)
        previews, downloads, colours, pngs = [], [], [], []
        for _ in range(repeats):
            page.click(".photo .close")  # one photo open at a time: the tab's memory stays flat
            edits = int(page.evaluate("document.body.dataset.edits"))
            opened = time.perf_counter()
            page.set_input_files("#open-photo", large)
            page.wait_for_function(
                f"() => ({SETTLED})() && Number(document.body.dataset.done) > {edits}",
                timeout=TIMEOUT_MS,
            )
            previews.append(time.perf_counter() - opened)
            clicked = time.perf_counter()
            with page.expect_download(timeout=TIMEOUT_MS):
                page.click("#download")
            downloads.append(time.perf_counter() - clicked)
            colours.append(float(page.evaluate("document.body.dataset.colorMs")) / 1000)
            pngs.append(float(page.evaluate("document.body.dataset.pngMs")) / 1000)
        result["large_preview_s"] = statistics.median(previews)
        result["large_download_s"] = statistics.median(downloads)
        result["large_colour_s"] = statistics.median(colours)
        result["large_png_s"] = statistics.median(pngs)
        result["timing"] = page.eval_on_selector("#timing", "element => element.textContent")
        browser.close()
    httpd.shutdown()
    httpd.server_close()
    return result


def parity(site, photos, folder):
    """{name: value}: the page's downloads of ``photos`` against colorize's outputs."""
    import numpy as np
    from PIL import Image
    from playwright.sync_api import sync_playwright

    ours, theirs = os.path.join(folder, "page"), os.path.join(folder, "colorize")
    os.makedirs(ours)
    command = [sys.executable, "-m", "keras_colorize.colorize", *photos, "--out", theirs]
    subprocess.run([*command, "--quiet"], check=True, capture_output=True)
    httpd = _serve(site, [])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=BROWSER_ARGS
        )
        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS)
        page.set_input_files("#open-photo", photos)
        page.wait_for_function(
            f"() => document.querySelectorAll('#photos .photo').length === {len(photos)}",
            timeout=TIMEOUT_MS,
        )
        page.wait_for_function(SETTLED, timeout=TIMEOUT_MS)
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            page.click("#download-all")  # several photos: one ZIP of PNGs
        archive = os.path.join(folder, "colorized.zip")
        download.value.save_as(archive)
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(ours)
        browser.close()
    httpd.shutdown()
    httpd.server_close()
    differences = []
    for photo in photos:
        stem = os.path.splitext(os.path.basename(photo))[0]
        a = np.asarray(Image.open(os.path.join(ours, f"{stem}_colorized.png")).convert("RGB"))
        b = np.asarray(Image.open(os.path.join(theirs, f"{stem}.png")).convert("RGB"))
        differences.append(np.abs(a.astype(np.int16) - b).ravel())
    every = np.concatenate(differences)
    return {
        "parity_photos": len(photos),
        "parity_mean": float(every.mean()),
        "parity_p99": float(np.percentile(every, 99)),
        "parity_max": int(every.max()),
        "parity_worst_photo_mean": max(float(one.mean()) for one in differences),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks.web_page", description=__doc__.split("\n")[0])
    parser.add_argument("--site", required=True, help="a folder written by keras_colorize.web")
    parser.add_argument("--photo", default=os.path.join(ROOT, "examples", "windmill.jpg"))
    parser.add_argument("--large", help="a 12 MP photo (default: made from a test photo)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parity", nargs="+", metavar="PHOTO", help="photos to compare")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        large = args.large or _large_photo(tmp)
        result = measure(args.site, args.photo, large, args.repeats)
        if args.parity:
            result.update(parity(args.site, args.parity, tmp))
    for name, value in result.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
