"""Reading a JSON file whose problems the user must fix, as one-line errors."""

import json


def read_json(path, error=ValueError, what="file"):
    """The JSON document in ``path``.

    Raises:
        ``error`` (an exception class taking one message) with one line naming
        ``what`` and the path: the file is missing, unreadable or not JSON.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as problem:
        raise error(f"cannot read {what} {path} ({problem.strerror or problem})") from None
    except ValueError as problem:
        raise error(f"{what} {path} is not valid JSON ({problem})") from None
