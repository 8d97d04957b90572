"""HPE-CogVLM's recipe: grounding base -> pose fine-tunes per rehearsal ratio -> merges -> evaluation
(docs/architecture.md, section 6.1).

1. a grounding base model (``refer``: expression -> box), the analogue of CogVLM-grounding (or ``base_model``:
   a groundlm model directory, or a transformers VLM's, e.g. Qwen2-VL, answering in its own box syntax);
2. LoRA fine-tunes for head pose (``pose``), one per rehearsal ratio ``r``: a share ``r`` of the examples are
   grounding examples from the base model's data, the rest pose examples;
3. merges of the base and the fine-tune trained at ``merge_ratio``: task arithmetic, TIES, DARE (linear) and the
   layer-selection merge per threshold ``τ``;
4. every model above evaluated on the test domain: pose MAE per angle and mean (degrees, over valid answers),
   invalid share (of which blended and unparsed), head-box Acc@0.5, and grounding Acc@0.5 (forgetting).

Train on domain A, test on domain B: by default SpatialWorld ``headshot`` -> ``headshot-dusk`` (the analogue of
300W-LP -> AFLW2000); ``train``/``test`` URIs run the same protocol on real data. :func:`hpe_cogvlm` runs it alone
(``groundlm recipe hpe``); ``groundlm bench hpe`` adds its baselines around :func:`run_hpe_cogvlm`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from groundlm import data
from groundlm.backends.base import BackendOptions
from groundlm.bench.run import (
    BenchConfig,
    apply_preset,
    progress_log,
    quick_language,
    start_run,
    tower_vision,
    write_result,
)
from groundlm.errors import UserError
from groundlm.evaluation.table import format_table, format_value
from groundlm.formats.numeric import NumericDecoding
from groundlm.inference import ImageCache, TextGenerator, answer, load_model, model_manifest
from groundlm.inference.merge import merge_saved_models
from groundlm.methods.hpe_cogvlm.task_pose import PoseTask
from groundlm.models.config import LanguageConfig, VLMConfig
from groundlm.models.lora import LoraSpec
from groundlm.tasks import ReferTask
from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig
from groundlm.train.loop import train
from groundlm.train.stream import evaluation_examples

_LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
COLUMNS = ("yaw", "pitch", "roll", "mae", "invalid", "blended", "head_acc50", "grounding_acc50")


def _quick_model() -> VLMConfig:
    """The quick VLM: the pretrained tower (``tower``, filled in at run time) and a small Llama."""
    return VLMConfig(language=quick_language(), patch_position="sincos")


@dataclass
class HpeCogvlmConfig(BenchConfig):
    """The recipe's sizes and choices; ``train``/``test`` are the pose data of domains A and B (``None``:
    SpatialWorld ``headshot`` and ``headshot-dusk``)."""

    run_dir: str = "runs/hpe-cogvlm"
    grounding: str | None = None  # URI of grounding data for the base and rehearsal; None: the train split
    grounding_test: str | None = None  # None: the test split
    n_train: int = 3000
    n_test: int = 300
    base_model: str | None = None  # a trained grounding model directory (groundlm's or transformers'): skip step 1
    # How a transformers base is loaded for its LoRA runs: activations recomputed in the backward pass, since a
    # real-size VLM's batch of 32 would not fit otherwise.
    backend: BackendOptions = field(default_factory=lambda: BackendOptions(gradient_checkpointing=True))
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
    batch_size: int = 32
    eval_items: int = 200
    # How the VLMs' angles (and boxes) are decoded: by default the median of 16 sampled answers (formats.numeric),
    # the estimate that minimises the expected absolute error (measured on a pose LoRA: MAE 12.45 against 13.16
    # for the mean of the same samples).
    numeric: NumericDecoding = field(default_factory=lambda: NumericDecoding("median", 16))


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
    ),
    # --quick: on 2 CPU cores within 30 minutes.
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


def preset(name: str, **overrides: Any) -> HpeCogvlmConfig:
    return apply_preset(HpeCogvlmConfig(), PRESETS, name, overrides)


Report = Callable[..., None]
"""``report(row_name, metrics, **info)``: called with each evaluated model, in the order of the table."""


def row_collector(rows: list[dict[str, Any]], log: Callable[[str], None]) -> Report:
    """A :data:`Report` that appends a table row (``row``, :data:`COLUMNS`, ``info``) to ``rows`` and logs it."""

    def add(name: str, metrics: dict[str, Any], **info: Any) -> None:
        rows.append({"row": name, **{k: metrics.get(k) for k in COLUMNS}, **info})
        log(f"{name}: " + ", ".join(f"{k} {format_value(metrics.get(k))}" for k in COLUMNS))

    return add


# -------------------------------------------------------------------------------------------------------------


def uses_transformers_base(cfg: HpeCogvlmConfig) -> bool:
    return bool(cfg.base_model) and model_manifest(cfg.base_model).kind == "hf"


def prepared(cfg: HpeCogvlmConfig, progress: bool = True) -> HpeCogvlmConfig:
    """``cfg`` made ready to run: a transformers base re-reads nothing and trains no groundlm module beside LoRA;
    otherwise the model's vision is the pretrained tower (built first when missing)."""
    if uses_transformers_base(cfg):
        # A transformers VLM has no region tokens to re-read and no groundlm submodules to train beside LoRA.
        return replace(cfg, reread=False, lora=replace(cfg.lora, train_modules=()))
    vision = tower_vision(cfg.tower, cfg.tower_preset, cfg.model.vision, cfg.freeze_tower, progress)
    return replace(cfg, model=replace(cfg.model, vision=vision))


