"""`python -m keras_colorize.web --out site/`: the studio page as a static site that colorizes
in the browser, so that photos never leave the device.

    npm ci --prefix web                      # once: LiteRT.js, pinned by web/package-lock.json
    python -m keras_colorize.web --out site/ [--weights float16|float32] [--model PATH]
    python -m http.server -d site/           # or any static host (GitHub Pages, ...)

The folder holds the studio's own page (keras_colorize/studio/page.*), the
in-browser colorizer (page.local.js: the colour maths of `colorize` in
JavaScript), the LiteRT.js runtime (its ES module and the two .wasm builds it
chooses between: relaxed-SIMD and compat) and the model:

    index.html  page.js  page.css  page.local.js  colorizer.tflite
    litert/core.js  litert/wasm-utils.js  litert/wasm/litert_wasm_{,compat_}internal.{js,wasm}

The model: by default the .tflite (``--model``, or the shipped colorizer)
with its weights stored as float16 (keras_colorize.serving.tflite_float16:
10.6 MB instead of 21 MB, no TensorFlow needed; its outputs equal those of
`export`'s float16 variant, the TFLite converter's). The shipped colorizer's
colours moved by a mean 0.09 RGB levels (p99 1) from the float32 file's over
the 12 example and test photos. ``--weights float32`` copies the .tflite as
it is.

There is ONE page: the studio server serves page.html as it is and page.js
talks to its HTTP API; here index.html is page.html with a
``<meta name="keras-colorize-model">`` naming the model and an import map for
LiteRT.js's bare import of "@litertjs/wasm-utils", and page.js, seeing the
meta, runs the model in the browser instead. Every URL is relative and inside
the folder, and a Content-Security-Policy meta has the browser refuse any
request to another origin, whatever the host serves.

The runtime comes from npm (pinned by web/package-lock.json) and is copied
unmodified; the threaded and JSPI builds are left out: the page asks for
neither (threads need cross-origin isolation, which static hosts rarely give).
"""

import argparse
import base64
import hashlib
import html
import json
import os
import shutil
import sys

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError, command, report
from keras_colorize.inference.shipped import REPO_ROOT, find_model
from keras_colorize.serving.tflite_float16 import float16_weights

PROG = "web"
STUDIO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "studio")
PAGE_FILES = ("page.js", "page.css", "page.local.js")
DEFAULT_RUNTIME = os.path.join(REPO_ROOT, "web", "node_modules", "@litertjs")
# (source under the runtime folder, destination under the site)
RUNTIME_FILES = (
    ("core/dist/index.js", "litert/core.js"),
    ("wasm-utils/dist/index.js", "litert/wasm-utils.js"),
    ("core/wasm/litert_wasm_internal.js", "litert/wasm/litert_wasm_internal.js"),
    ("core/wasm/litert_wasm_internal.wasm", "litert/wasm/litert_wasm_internal.wasm"),
    ("core/wasm/litert_wasm_compat_internal.js", "litert/wasm/litert_wasm_compat_internal.js"),
    ("core/wasm/litert_wasm_compat_internal.wasm", "litert/wasm/litert_wasm_compat_internal.wasm"),
)
IMPORT_MAP = {
    "imports": {
        "@litertjs/core": "./litert/core.js",
        "@litertjs/wasm-utils": "./litert/wasm-utils.js",
    }
}
HEAD_END = "</head>"
# The browser itself keeps the page on its origin, whatever the host: every fetch, script, image
# and style from 'self' (and the page's own blob: URLs); WebAssembly compiled, nothing eval'd;
# the inline import map allowed by its hash.
CONTENT_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' '{import_map}'; "
    "img-src 'self' blob: data:; style-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
