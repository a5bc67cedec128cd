"""The Dockerfile, checked without a Docker engine (none exists on the development machine).

A small line parser reads its stages; the tests check what a build would
need from the repository and that the serving image serves the model that
`python -m keras_colorize.export` writes by default.
"""

import json
import os
import re
import shlex

import pytest

from keras_colorize import artifacts as A
from keras_colorize import export

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")


def _instructions(text):
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def _substitute(value, variables):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables[m.group(1) or m.group(2)], value)


def _env_pairs(arguments):
    """ENV KEY=value [KEY2=value2 ...] or the legacy ENV KEY value."""
    words = shlex.split(arguments)
    if "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _copy_sources(arguments):
    """The source paths of COPY (shell or JSON form); None for COPY --from=<stage>."""
    words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return None
    return [w for w in words if not w.startswith("--")][:-1]


def parse_dockerfile(path=DOCKERFILE):
    """{stage name: {"from": image, "copy": [sources], "env": {...}}}, in file order."""
    with open(path, encoding="utf-8") as handle:
        instructions = _instructions(handle.read())
    global_args, stages, stage = {}, {}, None
    for instruction, arguments in instructions:
        if instruction == "ARG" and stage is None:
            name, _, default = arguments.partition("=")
            global_args[name] = default
        elif instruction == "FROM":
            words = arguments.split()
            image = _substitute(words[0], global_args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stage = stages[name] = {"from": image, "copy": [], "env": {}}
        elif instruction == "COPY":
            sources = _copy_sources(arguments)
            if sources is not None:
                stage["copy"].extend(sources)
        elif instruction == "ENV":
            stage["env"].update(_env_pairs(arguments))
    return stages


@pytest.fixture(scope="module")
def stages():
    return parse_dockerfile()


def test_parser_reads_stages_copies_and_env(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(
        "ARG TAG=1.2\n# comment\nFROM base:${TAG} AS one\nCOPY a b \\\n  dest/\n"
        'ENV A=1 B="two words"\nFROM other AS two\nCOPY --from=one /x /y\n'
        'COPY ["c", "/d/"]\nENV C 3\n'
    )
    assert parse_dockerfile(path) == {
        "one": {"from": "base:1.2", "copy": ["a", "b"], "env": {"A": "1", "B": "two words"}},
        "two": {"from": "other", "copy": ["c"], "env": {"C": "3"}},
    }


def test_stages(stages):
    assert list(stages) == ["trainer", "serving"]
    assert stages["trainer"]["from"].startswith("python:3.11-slim")
    assert stages["serving"]["from"].split(":")[0] == "tensorflow/serving"


def test_every_copy_source_exists_in_the_repository(stages):
    for stage in stages.values():
        for source in stage["copy"]:
            assert os.path.exists(os.path.join(ROOT, source)), source


def test_serving_image_copies_the_models_tree_and_serves_the_default_model(stages):
    serving = stages["serving"]
    assert "models/" in serving["copy"]
    assert serving["env"]["MODEL_NAME"] == A.DEFAULT_MODEL_NAME
    assert export.parse_args(["--run-dir", "run"]).out == os.path.join(
        "models", A.DEFAULT_MODEL_NAME
    )


def test_trainer_installs_the_cpu_extra():
    with open(DOCKERFILE, encoding="utf-8") as handle:
        text = handle.read()
    trainer = text[text.index("AS trainer") : text.index("AS serving")]
    assert 'pip install --no-cache-dir ".[cpu]"' in trainer