@dataclass
class HpeData:
    """The recipe's data, loaded once: the split specs, the pose training set, the test domain's pose and referring
    examples (at most ``eval_items`` each), and whether the grounding data has referring expressions at all."""

    train: SplitSpec
    test: SplitSpec
    grounding: SplitSpec
    grounding_test: SplitSpec
    train_set: data.SampleDataset
    pose_task: PoseTask
    pose_examples: list
    refer_examples: list
    has_grounding: bool


def load_hpe_data(cfg: HpeCogvlmConfig, progress: bool = True) -> HpeData:
    """The splits of ``cfg`` (SpatialWorld's generated when missing) and their evaluation examples."""
    train_spec = cfg.split(cfg.train, "headshot", "train", cfg.n_train, cfg.seed)
    test_spec = cfg.split(cfg.test, "headshot-dusk", "test", cfg.n_test, cfg.seed + 1)
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
    return HpeData(
        train=train_spec,
        test=test_spec,
        grounding=ground_spec,
        grounding_test=ground_test_spec,
        train_set=train_ds,
        pose_task=pose_task,
        pose_examples=pose_examples,
        refer_examples=evaluation_examples(ground_test, ReferTask(), cfg.eval_items),
        has_grounding=any(ReferTask().items(s) for s in load(ground_spec)),
    )


