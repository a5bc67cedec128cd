"""The static site (`python -m keras_colorize.web`): built, served by a plain static server and
driven in a real Chromium, where it must colorize like `python -m keras_colorize.colorize`
without a request leaving its origin.

Needs the LiteRT.js runtime (`npm ci --prefix web`, which .ci/run does), Debian's chromium and
the playwright package; each test says which one it skips for. The sites are built in this
process (a second or two each); the `colorize` runs the page is held to run in background
processes meanwhile. The parity tests use a float32 site: the page's maths against colorize's,
same model; the float16 site (the default) is held to the float32 colorize output.
"""

import functools
import http.server
import json
import os
import shutil
import threading
import zipfile

import numpy as np
import pytest
from conftest import (
    BROWSER_ARGS,
    ROOT,
    BackgroundCommands,
    command_result,
    real_browser,
    start_with_first_test,
)
from PIL import Image

from keras_colorize.web import DEFAULT_RUNTIME
from keras_colorize.web import main as web_main

GRAY = os.path.join(ROOT, "examples", "windmill.jpg")  # 256 x 353: area-averaged to 128
REFERENCE = os.path.join(
    ROOT, "tests", "data", "photos", "lomiri-wallpapers-16.04__seeding_by_Clements_Engelhardt.jpg"
)
# Original pixels of the windmill photo: the sky and the mill's stone tower.
POINTS = [
    {"x": 40.5, "y": 30.5, "color": "#3a78c8", "radius": 6},
    {"x": 170.5, "y": 260.5, "color": "#c8783a", "radius": 6},
]
MEAN_LEVELS, P99_LEVELS = 0.5, 2  # the parity bounds, page vs colorize
FLOAT16_MEAN_LEVELS = 1.0
SETTLED = (
    "() => document.body.dataset.state === 'ready' && "
    "document.body.dataset.done === document.body.dataset.edits"
)
TIMEOUT_MS = 60_000


