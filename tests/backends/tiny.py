"""Tiny random-weight transformers VLMs of each supported architecture, saved as real checkpoints are (model,
image processor, tokenizer, chat template), built from configs in memory: no network.

The tokenizer is byte-level with no merges (one token per byte), plus the special tokens each processor needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import transformers
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

HIDDEN = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
TEXT = dict(**HIDDEN, num_key_value_heads=2, max_position_embeddings=1024)
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, patch_size=14)

# A LLaVA-1.5 style template ("USER: <image>\n... ASSISTANT:") and Qwen2-VL's ChatML with its vision tokens.
LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %} "
    "{% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}{{ eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIAL = [
    "<|im_start|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
]


def byte_tokenizer(**special: str) -> PreTrainedTokenizerFast:
    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, **special)


def save_llava(directory: Path) -> Path:
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = byte_tokenizer(bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    images = CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = transformers.LlavaProcessor(
        images,
        tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_TEMPLATE,
        num_additional_image_tokens=1,
    )
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(**VISION, image_size=28),
        text_config=transformers.LlamaConfig(vocab_size=len(tok), **TEXT, **ids),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    transformers.LlavaForConditionalGeneration(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def _save_qwen(directory: Path, version: str) -> Path:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = byte_tokenizer(eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL})
    images = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2)
    names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    tokens = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    ids = {n: tok.convert_tokens_to_ids(t) for n, t in zip(names, tokens)}
    text = dict(
        vocab_size=len(tok),
        **TEXT,
        rope_parameters={"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 10000.0},
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    vision = dict(depth=1, hidden_size=32, num_heads=4, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    if version == "2":
        vision.update(embed_dim=32, mlp_ratio=2)
        config, model = transformers.Qwen2VLConfig, transformers.Qwen2VLForConditionalGeneration
    else:
        vision.update(intermediate_size=64, out_hidden_size=32, fullatt_block_indexes=[0], window_size=56)
        config, model = transformers.Qwen2_5_VLConfig, transformers.Qwen2_5_VLForConditionalGeneration
    model(config(text_config=text, vision_config=vision, **ids)).save_pretrained(directory)
    # As the published checkpoints are: image processor, tokenizer and chat template, each in its own file.
    images.save_pretrained(directory)
    tok.save_pretrained(directory)
    (directory / "chat_template.jinja").write_text(QWEN_TEMPLATE)
    return directory


def save_qwen2vl(directory: Path) -> Path:
    return _save_qwen(directory, "2")


def save_qwen25vl(directory: Path) -> Path:
    return _save_qwen(directory, "2.5")


def save_paligemma(directory: Path) -> Path:
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = byte_tokenizer(bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    images = SiglipImageProcessorPil(size={"height": 28, "width": 28})
    images.image_seq_length = 4  # (28 / 14) ** 2 patches
    processor = transformers.PaliGemmaProcessor(images, tok)  # adds <image>, <locNNNN> and <segNNN>
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = transformers.PaliGemmaConfig(
        vision_config=transformers.SiglipVisionConfig(**VISION, image_size=28),
        text_config=transformers.GemmaConfig(vocab_size=len(tok), **TEXT, head_dim=8, **ids),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        projection_dim=32,
    )
    config.vision_config.projection_dim = 32
    transformers.PaliGemmaForConditionalGeneration(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


BUILDERS = {"llava": save_llava, "qwen2_vl": save_qwen2vl, "qwen2_5_vl": save_qwen25vl, "paligemma": save_paligemma}


def lora_run_config(directory: Path, split: Path, base: Path, **overrides: Any) -> Path:
    """A train YAML in ``directory``: two LoRA steps (language and vision) of pose and refer on ``base``, both tasks
    scored on ``split`` at the end; ``overrides`` replace top-level keys."""
    config = {
        "run_dir": str(directory / "run"),
        "train": f"spatialworld:{split}",
        "val": f"spatialworld:{split}",
        "tasks": ["pose", "refer"],
        "base_model": str(base),
        "lora": {"r": 2, "alpha": 4, "towers": ["language", "vision"]},
        "max_steps": 2,
        "batch_size": 2,
        "eval_every": 2,
        "eval_items": 2,
        "save_every": 0,
        **overrides,
    }
    path = directory / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
