"""Child processes for the benchmark: wall time, exit code and peak resident memory.

Some figures need a fresh process: the colorize command as a user runs it,
and tf.distribute set-ups whose devices must be configured before TensorFlow
starts.

Peak memory: Linux carries a process's RSS high-water mark across fork and
exec, so a child of the benchmark (itself holding a gigabyte or more of
TensorFlow) would report at least the benchmark's own peak. Each command
therefore runs under a small launcher (a bare Python process of ~10 MB) that
starts it, reaps it with ``os.wait4`` and writes that process's own
``getrusage`` peak RSS and wall time to a file.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack

import keras_colorize

# The checkout holding benchmarks/ and the folder holding keras_colorize (the
# same checkout, or site-packages), both importable by the children.
IMPORT_ROOTS = list(
    dict.fromkeys(
        os.path.dirname(os.path.dirname(os.path.abspath(path)))
        for path in (__file__, keras_colorize.__file__)
    )
)
_POLL_SECONDS = 0.01
_KIB = 1024  # Linux reports ru_maxrss in KiB
# argv: RESULT_FILE COMMAND...; exits with the command's exit code.
_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as handle:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss}, handle)
sys.exit(child.returncode if child.returncode >= 0 else 1)
"""


@dataclasses.dataclass
class ChildResult:
    returncode: int | None  # None: killed at the deadline or because a sibling failed
    seconds: float  # the command's wall time, start to exit
    peak_rss_mb: float | None  # its maximum resident set size (ru_maxrss), MB (10^6 bytes)
    stdout: str
    stderr: str

    def error_line(self):
        """The last line of stderr, for a one-line note."""
        lines = self.stderr.strip().splitlines()
        if self.returncode is None:
            return "killed (a partner process failed, or time ran out)"
        return lines[-1][:300] if lines else f"exit code {self.returncode}"


def child_env(extra=None):
    """The environment of a child: these packages importable, TensorFlow's C++ logs quiet."""
    paths = [*IMPORT_ROOTS, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra or {})
    return env


def python_module(module, *args):
    """The command running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *[str(a) for a in args]]


def _poll(processes, timeout):
    """Waits for all processes; kills every one (with its command) if one fails or time runs out."""
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in processes):
            if any(p.returncode for p in processes) or time.monotonic() > deadline:
                return False
            time.sleep(_POLL_SECONDS)
        return True
    finally:
        _kill(processes)


def _kill(processes):
    for process in processes:
        if process.poll() is None:
            # The launcher leads its own session: this ends it and the command it started.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Children:
    """Commands started together (start_children); ``wait`` collects one ChildResult each.

    Output goes to files (a full pipe would stall a child). If one child fails
    or the deadline passes, the others are killed: the workers of one cluster
    would otherwise wait for a dead partner forever.
    """

    def __init__(self, commands, timeout):
        self._stack = ExitStack()
        self._deadline = time.monotonic() + timeout
        self._processes, self._files = [], []
        try:
            logs = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-child-"))
            for index, (command, env) in enumerate(commands):
                out, err = (
                    self._stack.enter_context(open(os.path.join(logs, f"{index}.{kind}"), "w+"))
                    for kind in ("out", "err")
                )
                result_file = os.path.join(logs, f"{index}.json")
                self._files.append((out, err, result_file))
                launcher = [sys.executable, "-c", _LAUNCHER, result_file, *command]
                self._processes.append(
                    subprocess.Popen(
                        launcher, env=env, stdout=out, stderr=err, start_new_session=True
                    )
                )
        except BaseException:
            self.close()
            raise

    def wait(self):
        """Waits until all exit, one fails or the deadline passes; returns their ChildResults."""
        try:
            _poll(self._processes, self._deadline - time.monotonic())
            results = []
            for process, (out, err, result_file) in zip(self._processes, self._files, strict=True):
                out.seek(0)
                err.seek(0)
                try:
                    with open(result_file, encoding="utf-8") as handle:
                        measured = json.load(handle)
                    code, seconds = process.returncode, measured["seconds"]
                    peak = measured["maxrss_kib"] * _KIB / 1e6
                except (OSError, ValueError):  # killed before the command ended
                    code, seconds, peak = None, float("nan"), None
                results.append(ChildResult(code, seconds, peak, out.read(), err.read()))
            return results
        finally:
            self.close()

    def close(self):
        """Kills whatever still runs and removes the logs (wait does this itself)."""
        _kill(self._processes)
        self._stack.close()


def start_children(commands, timeout):
    """Starts [(command, env)] concurrently and returns at once: a Children to ``wait`` for.

    The deadline (``timeout`` seconds) counts from now.
    """
    return Children(commands, timeout)


def run_children(commands, timeout):
    """Runs [(command, env)] concurrently; returns one ChildResult each, in order."""
    return start_children(commands, timeout).wait()


def run_child(command, env=None, timeout=600):
    """Runs one command; returns its ChildResult."""
    return run_children([(command, env or child_env())], timeout)[0]
