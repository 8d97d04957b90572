"""``groundlm bench hpe``: the HPE-CogVLM pipeline, end to end, and its table (docs/architecture.md, section 6.1).

1. a grounding base model (``refer``: expression -> box), the analogue of CogVLM-grounding (or ``base_model``:
   a groundlm model directory, or a transformers VLM's, e.g. Qwen2-VL, answering in its own box syntax);
2. LoRA fine-tunes for head pose (``pose``), one per rehearsal ratio ``r``: a share ``r`` of the examples are
   grounding examples from the base model's data, the rest pose examples;
3. merges of the base and the fine-tune trained at ``merge_ratio``: task arithmetic, TIES, DARE (linear) and the
   layer-selection merge per threshold ``τ``;
4. the CNN crop baseline (6DRepNet-style, on ground-truth head crops) and a mean-pose floor (the training set's
   mean angles for every head).

Train on domain A, test on domain B: by default SpatialWorld ``headshot`` -> ``headshot-dusk`` (the analogue of
300W-LP -> AFLW2000); ``train``/``test`` URIs run the same protocol on real data. Every number comes from this run.
Columns: MAE per angle and mean (degrees, over valid answers), invalid share (of which blended and unparsed),
head-box Acc@0.5, and grounding Acc@0.5 on the test domain's referring expressions (forgetting).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from groundlm import data
from groundlm.backends.base import BackendOptions
from groundlm.baselines.crop_pose import CropPoseConfig, predict_crop_pose, train_crop_pose
from groundlm.bench.run import (
    apply_preset,
    fresh_run,
    progress_log,
    quick_language,
    spatialworld_split,
    tower_vision,
)
from groundlm.data.show import draw_pose_axes
from groundlm.device import resolve_device
from groundlm.errors import UserError
from groundlm.evaluation.table import format_table, format_value
from groundlm.formats.numeric import NumericDecoding
from groundlm.inference import ImageCache, TextGenerator, answer, load_model, model_manifest
from groundlm.inference.merge import merge_saved_models
from groundlm.methods.hpe_cogvlm.task_pose import PoseTask
from groundlm.metrics.pose import pose_metrics
from groundlm.models.config import LanguageConfig, VLMConfig
from groundlm.models.lora import LoraSpec
from groundlm.tasks import ReferTask
from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig
from groundlm.train.loop import train
from groundlm.train.stream import evaluation_examples

_LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
COLUMNS = ("yaw", "pitch", "roll", "mae", "invalid", "blended", "head_acc50", "grounding_acc50")


def _quick_model() -> VLMConfig:
    """The quick VLM: the pretrained tower (``HpeBenchConfig.tower``, filled in at run time) and a small Llama."""
    return VLMConfig(language=quick_language(), patch_position="sincos")


@dataclass
class HpeBenchConfig:
    run_dir: str = "runs/bench-hpe"
    data_dir: str = "runs/data"  # where generated SpatialWorld splits are kept (and reused)
    train: str | None = None  # URI of the pose training data (domain A); None: SpatialWorld "headshot"
    test: str | None = None  # URI of the pose test data (domain B); None: SpatialWorld "headshot-dusk"
    grounding: str | None = None  # URI of grounding data for the base and rehearsal; None: the train split
    grounding_test: str | None = None  # None: the test split
    n_train: int = 3000
    n_test: int = 300
    size: int = 128
    base_model: str | None = None  # a trained grounding model directory (groundlm's or transformers'): skip step 1
    # How a transformers base is loaded for its LoRA runs: activations recomputed in the backward pass, since a
    # real-size VLM's batch of 32 would not fit otherwise.
    backend: BackendOptions = field(default_factory=lambda: BackendOptions(gradient_checkpointing=True))
    # The pretrained vision tower (groundlm pretrain), built with tower_preset when the folder does not exist;
    # None trains model.vision from scratch instead.
    tower: str | None = "runs/towers/quick"
    tower_preset: str = "quick"
    freeze_tower: bool = True
    model: VLMConfig = field(default_factory=_quick_model)
    base_steps: int = 500
    base_lr: float = 1e-3
    # Pose answers re-read the head they found (PoseTask reread): the region encoder, unused by the grounding
    # base, trains in full beside the adapters.
    reread: bool = True
    lora: LoraSpec = field(
        default_factory=lambda: LoraSpec(
            r=16, alpha=32, towers=("language",), target_modules=_LLAMA_LINEAR, train_modules=("region_encoder",)
        )
    )
    lora_steps: int = 1500
    lora_lr: float = 2e-3
    ratios: tuple[float, ...] = (0.0, 0.25, 0.5)
    merge_ratio: float = 0.0  # the fine-tune that is merged with the base
    task_weight: float = 1.0  # λ of task arithmetic, TIES and DARE
    density: float = 0.5  # kept share of TIES and DARE
    taus: tuple[float, ...] = (0.999, 0.9999)
    granularity: str = "module"
    cnn: CropPoseConfig = field(default_factory=CropPoseConfig)
    batch_size: int = 32
    eval_items: int = 200
    # How the VLMs' angles (and boxes) are decoded: by default the median of 16 sampled answers (formats.numeric),
    # the estimate that minimises the expected absolute error (measured on a pose LoRA: MAE 12.45 against 13.16
    # for the mean of the same samples).
    numeric: NumericDecoding = field(default_factory=lambda: NumericDecoding("median", 16))
    pictures: int = 6
    seed: int = 0
    # Where every model trains and is evaluated (the VLMs and the CNN baseline): None is CUDA when present.
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # make demo: its own smaller tower, one rehearsal ratio, one threshold, within 20 minutes on 2 CPU cores.
    "demo": dict(
        n_train=2000,
        n_test=200,
        base_steps=400,
        lora_steps=700,
        tower="runs/towers/demo",
        tower_preset="demo",
        ratios=(0.25,),
        merge_ratio=0.25,
        taus=(0.9999,),
        eval_items=150,
        cnn=CropPoseConfig(steps=800),
    ),
    # --quick: the full table on 2 CPU cores within 30 minutes.
    "quick": dict(),
    # The sizes meant for a GPU.
    "full": dict(
        n_train=20000,
        n_test=1000,
        size=224,
        base_steps=6000,
        lora_steps=4000,
        eval_items=1000,
        ratios=(0.0, 0.1, 0.25, 0.5),
        taus=(0.99, 0.999, 0.9999),
        cnn=CropPoseConfig(steps=10000),
        tower="runs/towers/full",
        tower_preset="full",
        model=VLMConfig(
            language=LanguageConfig(
                kind="llama", hidden_size=512, num_layers=8, num_heads=8, intermediate_size=1536, max_positions=512
            ),
            patch_position="sincos",
        ),
    ),
}


def preset(name: str, **overrides: Any) -> HpeBenchConfig:
    return apply_preset(HpeBenchConfig(), PRESETS, name, overrides)


# -------------------------------------------------------------------------------------------------------------


def _split(cfg: HpeBenchConfig, uri: str | None, name: str, domain: str, n: int, seed: int) -> SplitSpec:
    return SplitSpec(uri) if uri is not None else spatialworld_split(cfg.data_dir, domain, name, n, cfg.size, seed)


def _train_config(
    cfg: HpeBenchConfig, run_dir: Path, tasks: list[TaskSpec], steps: int, lr: float, **kw
) -> TrainConfig:
    return TrainConfig(
        run_dir=str(run_dir),
        train=tasks[0].data,
        tasks=tasks,
        model=cfg.model,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        lr=lr,
        max_steps=steps,
        eval_every=0,
        save_every=0,
        device=cfg.device,
        **kw,
    )


def _generators(directory: Path, device: str, images: ImageCache) -> tuple[TextGenerator, TextGenerator, str]:
    """The model in ``directory`` as pose and refer answerers (40 and 24 new tokens, or the length its own answer
    syntax needs), and the box format its refer answers are written in."""
    model = load_model(directory, device=device)
    pose = model.generator(40, images=images, progress=True)
    return pose, model.generator(24, images=images, progress=True), model.box_format


def _evaluate_vlm(
    directory: Path, device: str, pose_task: PoseTask, pose_examples, refer_examples, images, numeric
) -> tuple[dict, list]:
    pose_answers, refer_answers, box_format = _generators(directory, device, images)
    refer_task = ReferTask(box_format)
    torch.manual_seed(0)  # sampled answers: every row draws the same random numbers, so equal models score equally
    preds = answer(pose_answers, pose_task, pose_examples, numeric)
    m = pose_task.score(preds, pose_examples)
    out = {k: m[k] for k in ("yaw", "pitch", "roll", "mae", "invalid", "blended")}
    out["head_acc50"] = m["box_acc50"]
    out["grounding_acc50"] = None
    if refer_examples:
        boxes = answer(refer_answers, refer_task, refer_examples, numeric)
        out["grounding_acc50"] = refer_task.score(boxes, refer_examples)["acc50"]
    return out, preds


def _draw(example, pred, path: Path, scale: int = 3) -> None:
    """The image with the true head box (green) and the predicted box (red) and pose axes."""
    image = example.sample.load_image().convert("RGB")
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    head = example.answer
    draw.rectangle([v * scale for v in head.box], outline=(0, 220, 0), width=2)
    label = f"true {head.yaw:+.0f} {head.pitch:+.0f} {head.roll:+.0f}"
    if pred.box is not None:
        draw.rectangle([v * scale for v in pred.box], outline=(230, 30, 30), width=2)
    if pred.pose is not None:
        x0, y0, x1, y1 = pred.box
        size = max(x1 - x0, 12) * 0.9 * scale
        draw_pose_axes(draw, ((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale), *pred.pose, size)
        label += f" | pred {pred.pose[0]:+.0f} {pred.pose[1]:+.0f} {pred.pose[2]:+.0f}"
    else:
        label += f" | {pred.kind}"
    draw.rectangle([0, 0, image.width, 14], fill=(0, 0, 0))
    draw.text((3, 1), label, fill=(255, 255, 255))
    image.save(path)


def run_hpe_bench(cfg: HpeBenchConfig, progress: bool = True) -> dict[str, Any]:
    """Run the whole pipeline; returns ``{"config", "rows", "seconds", "run_dir", "pictures"}`` and writes it to
    ``run_dir/bench-hpe.json``. Models go to ``run_dir/models/``; the run directory is started afresh."""
    t0 = time.perf_counter()
    device = str(resolve_device(cfg.device))
    cfg = replace(cfg, device=device)
    run = fresh_run(cfg.run_dir, "pictures")
    log = progress_log(progress)
    hf = bool(cfg.base_model) and model_manifest(cfg.base_model).kind == "hf"
    if hf:
        # A transformers VLM has no region tokens to re-read and no groundlm submodules to train beside LoRA.
        cfg = replace(cfg, reread=False, lora=replace(cfg.lora, train_modules=()))
    else:
        vision = tower_vision(cfg.tower, cfg.tower_preset, cfg.model.vision, cfg.freeze_tower, progress)
        cfg = replace(cfg, model=replace(cfg.model, vision=vision))
    train_spec = _split(cfg, cfg.train, "train", "headshot", cfg.n_train, cfg.seed)
    test_spec = _split(cfg, cfg.test, "test", "headshot-dusk", cfg.n_test, cfg.seed + 1)
    ground_spec = SplitSpec(cfg.grounding) if cfg.grounding else train_spec
    ground_test_spec = SplitSpec(cfg.grounding_test) if cfg.grounding_test else test_spec
    loaded: dict[str, data.SampleDataset] = {}

    def load(spec: SplitSpec) -> data.SampleDataset:
        if spec.uri not in loaded:
            loaded[spec.uri] = spec.load(progress)
        return loaded[spec.uri]

    train_ds, test_ds, ground_test = load(train_spec), load(test_spec), load(ground_test_spec)
    pose_task = PoseTask(reread=cfg.reread)
    pose_examples = evaluation_examples(test_ds, pose_task, cfg.eval_items)
    if not pose_examples:
        raise UserError(f"{test_spec.uri}: no head with a pose to test on")
    refer_examples = evaluation_examples(ground_test, ReferTask(), cfg.eval_items)
    has_grounding = any(ReferTask().items(s) for s in load(ground_spec))
    images = ImageCache()
    rows: list[dict[str, Any]] = []
    preds_of: dict[str, list] = {}

    def add(name: str, metrics: dict[str, Any], **info: Any) -> None:
        rows.append({"row": name, **{k: metrics.get(k) for k in COLUMNS}, **info})
        log(f"{name}: " + ", ".join(f"{k} {format_value(metrics.get(k))}" for k in COLUMNS))

    # Floor: the mean training pose for every test head.
    train_poses = np.array([(h.yaw, h.pitch, h.roll) for s in train_ds for h in s.heads], dtype=np.float64)
    mean_pose = tuple(float(v) for v in train_poses.mean(0))
    gts = [(e.answer.yaw, e.answer.pitch, e.answer.roll) for e in pose_examples]
    floor = pose_metrics([mean_pose] * len(gts), gts)
    add("mean-pose floor", {**floor, "blended": 0.0}, mean_pose=[round(v, 2) for v in mean_pose])

    # CNN crop baseline on ground-truth head boxes.
    log("training the CNN crop baseline")
    cnn = train_crop_pose(train_ds, cfg.cnn, progress=progress, device=device)
    cnn.save(run / "models" / "cnn")
    cnn_preds = [predict_crop_pose(cnn, images.get(e.sample), [e.answer.box])[0] for e in pose_examples]
    add("CNN crop (6DRepNet-style)", {**pose_metrics(cnn_preds, gts), "blended": 0.0})

    # 1. Grounding base.
    models = run / "models"
    if cfg.base_model:
        base_dir = Path(cfg.base_model)
    else:
        if not has_grounding:
            raise UserError(f"{ground_spec.uri}: no referring expressions to train the grounding base on")
        log("training the grounding base model (refer)")
        base_run = models / "base"
        train(
            _train_config(cfg, base_run, [TaskSpec("refer", 1.0, data=ground_spec)], cfg.base_steps, cfg.base_lr),
            progress=progress,
        )
        base_dir = base_run / "final"
    base_metrics, _ = _evaluate_vlm(base_dir, device, pose_task, pose_examples, refer_examples, images, cfg.numeric)
    add("grounding base (no pose)", base_metrics)

    # 2. LoRA fine-tunes per rehearsal ratio.
    tuned: dict[float, Path] = {}
    for r in cfg.ratios:
        if r > 0 and not has_grounding:
            log(f"skipping rehearsal ratio {r}: {ground_spec.uri} has no grounding data")
            continue
        log(f"LoRA fine-tuning for pose, rehearsal ratio {r}")
        tasks = [TaskSpec("pose", 1.0 - r, options={"reread": cfg.reread}, data=train_spec)]
        if r > 0:
            tasks.append(TaskSpec("refer", r, data=ground_spec))
        lora_run = models / f"lora-r{r:g}"
        start = {"base_model": str(base_dir), "backend": cfg.backend} if hf else {"init_from": str(base_dir)}
        train(
            _train_config(cfg, lora_run, tasks, cfg.lora_steps, cfg.lora_lr, lora=cfg.lora, **start), progress=progress
        )
        tuned[r] = lora_run / "final"
        name = f"LoRA only, r={r:g}"
        metrics, preds_of[name] = _evaluate_vlm(
            tuned[r], device, pose_task, pose_examples, refer_examples, images, cfg.numeric
        )
        add(name, metrics, ratio=r)

    # 3. Merges of the base with one fine-tune.
    if cfg.merge_ratio in tuned:
        ft = tuned[cfg.merge_ratio]
        merges: list[tuple[str, dict[str, Any]]] = [
            ("task arithmetic", {"method": "task_arithmetic", "weights": [cfg.task_weight]}),
            ("TIES", {"method": "ties", "weights": [cfg.task_weight], "density": cfg.density}),
            ("DARE (linear)", {"method": "dare_linear", "weights": [cfg.task_weight], "density": cfg.density}),
        ] + [
            (f"layer selection, τ={tau:g}", {"method": "layer_select", "tau": tau, "granularity": cfg.granularity})
            for tau in cfg.taus
        ]
        for name, kwargs in merges:
            out_dir = models / f"merge-{kwargs['method']}-{kwargs.get('tau', '')}".rstrip("-")
            log(f"merging: {name}")
            report = merge_saved_models(base_dir, [ft], out_dir, seed=cfg.seed, **kwargs)
            metrics, preds_of[name] = _evaluate_vlm(
                out_dir, device, pose_task, pose_examples, refer_examples, images, cfg.numeric
            )
            info = {"merged_ratio": cfg.merge_ratio, **{k: v for k, v in kwargs.items() if k != "method"}}
            if "taken" in report:
                info["layers_taken"] = report["taken"]
            add(name, metrics, **info)
    else:
        log(f"no fine-tune at merge_ratio {cfg.merge_ratio}: merges skipped")

    # Pictures of the VLM row with the lowest MAE.
    pictures: list[str] = []
    valid = [r for r in rows if r["row"] in preds_of and r["mae"] is not None and not math.isnan(r["mae"])]
    best = min(valid, key=lambda r: r["mae"])["row"] if valid else None
    if best is not None and cfg.pictures:
        (run / "pictures").mkdir(parents=True, exist_ok=True)
        for i, (e, p) in enumerate(list(zip(pose_examples, preds_of[best]))[: cfg.pictures]):
            path = run / "pictures" / f"{i:02d}-{e.sample.id}.png"
            _draw(e, p, path)
            pictures.append(str(path))
    result = {
        "config": cfg.to_dict(),
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
        "pictures": pictures,
        "best_vlm_row": best,
        "test_heads": len(pose_examples),
        "grounding_items": len(refer_examples),
    }
    (run / "bench-hpe.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def format_hpe_table(result: dict[str, Any]) -> str:
    rows = [(r["row"], {k: r[k] for k in COLUMNS}) for r in result["rows"]]
    cfg = result["config"]
    title = (
        f"HPE-CogVLM bench: train {cfg['train'] or 'SpatialWorld headshot'} -> test "
        f"{cfg['test'] or 'SpatialWorld headshot-dusk'}; {result['test_heads']} test heads, "
        f"{result['grounding_items']} grounding items; angles in degrees (MAE over valid answers); "
        f"{result['seconds'] / 60:.1f} min"
    )
    return format_table(title, rows)
