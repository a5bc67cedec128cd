"""Shared fixtures: the small photo set shipped in tests/data and a dataset built from it,
tiny runs trained once per session, and commands run in background processes."""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import threading

import pytest

PHOTOS_DIR = os.path.join(os.path.dirname(__file__), "data", "photos")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def photo_paths():
    """Sorted paths of the shipped test photos (see tests/README.md for licences)."""
    return sorted(os.path.join(PHOTOS_DIR, n) for n in os.listdir(PHOTOS_DIR) if n.endswith(".jpg"))


# Debian's chromium, headless, as root, on a machine with no route out: the background
# services that would try the network are off.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def real_browser():
    """(chromium path, playwright's sync_playwright) for a real-browser test; skips without them.

    Debian's chromium (never `playwright install`, which downloads a browser).
    """
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs the playwright package: pip install playwright")
    return chromium, sync_playwright


@pytest.fixture(scope="session")
def photos_dir():
    return PHOTOS_DIR


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """A dataset built from the test photos: 64 px crops stored at 80 px, 3 val images.

    Session-scoped: built once, read by many tests, never modified by them.
    """
    from keras_colorize.data_prep.build import BuildOptions, build_dataset

    src = tmp_path_factory.mktemp("src")
    for path in photo_paths():
        shutil.copy(path, src)
    out = str(tmp_path_factory.mktemp("dataset"))
    options = BuildOptions(image_size=64, short_side=80, val_fraction=0.3, images_per_shard=2)
    build_dataset([str(src)], out, options, progress=False, figure=False)
    return out


# The shared tiny runs' settings: 2 epochs of 3 steps, mixed_bfloat16 (what "auto" picks on a CPU
# with bfloat16, made explicit), with the colorizer.tflite twin.
TINY_RUN_ARGS = ["--preset", "tiny", "--quiet", "--set", "train.steps_per_epoch=3"]
TINY_RUN_ARGS += ["--epochs", "2", "--precision", "mixed_bfloat16", "--set", "train.write_tflite=1"]


@pytest.fixture(scope="session")
def tiny_run(small_dataset, tmp_path_factory):
    """tiny_run(family) -> the run dir of `fit --model FAMILY TINY_RUN_ARGS` on small_dataset.

    Each family is trained once per session, on first request, and shared by test_fit's
    artefact checks and test_export's exports. Tests copy a run before changing it.
    """
    import keras

    from keras_colorize.fit import main as fit_main

    runs = {}

    def run(family):
        if family not in runs:
            run_dir = str(tmp_path_factory.mktemp("tiny_runs") / family)
            args = ["--model", family, "--data", small_dataset, "--run-dir", run_dir]
            try:
                assert fit_main([*args, *TINY_RUN_ARGS]) == 0
            finally:
                keras.mixed_precision.set_global_policy("float32")
            runs[family] = run_dir
        return runs[family]

    return run


class BackgroundCommands:
    """Commands run in background processes while the tests go on, e.g. from a module-scoped
    fixture: a command fills the time the suite's pytest processes (README: two, ``-n 2``)
    leave a core idle, and lets a module's own tests run beside its slowest work.

    ``start`` returns at once a Future of (exit code, stdout, stderr); up to ``lanes``
    commands run at a time, the others wait their turn in the order they were started.
    ``close`` kills whatever still runs. The checkout is importable, TensorFlow's C++ logs
    are quiet and TF_CONFIG is unset. ``threads=1`` keeps a command's TensorFlow ops on one
    thread, so that it does not slow the tests running meanwhile in pytest's process.
    """

    def __init__(self, lanes=1, timeout=600, threads=None):
        self.timeout = timeout
        self.env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        self.env.pop("TF_CONFIG", None)
        if threads:
            self.env.update(TF_NUM_INTRAOP_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, self.env.get("PYTHONPATH")]))
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=lanes)
        self._processes, self._closing = [], threading.Event()

    def start(self, command):
        """Runs ``command`` (a list of strings) in its turn."""

        def run():
            if self._closing.is_set():
                return None
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self._processes.append(process)
            try:
                stdout, stderr = process.communicate(timeout=self.timeout)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            return process.returncode, stdout, stderr

        return self._executor.submit(run)

    def python_module(self, module, *args):
        """start([python, -m, module, *args])."""
        return self.start([sys.executable, "-m", module, *map(str, args)])

    def close(self):
        self._closing.set()
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        self._executor.shutdown(wait=True, cancel_futures=True)


def start_with_first_test(request, fixture_name):
    """For a module-scoped autouse fixture: sets up ``fixture_name`` now, with the module's
    first test, if any selected test of the module uses it (so its background commands
    run beside the module's other tests)."""
    selected = [item for item in request.session.items if item.module is request.module]
    if any(fixture_name in item.fixturenames for item in selected):
        request.getfixturevalue(fixture_name)


def command_result(future, timeout=1200):
    """(exit code, stdout, a report for a failed assertion) of a BackgroundCommands future."""
    code, stdout, stderr = future.result(timeout=timeout)
    tail = "\n".join(stderr.splitlines()[-40:])
    return code, stdout, f"exit code {code}\n{stdout}\n{tail}"
