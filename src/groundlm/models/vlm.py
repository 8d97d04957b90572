"""The grounded VLM: vision tower -> MLP projector -> causal language model (LLaVA-style composition).

The prompt holds one ``<image>`` placeholder per patch token (``grid**2`` of them) and ``grid_r**2`` ``<region>``
placeholders per region box; their input embeddings are replaced by projected patch features and region tokens.
Everything else is the language model's own machinery, notably its ``generate`` (KV cache, greedy or beam search)
on ``inputs_embeds``. Heads (:mod:`groundlm.models.heads`) read the last hidden state.

With targets, ``forward`` returns named losses (docs/architecture.md, section 5.3): ``lm``, the next-token
cross-entropy on ``labels`` (``-100`` = ignored), and one per head whose targets the batch carries. Each is a sum
divided by a normaliser the caller may give (the training loop gives counts over the whole global batch); the
caller weighs and sums them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import LogitsProcessorList
from transformers.utils import ModelOutput

from groundlm.errors import InternalError
from groundlm.manifest import Manifest, write_manifest
from groundlm.models.backbones import build_language, build_vision, resolve_vision
from groundlm.models.config import VLMConfig
from groundlm.models.heads import build_head
from groundlm.models.lora import LoraSpec, attach_lora
from groundlm.models.losses import regression_loss_sum, target_rows, target_tokens, token_loss_sum
from groundlm.models.region import build_region_encoder
from groundlm.models.state import tied_once
from groundlm.models.tokenizer import IMAGE_TOKEN, REGION_TOKEN, load_tokenizer

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


@dataclass
class VLMOutput(ModelOutput):
    """``logits`` ``[B, T, V]``; ``losses``: the named losses (empty without targets) and ``loss`` their unweighted
    sum; ``head_outputs``: each head's ``[B, T, out_dim]``; ``hidden_states`` when asked for (or when there are
    heads); ``past_key_values`` as the language model returns them."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    losses: dict[str, torch.Tensor] | None = None
    head_outputs: dict[str, torch.Tensor] | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    past_key_values: Any = None


def sincos_2d(grid: int, width: int) -> torch.Tensor:
    """``[grid**2, width]`` codes of patch positions (row-major): sines and cosines of x and y at geometric
    frequencies (as in MAE), normalised to RMS 1 per patch."""
    quarter = width // 4
    freqs = 1.0 / (100.0 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1)))
    ys, xs = torch.meshgrid(
        torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32), indexing="ij"
    )
    parts = []
    for coord in (xs.reshape(-1), ys.reshape(-1)):
        angles = coord[:, None] * freqs[None, :]
        parts += [torch.sin(angles), torch.cos(angles)]
    code = torch.cat(parts, 1)
    code = torch.nn.functional.pad(code, (0, width - code.shape[1]))
    return code / code.pow(2).mean(1, keepdim=True).sqrt()


