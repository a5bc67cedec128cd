"""The studio: a local page to colorize one photo with colour points and a reference photo.

    python -m keras_colorize.studio photo.jpg [--model PATH] [--port 8765] [--no-browser]

Why a standard-library server (http.server's ThreadingHTTPServer) and one
static page, not Gradio: colorizing with a .tflite model must stay light and
TensorFlow-free (the base install is numpy, OpenCV, Pillow, tqdm and
ai-edge-litert), and Gradio would pull in a web framework and hundreds of MB
for one page; the page also needs its own interaction (points dragged over
the photo, a before/after divider), which Gradio's image components do not
offer. So the page is plain HTML, CSS and JavaScript served from this
package (page.html, page.js, page.css), with nothing fetched from the network.

The server holds one photo, at full resolution and as a preview whose long
side is at most PREVIEW_SIDE px. After each edit the page posts the points
(in the ORIGINAL photo's pixels: the page converts from what it shows) and
gets back the preview colorized with them; "Download" colorizes the original
with the same points. Both go through inference.pipeline.colorize_images: the
colour is predicted at the model's working size and recombined with the
photo's own lightness, so the preview and the download agree. The model
(a TFLite interpreter is not thread-safe) and the photo are behind one lock.
An update of a 512 x 288 preview took a median 28 ms in the server (75 ms
from the browser's edit to the redrawn canvas) with a guided .tflite at
working size 64, and 30-85 ms in the server with .tflite models at 128, on a
busy 2-core CPU. The default model is the shipped colorizer, which is guided;
with a --model that takes no hints the page says that points need a guided one.

Suggested colours: a regression colorizer predicts one colour per pixel, not
a distribution, so it has no ranked alternatives to offer (Zhang et al.'s
suggestions come from a classification network's colour distribution). The
page therefore shows, honestly labelled, the colour the model currently
predicts at the clicked pixel (read from the colorized preview when the point
is placed) and a fixed palette of common colours.

HTTP API (127.0.0.1 only; JSON errors {"error": "one line"} with status 4xx):

    GET    /                the page (and /page.js, /page.css)
    GET    /info            the photo and model: sizes, version, guided, ...
    GET    /photo           the preview's lightness as a gray PNG
    POST   /photo           body: an image file (header X-Filename) -> /info
    POST   /colorize        {"photo": version, "hints": [{"x", "y", "color",
                            "radius"}], "reference": bool} -> the preview PNG
    POST   /reference       body: an image file -> {"reference": true}
    DELETE /reference       -> {"reference": false}
    GET    /download?photo=V&hints=JSON&reference=0|1 -> the full-size PNG

A request whose Host is not this server's own address, or that comes from
another origin, is refused (403): a web page elsewhere cannot reach the
studio through DNS rebinding or a cross-site form.
"""

import io
import itertools
import json
import os
import re
import threading
import time
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np

from keras_colorize.cli import UsageError, error_line
from keras_colorize.contract import NOT_GUIDED, NotGuidedError
from keras_colorize.guidance.hints import (
    HintError,
    hint_map,
    parse_hints,
    reference_from_photo,
)
from keras_colorize.io.images import ImageReadError, decode_image, shrink_to_side
from keras_colorize.io.png import write_png

PROG = "studio"
HOST = "127.0.0.1"  # never another interface: the studio has no authentication
DEFAULT_PORT = 8765
PREVIEW_SIDE = 512  # long side of the preview the page edits; small enough for ~0.1 s updates
MAX_UPLOAD_BYTES = 200 * 2**20  # a photo or reference file; a 100 MP TIFF still fits
MAX_JSON_BYTES = 2**20  # thousands of points
_BUFFER_NAME = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")
MESSAGE_LIMIT = 300  # characters of an error message sent to the page
PAGE_FILES = {
    "/": ("page.html", "text/html; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
}
# Everything the page uses comes from this server; images also from blob: URLs it makes.
CONTENT_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
)


class RequestError(Exception):
    """A request the server refuses: HTTP status and a one-line message for the page."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Photo:
    """The photo being edited: the original, its preview and the preview's gray rendition."""

    name: str
    rgb: np.ndarray  # uint8 (H, W, 3), the original's size
    alpha: np.ndarray | None  # kept in the download, as colorize keeps it
    was_gray: bool
    preview: np.ndarray  # uint8 (h, w, 3), long side <= PREVIEW_SIDE
    gray_png: bytes  # the preview's lightness, no colour: the page's "before"
    version: int  # changes with every photo, so a stale page cannot mix two photos


def png_bytes(pixels):
    """uint8 (H, W, 3 or 4) -> PNG file bytes."""
    buffer = io.BytesIO()
    write_png(buffer, pixels)
    return buffer.getvalue()


def _shown_path(path):
    """A path as the page shows it: relative to the current folder when inside it."""
    relative = os.path.relpath(os.path.abspath(path))
    return path if relative.startswith(os.pardir) else relative


