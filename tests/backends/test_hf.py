"""The transformers backend's pieces: clear errors for directories it cannot load, prompts and labels in each
family's syntax, LoRA on the chosen towers, and the adapters' save/load round trip."""

import json

import pytest
import torch
from PIL import Image

from groundlm.backends import load_backend
from groundlm.backends.hf import HFBackend
from groundlm.cli import main
from groundlm.data.sample import Sample
from groundlm.models.lora import LoraSpec
from groundlm.models.losses import IGNORE
from groundlm.tasks import ReferTask
from groundlm.tasks.base import Example

from .tiny import save_llava, save_paligemma, save_qwen2vl


def _error(capsys, *argv):
    capsys.readouterr()  # what building the models printed
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_directories_it_cannot_load_are_one_line_errors(tmp_path, capsys):
    image = tmp_path / "x.png"
    Image.new("RGB", (32, 32)).save(image)
    predict = ("predict", "--image", image, "--query", "the cube", "--checkpoint")
    assert "no such model directory" in _error(capsys, *predict, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert "no config.json" in _error(capsys, *predict, tmp_path / "empty")
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    err = _error(capsys, "eval", "refer", "--data", "spatialworld:x", "--checkpoint", bert)
    assert "'bert' is not supported" in err and "llava, paligemma, qwen2_5_vl, qwen2_vl" in err
    bare = save_llava(tmp_path / "llava")
    for name in ("processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (bare / name).unlink()
    err = _error(capsys, "merge", "--base", bare, "--tuned", bare, "--out", tmp_path / "m")
    assert "has no processor" in err


def _sample() -> Sample:
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    return Sample(id="s", width=40, height=30, image_loader=lambda: image)


def test_prompts_and_labels_in_each_family_syntax(tmp_path):
    qwen = load_backend(save_qwen2vl(tmp_path / "qwen"))
    sample = _sample()
    assert ReferTask(**qwen.task_options("refer", {})).codec.name == "qwen2vl"
    # A region prompt becomes the box in the family's syntax: these models have no region tokens.
    ex = Example("<image>Describe <region>.", "a red cube", sample, region_boxes=[(4, 3, 20, 15)])
    text = qwen.collator.prompt_text(ex)
    assert "<|box_start|>(100,100),(500,500)<|box_end|>" in text and "<|vision_start|>" in text
    batch = qwen.collator.train_batch([ex, ex], [sample.load_image()] * 2)
    labels, ids = batch["labels"][0], batch["input_ids"][0]
    scored = ids[labels != IGNORE].tolist()
    tok = qwen.collator.tokenizer
    assert tok.decode(scored) == "a red cube<|im_end|>"  # the target and the end token, nothing of the prompt
    assert batch["mm_token_type_ids"].shape == batch["input_ids"].shape

    pali = load_backend(save_paligemma(tmp_path / "pali"))
    batch = pali.collator.train_batch([ex], [sample.load_image()])
    # PaliGemma's prefix-LM: token type 0 on image and prompt, 1 on the answer.
    types, labels = batch["token_type_ids"][0], batch["labels"][0]
    assert ((types == 1) == (labels != IGNORE)).all()
    assert pali.box_format == "paligemma" and "<loc0102><loc0102><loc0512><loc0512>" in pali.collator.prompt_text(ex)


def test_lora_goes_on_the_chosen_towers_and_round_trips(tmp_path):
    base = save_llava(tmp_path / "llava")
    backend = HFBackend.load(base)
    with pytest.raises(ValueError, match="train_modules"):
        backend.lora_config(LoraSpec(train_modules=("region_encoder",)))
    backend.attach_lora(LoraSpec(r=2, alpha=4, towers=("vision",)))
    trainable = [n for n, p in backend.module.named_parameters() if p.requires_grad]
    assert trainable and all("vision_tower" in n and "lora_" in n for n in trainable)
    for name, p in backend.module.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p)
    backend.save(tmp_path / "run")
    again = load_backend(tmp_path / "run")
    assert again.has_lora
    a = dict(backend.module.named_parameters())
    b = dict(again.module.named_parameters())
    assert all(torch.equal(a[n], b[n]) for n in a if "lora_" in n)
    # Folding the adapters in changes exactly the adapted weights.
    state = again.merged_state()
    original = HFBackend.load(base).model.state_dict()
    changed = {k for k in original if not torch.equal(original[k], state[k])}
    assert changed and all("vision_tower" in k and ("q_proj" in k or "v_proj" in k) for k in changed)


def test_pose_reread_is_refused_with_a_reason(tmp_path):
    backend = load_backend(save_llava(tmp_path / "llava"))
    with pytest.raises(ValueError, match="region tokens"):
        backend.task_options("pose", {"reread": True})
    assert backend.task_options("refer", {}) == {"format": "shikra"}
    assert backend.task_options("refer", {"format": "cogvlm"}) == {"format": "cogvlm"}


def test_loading_options_and_the_documented_config(tmp_path):
    import re
    from pathlib import Path

    from groundlm.backends import BackendOptions
    from groundlm.errors import UserError
    from groundlm.train.config import load_config

    page = (Path(__file__).resolve().parents[2] / "docs" / "backends.md").read_text()
    block = re.search(r"```yaml\n(# configs/my-qwen2vl-pose.yaml\n.*?)```", page, re.S).group(1)
    (tmp_path / "c.yaml").write_text(block)
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.base_model == "/models/Qwen2-VL-7B-Instruct" and cfg.lora.towers == ("language",)
    assert cfg.backend == BackendOptions(dtype="bfloat16", device_map=None, gradient_checkpointing=True)
    with pytest.raises(UserError, match="dtype"):
        load_config(tmp_path / "c.yaml", ["backend.dtype=fp8"])

    backend = HFBackend.load(
        save_llava(tmp_path / "llava"), BackendOptions(dtype="bfloat16", gradient_checkpointing=True)
    )
    assert backend.dtype == torch.bfloat16 and backend.model.is_gradient_checkpointing
    backend.attach_lora(LoraSpec(r=2, alpha=4))
    backend.module.train()
    sample = _sample()
    ex = Example("<image>Where is the cube?", "[0.100,0.100,0.500,0.833]", sample)
    loss = backend.module(**backend.collator.train_batch([ex], [sample.load_image()])).losses["lm"]
    loss.backward()
    grads = [p.grad for n, p in backend.module.named_parameters() if "lora_A" in n]
    assert torch.isfinite(loss) and grads and all(g is not None for g in grads)


def test_qwen25vl_boxes_are_in_the_frame_its_processor_makes(tmp_path):
    from groundlm import formats

    from .tiny import save_qwen25vl

    backend = load_backend(save_qwen25vl(tmp_path / "qwen25"))
    assert backend.box_format == "qwen25vl:factor=28,min_pixels=784,max_pixels=3136"
    codec = formats.get(backend.box_format)
    sample = _sample()  # 40 x 30
    ex = Example("<image>Where is the cube?", "", sample)
    grid = backend.collator.generation_batch([ex], [sample.load_image()])["image_grid_thw"][0]
    # The processor's input is grid x 14 pixels a side; the codec writes boxes in that frame.
    assert codec.input_size(40, 30) == (int(grid[2]) * 14, int(grid[1]) * 14)
    assert codec.render_boxes([(0, 0, 40, 30)], 40, 30) == f'[{{"bbox_2d": [0, 0, {grid[2] * 14}, {grid[1] * 14}]}}]'


def test_constrained_answers_parse_in_each_family_syntax(tmp_path):
    from groundlm import formats

    torch.manual_seed(0)
    sample = _sample()
    ex = Example("<image>Where is the cube?", "", sample)
    for build in (save_qwen2vl, save_paligemma, save_llava):
        backend = load_backend(build(tmp_path / build.__name__))
        texts = backend.generator(48).generate([ex, ex], constrain=backend.box_format.partition(":")[0])
        for text in texts:
            result = formats.get(backend.box_format).parse(text, 40, 30)
            assert result.error in (None, "degenerate"), (backend.box_format, text, result.error)


def test_a_command_for_groundlm_models_alone_says_so(tmp_path):
    from groundlm.inference import load_vlm

    with pytest.raises(ValueError, match="holds a transformers model \\('llava'\\)"):
        load_vlm(save_llava(tmp_path / "llava"))


def test_an_interrupted_lora_run_resumes_to_the_same_adapters(tmp_path):
    from safetensors.torch import load_file

    from groundlm.data.synth.writer import write_split
    from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig
    from groundlm.train.loop import train

    write_split(tmp_path / "d", 2, seed=4, size=32, domain="headshot", progress=False)
    base = save_llava(tmp_path / "llava")

    def config(run: str) -> TrainConfig:
        return TrainConfig(
            run_dir=str(tmp_path / run),
            train=SplitSpec(f"spatialworld:{tmp_path / 'd'}"),
            tasks=[TaskSpec("refer")],
            base_model=str(base),
            lora=LoraSpec(r=2, alpha=4),
            max_steps=3,
            batch_size=2,
            lr=0.05,
            eval_every=0,
            save_every=1,
            device="cpu",
        )

    train(config("whole"), progress=False)
    assert train(config("cut"), progress=False, stop_after=1) == {"interrupted_at": 1}
    train(config("cut"), resume=True, progress=False)
    whole = load_file(str(tmp_path / "whole" / "final" / "adapter_model.safetensors"))
    cut = load_file(str(tmp_path / "cut" / "final" / "adapter_model.safetensors"))
    assert whole.keys() == cut.keys() and all(torch.allclose(whole[k], cut[k], atol=1e-6) for k in whole)