def _train_config(
    cfg: HpeCogvlmConfig, run_dir: Path, tasks: list[TaskSpec], steps: int, lr: float, **kw
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


def evaluate_vlm(directory: Path, cfg: HpeCogvlmConfig, d: HpeData, images: ImageCache) -> tuple[dict[str, Any], list]:
    """The model in ``directory`` on the test domain: :data:`COLUMNS` and its pose answers."""
    pose_answers, refer_answers, box_format = _generators(directory, cfg.device, images)
    refer_task = ReferTask(box_format)
    torch.manual_seed(0)  # sampled answers: every row draws the same random numbers, so equal models score equally
    preds = answer(pose_answers, d.pose_task, d.pose_examples, cfg.numeric)
    m = d.pose_task.score(preds, d.pose_examples)
    out = {k: m[k] for k in ("yaw", "pitch", "roll", "mae", "invalid", "blended")}
    out["head_acc50"] = m["box_acc50"]
    out["grounding_acc50"] = None
    if d.refer_examples:
        boxes = answer(refer_answers, refer_task, d.refer_examples, cfg.numeric)
        out["grounding_acc50"] = refer_task.score(boxes, d.refer_examples)["acc50"]
    return out, preds


def run_hpe_cogvlm(
    cfg: HpeCogvlmConfig,
    models: Path,
    d: HpeData,
    report: Report,
    images: ImageCache | None = None,
    progress: bool = True,
) -> dict[str, list]:
    """Steps 1-4 on a :func:`prepared` config with its device resolved: models go to ``models/`` (``base``,
    ``lora-r<r>``, ``merge-<method>[-<τ>]``), each evaluated model is passed to ``report`` as it is scored. Returns
    the pose answers of each row, by row name (the fine-tunes and merges)."""
    log = progress_log(progress)
    images = images or ImageCache()
    hf = uses_transformers_base(cfg)
    preds_of: dict[str, list] = {}

    # 1. Grounding base.
    if cfg.base_model:
        base_dir = Path(cfg.base_model)
    else:
        if not d.has_grounding:
            raise UserError(f"{d.grounding.uri}: no referring expressions to train the grounding base on")
        log("training the grounding base model (refer)")
        base_run = models / "base"
        train(
            _train_config(cfg, base_run, [TaskSpec("refer", 1.0, data=d.grounding)], cfg.base_steps, cfg.base_lr),
            progress=progress,
        )
        base_dir = base_run / "final"
    base_metrics, _ = evaluate_vlm(base_dir, cfg, d, images)
    report("grounding base (no pose)", base_metrics)

    # 2. LoRA fine-tunes per rehearsal ratio.
    tuned: dict[float, Path] = {}
    for r in cfg.ratios:
        if r > 0 and not d.has_grounding:
            log(f"skipping rehearsal ratio {r}: {d.grounding.uri} has no grounding data")
            continue
        log(f"LoRA fine-tuning for pose, rehearsal ratio {r}")
        tasks = [TaskSpec("pose", 1.0 - r, options={"reread": cfg.reread}, data=d.train)]
        if r > 0:
            tasks.append(TaskSpec("refer", r, data=d.grounding))
        lora_run = models / f"lora-r{r:g}"
        start = {"base_model": str(base_dir), "backend": cfg.backend} if hf else {"init_from": str(base_dir)}
        train(
            _train_config(cfg, lora_run, tasks, cfg.lora_steps, cfg.lora_lr, lora=cfg.lora, **start), progress=progress
        )
        tuned[r] = lora_run / "final"
        name = f"LoRA only, r={r:g}"
        metrics, preds_of[name] = evaluate_vlm(tuned[r], cfg, d, images)
        report(name, metrics, ratio=r)

    # 3. Merges of the base with one fine-tune.
    if cfg.merge_ratio not in tuned:
        log(f"no fine-tune at merge_ratio {cfg.merge_ratio}: merges skipped")
        return preds_of
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
        merged = merge_saved_models(base_dir, [ft], out_dir, seed=cfg.seed, **kwargs)
        metrics, preds_of[name] = evaluate_vlm(out_dir, cfg, d, images)
        info = {"merged_ratio": cfg.merge_ratio, **{k: v for k, v in kwargs.items() if k != "method"}}
        if "taken" in merged:
            info["layers_taken"] = merged["taken"]
        report(name, metrics, **info)
    return preds_of


def hpe_cogvlm(cfg: HpeCogvlmConfig, progress: bool = True) -> dict[str, Any]:
    """The whole recipe in ``cfg.run_dir`` (its ``models/`` started afresh); returns ``{"config", "rows", "seconds",
    "run_dir", "test_heads", "grounding_items"}`` and writes it to ``run_dir/hpe-cogvlm.json``."""
    t0 = time.perf_counter()
    cfg, run, log = start_run(cfg, progress)
    cfg = prepared(cfg, progress)
    d = load_hpe_data(cfg, progress)
    rows: list[dict[str, Any]] = []
    run_hpe_cogvlm(cfg, run / "models", d, row_collector(rows, log), progress=progress)
    result = {
        "config": cfg.to_dict(),
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
        "test_heads": len(d.pose_examples),
        "grounding_items": len(d.refer_examples),
    }
    write_result(run, "hpe-cogvlm", result)
    return result


def format_hpe_table(result: dict[str, Any], name: str = "HPE-CogVLM") -> str:
    """The rows of :func:`hpe_cogvlm` (or of the bench) as a table titled with the data and timing."""
    rows = [(r["row"], {k: r[k] for k in COLUMNS}) for r in result["rows"]]
    cfg = result["config"]
    title = (
        f"{name}: train {cfg['train'] or 'SpatialWorld headshot'} -> test "
        f"{cfg['test'] or 'SpatialWorld headshot-dusk'}; {result['test_heads']} test heads, "
        f"{result['grounding_items']} grounding items; angles in degrees (MAE over valid answers); "
        f"{result['seconds'] / 60:.1f} min"
    )
    return format_table(title, rows)


run_recipe = hpe_cogvlm  # what `groundlm recipe hpe` runs (groundlm.methods.recipe_module)
