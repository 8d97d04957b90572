"""The transformers architectures groundlm supports, and how a local directory is recognised and checked.

A directory is one of two things:

* a model directory as ``save_pretrained`` writes it (``config.json`` whose ``model_type`` is in
  :data:`ARCHITECTURES`, the weights, and the processor's files: image processor and tokenizer);
* a LoRA run of groundlm on such a model: ``adapter_config.json`` + ``adapter_model.safetensors`` (``peft``), the
  processor, and ``backend.json`` naming the base directory it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import transformers

from groundlm.backends.base import BACKEND_FILE
from groundlm.errors import UserError

ADAPTER_CONFIG = "adapter_config.json"  # peft's
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


@dataclass(frozen=True)
class Architecture:
    """One supported ``model_type``: its classes in ``transformers``, its box format, whether its processor has a
    chat template, where its language model and vision tower sit, and their default LoRA targets."""

    model_type: str
    model_class: str
    processor_class: str
    box_format: str
    chat: bool = True
    language: str = "model.language_model"
    vision: str = "model.vision_tower"
    vision_targets: tuple[str, ...] = ("q_proj", "v_proj")


ARCHITECTURES: dict[str, Architecture] = {
    a.model_type: a
    for a in (
        Architecture("llava", "LlavaForConditionalGeneration", "LlavaProcessor", "shikra"),
        Architecture(
            "qwen2_vl",
            "Qwen2VLForConditionalGeneration",
            "Qwen2VLProcessor",
            "qwen2vl",
            vision="model.visual",
            vision_targets=("qkv",),
        ),
        Architecture(
            "qwen2_5_vl",
            "Qwen2_5_VLForConditionalGeneration",
            "Qwen2_5_VLProcessor",
            "qwen25vl",
            vision="model.visual",
            vision_targets=("qkv",),
        ),
        Architecture("paligemma", "PaliGemmaForConditionalGeneration", "PaliGemmaProcessor", "paligemma", chat=False),
    )
}
LANGUAGE_TARGETS = ("q_proj", "v_proj")  # the LoRA paper's choice, the same names in Llama, Qwen2 and Gemma


def family_format(arch: Architecture, processor: Any) -> str:
    """The architecture's box format, configured from its processor where the syntax depends on it: Qwen2.5-VL
    writes pixels of the image its processor resized (``qwen25vl:factor=…,min_pixels=…,max_pixels=…``)."""
    if arch.box_format != "qwen25vl":
        return arch.box_format
    images = processor.image_processor
    size = images.size
    lo, hi = (getattr(size, k, None) or size[k] for k in ("shortest_edge", "longest_edge"))
    return f"qwen25vl:factor={images.patch_size * images.merge_size},min_pixels={lo},max_pixels={hi}"


def supported() -> str:
    return ", ".join(sorted(ARCHITECTURES))


def is_adapter_run(directory: str | Path) -> bool:
    """A LoRA run of groundlm on a transformers model (``backend.json`` beside peft's adapter)."""
    return (Path(directory) / BACKEND_FILE).is_file() and (Path(directory) / ADAPTER_CONFIG).is_file()


def is_hf_dir(directory: str | Path) -> bool:
    """A directory this backend loads (a transformers model, or a LoRA run on one), whatever its ``model_type``:
    ``config.json`` with a ``model_type`` (groundlm's own models write ``{"groundlm": ...}`` instead)."""
    directory = Path(directory)
    if is_adapter_run(directory):
        return True
    config = directory / "config.json"
    if not config.is_file():
        return False
    try:
        return "model_type" in json.loads(config.read_text())
    except json.JSONDecodeError:
        return False


def architecture(directory: str | Path) -> Architecture:
    """The architecture of a transformers model directory; a clear error for a missing directory, one that is not
    a model, an unsupported ``model_type``, or one without a processor."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such model directory")
    config = directory / "config.json"
    if not config.is_file():
        raise UserError(f"{directory} is not a model directory (no config.json)")
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except json.JSONDecodeError as e:
        raise UserError(f"{config}: not valid JSON ({e})") from None
    if model_type not in ARCHITECTURES:
        raise UserError(f"{directory}: model type {model_type!r} is not supported; supported: {supported()}")
    check_processor(directory)
    return ARCHITECTURES[model_type]


def check_processor(directory: Path) -> None:
    """The processor's files are there: an image processor config and a tokenizer."""
    if not any((directory / f).is_file() for f in PROCESSOR_FILES) or not any(
        (directory / f).is_file() for f in TOKENIZER_FILES
    ):
        raise UserError(
            f"{directory} has no processor (image processor config and tokenizer files); "
            "save one there with processor.save_pretrained(DIR)"
        )


def load_processor(directory: Path, arch: Architecture):
    """The architecture's processor from ``directory``. Qwen2-VL's processor also wants a video processor, which
    needs torchvision; where that is missing the processor is built for images alone (groundlm sends no video)."""
    cls = getattr(transformers, arch.processor_class)
    try:
        return cls.from_pretrained(directory)
    except (OSError, ImportError, AttributeError, ValueError, TypeError):
        if not arch.model_type.startswith("qwen2"):
            raise
    image_only = type(
        arch.processor_class, (cls,), {"get_attributes": classmethod(lambda c: ["image_processor", "tokenizer"])}
    )
    template = directory / "chat_template.jinja"
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    return image_only(
        image_processor=transformers.AutoImageProcessor.from_pretrained(directory),
        tokenizer=tokenizer,
        chat_template=template.read_text() if template.is_file() else getattr(tokenizer, "chat_template", None),
    )
