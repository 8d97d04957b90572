"""``transformers``' own VLMs as a backend: LLaVA, Qwen2-VL, Qwen2.5-VL and PaliGemma from a local directory.

A directory is one of two things:

* a model directory as ``save_pretrained`` writes it (``config.json`` whose ``model_type`` is in
  :data:`ARCHITECTURES`, the weights, and the processor's files: image processor and tokenizer);
* a LoRA run of groundlm on such a model: ``adapter_config.json`` + ``adapter_model.safetensors`` (``peft``), the
  processor, and ``backend.json`` naming the base directory it was trained on.

Each architecture prompts in its own way (:data:`ARCHITECTURES`): its processor expands the image placeholder and
makes the image inputs, its chat template wraps the question (PaliGemma has none: ``<image>…<bos>question\\n``),
and boxes are written in its own syntax from :mod:`groundlm.formats`. A training sequence is the processed prompt
followed by the target's tokens and the tokenizer's end token, labels ``-100`` on the prompt; generation
left-pads the prompts. Nothing is downloaded: every path is local.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import transformers
from PIL import Image
from torch import nn
from transformers import LogitsProcessor, LogitsProcessorList

from groundlm import formats
from groundlm.adapters.lora import LoraSpec
from groundlm.backends.base import BACKEND_FILE, BackendOptions
from groundlm.errors import UserError
from groundlm.inference.generate import evaluating
from groundlm.inference.images import ImageCache
from groundlm.models.constrained import FormatConstraint
from groundlm.models.losses import IGNORE, target_tokens, token_loss_sum
from groundlm.models.tokenizer import IMAGE_TOKEN, REGION_TOKEN, left_padded
from groundlm.tasks.base import Example

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


# -------------------------------------------------------------------------------------------------------------
# Examples -> inputs


@dataclass
class HFCollator:
    """Examples in the model's own prompt syntax. ``codec`` writes the boxes of ``<region>`` markers into the
    question as text (these models have no region tokens)."""

    processor: Any
    arch: Architecture
    codec: formats.Codec
    max_length: int = 2048

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def question(self, example: Example) -> tuple[str, bool]:
        """The prompt's text with each ``<region>`` written as its box, without ``<image>``; and whether the image
        comes first (the marker starts the prompt)."""
        text = example.prompt
        boxes = iter(example.region_boxes)
        s = example.sample
        while REGION_TOKEN in text:
            box = next(boxes, None)
            if box is None:
                raise ValueError(f"{example.prompt!r}: more <region> markers than region boxes")
            text = text.replace(REGION_TOKEN, self.codec.render_boxes([box], s.width, s.height), 1)
        if text.count(IMAGE_TOKEN) != 1:
            raise ValueError(f"{example.prompt!r}: a prompt needs exactly one <image> marker")
        first = text.startswith(IMAGE_TOKEN)
        return text.replace(IMAGE_TOKEN, "").strip(), first

    def prompt_text(self, example: Example) -> str:
        """The text the processor receives: the chat template's user turn and the assistant's opening, or the
        question alone (PaliGemma's processor puts the image tokens and ``<bos>`` before it)."""
        question, first = self.question(example)
        if not self.arch.chat:
            return self.processor.image_token + question
        if getattr(self.processor, "chat_template", None) is None:
            raise UserError(f"the {self.arch.model_type} processor has no chat template; add chat_template.jinja")
        parts = [{"type": "image"}, {"type": "text", "text": question}]
        messages = [{"role": "user", "content": parts if first else parts[::-1]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _encode(self, example: Example, image: Image.Image) -> dict[str, torch.Tensor]:
        text = self.prompt_text(example) + example.answer_prefix
        return dict(self.processor(images=[image.convert("RGB")], text=[text], return_tensors="pt"))

    @staticmethod
    def _split(encoded: dict[str, torch.Tensor]) -> tuple[dict[str, list[int]], dict[str, torch.Tensor]]:
        """A processed prompt's token rows (``input_ids`` and any ``[1, L]`` companion: PaliGemma's
        ``token_type_ids``, Qwen2-VL's ``mm_token_type_ids``), as lists, and the rest (the image inputs)."""
        shape = encoded["input_ids"].shape
        # PaliGemma's processor also returns ``labels`` for its prompt; groundlm builds its own.
        kept = {k: v for k, v in encoded.items() if k not in ("attention_mask", "labels")}
        rows = {k: v[0].tolist() for k, v in kept.items() if v.shape == shape}
        rest = {k: v for k, v in kept.items() if k not in rows}
        return rows, rest

    @staticmethod
    def _image_inputs(encoded: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The image inputs concatenated over examples (LLaVA/PaliGemma ``pixel_values`` ``[B, 3, H, W]``;
        Qwen2-VL's flattened patches ``[ΣP, D]`` with ``image_grid_thw`` ``[B, 3]``)."""
        return {k: torch.cat([e[k] for e in encoded]) for k in encoded[0]}

    def _pad(self) -> int:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def train_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        """``input_ids`` / ``attention_mask`` / ``labels`` ``[B, T]`` right-padded, the image inputs, and the
        processor's other token rows continued over the answer: PaliGemma's ``token_type_ids`` with 1 (the answer
        attends causally, the prefix both ways), Qwen2-VL's ``mm_token_type_ids`` with 0 (text)."""
        tok = self.tokenizer
        split = [self._split(self._encode(e, im)) for e, im in zip(examples, images)]
        columns: dict[str, list[list[int]]] = {k: [] for k in split[0][0]}
        labels = []
        for ex, (rows, _) in zip(examples, split):
            target = [*tok(ex.target, add_special_tokens=False).input_ids, tok.eos_token_id]
            n = len(rows["input_ids"])
            for key, row in rows.items():
                tail = target if key == "input_ids" else [int(key == "token_type_ids")] * len(target)
                columns[key].append((row + tail)[: self.max_length])
            labels.append(([IGNORE] * n + target)[: self.max_length])
        width = max(len(r) for r in columns["input_ids"])
        fill = {"input_ids": self._pad(), "token_type_ids": 1}
        batch = {k: torch.tensor([r + [fill.get(k, 0)] * (width - len(r)) for r in v]) for k, v in columns.items()}
        batch["attention_mask"] = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in columns["input_ids"]])
        batch["labels"] = torch.tensor([lb + [IGNORE] * (width - len(lb)) for lb in labels])
        return {**batch, **self._image_inputs([rest for _, rest in split])}

    def generation_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        """Left-padded prompts (every row ends at its last prompt token), their token rows, the image inputs."""
        split = [self._split(self._encode(e, im)) for e, im in zip(examples, images)]
        batch = {}
        for key in split[0][0]:
            ids, mask = left_padded([rows[key] for rows, _ in split], self._pad() if key == "input_ids" else 0)
            batch[key] = ids
            if key == "input_ids":
                batch["attention_mask"] = mask
        return {**batch, **self._image_inputs([rest for _, rest in split])}


# -------------------------------------------------------------------------------------------------------------
# Training forward and generation


@dataclass
class HFOutput:
    """``logits`` ``[B, T, V]`` and the named losses (``lm``: summed token cross-entropy / its normaliser)."""

    logits: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)


class HFTrainable(nn.Module):
    """The transformers model (or its peft wrapper) with groundlm's loss: ``forward(**batch, normalizers)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        normalizers: dict[str, float] | None = None,
        **inputs: torch.Tensor,
    ) -> HFOutput:
        dtype = next(p for p in self.model.parameters()).dtype
        inputs = {k: v.to(dtype) if torch.is_floating_point(v) else v for k, v in inputs.items()}
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **inputs).logits
        losses = {}
        if labels is not None:
            count = (normalizers or {}).get("lm", max(target_tokens(labels), 1))
            losses["lm"] = token_loss_sum(logits, labels) / count
        return HFOutput(logits, losses)


@dataclass
class HFGenerator:
    """A :class:`~groundlm.inference.generate.TextGenerator` over a transformers VLM."""

    backend: HFBackend
    max_new_tokens: int = 24
    num_beams: int = 1
    batch_size: int = 16
    images: ImageCache = field(default_factory=ImageCache)

    @torch.no_grad()
    def generate(
        self,
        examples: Sequence[Example],
        samples: int = 1,
        temperature: float = 1.0,
        constrain: str | None = None,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        if any(e.reread for e in examples):
            raise ValueError("re-reading answers need groundlm's region tokens; a transformers backend has none")
        backend, tok = self.backend, self.backend.collator.tokenizer
        constraint = None
        if constrain:
            constraint = FormatConstraint(constrain, tok, syntax_tokens=_syntax_tokens(constrain, tok))
        stop = {tok.eos_token_id, *_ids(backend.model.generation_config.eos_token_id)}
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        out: list[str] = []
        step = max(1, self.batch_size // samples)
        with evaluating(backend.module) as device:
            for k in range(0, len(examples), step):
                chunk = list(examples[k : k + step])
                batch = backend.collator.generation_batch(chunk, [self.images.get(e.sample) for e in chunk])
                dtype = backend.dtype
                batch = {n: v.to(device, dtype) if v.is_floating_point() else v.to(device) for n, v in batch.items()}
                start = batch["input_ids"].shape[1]
                processors = LogitsProcessorList([AfterPrompt(constraint, start)]) if constraint else None
                ids = backend.model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens or self.max_new_tokens,
                    num_beams=self.num_beams,
                    do_sample=samples > 1,
                    num_return_sequences=samples,
                    temperature=temperature if samples > 1 else None,
                    top_k=0 if samples > 1 else None,
                    top_p=None,
                    pad_token_id=pad,
                    eos_token_id=sorted(i for i in stop if i is not None),
                    logits_processor=processors,
                )
                for row in ids[:, batch["input_ids"].shape[1] :].tolist():
                    cut = next((i for i, t in enumerate(row) if t in stop), len(row))
                    # Special tokens stay: Qwen's <|box_start|> is one, and it is part of the answer.
                    out.append(tok.decode([t for t in row[:cut] if t != pad], skip_special_tokens=False))
        return out


class AfterPrompt(LogitsProcessor):
    """A logits processor applied to the answer alone: transformers passes prompt and answer ids, groundlm's
    :class:`FormatConstraint` expects the answer (left padding puts every prompt in the first ``start`` columns)."""

    def __init__(self, inner: LogitsProcessor, start: int) -> None:
        self.inner, self.start = inner, start

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return self.inner(input_ids[:, self.start :], scores)


def _syntax_tokens(format_name: str, tokenizer) -> tuple[str, ...]:
    """The tokenizer's special tokens that a format's answers are written with (Qwen2-VL's box tags)."""
    text = formats.get(format_name).render_boxes([(1, 1, 2, 2)], 4, 4, label="x")
    return tuple(t for t in tokenizer.all_special_tokens if t in text)


def _ids(value: int | Sequence[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


# -------------------------------------------------------------------------------------------------------------
# The backend


class HFBackend:
    """A transformers VLM and its processor. ``base_dir`` is the transformers model directory the weights (and,
    for a LoRA run, the adapters) start from."""

    kind = "hf"
    heads: tuple[str, ...] = ()

    def __init__(
        self, model: nn.Module, processor: Any, arch: Architecture, base_dir: Path, options: BackendOptions
    ) -> None:
        self.arch, self.base_dir, self.options = arch, base_dir, options
        self.box_format = options.box_format or family_format(arch, processor)
        self.module = HFTrainable(model)
        self.processor = processor
        self.collator = HFCollator(processor, arch, formats.get(self.box_format))

    @property
    def model(self) -> nn.Module:
        """The transformers model, or its peft wrapper once LoRA is attached."""
        return self.module.model

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def has_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    @classmethod
    def load(
        cls,
        directory: str | Path,
        options: BackendOptions | None = None,
        device: str | torch.device | None = None,
        trainable: bool = False,
    ) -> HFBackend:
        """A transformers model directory, or a LoRA run on one (its adapters loaded onto its base; ``trainable``
        keeps them trainable). ``options`` default to those the run was trained with."""
        directory = Path(directory)
        if is_adapter_run(directory):
            record = json.loads((directory / BACKEND_FILE).read_text())
            base = Path(record["base"])
            if not base.is_dir():
                raise FileNotFoundError(f"{directory}: its base model {base} is not there")
            options = options or BackendOptions(**record.get("options", {}))
            backend = cls.load(base, options, device)
            from peft import PeftModel

            backend.module.model = PeftModel.from_pretrained(backend.model, directory, is_trainable=trainable)
            return backend
        arch = architecture(directory)
        options = options or BackendOptions()
        record = directory / BACKEND_FILE  # a merged model keeps the options it was trained with
        if record.is_file() and options == BackendOptions():
            options = BackendOptions(**json.loads(record.read_text()).get("options", {}))
        model_class = getattr(transformers, arch.model_class)
        kwargs: dict[str, Any] = {"dtype": options.torch_dtype(device)}
        if options.device_map:
            kwargs["device_map"] = options.device_map
        model = model_class.from_pretrained(directory, **kwargs)
        if options.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if device is not None and not options.device_map:
            model.to(device)
        return cls(model.eval(), load_processor(directory, arch), arch, directory, options)

    def lora_config(self, spec: LoraSpec):
        """peft's ``LoraConfig`` for ``spec``: its towers (``language``, ``vision``) as module-path prefixes, its
        ``target_modules`` (default: q/v projections, Qwen's fused ``qkv`` in its vision tower) as last names."""
        from peft import LoraConfig

        if spec.train_modules:
            raise ValueError("LoRA train_modules name groundlm's own submodules; a transformers backend has none")
        alternatives = []
        for tower in spec.towers:
            if tower not in ("language", "vision"):
                raise ValueError(f"LoRA can go on 'language' or 'vision', not {tower!r}")
            prefix = self.arch.language if tower == "language" else self.arch.vision
            names = spec.target_modules or (LANGUAGE_TARGETS if tower == "language" else self.arch.vision_targets)
            alternatives.append(rf"{re.escape(prefix)}\..*\.(?:{'|'.join(map(re.escape, names))})")
        pattern = "|".join(f"(?:{a})" for a in alternatives)
        return LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=pattern)

    def attach_lora(self, spec: LoraSpec) -> None:
        """Freeze the model and wrap it with trainable LoRA adapters (``peft.get_peft_model``)."""
        from peft import get_peft_model

        if self.has_lora:
            raise ValueError("the model already has LoRA adapters")
        self.module.model = get_peft_model(self.model, self.lora_config(spec))

    def merged_state(self) -> dict[str, torch.Tensor]:
        """The full weights with any adapters folded in (``W + (alpha / r) B A``), names as the base model's."""
        from groundlm.adapters.merge import unique_state

        model = self.model.merge_and_unload() if self.has_lora else self.model
        self.module.model = model
        return unique_state(model)

    def save(self, directory: str | Path) -> Path:
        """The adapters (peft) or the full model, the processor, and ``backend.json`` (base, options, format)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.processor.save_pretrained(directory)
        record = {
            "kind": self.kind,
            "model_type": self.arch.model_type,
            "base": str(self.base_dir.resolve()) if self.has_lora else None,
            "box_format": self.box_format,
            "options": self.options.to_dict(),
        }
        (directory / BACKEND_FILE).write_text(json.dumps(record, indent=2) + "\n")
        return directory

    def generator(
        self, max_new_tokens: int = 24, num_beams: int = 1, batch_size: int = 16, progress: bool = False
    ) -> HFGenerator:
        return HFGenerator(self, max_new_tokens, num_beams, batch_size)

    def task_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Tasks with a box format answer in the architecture's own; pose cannot re-read (no region tokens)."""
        options = dict(options)
        if name in ("refer", "grounded_list"):
            options.setdefault("format", self.box_format)
        if name == "pose" and options.get("reread"):
            raise ValueError("pose with reread needs groundlm's region tokens; a transformers backend has none")
        if name == "narrate" and options.get("point_head"):
            raise ValueError("narrate with a point head needs groundlm's heads; a transformers backend has none")
        return options
