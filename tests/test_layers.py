"""The package's import layering (docs/architecture.md, section 2): imports go only downward and form no cycle.

Every ``groundlm`` import counts, including those inside functions and those under ``if TYPE_CHECKING:`` (a type that
only a checker sees still ties the two modules together). Run this file directly to print each module's layer and
every violation.
"""

from __future__ import annotations

import ast
import sys
from fnmatch import fnmatch
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module belongs to the layer of the longest prefix that names it; a prefix with ``*`` is a pattern
# (fnmatch). A method's folder (groundlm/methods/<method>/) spans layers, each file's prefix saying which: its
# ``__init__`` only lists its parts (layer 0), ``metrics_*`` sits with the metrics, ``modeling_*`` with the models,
# ``task_*`` with the tasks, ``inference_*`` with inference, ``train_*`` with the
# training loop and ``recipe*`` with the benches.
LAYERS: list[tuple[str, ...]] = [
    (
        "groundlm",
        "groundlm.errors",
        "groundlm.jsonl",
        "groundlm.registry",
        "groundlm.geometry",
        "groundlm.formats",
        "groundlm.models.state",
        "groundlm.methods",
    ),
    ("groundlm.metrics", "groundlm.data", "groundlm.methods.*.metrics_*"),
    ("groundlm.models", "groundlm.methods.*.modeling_*"),
    # The backend interface and loading options (a train config's ``backend``) sit beside the tasks they serve.
    ("groundlm.adapters", "groundlm.tasks", "groundlm.backends.base", "groundlm.methods.*.task_*"),
    # The configuration and the training engine (schedule, checkpoints, metrics log) that every trainer shares (tower
    # pretraining and the baselines too).
    (
        "groundlm.inference",
        "groundlm.backends",
        "groundlm.pretrain",
        "groundlm.baselines",
        "groundlm.train.config",
        "groundlm.train.schedule",
        "groundlm.train.metrics_log",
        "groundlm.train.checkpoint",
        "groundlm.train.engine",
        "groundlm.methods.*.inference_*",
    ),
    ("groundlm.train", "groundlm.evaluation", "groundlm.serve", "groundlm.methods.*.train_*"),
    # A method's recipe trains and evaluates its models as the benches do (on their shared run and table helpers);
    # the benches call it.
    ("groundlm.bench", "groundlm.methods.*.recipe*"),
    ("groundlm.cli", "groundlm.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, layer = -1, -1
    for k, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if "*" in p:
                named = fnmatch(module, p) or fnmatch(module, p + ".*")
            else:
                named = module == p or module.startswith(p + ".")
            if named and len(p) > best:
                best, layer = len(p), k
    return layer


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The ``groundlm`` modules that ``path`` imports (``from pkg import mod`` names the module when it is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("groundlm"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("groundlm"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.joinpath("groundlm").rglob("*.py")}
    known = set(files)
    return {m: {i for i in imports_of(p, known) if i != m} for m, p in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} (layer {layer_of(m)}) imports {i} (layer {layer_of(i)})"
        for m, deps in sorted(graph.items())
        for i in sorted(deps)
        if layer_of(i) > layer_of(m)
    ]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if layer_of(m) < 0] == []


def test_imports_only_go_downward():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_method_module_sits_in_the_layer_its_file_name_says():
    assert layer_of("groundlm.methods.dynrefer") == layer_of("groundlm.registry")
    assert layer_of("groundlm.methods.dynrefer.modeling_encoder") == layer_of("groundlm.models.vlm")
    assert layer_of("groundlm.methods.hpe_cogvlm.task_pose") == layer_of("groundlm.tasks.refer")
    assert layer_of("groundlm.methods.dynrefer.inference_views") == layer_of("groundlm.inference.collate")
    assert layer_of("groundlm.methods.hpe_cogvlm.recipe") == layer_of("groundlm.bench.run")


def test_the_checker_sees_a_cycle_and_an_upward_import():
    graph = {"groundlm.geometry.a": {"groundlm.cli"}, "groundlm.cli": {"groundlm.geometry.a"}}
    assert cycles(graph) == [["groundlm.cli", "groundlm.geometry.a"]]
    assert upward_imports(graph) == ["groundlm.geometry.a (layer 0) imports groundlm.cli (layer 7)"]


def test_imports_for_type_checkers_count(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from groundlm.models.vlm import GroundedVLM\n"
    )
    assert imports_of(module, {"groundlm.models.vlm"}) == {"groundlm.models.vlm"}


if __name__ == "__main__":
    graph = import_graph()
    for m in sorted(graph, key=lambda m: (layer_of(m), m)):
        print(f"{layer_of(m)}  {m}")
    problems = upward_imports(graph) + [" <-> ".join(c) for c in cycles(graph)]
    print("\n".join(["", *problems]) if problems else "\nno upward import, no cycle")
    sys.exit(1 if problems else 0)
