"""What every command shares: exit codes, one-line errors, the TensorFlow check.

A user's mistake (bad path, bad flag, corrupt input) ends a command with one
line on stderr, ``PROG: error: MESSAGE``, and exit code 2, never a traceback.
No TensorFlow here: ``colorize`` imports this without it.
"""

import functools
import importlib.util
import sys

USAGE_ERROR = 2  # argparse's own code for a bad command line; every usage error uses it
SOME_FAILED = 1
INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

TENSORFLOW_INSTALL = "pip install 'keras-colorize[cpu]' (or [gpu])"


class UsageError(Exception):
    """A user's mistake found by a command; the message is one line."""


def error_line(error, limit=200, last=False):
    """``Type: first line of the message``, for an exception from a library we call.

    ``last`` takes the message's last line instead: some libraries (the TFLite
    converter) put the cause at the end.
    """
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[-1 if last else 0][:limit]}"


def report(prog, message):
    """Prints ``PROG: error: MESSAGE`` to stderr and returns USAGE_ERROR."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def command(prog):
    """Decorates a command's ``main(argv=None) -> int`` so that it always returns its exit code.

    argparse's own exits (a bad flag: its message and 2; --help: 0) and a
    UsageError raised anywhere in the command (``PROG: error: MESSAGE``, 2)
    become return values, so ``main([...])`` never raises for a user's mistake.
    """

    def decorate(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except SystemExit as stop:  # argparse has printed its message or the help
                return stop.code
            except UsageError as error:
                return report(prog, error)

        return run

    return decorate


def missing_tensorflow(prog):
    """None if TensorFlow and Keras import, else the one-line message naming the pip command.

    Colorizing with a .tflite model needs neither, so the base package does not
    install them; training, export, evaluation and data preparation do.
    """
    for module in ("tensorflow", "keras"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a blocked or half-installed module
            found = False
        if not found or sys.modules.get(module, ...) is None:
            return f"{prog} needs TensorFlow and Keras: {TENSORFLOW_INSTALL}"
    return None


def require_tensorflow(prog):
    """Raises UsageError with ``missing_tensorflow``'s message if TensorFlow is missing."""
    message = missing_tensorflow(prog)
    if message:
        raise UsageError(message)
