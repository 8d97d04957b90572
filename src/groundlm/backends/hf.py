"""``transformers``' own VLMs as a backend: LLaVA, Qwen2-VL, Qwen2.5-VL and PaliGemma from a local directory
(:mod:`groundlm.backends.architectures` says which directories and how each family prompts), with groundlm's loss
for training, generation into answer texts, peft's LoRA, and saving. Boxes are written in each family's own syntax
from :mod:`groundlm.formats`. Nothing is downloaded: every path is local.
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
from torch import nn
from transformers import LogitsProcessor, LogitsProcessorList

from groundlm import formats
from groundlm.backends.architectures import (
    LANGUAGE_TARGETS,
    Architecture,
    architecture,
    family_format,
    is_adapter_run,
    load_processor,
)
from groundlm.backends.base import BACKEND_FILE, BackendOptions
from groundlm.backends.hf_collate import HFCollator
from groundlm.inference.generate import evaluating
from groundlm.inference.images import ImageCache
from groundlm.manifest import Manifest, write_manifest
from groundlm.models.constrained import FormatConstraint
from groundlm.models.lora import LoraSpec
from groundlm.models.losses import target_tokens, token_loss_sum
from groundlm.tasks import task_class
from groundlm.tasks.base import Example

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
    region_losses: tuple[str, ...] = ()
    answer_tokens = 64  # a family's own syntax (Qwen2.5-VL's JSON) can take more tokens than groundlm's

    def __init__(
        self, model: nn.Module, processor: Any, arch: Architecture, base_dir: Path, options: BackendOptions
    ) -> None:
        self.arch, self.base_dir, self.options = arch, base_dir, options
        self.box_format = options.box_format or family_format(arch, processor)
        self.module = HFTrainable(model)
        self.processor = processor
        self.collator = HFCollator(processor, arch, formats.get(self.box_format))
        self.tasks: dict[str, dict[str, Any]] = {}

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
        write_manifest(directory, Manifest("hf", dict(self.tasks), record["base"]))
        return directory

    def record_tasks(self, tasks: dict[str, dict[str, Any]]) -> None:
        self.tasks = {name: dict(options) for name, options in tasks.items()}

    def generator(
        self,
        max_new_tokens: int = 24,
        num_beams: int = 1,
        batch_size: int = 16,
        progress: bool = False,
        images: ImageCache | None = None,
    ) -> HFGenerator:
        return HFGenerator(self, max_new_tokens, num_beams, batch_size, images if images is not None else ImageCache())

    def answerer(self) -> HFGenerator:
        return self.generator()

    def image_dependence(self, examples: Sequence[Example], images: ImageCache) -> dict[str, float]:
        return {}  # the teacher-forced comparison needs groundlm's own collation

    def task_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Tasks with a box format answer in the architecture's own; a task's options that need groundlm's own model
        (:attr:`~groundlm.tasks.base.Task.native_options`: re-reading, a point head) are refused."""
        options = dict(options)
        task = task_class(name)
        if "format" in task.answer_options:
            options.setdefault("format", self.box_format)
        for option, needs in task.native_options.items():
            if options.get(option):
                raise ValueError(f"{name} with {needs}; a transformers backend has none")
        return options
