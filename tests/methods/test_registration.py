"""Each method registers its parts into the shared registries from its own folder; the shared code names none."""

import re
from pathlib import Path

from groundlm.inference.collate import REGION_INPUTS, region_inputs_for
from groundlm.methods import load_parts, method_names
from groundlm.models.config import VLMConfig
from groundlm.models.heads import HEADS
from groundlm.models.region import REGION_ENCODERS
from groundlm.tasks import task_class, task_name, task_names
from groundlm.tasks.base import MODEL_CONFIG_HOOKS

SRC = Path(__file__).resolve().parents[2] / "src" / "groundlm"
# The shared machinery a fifth method plugs into without an edit.
GENERIC = [
    "models/vlm.py",
    "models/region.py",
    "inference/collate.py",
    "inference/generate.py",
    "train/loop.py",
    "train/batches.py",
    "tasks/__init__.py",
    *(str(p.relative_to(SRC)) for p in (SRC / "cli").glob("*.py")),
]


def test_the_four_methods_have_a_folder_each():
    assert method_names() == ["dynrefer", "hpe_cogvlm", "llm_mde", "pixelllm"]


def test_each_methods_parts_are_registered_from_its_folder():
    for layer in ("models", "tasks", "inference"):
        load_parts(layer)
    assert {"roi", "dynrefer", "location_prompt"} <= set(REGION_ENCODERS)
    assert REGION_ENCODERS["dynrefer"].__module__ == "groundlm.methods.dynrefer.modeling_encoder"
    assert HEADS["point"].__module__ == "groundlm.methods.pixelllm.modeling_point_head"
    assert task_class("pose").__module__ == "groundlm.methods.hpe_cogvlm.task_pose"
    assert task_class("narrate").__module__ == "groundlm.methods.pixelllm.task_narrate"
    assert {"refer", "region_caption", "grounded_list", "pose", "narrate"} <= set(task_names())
    assert set(MODEL_CONFIG_HOOKS) == {"dynrefer"} and set(REGION_INPUTS) == {"dynrefer"}


def test_tasks_declare_their_aliases_and_token_budgets():
    assert task_name("describe") == task_name("caption") == "region_caption"
    assert (task_class("pose").max_new_tokens, task_class("pose").eval_max_new_tokens) == (48, 40)
    assert (task_class("narrate").max_new_tokens, task_class("refer").max_new_tokens) == (96, 32)
    assert task_class("refer").eval_max_new_tokens == 24


def test_only_a_multi_view_encoder_gets_a_batch_hook():
    assert region_inputs_for(VLMConfig()) is None
    assert region_inputs_for(VLMConfig(region_encoder="dynrefer")).n == 3


def test_the_shared_machinery_names_no_method():
    # By its registered or folder name (docstrings may cite a paper).
    pattern = re.compile("|".join(method_names()))
    named = {path: pattern.findall((SRC / path).read_text()) for path in GENERIC}
    assert {path: found for path, found in named.items() if found} == {}
