"""On a CUDA machine: a transformers backend trains in bfloat16 with gradient checkpointing, and predicts and
evaluates on the GPU, through the command line (skipped where there is no GPU)."""

import json

import pytest
import torch

from groundlm.cli import main

from .tiny import BUILDERS, lora_run_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _run(capsys, *argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_bfloat16_training_and_inference_on_cuda(arch, tmp_path, capsys):
    from groundlm.backends import load_backend
    from groundlm.data.synth.writer import write_split

    split = tmp_path / "heads"
    write_split(split, 3, seed=3, size=32, domain="headshot", progress=False)
    base = BUILDERS[arch](tmp_path / "base")
    backend = {"dtype": "auto", "gradient_checkpointing": True}
    config = lora_run_config(tmp_path, split, base, backend=backend, device="cuda")
    out = _run(capsys, "train", config)
    summary = json.loads(out[out.index("{\n") :])  # after the evaluations' progress lines
    assert set(summary["eval_tasks"]) == {"pose", "refer"}
    final = tmp_path / "run" / "final"
    assert json.loads((final / "backend.json").read_text())["options"]["dtype"] == "auto"
    backend = load_backend(final, device="cuda")
    assert backend.dtype == torch.bfloat16 and next(backend.model.parameters()).is_cuda
    image = next(split.glob("**/*.png"))
    out = _run(capsys, "predict", "--checkpoint", final, "--image", image, "--query", "the person", "--device", "cuda")
    assert json.loads(out)["task"] == "refer"
    argv = ("eval", "pose", "--checkpoint", final, "--data", f"spatialworld:{split}", "--limit", 2, "--json")
    assert json.loads(_run(capsys, *argv, "--device", "cuda"))["n"] == 2