class GroundedVLM(nn.Module):
    def __init__(self, config: VLMConfig, tokenizer=None, load_weights: bool = True) -> None:
        """Build the model; ``load_weights=False`` skips loading a pretrained tower's weights (for callers that
        load a full state dict next, as :meth:`from_pretrained` does)."""
        super().__init__()
        config.vision = resolve_vision(config.vision)
        self.config = config
        self.tokenizer = tokenizer or load_tokenizer(config.tokenizer)
        tok = self.tokenizer
        self.vision = build_vision(config.vision, load_weights=load_weights)
        if config.vision.freeze:
            self.vision.requires_grad_(False)
            self.vision.train(self.training)
        self.lm = build_language(
            config.language, len(tok), tok.pad_token_id, tok.bos_token_id or tok.eos_token_id, tok.eos_token_id
        )
        width = self.lm.config.hidden_size
        hidden = config.projector_hidden or width
        self.projector = nn.Sequential(nn.Linear(self.vision.hidden_size, hidden), nn.GELU(), nn.Linear(hidden, width))
        self.region_encoder = build_region_encoder(config, self.vision.hidden_size, width)
        if config.patch_position not in ("none", "sincos"):
            raise ValueError(f"patch_position must be 'none' or 'sincos', got {config.patch_position!r}")
        if config.patch_position == "sincos":
            self.register_buffer("patch_code", sincos_2d(self.vision.grid, width), persistent=False)
            self.patch_code_scale = nn.Parameter(torch.ones(()))
        self.heads = nn.ModuleDict({name: build_head(h, width) for name, h in config.heads.items()})
        self.image_token_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
        self.region_token_id = tok.convert_tokens_to_ids(REGION_TOKEN)

    # ---------------------------------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.vision.image_size

    @property
    def image_tokens(self) -> int:
        """Number of ``<image>`` placeholders an image takes."""
        return self.vision.grid**2

    @property
    def region_tokens(self) -> int:
        return self.region_encoder.tokens_per_region

    @property
    def has_lora(self) -> bool:
        return self.config.lora is not None

    def attach_lora(self, spec: LoraSpec) -> None:
        """Freeze the model and add LoRA adapters (:class:`groundlm.models.lora.LoraSpec`)."""
        attach_lora(self, spec)

    def add_head(self, name: str, head: nn.Module) -> None:
        """Add a head written as code (not in the config: ``from_pretrained`` needs it passed as ``heads``) that
        maps last hidden states ``[..., width]`` to its outputs. Heads in ``config.heads`` are built already."""
        self.heads[name] = head

    @property
    def region_loss_names(self) -> list[str]:
        """The region encoder's own losses (:mod:`groundlm.models.region`), when it has any."""
        return list(getattr(self.region_encoder, "loss_names", []))

    @property
    def loss_names(self) -> list[str]:
        """The named losses ``forward`` can return: ``lm``, one per head, and the region encoder's."""
        return ["lm", *self.config.heads, *self.region_loss_names]

    def _tower(self, pixels: torch.Tensor) -> torch.Tensor:
        """The tower's patch features; without gradients when it is frozen (its views cost no activations)."""
        if self.vision.frozen:
            with torch.no_grad():
                return self.vision(pixels)
        return self.vision(pixels)

    def embed(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None,
        region_boxes: list[torch.Tensor] | None = None,
        region_inputs: Mapping[str, Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Input embeddings with placeholders replaced by visual features ``[B, T, width]``, and the region tokens
        ``[sum R_b, tokens, width]`` (None without ``<region>`` placeholders). ``region_inputs`` (the batch's, from
        the region encoder's batch hook) go to the region encoder as :mod:`groundlm.models.region` states."""
        image_mask = input_ids == self.image_token_id
        region_mask = input_ids == self.region_token_id
        safe_ids = input_ids.masked_fill(image_mask | region_mask, self.tokenizer.pad_token_id)
        embeds = self.lm.get_input_embeddings()(safe_ids)
        if pixel_values is None:
            if image_mask.any() or region_mask.any():
                raise InternalError("the prompt has <image> or <region> placeholders but no image was given")
            return embeds, None
        needs_patches = bool(image_mask.any()) or (bool(region_mask.any()) and self.region_encoder.needs_patches)
        patches = self.vision(pixel_values) if needs_patches else None
        if image_mask.any():
            feats = self.projector(patches)
            if self.config.patch_position == "sincos":
                feats = feats + self.patch_code_scale * self.patch_code
            feats = feats.to(embeds.dtype)
            if int(image_mask.sum()) != feats.shape[0] * feats.shape[1]:
                raise InternalError(
                    f"{int(image_mask.sum())} <image> placeholders for {feats.shape[0]} image(s) of "
                    f"{feats.shape[1]} tokens each"
                )
            embeds = embeds.masked_scatter(image_mask[..., None], feats)
        tokens = None
        if region_mask.any():
            if region_boxes is None:
                raise InternalError("the prompt has <region> placeholders but no region boxes were given")
            inputs = {k: v for k, v in (region_inputs or {}).items() if k not in ("pixels", "targets", "counts")}
            source = (region_inputs or {}).get("pixels", pixel_values)
            tokens = self.region_encoder(patches, region_boxes, self.image_size, source, vision=self._tower, **inputs)
            if int(region_mask.sum()) != tokens.shape[0] * tokens.shape[1]:
                raise InternalError(
                    f"{int(region_mask.sum())} <region> placeholders for {tokens.shape[0]} region(s) of "
                    f"{tokens.shape[1]} tokens each"
                )
            embeds = embeds.masked_scatter(region_mask[..., None], tokens.to(embeds.dtype))
        return embeds, tokens

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        region_boxes: list[torch.Tensor] | None = None,
        output_hidden_states: bool = False,
        head_targets: dict[str, torch.Tensor] | None = None,
        normalizers: dict[str, float] | None = None,
        region_inputs: Mapping[str, Any] | None = None,
    ) -> VLMOutput:
        """Logits, head outputs and, with ``labels`` ``[B, T]`` and/or ``head_targets`` (name -> ``[B, T, out_dim]``,
        NaN rows where none), the named losses. A loss is its sum (:mod:`groundlm.models.losses`) divided by
        ``normalizers[name]``, by default the count of scored entries in this batch (a mean). ``region_inputs`` go to
        the region encoder; their ``targets`` add the encoder's own losses (:mod:`groundlm.models.region`)."""
        embeds, region_tokens = self.embed(input_ids, pixel_values, region_boxes, region_inputs)
        out = self.lm(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states or bool(len(self.heads)),
        )
        normalizers = normalizers or {}
        losses: dict[str, torch.Tensor] = {}
        if labels is not None:
            losses["lm"] = token_loss_sum(out.logits, labels) / normalizers.get("lm", max(target_tokens(labels), 1))
        head_outputs = {name: head(out.hidden_states[-1]) for name, head in self.heads.items()}
        for name, target in (head_targets or {}).items():
            if name not in self.config.heads:
                raise ValueError(f"targets for {name!r}, which is not a head of this model's config")
            count = normalizers.get(name, max(target_rows(target), 1))
            losses[name] = regression_loss_sum(head_outputs[name], target, self.config.heads[name].loss) / count
        region_targets = (region_inputs or {}).get("targets")
        if region_targets and region_tokens is not None and hasattr(self.region_encoder, "losses"):
            embed = self.lm.get_input_embeddings()
            losses.update(self.region_encoder.losses(region_tokens, region_targets, embed, normalizers))
        return VLMOutput(
            loss=sum(losses.values()) if losses else None,
            logits=out.logits,
            losses=losses,
            head_outputs=head_outputs,
            hidden_states=out.hidden_states,
            past_key_values=getattr(out, "past_key_values", None),
        )

    def run_head(self, name: str, hidden: torch.Tensor) -> torch.Tensor:
        return self.heads[name](hidden)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        region_boxes: list[torch.Tensor] | None = None,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        logits_processor: LogitsProcessorList | None = None,
        samples: int = 1,
        temperature: float = 1.0,
        sample: bool | None = None,
        region_inputs: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """New token ids ``[B, <= max_new_tokens]`` (greedy or beam search, with the LM's KV cache); with
        ``samples > 1``, ``[B * samples, ...]``: that many answers per prompt drawn at ``temperature``, the answers
        of one prompt consecutive. ``sample`` (default: ``samples > 1``) draws answers at ``temperature`` instead
        of taking the most likely token.

        Prompts must be left-padded so that every row ends at its last prompt token.
        """
        embeds, _ = self.embed(input_ids, pixel_values, region_boxes, region_inputs)
        tok = self.tokenizer
        sample = samples > 1 if sample is None else sample
        return self.lm.generate(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=sample,
            num_return_sequences=samples,
            temperature=temperature if sample else None,
            top_k=0 if sample else None,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            logits_processor=logits_processor,
        )

    # ---------------------------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, tasks: dict[str, dict[str, Any]] | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors``, the tokenizer and the manifest (``groundlm.json``, kind
        ``vlm``, with the ``tasks`` it was trained on and their options); a folder that loads anywhere."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_manifest(directory, Manifest("vlm", dict(tasks or {})))
        (directory / CONFIG).write_text(json.dumps({"groundlm": self.config.to_dict()}, indent=2) + "\n")
        # Tied embeddings share storage; safetensors stores each tensor once.
        state = {k: v.contiguous() for k, v in tied_once(self.state_dict()).items()}
        save_file(state, str(directory / WEIGHTS))
        self.tokenizer.save_pretrained(str(directory / "tokenizer"))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, heads: dict[str, nn.Module] | None = None) -> GroundedVLM:
        """Load a directory written by :meth:`save_pretrained`: everything ``config.json`` names (tower, language
        model, region encoder, heads, LoRA adapters) is rebuilt from it. Heads added as code (:meth:`add_head`) are
        not in the config: pass modules of the same shapes as ``heads`` to load their weights."""
        directory = Path(directory)
        if not (directory / CONFIG).is_file():
            raise FileNotFoundError(f"{directory} is not a groundlm model directory (no {CONFIG})")
        config = VLMConfig.from_dict(json.loads((directory / CONFIG).read_text())["groundlm"])
        lora, config.lora = config.lora, None
        model = cls(config, tokenizer=load_tokenizer(directory / "tokenizer"), load_weights=False)
        if lora is not None:
            model.attach_lora(LoraSpec.from_dict(lora))
        for name, head in (heads or {}).items():
            model.add_head(name, head)
        state = load_file(str(directory / WEIGHTS))
        stored_heads = {k.split(".")[1] for k in state if k.startswith("heads.")}
        if stored_heads - set(model.heads):
            raise ValueError(
                f"{directory} holds regression heads {sorted(stored_heads - set(model.heads))} that its config does "
                "not name; pass "
                "modules of the same shapes as heads={name: module} to load them"
            )
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = {"lm.lm_head.weight"}
        if unexpected or set(missing) - tied:
            raise ValueError(
                f"{directory}: weights do not match the config (missing {missing}, unexpected {unexpected})"
            )
        return model
