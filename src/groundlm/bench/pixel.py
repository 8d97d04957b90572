"""``groundlm bench pixel``: PixelLLM's comparisons (docs/architecture.md, section 6.3), every row trained and measured
in the run.

Three grounded VLMs on the pretrained tower (frozen) and a small Llama, each trained on the same images and steps
with three tasks mixed evenly:

* **PixelLLM**: ``narrate`` with the point head on every word (L1 weight 0.1, masked where a word has no trace
  point), ``refer`` with the box also regressed by a point head from the hidden state that writes the answer, and
  ``region_caption`` with the box given through the location prompt encoder (``location_prompt``);
* **without the point loss**: the same tasks, no point or box head (captioning and boxes as text only);
* **box as text**: as PixelLLM, but ``region_caption`` gets its box written in the prompt (CogVLM's syntax)
  instead of the location prompt encoder's tokens.

Rows read these models: the trace (per-word points on the ground-truth narrative, teacher-forced: mean L2 distance
and the share of words inside the box of the object their utterance names), narration METEOR / CIDEr (generated),
refer Acc@0.5 / cIoU with the box read from the text and from the regression head, and location-conditioned
captioning METEOR / CIDEr. By default SpatialWorld ``portrait`` trains and tests (held-out images); the tower never
saw it. Every number comes from this run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from groundlm.bench.run import (
    BenchConfig,
    apply_preset,
    quick_language,
    start_run,
    tower_vision,
    train_models,
    write_result,
)
from groundlm.errors import UserError
from groundlm.evaluation.table import format_table, format_value
from groundlm.inference import Collator, ImageCache
from groundlm.inference.points import prompt_head_outputs, regressed_boxes, span_outputs
from groundlm.methods.pixelllm.task_narrate import NarrateTask
from groundlm.metrics import grounding_metrics
from groundlm.models.config import HeadConfig, LanguageConfig, VisionConfig, VLMConfig
from groundlm.tasks import ReferTask, RegionCaptionTask
from groundlm.train.config import TaskSpec
from groundlm.train.evaluate import evaluate_task
from groundlm.train.stream import evaluation_examples

COLUMNS = (
    "trace_l2",
    "trace_in_box",
    "narrate_METEOR",
    "narrate_CIDEr",
    "refer_acc50",
    "refer_ciou",
    "region_METEOR",
    "region_CIDEr",
)
POINT, BOX = "point", "box"


@dataclass
class PixelBenchConfig(BenchConfig):
    run_dir: str = "runs/bench-pixel"
    train: str | None = None  # None: SpatialWorld ``domain``
    test: str | None = None  # None: held-out SpatialWorld ``domain`` images
    domain: str = "portrait"
    n_train: int = 3000
    n_test: int = 100
    vision: VisionConfig = field(default_factory=VisionConfig)  # used when ``tower`` is None
    language: LanguageConfig = field(default_factory=lambda: quick_language(max_positions=512))
    steps: int = 1200
    batch_size: int = 32
    lr: float = 1e-3
    point_weight: float = 0.1
    eval_items: int = 100
    narrate_tokens: int = 64
    # Narrate the first utterances only (None: whole narratives): on a CPU the longest targets set every step's cost.
    utterances: int | None = 2


PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(),  # 2 CPU cores, within 30 minutes with the quick tower cached
    "full": dict(  # the sizes meant for a GPU
        n_train=20000,
        n_test=500,
        size=224,
        tower="runs/towers/full",
        tower_preset="full",
        language=LanguageConfig(
            kind="llama", hidden_size=512, num_layers=8, num_heads=8, intermediate_size=1536, max_positions=1024
        ),
        steps=8000,
        eval_items=500,
        utterances=None,
        narrate_tokens=160,
    ),
}


def preset(name: str, **overrides: Any) -> PixelBenchConfig:
    return apply_preset(PixelBenchConfig(), PRESETS, name, overrides)


def _variants(cfg: PixelBenchConfig, vision: VisionConfig) -> dict[str, tuple[VLMConfig, list[TaskSpec], dict]]:
    """Each model: its config, its task mixture and its loss weights."""
    heads = {POINT: HeadConfig(kind="point", out_dim=2, loss="l1"), BOX: HeadConfig(kind="point", out_dim=4, loss="l1")}
    base = VLMConfig(vision=vision, language=cfg.language, patch_position="sincos", region_encoder="location_prompt")
    refer = {"format": "cogvlm", "query_first": True}
    weights = {"lm": 1.0, POINT: cfg.point_weight, BOX: cfg.point_weight}
    return {
        "pixelllm": (
            replace(base, heads=heads),
            [
                TaskSpec("narrate", options={"point_head": POINT, "utterances": cfg.utterances}),
                TaskSpec("refer", options={**refer, "box_head": BOX}),
                TaskSpec("region_caption"),
            ],
            weights,
        ),
        "no_point_loss": (
            base,
            [
                TaskSpec("narrate", options={"utterances": cfg.utterances}),
                TaskSpec("refer", options=refer),
                TaskSpec("region_caption"),
            ],
            {"lm": 1.0},
        ),
        "box_as_text": (
            replace(base, heads=heads),
            [
                TaskSpec("narrate", options={"point_head": POINT, "utterances": cfg.utterances}),
                TaskSpec("refer", options={**refer, "box_head": BOX}),
                TaskSpec("region_caption", options={"box_as_text": "cogvlm"}),
            ],
            weights,
        ),
    }


def run_pixel_bench(cfg: PixelBenchConfig, progress: bool = True) -> dict[str, Any]:
    """Train the three models and read every row; returns ``{"config", "rows", "seconds", ...}`` and writes it to
    ``run_dir/bench-pixel.json``. Models go to ``run_dir/models/`` (started afresh)."""
    t0 = time.perf_counter()
    cfg, run, log = start_run(cfg, progress)
    device = cfg.device
    vision = tower_vision(cfg.tower, cfg.tower_preset, cfg.vision, progress=progress)
    train_spec = cfg.split(cfg.train, cfg.domain, "pixel-train", cfg.n_train, 21)
    test_spec = cfg.split(cfg.test, cfg.domain, "pixel-test", cfg.n_test, 22)
    test = test_spec.load(progress)
    images = ImageCache()
    models, seconds = train_models(
        run,
        train_spec,
        {name: (*v, cfg.steps) for name, v in _variants(cfg, vision).items()},
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        device=device,
        progress=progress,
    )

    def caption(name: str, task, tokens: int) -> dict[str, float]:
        model = models[name]
        return evaluate_task(model, Collator.for_model(model), task, test, cfg.eval_items, tokens, images=images)

    def refer_text(name: str) -> dict[str, float]:
        return caption(name, ReferTask("cogvlm", query_first=True), 24)

    pixel = models["pixelllm"]
    collator = Collator.for_model(pixel)
    narrate = NarrateTask(point_head=POINT, utterances=cfg.utterances)
    narrations = evaluation_examples(test, narrate, cfg.eval_items)
    if not narrations:
        raise UserError(f"{test_spec.uri}: no localized narratives to test on")
    trace = narrate.trace_score(span_outputs(pixel, collator, narrations, images, POINT), narrations)
    refer_examples = evaluation_examples(test, ReferTask("cogvlm", query_first=True, box_head=BOX), cfg.eval_items)
    outputs = prompt_head_outputs(pixel, collator, refer_examples, images, BOX)
    regressed = grounding_metrics(regressed_boxes(outputs, refer_examples), [e.answer for e in refer_examples])

    rows: list[dict[str, Any]] = []

    def add(row: str, **values: Any) -> None:
        rows.append({"row": row, **{k: values.get(k) for k in COLUMNS}})
        log(f"{row}: " + ", ".join(f"{k} {format_value(values.get(k))}" for k in COLUMNS if values.get(k) is not None))

    narr = caption("pixelllm", NarrateTask(utterances=cfg.utterances), cfg.narrate_tokens)
    add(
        "PixelLLM: narration with per-word points",
        trace_l2=trace["point_l2"],
        trace_in_box=trace.get("in_box"),
        narrate_METEOR=narr["METEOR"],
        narrate_CIDEr=narr["CIDEr"],
    )
    text = by_text = refer_text("pixelllm")
    add("PixelLLM: refer, box as text", refer_acc50=text["acc50"], refer_ciou=text["ciou"])
    add("PixelLLM: refer, box regressed", refer_acc50=regressed["acc50"], refer_ciou=regressed["ciou"])
    region = caption("pixelllm", RegionCaptionTask(), 24)
    add(
        "PixelLLM: region caption, location prompt encoder",
        region_METEOR=region["METEOR"],
        region_CIDEr=region["CIDEr"],
    )
    narr = caption("no_point_loss", NarrateTask(utterances=cfg.utterances), cfg.narrate_tokens)
    text = refer_text("no_point_loss")
    add(
        "without the point loss (captions, boxes as text)",
        narrate_METEOR=narr["METEOR"],
        narrate_CIDEr=narr["CIDEr"],
        refer_acc50=text["acc50"],
        refer_ciou=text["ciou"],
    )
    region = caption("box_as_text", RegionCaptionTask(box_as_text="cogvlm"), 24)
    add("region caption, box written as text", region_METEOR=region["METEOR"], region_CIDEr=region["CIDEr"])

    winner = "regression" if regressed["acc50"] > by_text["acc50"] else "text"
    result = {
        "benchmark": "pixel",
        "config": asdict(cfg),
        "rows": rows,
        "refer_winner": winner,
        "refer_margin_acc50": round(abs(regressed["acc50"] - by_text["acc50"]), 4),
        "train_seconds": seconds,
        "test": test_spec.uri,
        "test_items": {"narrate": len(narrations), "refer": len(refer_examples)},
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
    }
    write_result(run, "bench-pixel", result)
    return result


def format_pixel_table(result: dict[str, Any]) -> str:
    title = (
        f"PixelLLM bench on {result['test']} ({result['test_items']['narrate']} narratives, "
        f"{result['test_items']['refer']} expressions); trace in normalised image units; "
        f"{result['seconds'] / 60:.1f} min"
    )
    table = format_table(title, [(r["row"], {k: r[k] for k in COLUMNS}) for r in result["rows"]])
    return f"{table}\nrefer: the box {result['refer_winner']} wins by {result['refer_margin_acc50']} Acc@0.5"
