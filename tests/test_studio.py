"""The studio (`python -m keras_colorize.studio`): its API, its page in a real browser, its CLI.

The server runs as `python -m keras_colorize.studio`'s main in a subprocess on a free port,
with the shipped colorizer (models/colorizer/colorizer.tflite), which is guided. Two
environment variables, for development:

- KERAS_COLORIZE_STUDIO_MODEL=PATH: another guided .tflite instead of the shipped one;
- KERAS_COLORIZE_STUDIO_SCREENSHOT=docs/studio.png: where the page's screenshot with two
  points goes (by default a temporary folder).

The photo is examples/windmill.jpg (gray) at twice its size, 512 x 706, so that the page's
preview (371 x 512) is smaller than the original and the page must convert its clicks.
"""

import base64
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize.color import np_lab
from keras_colorize.contract import NotGuidedError
from keras_colorize.guidance.hints import colour_to_ab
from tests.conftest import BROWSER_ARGS, real_browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_MODEL = os.path.join(ROOT, A.DEFAULT_MODEL_DIR, A.TFLITE_FILE)
MODEL_VARIABLE = "KERAS_COLORIZE_STUDIO_MODEL"
START_SECONDS = 60  # the model loads and runs once before the URL is printed
# A function, not an expression: the page's Content-Security-Policy forbids eval'ing strings.
SETTLED = (
    "() => document.body.dataset.state === 'ready' && "
    "document.body.dataset.done === document.body.dataset.edits"
)
# Serves with the studio's main and, once Ctrl-C has stopped it, prints its exit code and
# the TensorFlow / Keras modules it imported (none, for a .tflite model).
SERVE = """
import json, sys
from keras_colorize.studio.__main__ import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"code": code, "loaded": loaded}), flush=True)
"""
BLUE, ORANGE = "#3a78c8", "#c8783a"  # a sky blue and a warm brick: colours a user would pick
REFERENCE_PHOTO = "lomiri-wallpapers-16.04__seeding_by_Clements_Engelhardt.jpg"
SKY, TOWER = (80.0, 60.0), (340.0, 520.0)  # original pixels: sky, and the mill's stone tower


@pytest.fixture(scope="module")
def model():
    path = os.environ.get(MODEL_VARIABLE, SHIPPED_MODEL)
    assert os.path.exists(path), f"the shipped colorizer {path} is missing"
    return path


@pytest.fixture(scope="module")
def automatic_model(tmp_path_factory):
    """A small untrained colorizer without hint inputs, as a .tflite."""
    from keras_colorize.models.regression import build_regression_net
    from keras_colorize.serving.tflite import colorizer_tflite

    path = tmp_path_factory.mktemp("automatic") / "colorizer.tflite"
    path.write_bytes(colorizer_tflite(build_regression_net(8), 32))
    return str(path)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    gray = Image.open(os.path.join(ROOT, "examples", "windmill.jpg"))
    path = tmp_path_factory.mktemp("studio") / "windmill.jpg"
    gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS).save(path)
    return str(path)


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Server:
    """A studio process; ``url`` once it listens, ``stop()`` sends Ctrl-C and reads its report."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, *map(str, args), "--port", "0", "--no-browser"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C as in a terminal: earlier tests in this process (their native
            # libraries) can leave SIGINT ignored, which a child would inherit.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + START_SECONDS
        line = ""
        while "http://" not in line:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, left))
            line = self.process.stdout.readline() if ready else ""
            if not ready or (not line and self.process.poll() is not None):
                self.process.kill()
                pytest.fail(f"the studio did not start: {self.process.stderr.read()[-2000:]}")
        self.url = line.split()[1]

    def stop(self):
        """Ctrl-C; returns (the SERVE report, stderr)."""
        self.process.send_signal(signal.SIGINT)
        try:  # generous: a loaded CI machine may take a while to unwind
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        lines = out.strip().splitlines()
        assert lines, f"the studio printed no report after Ctrl-C: {err[-2000:]}"
        return json.loads(lines[-1]), err


@pytest.fixture(scope="module")
def server(model, photo):
    running = Server(photo, "--model", model)
    yield running
    if running.process.poll() is None:
        running.stop()


def _request(url, body=None, method=None):
    """(status, headers, body bytes) of one request; JSON bodies are dicts or lists."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _error_line(status, body):
    """The one-line message of a JSON error answer."""
    assert status == 400, body
    message = json.loads(body)["error"]
    assert "\n" not in message and "Traceback" not in message
    return message