def _one_line(message):
    lines = str(message).strip().splitlines()
    return (lines[0] if lines else "error")[:MESSAGE_LIMIT]


class Studio:
    """The photo, the reference and the model behind one lock; what the handler calls."""

    def __init__(self, backend, model_path):
        self.backend = backend
        self.model_path = model_path
        self.photo = None
        self.reference = None  # (REFERENCE_BINS,) float32, or None
        self.lock = threading.Lock()
        self._versions = itertools.count(1)

    def load_photo(self, image, name):
        """Makes a DecodedImage the photo being edited (outside the lock: it may take a while)."""
        from keras_colorize.color.fullres import gray_rgb

        preview = shrink_to_side(image.rgb, PREVIEW_SIDE)
        gray = gray_rgb(preview)
        photo = Photo(
            name=name,
            rgb=image.rgb,
            alpha=image.alpha,
            was_gray=image.was_gray,
            preview=preview,
            gray_png=png_bytes(gray),
            version=next(self._versions),
        )
        with self.lock:
            self.photo = photo
        return photo

    def info(self):
        """What the page needs to know, as a JSON-ready dict."""
        photo = self.photo
        return {
            "name": photo.name,
            "width": photo.rgb.shape[1],
            "height": photo.rgb.shape[0],
            "preview_width": photo.preview.shape[1],
            "preview_height": photo.preview.shape[0],
            "was_gray": photo.was_gray,
            "version": photo.version,
            "guided": self.backend.guided,
            "model": _shown_path(self.model_path),
            "working_size": self.backend.working_size,
            "reference": self.reference is not None,
        }

    def set_reference(self, image):
        """A decoded reference photo -> its colour distribution, used while ``reference`` is on."""
        if not self.backend.guided:
            raise NotGuidedError(f"this model {NOT_GUIDED}")
        histogram = reference_from_photo(image.rgb)  # HintError if the photo is gray
        with self.lock:
            self.reference = histogram

    def clear_reference(self):
        with self.lock:
            self.reference = None

    def colorize(self, request, full):
        """{"photo", "hints", "reference"} -> PNG bytes of the preview, or of the original if full.

        Raises:
            RequestError (409) if the page edits a photo that has been replaced.
            HintError (a UsageError) for bad points, a bad colour or guidance
            that this model or this session cannot take.
        """
        if not isinstance(request, dict):
            raise HintError('expected a JSON object {"hints": [...], "reference": false}')
        with self.lock:
            photo = self.photo
            version = request.get("photo", photo.version)
            if version != photo.version:
                raise RequestError(
                    HTTPStatus.CONFLICT, "the photo was replaced (in another tab?): reload the page"
                )
            points = parse_hints(request.get("hints", []), photo.rgb.shape, source="hints")
            use_reference = request.get("reference", False)
            if not isinstance(use_reference, bool):
                raise HintError("reference must be true or false")
            if (points or use_reference) and not self.backend.guided:
                raise NotGuidedError(f"this model {NOT_GUIDED}")
            if use_reference and self.reference is None:
                raise HintError("no reference photo is loaded")
            from keras_colorize.inference.pipeline import colorize_images

            size = self.backend.working_size
            # The points are in the original's pixels, and the preview is the original
            # shrunk: both are squeezed to the same S x S, so one hint map serves both.
            hints = [hint_map(points, photo.rgb.shape, size)] if points else None
            references = [self.reference] if use_reference else None
            source = photo.rgb if full else photo.preview
            rgb = colorize_images([source], self.backend, hints=hints, references=references)[0]
        if full and photo.alpha is not None:
            rgb = np.dstack([rgb, photo.alpha])
        return png_bytes(rgb)


def read_page():
    """{url path: (bytes, content type)} of the page's files; UsageError if one is missing."""
    folder = os.path.dirname(os.path.abspath(__file__))
    files = {}
    for path, (name, content_type) in PAGE_FILES.items():
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                files[path] = (handle.read(), content_type)
        except OSError:
            raise UsageError(
                f"the studio's {name} is missing from {folder}: the install lacks its package data"
            ) from None
    return files


def _upload_name(header):
    """The X-Filename header (URL-encoded by the page) -> a bare file name for messages."""
    name = os.path.basename(unquote(header or "").replace("\\", "/"))
    return _one_line(name)[:120] or "upload"


