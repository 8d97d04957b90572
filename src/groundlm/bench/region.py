"""``groundlm bench region``: DynRefer's ablations (docs/architecture.md, section 6.4), every row trained and measured
in the run.

Models, each trained on the same images with the pretrained tower (frozen) and a small Llama:

* **DynRefer, n views**: the multi-view region encoder (``dynrefer``) with the tag and region-text decoders,
  ``L = L_lm + 0.01 L_tag + 0.5 L_rtc``, training views drawn at random; the LM sees the region's tokens only;
* **DynRefer, 1 view**: the same with the region alone (``t = 0``);
* **light contrast**: n views, the region-text loss weighed ``light_rtc_weight`` (0.05) instead of 0.5;
* **single task**: n views, captions only (no tag or contrastive loss);
* **region-token baseline**: the core's ``region_caption`` (RoI-Align of the whole image's patch grid, two-by-two
  region tokens, the image's tokens in the prompt);
* a **detector** for the predicted-box dense captioning column: the core's ``grounded_list`` (every object named
  with its box), shared by all rows.

The n-view model is read three ways, by how inference picks the context views: ``fixed`` (the config's task
prior), ``random`` (a seeded draw), ``selected`` (pHash, as DynRefer does). Columns: region captioning METEOR and
CIDEr (ground-truth boxes), category recognition (the first category the caption names), tag mAP and F1 (the tag
decoder, where there is one), and dense captioning mAP with ground-truth boxes and with the detector's boxes (not
comparable with each other: the second also scores detection). By default SpatialWorld ``portrait`` trains and
tests (held-out images, rendered at ``size`` pixels, views cut from them); the tower never saw it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from groundlm.bench.run import (
    BenchConfig,
    apply_preset,
    quick_language,
    start_run,
    tower_vision,
    train_models,
    write_result,
)
from groundlm.data.dataset import SampleDataset
from groundlm.errors import UserError
from groundlm.evaluation.table import format_table, format_value
from groundlm.inference import Collator, ImageCache
from groundlm.inference.generate import predict_examples
from groundlm.methods.dynrefer.inference_regions import caption_likelihood, region_tag_scores
from groundlm.methods.dynrefer.metrics_tags import recognition_accuracy, tag_metrics
from groundlm.metrics import DenseImage, DensePrediction, MeteorScorer, caption_metrics, densecap_map
from groundlm.models.config import LanguageConfig, ViewsConfig, VisionConfig, VLMConfig
from groundlm.tasks import GroundedListTask, RegionCaptionTask
from groundlm.tasks.base import Example
from groundlm.tasks.region_caption import region_vocabulary
from groundlm.train.config import TaskSpec

COLUMNS = ("METEOR", "CIDEr", "category_acc", "tag_map", "tag_f1", "densecap_map_gt", "densecap_map_pred")


@dataclass
class RegionBenchConfig(BenchConfig):
    run_dir: str = "runs/bench-region"
    train: str | None = None  # None: SpatialWorld ``domain``; or a URI (``vg:…``)
    test: str | None = None  # None: held-out SpatialWorld ``domain`` images; or a URI (``refcoco:…``)
    domain: str = "portrait"
    n_train: int = 1200
    n_test: int = 40  # test images; every captioned region of each is described
    size: int = 192  # SpatialWorld image size: the resolution views are cut from
    vision: VisionConfig = field(default_factory=VisionConfig)  # used when ``tower`` is None
    language: LanguageConfig = field(default_factory=lambda: quick_language(max_positions=256))
    views: int = 3
    fixed_views: tuple[float, ...] = (0.4, 0.8)
    queries: int = 8
    steps: int = 1200
    batch_size: int = 16
    lr: float = 1e-3
    rtc_weight: float = 0.5  # DynRefer's L = L_lm + 0.01 L_tag + 0.5 L_rtc
    light_rtc_weight: float = 0.05  # the row that weighs the region-text contrast less
    detector_steps: int = 500
    caption_tokens: int = 20
    list_tokens: int = 160


PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(),  # 2 CPU cores, about 20 minutes with the quick tower cached
    "full": dict(  # the sizes meant for a GPU (about 10 minutes on one H100 with the tower cached)
        n_train=3000,
        n_test=100,
        size=256,
        tower="runs/towers/full",
        tower_preset="full",
        language=LanguageConfig(
            kind="llama", hidden_size=384, num_layers=6, num_heads=6, intermediate_size=1024, max_positions=512
        ),
        steps=1500,
        batch_size=32,
        detector_steps=1500,
    ),
}


def preset(name: str, **overrides: Any) -> RegionBenchConfig:
    return apply_preset(RegionBenchConfig(), PRESETS, name, overrides)


def _models(
    cfg: RegionBenchConfig, vision: VisionConfig, tags: tuple[str, ...]
) -> dict[str, tuple[VLMConfig, list[TaskSpec], dict[str, float], int]]:
    """Each model: its config, its tasks, its loss weights and its steps."""
    views = ViewsConfig(
        n=cfg.views, fixed=cfg.fixed_views, source_size=cfg.size, queries=cfg.queries, tags=tags, contrastive=True
    )
    dynrefer = VLMConfig(vision=vision, language=cfg.language, region_encoder="dynrefer", views=views)
    region_only = [TaskSpec("region_caption", options={"image": False})]
    multi = {"lm": 1.0, "tag": 0.01, "rtc": cfg.rtc_weight}
    light = {**multi, "rtc": cfg.light_rtc_weight}
    if not tags:  # a split without tags: no tag decoder
        multi.pop("tag"), light.pop("tag")
    core = VLMConfig(vision=vision, language=cfg.language, patch_position="sincos")
    return {
        "multi_view": (dynrefer, region_only, multi, cfg.steps),
        "light_contrast": (dynrefer, region_only, light, cfg.steps),
        "one_view": (replace(dynrefer, views=replace(views, n=1, fixed=())), region_only, multi, cfg.steps),
        "single_task": (
            replace(dynrefer, views=replace(views, tags=(), contrastive=False)),
            region_only,
            {"lm": 1.0},
            cfg.steps,
        ),
        "region_token": (core, [TaskSpec("region_caption")], {"lm": 1.0}, cfg.steps),
        "detector": (core, [TaskSpec("grounded_list")], {"lm": 1.0}, cfg.detector_steps),
    }


@dataclass
class DenseSet:
    """The test regions: ``examples`` (one per captioned region of each test image, image by image), their
    ``categories``, and the ground truth of every image for dense captioning (``truth[i].boxes`` holds image
    ``i``'s regions, in the order of its examples)."""

    examples: list[Example]
    categories: list[str]
    truth: list[DenseImage]
    samples: list[Any]

    def first_examples(self) -> list[Example]:
        """Each image's first example (a prompt to ask about other boxes of that image)."""
        starts = np.cumsum([0] + [len(t.boxes) for t in self.truth[:-1]])
        return [self.examples[int(k)] for k in starts]


def dense_set(test: SampleDataset, image: bool) -> DenseSet:
    task = RegionCaptionTask(image=image)
    examples, categories, truth, samples = [], [], [], []
    for sample in test:
        items = task.items(sample)
        if not items:
            continue
        examples += [task.example(sample, r, None) for r in items]
        categories += [r.category for r in items]
        truth.append(DenseImage(np.array([r.box for r in items], dtype=np.float64), [r.captions for r in items]))
        samples.append(sample)
    if not examples:
        raise UserError("the test split has no captioned regions")
    return DenseSet(examples, categories, truth, samples)


def detected_boxes(detector, test: DenseSet, images: ImageCache, tokens: int) -> list[list[tuple]]:
    """The detector's boxes for each test image (``grounded_list`` answers, pixel ``xyxy``)."""
    task = GroundedListTask()
    examples = [task.example(s, s, None) for s in test.samples]
    answers = predict_examples(detector, Collator.for_model(detector), task, examples, images, tokens)
    return [[box for _, box in answer] for answer in answers]


def run_region_bench(cfg: RegionBenchConfig, progress: bool = True) -> dict[str, Any]:
    """Train the models and read every row; returns ``{"config", "rows", "seconds", ...}`` and writes it to
    ``run_dir/bench-region.json``. Models go to ``run_dir/models/`` (started afresh)."""
    t0 = time.perf_counter()
    cfg, run, log = start_run(cfg, progress)
    device = cfg.device
    vision = tower_vision(cfg.tower, cfg.tower_preset, cfg.vision, progress=progress)
    train_spec = cfg.split(cfg.train, cfg.domain, "region-train", cfg.n_train, 31)
    test_spec = cfg.split(cfg.test, cfg.domain, "region-test", cfg.n_test, 32)
    tags, categories = region_vocabulary(train_spec.load(progress))
    test = test_spec.load(progress)
    models, seconds = train_models(
        run,
        train_spec,
        _models(cfg, vision, tags),
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        device=device,
        progress=progress,
    )

    images = ImageCache()
    region_only, with_image = dense_set(test, image=False), dense_set(test, image=True)
    log(f"detecting objects in {len(region_only.samples)} test images")
    boxes = detected_boxes(models["detector"], region_only, images, cfg.list_tokens)
    rows: list[dict[str, Any]] = []
    with MeteorScorer() as meteor:

        def read(row: str, name: str, policy: str | None) -> None:
            model = models[name]
            collator = Collator.for_model(model)
            if policy is not None:
                collator = replace(collator, region_inputs=collator.region_inputs.with_policy(policy))
            gt = region_only if collator.region_inputs is not None else with_image
            task = RegionCaptionTask(image=gt is with_image)
            captions = predict_examples(model, collator, task, gt.examples, images, cfg.caption_tokens)
            refs = {str(i): e.answer for i, e in enumerate(gt.examples)}
            values: dict[str, Any] = dict(caption_metrics(refs, {str(i): c for i, c in enumerate(captions)}))
            # Recognition needs categories to tell apart (Visual Genome's regions have none).
            values["category_acc"] = (
                recognition_accuracy(captions, gt.categories, categories) if len(categories) > 1 else None
            )
            if getattr(getattr(model.region_encoder, "decoders", None), "tagger", None) is not None:
                scores = region_tag_scores(model, collator, gt.examples, images)
                labels = np.array(
                    [[t in e.extras["region_tags"][0] for t in tags] for e in gt.examples], dtype=np.float64
                )
                values.update(tag_metrics(scores, labels))
            confidence = caption_likelihood(model, collator, gt.examples, captions, images)
            on_truth = _per_image([t.boxes for t in gt.truth], captions, confidence)
            values["densecap_map_gt"] = densecap_map(gt.truth, on_truth, meteor)["map"]
            pred_examples = [
                replace(first, region_boxes=[tuple(b)], answer=None, extras={})
                for first, image_boxes in zip(gt.first_examples(), boxes)
                for b in image_boxes
            ]
            pred_captions = predict_examples(model, collator, task, pred_examples, images, cfg.caption_tokens)
            pred_conf = caption_likelihood(model, collator, pred_examples, pred_captions, images)
            on_detected = _per_image(boxes, pred_captions, pred_conf)
            values["densecap_map_pred"] = densecap_map(gt.truth, on_detected, meteor)["map"]
            rows.append({"row": row, "model": name, "views": policy, **{k: values.get(k) for k in COLUMNS}})
            log(f"{row}: " + ", ".join(f"{k} {format_value(values.get(k))}" for k in COLUMNS))

        n = cfg.views
        read("1 view (the region alone)", "one_view", None)
        fixed = ", ".join(str(t) for t in cfg.fixed_views)
        read(f"{n} views, fixed (t = 0, {fixed})", "multi_view", "fixed")
        read(f"{n} views, random", "multi_view", "random")
        read(f"{n} views, selected by pHash", "multi_view", "selected")
        read(f"single task (captions only), {n} views selected", "single_task", "selected")
        read(f"{n} views selected, region-text weight {cfg.light_rtc_weight}", "light_contrast", "selected")
        read("region-token baseline (RoI of the whole image)", "region_token", None)

    def cider(model: str, views: str | None) -> float:
        return next(r["CIDEr"] for r in rows if r["model"] == model and r["views"] == views)

    result = {
        "benchmark": "region",
        "config": asdict(cfg),
        "rows": rows,
        "findings": {
            "selected_beats_random_CIDEr": cider("multi_view", "selected") > cider("multi_view", "random"),
            "random_beats_one_view_CIDEr": cider("multi_view", "random") > cider("one_view", None),
            "multi_task_beats_single_task_CIDEr": cider("multi_view", "selected") > cider("single_task", "selected"),
        },
        "tags": list(tags),
        "categories": list(categories),
        "train_seconds": seconds,
        "test": test_spec.uri,
        "test_regions": len(region_only.examples),
        "test_images": len(region_only.samples),
        "detected_boxes": sum(len(b) for b in boxes),
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
    }
    write_result(run, "bench-region", result)
    return result


def _per_image(boxes: list, captions: list[str], scores: np.ndarray) -> list[DensePrediction]:
    """Dense predictions, image by image: ``boxes[i]`` (pixel ``xyxy``) are image ``i``'s, and ``captions`` and
    ``scores`` run over all boxes in that order."""
    out, k = [], 0
    for image_boxes in boxes:
        m = len(image_boxes)
        box_array = np.asarray(image_boxes, dtype=np.float64).reshape(-1, 4)
        out.append(DensePrediction(box_array, captions[k : k + m], [float(v) for v in scores[k : k + m]]))
        k += m
    return out


def format_region_table(result: dict[str, Any]) -> str:
    title = (
        f"DynRefer bench on {result['test']} ({result['test_regions']} regions in {result['test_images']} images, "
        f"{result['detected_boxes']} detected boxes); {result['seconds'] / 60:.1f} min"
    )
    table = format_table(title, [(r["row"], {k: r[k] for k in COLUMNS}) for r in result["rows"]])
    f = result["findings"]
    said = [
        f"selected views {'beat' if f['selected_beats_random_CIDEr'] else 'do not beat'} random views (CIDEr)",
        f"random views {'beat' if f['random_beats_one_view_CIDEr'] else 'do not beat'} one view (CIDEr)",
        f"multi-task {'beats' if f['multi_task_beats_single_task_CIDEr'] else 'does not beat'} single task (CIDEr)",
    ]
    return table + "\n" + "; ".join(said)