def _png_size(data):
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


# ---------------------------------------------------------------- the API


def test_bad_points_and_colours_are_400_with_one_line(server):
    url = server.url + "colorize"
    outside = _request(url, {"hints": [{"x": 600, "y": 10, "color": BLUE}]})
    assert "outside the 512x706 photo" in _error_line(*outside[::2])
    colour = _request(url, {"hints": [{"x": 10, "y": 10, "color": "blue"}]})
    assert "bad colour 'blue'" in _error_line(*colour[::2])
    assert "bad JSON" in _error_line(*_request(url, None, "POST")[::2])
    assert "no reference photo" in _error_line(*_request(url, {"reference": True})[::2])
    status, headers, body = _request(url, {"hints": [{"x": 10, "y": 10, "color": BLUE}]})
    assert status == 200 and _png_size(body) == (371, 512)
    assert headers["Server-Timing"].startswith("colorize;dur=")


def test_download_is_a_png_of_the_original_size(server):
    hints = json.dumps([{"x": SKY[0], "y": SKY[1], "color": BLUE}])
    query = urllib.parse.urlencode({"hints": hints, "reference": "0"})
    status, headers, body = _request(f"{server.url}download?{query}")
    assert status == 200 and _png_size(body) == (512, 706)
    assert 'filename="windmill_colorized.png"' in headers["Content-Disposition"]


def test_ctrl_c_stops_cleanly_and_a_tflite_model_never_imports_tensorflow(photo, model):
    running = Server(photo, "--model", model)
    points = [{"x": SKY[0], "y": SKY[1], "color": BLUE}]
    status, _, _ = _request(running.url + "colorize", {"hints": points})
    assert status == 200
    report, err = running.stop()
    assert report == {"code": 0, "loaded": []}
    assert "Traceback" not in err and err.strip().endswith("studio: stopped")


def test_a_model_without_hints_refuses_them_in_one_line(photo, automatic_model):
    from keras_colorize.inference.backends import open_colorizer
    from keras_colorize.io.images import read_image
    from keras_colorize.studio.server import Studio

    backend, _ = open_colorizer(automatic_model)
    assert not backend.guided
    studio = Studio(backend, automatic_model)
    studio.load_photo(read_image(photo), "windmill.jpg")
    assert _png_size(studio.colorize({"hints": []}, full=False)) == (371, 512)
    with pytest.raises(NotGuidedError, match="takes no colour hints"):
        studio.colorize({"hints": [{"x": 1, "y": 1, "color": BLUE}]}, full=False)


# ---------------------------------------------------------------- the command line


