"""data_prep as a Beam pipeline: the local build's bytes, and no network for --runner direct."""

import os
import subprocess
import sys

import pytest

from keras_colorize.data_prep.__main__ import main
from keras_colorize.data_prep.build import BuildOptions, build_dataset
from tests.conftest import photo_paths
from tests.test_data_prep import _copy_photos, _folder_bytes, messy_source  # noqa: F401

beam = pytest.importorskip("apache_beam")

from keras_colorize.data_prep.beam import build_dataset_beam, make_runner  # noqa: E402

# Loaded by the subprocess before anything else: every attempt to reach the
# network (a connection or a name look-up) is noted on stderr and refused, and
# cloud client modules loaded by the end are named there.
NO_NETWORK = """
import atexit, socket, sys

CLIENTS = ("boto3", "botocore", "apitools", "googleapiclient", "google.cloud", "google.auth")

@atexit.register
def _clients():
    loaded = [m for m in sys.modules if m.startswith(CLIENTS)]
    if loaded:
        sys.stderr.write("CLOUD CLIENTS %s\\n" % sorted(loaded))

def _refuse(*args, **kwargs):
    sys.stderr.write("NETWORK ATTEMPT\\n")
    raise OSError("network blocked by the test")

socket.socket.connect = socket.socket.connect_ex = _refuse
socket.create_connection = socket.getaddrinfo = _refuse
"""


def test_beam_pipeline_writes_the_local_builds_bytes(messy_source, tmp_path):  # noqa: F811
    # Corrupt, truncated and empty files, a duplicate, a gray photo, an alpha PNG;
    # small shards, a test split and --keep-top so every rule and the layout are exercised.
    options = BuildOptions(
        image_size=32,
        images_per_shard=2,
        min_colorfulness=20,
        keep_top=7,
        val_fraction=0.3,
        test_fraction=0.2,
    )
    local, beamed = str(tmp_path / "local"), str(tmp_path / "beam")
    expected = build_dataset([messy_source], local, options, progress=False)
    manifest = build_dataset_beam([messy_source], beamed, options, "direct")
    assert manifest == expected
    assert expected["dropped"]["not_in_top_n"] > 0 and len(expected["skipped"]) == 4
    assert sum(len(names) for names in expected["shards"].values()) >= 4
    # Shards, manifest, prior and figure: byte for byte.
    assert _folder_bytes(beamed) == _folder_bytes(local)


def test_direct_runs_in_process_without_network(tmp_path):
    assert type(make_runner("direct")).__name__ == "FnApiRunner"
    assert type(make_runner("DirectRunner")).__name__ == "FnApiRunner"
    assert make_runner("FlinkRunner") == "FlinkRunner"  # other runners are Beam's to resolve
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    src = _copy_photos(tmp_path / "src", photo_paths()[:3])
    out = str(tmp_path / "out")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.getcwd()]))
    done = subprocess.run(
        [sys.executable, "-m", "keras_colorize.data_prep", "--src", src, "--out", out]
        + ["--image-size", "32", "--no-figure", "--runner", "direct"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NETWORK ATTEMPT" not in done.stderr
    assert "CLOUD CLIENTS" not in done.stderr
    assert "wrote" in done.stdout and os.path.exists(os.path.join(out, "manifest.json"))


def test_runner_errors(tmp_path, capsys, monkeypatch):
    src = _copy_photos(tmp_path / "src", photo_paths()[:1])
    out = str(tmp_path / "out")
    # Beam flags without --runner are a usage error, as any unknown flag.
    assert main(["--src", src, "--out", out, "--direct_num_workers=2"]) == 2
    assert "--direct_num_workers" in capsys.readouterr().err
    assert main(["--src", str(tmp_path / "missing"), "--out", out, "--runner", "direct"]) == 2
    assert "missing" in capsys.readouterr().err
    # TensorFlow 2.21's tf.io.gfile has no hdfs:// (tensorflow-io had it): said in one line.
    assert main(["--src", "hdfs://nn/photos", "--out", out, "--runner", "direct"]) == 2
    assert main(["--src", src, "--out", "hdfs://nn/data", "--runner", "direct"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("'hdfs' not implemented" in line for line in lines)
    assert main(["--src", src, "--out", out, "--runner", "NoSuchRunner", "--no-figure"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("data_prep: error:") and len(err.splitlines()) == 1
    assert not os.listdir(out)  # no staging folder left behind
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    assert main(["--src", src, "--out", out, "--runner", "direct"]) == 2
    assert "keras-colorize[beam]" in capsys.readouterr().err
