import json

import pytest
import torch
from peft.utils import merge_utils

from groundlm.adapters.lora import merge_lora, save_lora
from groundlm.adapters.merge import (
    cosine,
    layer_of,
    layer_select_merge,
    merge_models,
    merge_state_dicts,
)
from groundlm.models.lora import LoraSpec
from groundlm.models.vlm import GroundedVLM

from ..models.conftest import tiny_config


def _states(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    base = {"a.weight": torch.randn(4, 6, generator=g), "b.weight": torch.randn(5, generator=g)}
    tuned = [{k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in base.items()} for _ in range(2)]
    return base, tuned


@pytest.mark.parametrize("method", ["task_arithmetic", "ties", "dare_linear", "dare_ties"])
def test_merges_agree_with_peft(method):
    base, tuned = _states()
    weights = [0.7, 0.4]
    merged = merge_state_dicts(base, tuned, method, weights, density=0.5, seed=3)
    fn = getattr(merge_utils, method)
    for i, name in enumerate(base):
        deltas = [t[name] - base[name] for t in tuned]
        w = torch.tensor(weights)
        torch.manual_seed(3 + i)
        expected = base[name] + (fn(deltas, w) if method == "task_arithmetic" else fn(deltas, w, 0.5))
        assert torch.allclose(merged[name], expected, atol=1e-6), name


def test_task_arithmetic_and_ties_by_hand():
    base = {"w": torch.zeros(4)}
    tuned = [{"w": torch.tensor([1.0, -2.0, 0.1, 3.0])}, {"w": torch.tensor([3.0, 1.0, -0.2, -1.0])}]
    ta = merge_state_dicts(base, tuned, "task_arithmetic", [0.5, 0.5])["w"]
    assert torch.allclose(ta, torch.tensor([2.0, -0.5, -0.05, 1.0]))
    # TIES, density 0.5 keeps each vector's two largest entries: [0,-2,0,3] and [3,+-1 or 0,0,-1 or 0] (1 and -1 tie);
    # the elected signs (by total mass) are +, -, 0, +, and the disjoint mean keeps only agreeing entries.
    ties = merge_state_dicts(base, tuned, "ties", [1.0, 1.0], density=0.5)["w"]
    assert torch.allclose(ties, torch.tensor([3.0, -2.0, 0.0, 3.0]))
    # DARE with density 1 drops nothing: it is task arithmetic.
    dare = merge_state_dicts(base, tuned, "dare_linear", [0.5, 0.5], density=1.0)["w"]
    assert torch.allclose(dare, ta)


def test_dare_is_reproducible_and_rescales():
    base, tuned = _states(1)
    one = merge_state_dicts(base, tuned[:1], "dare_linear", [1.0], density=0.25, seed=7)
    two = merge_state_dicts(base, tuned[:1], "dare_linear", [1.0], density=0.25, seed=7)
    assert all(torch.equal(one[k], two[k]) for k in one)
    delta, kept = one["a.weight"] - base["a.weight"], tuned[0]["a.weight"] - base["a.weight"]
    nz = delta != 0
    assert 0 < nz.sum() < delta.numel() and torch.allclose(delta[nz], 4 * kept[nz])


def _layered(base_scale=1.0):
    """Four single-tensor layers; fine-tune A rotates layer 1 a lot and layer 2 a little, B the reverse of 2."""
    base = {f"m.layers.{i}.proj.weight": torch.tensor([1.0, 0.0]) * base_scale for i in range(4)}
    a, b = dict(base), dict(base)
    a["m.layers.1.proj.weight"] = torch.tensor([1.0, 1.0])  # cos 0.7071
    a["m.layers.2.proj.weight"] = torch.tensor([1.0, 0.03])  # cos 0.99955
    b["m.layers.2.proj.weight"] = torch.tensor([1.0, 0.5])  # cos 0.8944
    b["m.layers.3.proj.weight"] = torch.tensor([1.0, 0.01])  # cos 0.99995
    return base, [a, b]


@pytest.mark.parametrize(
    "tau, sources",
    [
        (0.9, ["base", "model0", "model1", "base"]),  # only clearly changed layers move
        (0.99999, ["base", "model0", "model1", "model1"]),  # layer 3's small change counts too
        (0.5, ["base", "base", "base", "base"]),  # nothing is below: the base, untouched
    ],
)
def test_layer_select_takes_whole_layers_from_the_model_that_changed_them_most(tau, sources):
    base, tuned = _layered()
    merged, report = layer_select_merge(base, tuned, tau)
    assert [c.source for c in report.layers] == sources
    for i, src in enumerate(sources):
        name = f"m.layers.{i}.proj.weight"
        expected = base[name] if src == "base" else tuned[int(src[-1])][name]
        assert torch.equal(merged[name], expected)  # copied whole: no averaging
    assert report.layers[1].similarity[0] == pytest.approx(0.70710678)


def test_block_granularity_moves_a_block_as_one():
    base = {
        "lm.model.layers.0.q.weight": torch.tensor([1.0, 0.0]),
        "lm.model.layers.0.v.weight": torch.tensor([0.0, 1.0]),
        "lm.model.norm.weight": torch.tensor([1.0]),
    }
    tuned = dict(base, **{"lm.model.layers.0.q.weight": torch.tensor([0.0, 1.0])})
    assert layer_of("lm.model.layers.0.q.weight", "block") == "lm.model.layers.0"
    assert layer_of("lm.model.layers.0.q.weight", "module") == "lm.model.layers.0.q"
    merged, report = layer_select_merge(base, [tuned], 0.99, "block")
    assert {c.layer: c.source for c in report.layers} == {"lm.model.layers.0": "model0", "lm.model.norm": "base"}
    # cos over the block's concatenated tensors: <(1,0,0,1),(0,1,0,1)> / 2 = 0.5
    assert report.layers[0].similarity == [0.5]
    assert torch.equal(merged["lm.model.layers.0.v.weight"], base["lm.model.layers.0.v.weight"])
    assert cosine([torch.zeros(2)], [torch.zeros(2)]) == 1.0


def test_merge_models_on_lora_fine_tunes(tmp_path):
    torch.manual_seed(0)
    base = GroundedVLM(tiny_config())
    base.save_pretrained(tmp_path / "base")
    tuned = GroundedVLM.from_pretrained(tmp_path / "base")
    tuned.attach_lora(LoraSpec(r=2, alpha=4, towers=("language",)))
    with torch.no_grad():
        for n, p in tuned.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    tuned.save_pretrained(tmp_path / "tuned")  # full model with adapters
    save_lora(tuned, tmp_path / "adapter")  # adapters alone
    merge_lora(tuned)
    reference = tuned.state_dict()

    for source in ("tuned", "adapter"):
        merge_models(tmp_path / "base", [tmp_path / source], tmp_path / f"ta-{source}", "task_arithmetic", [1.0])
        merged = GroundedVLM.from_pretrained(tmp_path / f"ta-{source}").state_dict()
        assert all(torch.allclose(merged[k], reference[k], atol=1e-6) for k in reference)

    report = merge_models(tmp_path / "base", [tmp_path / "tuned"], tmp_path / "ls", "layer_select", tau=0.99999)
    taken = {c["layer"] for c in report["layers"]["layers"] if c["source"] == "model0"}
    assert taken and all(layer.endswith(("q_proj", "v_proj")) for layer in taken)
    merged = GroundedVLM.from_pretrained(tmp_path / "ls").state_dict()
    for k in reference:
        want = reference[k] if k.rsplit(".", 1)[0] in taken else base.state_dict()[k]
        assert torch.equal(merged[k], want), k
    assert json.loads((tmp_path / "ls" / "merge.json").read_text())["method"] == "layer_select"