def test_command_line_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    from keras_colorize.studio.__main__ import main

    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"not a jpeg")
    good = os.path.join(ROOT, "examples", "windmill.jpg")
    cases = [
        ([str(tmp_path / "missing.jpg")], "missing.jpg: cannot read file"),
        ([str(corrupt)], "corrupt.jpg: not a readable image"),
        ([good, "--model", str(tmp_path / "none.tflite")], "none.tflite does not exist"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("studio: error: ") and expected in lines[0]
    result = subprocess.run(
        [sys.executable, "-m", "keras_colorize.studio", str(tmp_path / "missing.jpg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the page


def _result_ab(page):
    """The page's colorized preview (its canvas) as ab float32 (h, w, 2)."""
    url = page.evaluate("document.getElementById('result').toDataURL('image/png')")
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("RGB"))
    return np_lab.rgb_uint8_to_lab(rgb)[..., 1:]


def _ab_near(ab, where, scale, half=4):
    """Mean ab in a (2 half + 1)^2 window of the preview around an original-pixel point."""
    x, y = int(where[0] / scale), int(where[1] / scale)
    return ab[y - half : y + half + 1, x - half : x + half + 1].reshape(-1, 2).mean(axis=0)


def _at(page, where, size=(512, 706)):
    """Page coordinates of an original-pixel point on the displayed photo."""
    box = page.locator("#points").bounding_box()
    x = box["x"] + where[0] / size[0] * box["width"]
    return x, box["y"] + where[1] / size[1] * box["height"]


def _set_colour(page, colour):
    page.fill("#colour", colour)  # fires "input": the selected point takes the colour
    page.wait_for_function(SETTLED)


def test_the_page_colorizes_toward_two_points(server, tmp_path):
    """Two points placed by clicking pull the colour near each toward their own colours."""
    chromium, sync_playwright = real_browser()
    screenshot = os.environ.get("KERAS_COLORIZE_STUDIO_SCREENSHOT", str(tmp_path / "studio.png"))
    sent = []  # the body of every colorize request, as the server received it
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 960, "height": 680}, accept_downloads=True)
            crashes = []  # uncaught exceptions of the page's script
            page.on("pageerror", lambda error: crashes.append(str(error)))
            page.on(
                "request",
                lambda r: r.url.endswith("/colorize") and sent.append(r.post_data_json),
            )
            page.goto(server.url)
            page.wait_for_function(SETTLED)
            assert page.inner_text("#message") == ""
            scale = 512 / page.evaluate("document.getElementById('result').width")  # 512 / 371
            before = _result_ab(page)

            page.mouse.click(*_at(page, SKY))  # a new point, selected: the picker recolours it
            _set_colour(page, BLUE)
            page.mouse.click(*_at(page, TOWER))
            _set_colour(page, ORANGE)
            after = _result_ab(page)
            # The divider to 12 %: gray only left of it, so both points show their colour.
            stage = page.locator("#stage").bounding_box()
            page.locator("#handle").hover()
            page.mouse.down()
            page.mouse.move(stage["x"] + 0.12 * stage["width"], stage["y"] + 10, steps=3)
            page.mouse.up()
            split = page.evaluate(
                "getComputedStyle(document.documentElement).getPropertyValue('--split')"
            )
            assert abs(float(split.rstrip("%")) - 12) < 1
            page.screenshot(path=screenshot)

            # The page sent the points in the original photo's pixels, not the preview's.
            (sky, tower) = sent[-1]["hints"]
            assert (sky["color"], tower["color"]) == (BLUE, ORANGE)
            for point, where in ((sky, SKY), (tower, TOWER)):
                assert abs(point["x"] - where[0]) <= 1.5 and abs(point["y"] - where[1]) <= 1.5
            for where, colour in ((SKY, BLUE), (TOWER, ORANGE)):
                target = np.array(colour_to_ab(colour))
                moved = np.linalg.norm(_ab_near(after, where, scale) - target)
                assert moved < np.linalg.norm(_ab_near(before, where, scale) - target) - 2

            # Drag the orange point 40 px down, then delete it with a right-click.
            x, y = _at(page, TOWER)
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x, y + 20, steps=4)
            page.mouse.move(x, y + 40, steps=4)
            page.mouse.up()
            page.wait_for_function(SETTLED)
            dragged = 40 * 706 / page.locator("#points").bounding_box()["height"]  # original px
            assert abs(sent[-1]["hints"][1]["y"] - (TOWER[1] + dragged)) <= 2
            page.mouse.click(x, y + 40, button="right")
            page.wait_for_function(SETTLED)
            assert [p["color"] for p in sent[-1]["hints"]] == [BLUE]

            # A reference photo (in colour) is used until removed.
            colour_photo = os.path.join(ROOT, "tests", "data", "photos", REFERENCE_PHOTO)
            page.set_input_files("#open-reference", colour_photo)
            page.wait_for_selector("#reference-thumb", state="visible")  # uploaded
            page.wait_for_function(SETTLED)
            assert sent[-1]["reference"] is True
            page.click("#remove-reference")
            page.wait_for_selector("#reference-thumb", state="hidden")
            page.wait_for_function(SETTLED)
            assert sent[-1]["reference"] is False

            with page.expect_download() as info:
                page.click("#download")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.name == "windmill_colorized.png"
            assert _png_size(saved.read_bytes()) == (512, 706)

            # A file that is not a photo: the server's one line, shown on the page.
            page.set_input_files("#open-photo", files=[{
                "name": "notes.txt", "mimeType": "text/plain", "buffer": b"no image",
            }])  # fmt: skip
            page.wait_for_selector("#message.error")
            assert page.inner_text("#message") == (
                "photo notes.txt: not a readable image (cannot identify image file)"
            )
            assert crashes == []
            timing = page.evaluate(
                "[document.body.dataset.roundTrip, document.body.dataset.serverMs]"
            )
            print(f"last preview update: {timing[0]} ms round trip, {timing[1]} ms in the server")
        finally:
            browser.close()
