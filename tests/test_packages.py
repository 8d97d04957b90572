"""The packages the docs import from export their public names, lazily where the package says so."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAZY = ["groundlm.models", "groundlm.train", "groundlm.data.synth"]


@pytest.mark.parametrize("package", LAZY)
def test_every_exported_name_is_the_object_its_module_defines(package):
    pkg = importlib.import_module(package)
    source = ast.parse(Path(pkg.__file__).read_text())
    typed = {
        alias.name: node.module
        for block in ast.walk(source)
        if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert set(typed) == set(pkg.__all__)  # what type checkers see is what the package exports
    for name in pkg.__all__:
        assert getattr(pkg, name) is getattr(importlib.import_module(typed[name]), name)
        assert name in dir(pkg)
    with pytest.raises(AttributeError, match="no attribute"):
        pkg.no_such_name  # noqa: B018


def test_readme_imports_work_and_packages_import_lightly():
    code = (
        "import sys, groundlm.models, groundlm.train, groundlm.data.synth\n"
        "assert 'transformers' not in sys.modules and 'groundlm.train.loop' not in sys.modules\n"
        "from groundlm.models import GroundedVLM\n"
        "from groundlm.train import train\n"
        "assert GroundedVLM.__module__ == 'groundlm.models.vlm' and train.__module__ == 'groundlm.train.loop'\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