def _skip_without_runtime():
    if not os.path.isfile(os.path.join(DEFAULT_RUNTIME, "core", "dist", "index.js")):
        pytest.skip("needs the LiteRT.js runtime: npm ci --prefix web")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The photos the page opens: gray, colour, and one smaller than the working size."""
    folder = tmp_path_factory.mktemp("web_photos")
    shutil.copy(GRAY, folder / "windmill.jpg")
    shutil.copy(REFERENCE, folder / "seeding.jpg")
    # Short side under 128: the bilinear branch of the resize rule. PNG: no decoder differences.
    Image.open(REFERENCE).crop((100, 60, 220, 150)).save(folder / "crop.png")
    return {name: str(folder / name) for name in ("windmill.jpg", "seeding.jpg", "crop.png")}


@pytest.fixture(scope="module")
def background(photos, tmp_path_factory):
    """Futures of the colorize runs the page is held to: "automatic" (every photo, into
    "automatic_dir") and "guided" (the windmill with POINTS and REFERENCE, into "guided_dir")."""
    out = tmp_path_factory.mktemp("web_colorize")
    hints = out / "hints.json"
    hints.write_text(json.dumps(POINTS))
    commands = BackgroundCommands(lanes=1, threads=1)
    futures = {"automatic_dir": out / "auto", "guided_dir": out / "guided"}
    futures["automatic"] = commands.python_module(
        "keras_colorize.colorize", *photos.values(), "--out", out / "auto", "--quiet"
    )
    # The page feeds hints to the network (colorize's --hint-mode network): the local
    # spread (guidance.local, a sparse solve) is not ported to JavaScript.
    guidance = ["--hints", hints, "--reference", REFERENCE, "--hint-mode", "network"]
    futures["guided"] = commands.python_module(
        "keras_colorize.colorize", photos["windmill.jpg"], *guidance, "--out", futures["guided_dir"]
    )
    yield futures
    commands.close()


@pytest.fixture(scope="module", autouse=True)
def start_background(request):
    if os.path.isfile(os.path.join(DEFAULT_RUNTIME, "core", "dist", "index.js")):
        start_with_first_test(request, "background")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _skip_without_runtime()
    out = tmp_path_factory.mktemp("web") / "site"
    assert web_main(["--out", str(out), "--weights", "float32"]) == 0
    return str(out)


@pytest.fixture(scope="module")
def default_site(tmp_path_factory):
    _skip_without_runtime()
    out = tmp_path_factory.mktemp("web") / "default"
    assert web_main(["--out", str(out)]) == 0
    return str(out)


class StaticServer:
    """``python -m http.server`` in a thread: what any static host does, nothing more."""

    def __init__(self, folder):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

        handler = functools.partial(Quiet, directory=folder)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium, sync_playwright = real_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        yield launched
        launched.close()


class Page:
    """A fresh page on ``url`` whose every request to another origin fails and is recorded."""

    def __init__(self, browser, url, init_script=None):
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.outside, self.requests, self.errors = [], [], []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        origin = url.rstrip("/")

        def guard(route):
            if route.request.url.startswith(origin + "/"):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        self.context.route("**/*", guard)
        if init_script:
            self.page.add_init_script(init_script)
        self.page.goto(url)
        self.page.wait_for_function(
            "() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS
        )

    def message(self):
        return self.page.eval_on_selector("#message", "element => element.textContent")

    def settle(self):
        self.page.wait_for_function(SETTLED, timeout=TIMEOUT_MS)

    def download_all(self, folder):
        """Clicks "Download all"; returns {file name: saved path} of the PNGs (one PNG, or a
        ZIP of several, unpacked)."""
        with self.page.expect_download(timeout=TIMEOUT_MS) as download:
            self.page.click("#download-all")
        path = os.path.join(folder, download.value.suggested_filename)
        download.value.save_as(path)
        if not path.endswith(".zip"):
            return {os.path.basename(path): path}
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            archive.extractall(folder)
            return {name: os.path.join(folder, name) for name in archive.namelist()}

    def close(self):
        self.context.close()


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _difference(first, second):
    """(mean, p99) |difference| in RGB levels of two image files of the same size."""
    a, b = _rgb(first), _rgb(second)
    assert a.shape == b.shape
    difference = np.abs(a - b)
    return float(difference.mean()), float(np.percentile(difference, 99))


def test_the_page_colorizes_many_photos_like_colorize_and_stays_on_its_origin(
    site, browser, photos, background, tmp_path
):
    server = StaticServer(site)
    page = Page(browser, server.url)
    try:
        assert "ready" in page.message(), page.message()
        page.page.set_input_files("#open-photo", list(photos.values()))
        page.page.wait_for_function(
            f"() => document.querySelectorAll('#photos .photo').length === {len(photos)}"
        )
        page.settle()
        saved = page.download_all(tmp_path)
        assert len(saved) == len(photos), saved
        code, _, failure = command_result(background["automatic"])
        assert code == 0, failure
        for name in photos:
            stem = os.path.splitext(name)[0]
            ours = saved[f"{stem}_colorized.png"]
            mean, p99 = _difference(ours, background["automatic_dir"] / f"{stem}.png")
            assert mean <= MEAN_LEVELS and p99 <= P99_LEVELS, (name, mean, p99)
        assert page.outside == [], page.outside
        assert page.errors == [], page.errors
        policy = "meta[http-equiv='Content-Security-Policy']"
        assert "connect-src 'self'" in page.page.get_attribute(policy, "content")
        assert any(url.endswith(".wasm") for url in page.requests), page.requests
    finally:
        page.close()
        server.close()


def test_points_and_a_reference_photo_colour_the_page_as_they_colour_colorize(
    site, browser, photos, background, tmp_path
):
    server = StaticServer(site)
    page = Page(browser, server.url)
    try:
        page.page.set_input_files("#open-photo", photos["windmill.jpg"])
        page.settle()
        # The points straight into the page's state (clicking is test_studio's business).
        page.page.evaluate(
            """(points) => {
                state.points.push(...points.map((point) => ({...point, guess: null})));
                render();
                changed();
            }""",
            POINTS,
        )
        page.settle()
        page.page.set_input_files("#open-reference", REFERENCE)
        page.page.wait_for_function("() => !document.querySelector('#reference-box').hidden")
        page.settle()
        saved = page.download_all(tmp_path)
        code, _, failure = command_result(background["guided"])
        assert code == 0, failure
        mean, p99 = _difference(
            saved["windmill_colorized.png"], background["guided_dir"] / "windmill.png"
        )
        assert mean <= MEAN_LEVELS and p99 <= P99_LEVELS, (mean, p99)
        automatic = background["automatic_dir"] / "windmill.png"
        assert _difference(saved["windmill_colorized.png"], automatic)[0] > 1, "no guidance used"
        assert page.outside == []
    finally:
        page.close()
        server.close()


def test_bad_photos_and_a_browser_without_webassembly_get_a_message(site, browser, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo\n")
    # A PNG header claiming 30000 x 20000 pixels: refused before anything is decoded.
    huge = tmp_path / "huge.png"
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR"
    huge.write_bytes(header + (30000).to_bytes(4, "big") + (20000).to_bytes(4, "big") + bytes(20))
    server = StaticServer(site)
    page = Page(browser, server.url)
    try:
        page.page.set_input_files("#open-photo", [str(text), str(huge), GRAY])
        page.page.wait_for_function("() => document.querySelectorAll('#photos .photo').length")
        page.settle()
        message = page.message()
        assert "notes.jpg is not an image" in message, message
        assert "huge.png is 30000×20000 (600 MP)" in message, message
        assert page.page.eval_on_selector("#message", "element => element.className") == "error"
        assert page.page.is_visible("#result")  # the good photo, colorized
    finally:
        page.close()
    page = Page(browser, server.url, init_script="delete globalThis.WebAssembly;")
    try:
        assert "This browser has no WebAssembly" in page.message(), page.message()
        assert page.page.is_visible("#empty")
    finally:
        page.close()
        server.close()


def test_the_default_site_has_float16_weights_that_colour_like_float32(
    default_site, site, browser, photos, background, tmp_path
):
    def model_mb(folder):
        return os.path.getsize(os.path.join(folder, "colorizer.tflite")) / 2**20

    assert model_mb(default_site) < 0.51 * model_mb(site)
    server = StaticServer(default_site)
    page = Page(browser, server.url)
    try:
        page.page.set_input_files("#open-photo", photos["seeding.jpg"])
        page.settle()
        ours = page.download_all(tmp_path)["seeding_colorized.png"]
    finally:
        page.close()
        server.close()
    code, _, failure = command_result(background["automatic"])
    assert code == 0, failure
    mean, _ = _difference(ours, background["automatic_dir"] / "seeding.png")
    assert mean <= FLOAT16_MEAN_LEVELS, mean


def test_command_line_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("x")
    cases = [
        (["--out", str(tmp_path / "full"), "--weights", "float32"], "is not empty"),
        (["--out", str(tmp_path / "a"), "--runtime", str(tmp_path)], "npm ci --prefix web"),
        (["--out", str(tmp_path / "b"), "--model", str(tmp_path / "none.tflite")], "not exist"),
        (["--out", str(tmp_path / "c"), "--model", str(tmp_path / "full")], ".tflite models only"),
    ]
    for args, expected in cases:
        assert web_main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("web: error: ") and expected in err, err
    assert not os.path.exists(tmp_path / "a")
    assert os.listdir(tmp_path / "full") == ["old.txt"]