def _download_name(photo_name):
    stem = os.path.splitext(photo_name)[0] or "photo"
    return f"{stem}_colorized.png"


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the Studio in ``self.server.studio``; every error is one JSON line."""

    server_version = "keras-colorize-studio"
    protocol_version = "HTTP/1.1"  # keep-alive: a drag sends many requests

    def log_message(self, format, *args):
        """Silent: the terminal shows the URL and errors, not one line per request."""

    # ------------------------------------------------------------------ plumbing

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        self._body_read = False
        try:
            self._check_origin()
            url = urlsplit(self.path)
            route = ROUTES.get((method, url.path))
            if route is None and url.path in PAGE_FILES and method == "GET":
                route = Handler._page
            if route is None:
                known = url.path in PAGE_FILES or any(path == url.path for _, path in ROUTES)
                if known:
                    raise RequestError(
                        HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {url.path}"
                    )
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")
            route(self, url)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the page went away; nothing to answer
        except RequestError as error:
            self._send_error(error.status, str(error))
        except UsageError as error:  # HintError: the user's points, colour or photo
            self._send_error(HTTPStatus.BAD_REQUEST, str(error))
        except Exception as error:  # a bug: the traceback to the terminal, one line to the page
            traceback.print_exc()
            self._send_error(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {error_line(error)}"
            )

    def _check_origin(self):
        port = self.server.server_address[1]
        hosts = {f"{HOST}:{port}", f"localhost:{port}"}
        if self.headers.get("Host") not in hosts:
            raise RequestError(HTTPStatus.FORBIDDEN, "the studio answers only on its own address")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{host}" for host in hosts}:
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from other sites are refused")

    def _drain(self):
        """Reads a small unread body, so that a kept-alive connection sees the next request."""
        if self._body_read:
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_JSON_BYTES:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _body(self, limit):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise RequestError(
                HTTPStatus.LENGTH_REQUIRED, "the request has no Content-Length"
            ) from None
        if not 0 <= length <= limit:
            self.close_connection = True  # the unread body would be taken for the next request
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the upload is over {limit // 2**20} MB"
            )
        self._body_read = True
        return self.rfile.read(length)

    def _json_body(self):
        body = self._body(MAX_JSON_BYTES)
        try:
            return json.loads(body)
        except ValueError as error:
            raise HintError(f"bad JSON: {_one_line(error)}") from None

    def _send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CONTENT_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, data, status=HTTPStatus.OK):
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send_error(self, status, message):
        self._drain()
        self._send_json({"error": _one_line(message)}, status)

    def _decoded_upload(self, what):
        name = _upload_name(self.headers.get("X-Filename"))
        data = self._body(MAX_UPLOAD_BYTES)
        try:
            return decode_image(data), name
        except ImageReadError as error:
            # Pillow names the buffer it read ("<_io.BytesIO object at 0x...>"): noise here.
            reason = _BUFFER_NAME.sub("", str(error))
            raise HintError(f"{what} {name}: {reason}") from None

    # ------------------------------------------------------------------ routes

    def _page(self, url):
        body, content_type = self.server.page[url.path]
        self._send(HTTPStatus.OK, body, content_type)

    def _info(self, url):
        self._send_json(self.server.studio.info())

    def _gray(self, url):
        self._send(HTTPStatus.OK, self.server.studio.photo.gray_png, "image/png")

    def _open_photo(self, url):
        image, name = self._decoded_upload("photo")
        self.server.studio.load_photo(image, name)
        self._send_json(self.server.studio.info())

    def _colorize(self, url):
        request = self._json_body()
        started = time.perf_counter()
        png = self.server.studio.colorize(request, full=False)
        milliseconds = (time.perf_counter() - started) * 1000
        # Server-Timing: the page shows the server's share of each update.
        self._send(
            HTTPStatus.OK, png, "image/png", [("Server-Timing", f"colorize;dur={milliseconds:.1f}")]
        )

    def _set_reference(self, url):
        image, _ = self._decoded_upload("reference photo")
        self.server.studio.set_reference(image)
        self._send_json({"reference": True})

    def _clear_reference(self, url):
        self.server.studio.clear_reference()
        self._send_json({"reference": False})

    def _download(self, url):
        query = parse_qs(url.query)
        request = {"reference": query.get("reference", ["0"])[-1] in ("1", "true")}
        if "photo" in query:
            try:
                request["photo"] = int(query["photo"][-1])
            except ValueError:
                raise HintError("photo must be a number") from None
        if "hints" in query:
            try:
                request["hints"] = json.loads(query["hints"][-1])
            except ValueError as error:
                raise HintError(f"bad hints JSON: {_one_line(error)}") from None
        studio = self.server.studio
        name = _download_name(studio.photo.name)
        png = studio.colorize(request, full=True)
        plain = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"
        self._send(HTTPStatus.OK, png, "image/png", [("Content-Disposition", disposition)])


ROUTES = {
    ("GET", "/info"): Handler._info,
    ("GET", "/photo"): Handler._gray,
    ("POST", "/photo"): Handler._open_photo,
    ("POST", "/colorize"): Handler._colorize,
    ("POST", "/reference"): Handler._set_reference,
    ("DELETE", "/reference"): Handler._clear_reference,
    ("GET", "/download"): Handler._download,
}


class StudioServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the studio and its page to the handlers."""

    daemon_threads = True  # Ctrl-C does not wait for a download in progress

    def __init__(self, port, studio, page):
        self.studio = studio
        self.page = page
        super().__init__((HOST, port), Handler)
