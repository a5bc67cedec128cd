"""The package's layers: imports point down, and no library module imports a command.

Each module of keras_colorize belongs to a layer (LAYERS, lowest first);
every ``import keras_colorize...`` in it, at the top or inside a function, must
name a module of its own layer or a lower one. Commands (the modules at the
package root that parse a command line, and ``__main__`` modules) sit on top
and are imported by no library module.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_colorize")
COMMANDS = {"colorize", "colorize_video", "fit", "export", "evaluate", "web"}
# Lowest first. A module's layer is its top-level name under keras_colorize.
LAYERS = [
    {"__init__", "constants", "artifacts", "cli", "cores", "config", "contract", "io"},
    {"color"},
    {"data", "guidance"},
    {"models"},
    {"inference"},
    {"training"},
    {"serving"},
    {"evaluation", "data_prep", "studio", "video"},
]


def _modules():
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, ROOT)[: -len(".py")]
                yield relative.replace(os.sep, ".").removesuffix(".__init__"), path


def _is_command(module):
    parts = module.split(".")
    return parts[-1] == "__main__" or (len(parts) == 2 and parts[1] in COMMANDS)


def _layer(module):
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if _is_command(module):
        return len(LAYERS)
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def _imports(path):
    """The keras_colorize modules a file imports, anywhere in it."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("keras_colorize"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_colorize"):
            # "from keras_colorize import constants": the names may be modules.
            if node.module == "keras_colorize":
                for alias in node.names:
                    name = f"keras_colorize.{alias.name}"
                    is_module = os.path.exists(os.path.join(PACKAGE, f"{alias.name}.py"))
                    found.add(name if is_module else node.module)
            else:
                found.add(node.module)
    return found


MODULES = dict(_modules())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    upward = [
        imported
        for imported in sorted(_imports(MODULES[module]))
        if _layer(imported) > _layer(module)
    ]
    assert not upward, f"{module} (layer {_layer(module)}) imports higher layers: {upward}"


def test_an_upward_import_inside_a_function_is_caught(tmp_path):
    path = tmp_path / "snippet.py"
    path.write_text("def f():\n    from keras_colorize.training.families import FAMILIES\n")
    (imported,) = _imports(path)
    assert _layer(imported) > _layer("keras_colorize.inference.backends")
    assert _layer("keras_colorize.data_prep.__main__") == _layer("keras_colorize.colorize")
