"""The human-rating kit's statistics and error type, and that ratings need no TensorFlow.

The kit page and the aggregation through the command are checked in test_evaluate.py.
"""

import json
import os
import subprocess
import sys

import pytest

from keras_colorize.evaluation.human_kit import (
    RATINGS_FORMAT,
    RatingsError,
    mean_ci,
    read_ratings,
    t_quantile_975,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (*range(1, 40), 60, 120, 1000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-4)


def test_mean_ci_needs_two_values_for_an_interval():
    assert mean_ci([4]) == {"n": 1, "mean": 4.0, "sd": None, "ci95": None}
    two = mean_ci([2, 4])
    assert (two["n"], two["mean"]) == (2, 3.0)
    assert two["sd"] == pytest.approx(2**0.5)
    assert two["ci95"] == pytest.approx(12.7062)  # t(0.975, 1) * sd / sqrt(n), sd = sqrt(n) = √2


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{", "is not valid JSON"),
        (json.dumps({"format": "something else"}), "not a ratings file saved from the human kit"),
        (json.dumps({"format": RATINGS_FORMAT, "ratings": [{"rating": 9}]}), "bad rating entry"),
    ],
)
def test_unusable_ratings_files_raise_ratings_error(tmp_path, content, expected):
    path = tmp_path / "ratings.json"
    path.write_text(content)
    with pytest.raises(RatingsError, match=expected):
        read_ratings(str(path))


def test_ratings_are_aggregated_without_tensorflow(tmp_path):
    """human_kit, and `python -m keras_colorize.evaluate --human-results`, never load TensorFlow."""
    ratings = tmp_path / "ratings.json"
    doc = {
        "format": RATINGS_FORMAT,
        "kit": "k",
        "rater": "r",
        "ratings": [{"model": "m", "rating": 3}],
    }
    ratings.write_text(json.dumps(doc))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    script = (  # runs the command as `python -m` does, then looks at what got imported
        "import runpy, sys\n"
        "import keras_colorize.evaluation.human_kit\n"
        "assert 'tensorflow' not in sys.modules, 'human_kit imported tensorflow'\n"
        "sys.argv = ['evaluate', '--human-results', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('keras_colorize.evaluate', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "assert 'tensorflow' not in sys.modules, '--human-results imported tensorflow'\n"
    )
    good = subprocess.run(
        [sys.executable, "-c", script, str(ratings)], cwd=ROOT, capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert "| m | 1 | 3.00 |" in good.stdout
    # Run as __main__, a bad file is still the command's one-line usage error.
    failed = subprocess.run(
        [sys.executable, "-m", "keras_colorize.evaluate", "--human-results", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.startswith(f"evaluate: error: ratings file {bad} is not valid JSON (")
    assert len(failed.stderr.splitlines()) == 1