WEIGHTS = ("float16", "float32")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Write the studio page as a static site that colorizes photos in the browser "
            "(LiteRT.js, WebAssembly): serve the folder from any static host."
        ),
        epilog="Exit codes: 0 written, 2 usage error.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    parser.add_argument(
        "--model",
        metavar="PATH",
        help=f"a guided or automatic .tflite colorizer (default: the shipped {A.TFLITE_FILE})",
    )
    parser.add_argument(
        "--weights",
        choices=WEIGHTS,
        default="float16",
        help="float16 (default: half the download) or float32 (the .tflite as it is)",
    )
    parser.add_argument(
        "--runtime",
        metavar="DIR",
        default=DEFAULT_RUNTIME,
        help="the @litertjs folder of node_modules (default: web/node_modules/@litertjs, "
        "installed by `npm ci --prefix web`)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace DIR if it exists and is not empty"
    )
    return parser.parse_args(argv)


def index_html(page_html, model_name):
    """The studio's page.html -> the static site's index.html (model meta + import map)."""
    if HEAD_END not in page_html:
        raise UsageError("the studio's page.html has no </head>")
    import_map = json.dumps(IMPORT_MAP)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    policy = CONTENT_POLICY.format(import_map=f"sha256-{digest}")
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        f'<meta name="keras-colorize-model" content="{html.escape(model_name)}">\n'
        f'<script type="importmap">{import_map}</script>\n'
    )
    return page_html.replace(HEAD_END, head + HEAD_END, 1)


def _tflite_working_size(path):
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=path)
    except (ValueError, RuntimeError) as error:
        raise UsageError(f"--model {path} is not a readable .tflite file ({error})") from None
    return int(interpreter.get_input_details()[0]["shape"][1])


def _check_out(out, force):
    if os.path.isfile(out):
        raise UsageError(f"--out {out} is a file, not a folder")
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise UsageError(f"--out {out} is not empty: pass --force to replace it")


def build_site(out, model, runtime, weights="float32", force=False):
    """Writes the static site to ``out``; returns {relative path: size in bytes}."""
    if not model.endswith(".tflite"):
        raise UsageError(f"--model {model}: the browser runs .tflite models only")
    _check_out(out, force)
    _tflite_working_size(model)  # a readable .tflite, before anything is written
    missing = [src for src, _ in RUNTIME_FILES if not os.path.isfile(os.path.join(runtime, src))]
    if missing:
        raise UsageError(
            f"the LiteRT.js runtime is missing ({os.path.join(runtime, missing[0])}): "
            "run `npm ci --prefix web` in the repository, or pass --runtime"
        )
    try:
        with open(os.path.join(STUDIO_DIR, "page.html"), encoding="utf-8") as handle:
            page = handle.read()
    except OSError:
        raise UsageError(f"the studio's page.html is missing from {STUDIO_DIR}") from None
    copies = [(os.path.join(STUDIO_DIR, name), name) for name in PAGE_FILES]
    copies += [(os.path.join(runtime, src), dst) for src, dst in RUNTIME_FILES]
    converted = None
    if weights == "float16":
        with open(model, "rb") as handle:
            converted, _ = float16_weights(handle.read())
    if os.path.isdir(out):
        shutil.rmtree(out)  # empty, or --force
    if converted is None:
        copies.append((model, A.TFLITE_FILE))
    os.makedirs(os.path.join(out, "litert", "wasm"), exist_ok=True)
    if converted is not None:
        with open(os.path.join(out, A.TFLITE_FILE), "wb") as handle:
            handle.write(converted)
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as handle:
        handle.write(index_html(page, A.TFLITE_FILE))
    for src, dst in copies:
        shutil.copyfile(src, os.path.join(out, dst))
    sizes = {}
    for folder, _, names in os.walk(out):
        for name in names:
            path = os.path.join(folder, name)
            sizes[os.path.relpath(path, out)] = os.path.getsize(path)
    return sizes


@command(PROG)
def main(argv=None):
    """Writes the site; returns 0, or 2 on a usage error."""
    args = parse_args(argv)
    model = find_model(args.model)
    try:
        sizes = build_site(args.out, model, args.runtime, args.weights, args.force)
    except OSError as error:
        return report(PROG, f"cannot write {args.out}: {error.strerror or error}")
    total = sum(sizes.values()) / 2**20
    print(
        f"{PROG}: wrote {len(sizes)} files ({total:.1f} MiB; a browser loads the model and one "
        f".wasm) to {args.out}; serve it, e.g. python -m http.server -d {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
