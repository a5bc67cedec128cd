"""`python -m keras_colorize.studio photo.jpg` (``keras-colorize-studio``): the studio command.

    python -m keras_colorize.studio photo.jpg [--model PATH] [--port 8765] [--no-browser]

Parses the command line, opens the photo and the model, and serves the page of
keras_colorize.studio.server (which explains the design and the HTTP API)
until Ctrl-C.
"""

import argparse
import os
import sys
import threading
import webbrowser

from keras_colorize.cli import INTERRUPTED, UsageError, command
from keras_colorize.contract import NOT_GUIDED
from keras_colorize.inference.backends import open_backend
from keras_colorize.inference.shipped import SHIPPED_MODEL, find_model
from keras_colorize.io.images import ImageReadError, read_image
from keras_colorize.studio.server import (
    DEFAULT_PORT,
    HOST,
    PROG,
    Studio,
    StudioServer,
    read_page,
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Colorize a photo interactively in the browser: click to place colour points, "
            "drag them, compare before and after, download the full-size result."
        ),
        epilog="Exit codes: 0 stopped with Ctrl-C, 2 usage error.",
    )
    parser.add_argument("photo", help="the photo to colorize (gray or colour: only L is used)")
    parser.add_argument(
        "--model",
        metavar="PATH",
        help=(f"a .tflite, .keras or SavedModel colorizer (default: the shipped {SHIPPED_MODEL})"),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on {HOST} (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the URL but do not open a browser"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    return args


def _start(args):
    """Everything before serving; raises UsageError for the user's mistakes."""
    try:
        image = read_image(args.photo)
    except ImageReadError as error:
        raise UsageError(f"{args.photo}: {error}") from None
    page = read_page()
    model = find_model(args.model)
    # TensorFlow's C++ start-up INFO lines (a .keras model or SavedModel) mean nothing here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    backend = open_backend(model, None)
    studio = Studio(backend, model)
    studio.load_photo(image, os.path.basename(args.photo))
    try:
        server = StudioServer(args.port, studio, page)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {HOST}:{args.port} ({error.strerror or error}); "
            "pass another --port, or --port 0 for a free one"
        ) from None
    return server


@command(PROG)
def main(argv=None):
    """Serves the studio until Ctrl-C; returns 0 then, 2 on a usage error."""
    args = parse_args(argv)
    try:
        server = _start(args)
    except KeyboardInterrupt:  # Ctrl-C while the model loads
        return INTERRUPTED
    url = f"http://{HOST}:{server.server_address[1]}/"
    studio = server.studio
    if not studio.backend.guided:
        print(f"note: {studio.model_path} {NOT_GUIDED}", file=sys.stderr)
    print(f"{PROG}: {url} (Ctrl-C stops)", flush=True)
    if not args.no_browser:
        # In a thread: some browsers (a terminal one) block webbrowser.open until they exit.
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
