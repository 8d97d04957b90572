"""``groundlm bench depth``: LLM-MDE's ablation table (docs/architecture.md, section 6.2), every row trained and
measured in the run.

Two protocols, one test domain:

* **zero-shot**: train on the source data (SpatialWorld ``classic`` and ``vivid`` by default, or ``train``), test on
  another domain (``portrait``, or ``test``) never seen in training; predictions are median-aligned per image (the
  scale of an unseen domain is not knowable), as zero-shot depth is usually scored.
* **k-shot**: train on ``k`` images per scene type of the test domain (a pool disjoint from the test images), for
  each ``k`` in ``shots``; metric depth, no alignment (the floor is median-aligned, as it is defined).

Rows: the full LLM-MDE (adaptive prompt, reprogramming, LoRA on the LM's q/k/v, an LM pretrained on SpatialWorld
text by the project's trainer), then one change each: no prompt, fixed prompt, a linear projection instead of the
reprogramming, the LM frozen, a random LM; the full model with another seed (how far rows differ by chance alone);
the tower alone under the adaptation head (no LM); the CNN baseline (GLPN from scratch, same data and budget) and
the floor (the training set's mean depth map, median-aligned). The pretrained tower is frozen in every row that
uses it and never saw the test domain. Columns: AbsRel, RMSE (m), log10, δ1, δ2, δ3 (:mod:`groundlm.metrics.depth`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from groundlm.baselines.depth_cnn import DepthCNN, DepthCNNConfig, MeanDepthMap, TowerDepth
from groundlm.bench.run import (
    BenchConfig,
    apply_preset,
    quick_language,
    start_run,
    tower_vision,
    write_result,
)
from groundlm.data.sample import Sample
from groundlm.errors import UserError
from groundlm.evaluation.table import format_table, format_value
from groundlm.inference.loader import is_model_dir, load_vlm
from groundlm.methods.llm_mde.inference_depth import evaluate_depth
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, DepthLMConfig
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.methods.llm_mde.train_depth import fit_depth, with_depth
from groundlm.models.config import LanguageConfig, VisionConfig, VLMConfig
from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig
from groundlm.train.loop import train

COLUMNS = ("abs_rel", "rmse", "log10", "d1", "d2", "d3")
FULL = "LLM-MDE (adaptive prompt, reprogramming, LoRA, SpatialWorld LM)"
CNN = "CNN (GLPN)"
TOWER_ONLY = "no LM (tower -> adaptation head)"
FLOOR = "floor: mean depth map"
# The ablations: one change each to the full model (DepthLMConfig fields; "lm": which LM).
ABLATIONS: dict[str, dict[str, Any]] = {
    FULL: {},
    "no prompt": {"prompt": "none"},
    "fixed prompt": {"prompt": "fixed"},
    "no reprogramming (linear projection)": {"reprogramming": False},
    "frozen LM": {"lm_training": "frozen"},
    "random LM": {"lm": "random"},
    # The full model again with another seed (initialisation and batch order): the spread the rows above sit in.
    "LLM-MDE, another seed": {"seed": 1},
}


@dataclass
class DepthBenchConfig(BenchConfig):
    run_dir: str = "runs/bench-depth"
    train: str | None = None  # zero-shot training data; None: SpatialWorld source_domains
    test: str | None = None  # test data; None: SpatialWorld test_domain
    pool: str | None = None  # k-shot images; None: the test domain (another seed), or ``train`` when that is given
    source_domains: tuple[str, ...] = ("classic", "vivid")
    test_domain: str = "portrait"
    n_source: int = 1200  # per source domain (the quick tower's own pretraining images: no new data to generate)
    n_pool: int = 200
    n_test: int = 100
    size: int = 128
    shots: tuple[int, ...] = (1, 4, 16)
    shot_rows: tuple[str, ...] = ("llm-mde", "cnn", "floor")
    tower: str | None = "runs/towers/quick"  # built with tower_preset when missing; None: model.vision from scratch
    tower_preset: str = "quick"
    language: LanguageConfig = field(default_factory=quick_language)
    # The pretrained LM: a groundlm model directory (its LM is taken) or a transformers LM directory; None
    # pretrains one with the project's trainer (region captions and referring expressions on the source data).
    lm: str | None = None
    lm_steps: int = 300
    model: DepthLMConfig = field(
        default_factory=lambda: DepthLMConfig(prototypes=256, heads=4, lm_training="lora", lora_rank=8)
    )
    steps: int = 400
    shot_steps: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    loss: str = "silog"
    cnn: DepthCNNConfig = field(default_factory=DepthCNNConfig)


PRESETS: dict[str, dict[str, Any]] = {
    # --quick: the whole table on 2 CPU cores within 30 minutes (the quick tower built first when missing).
    "quick": dict(),
    # The sizes meant for a GPU.
    "full": dict(
        n_source=5000,
        n_pool=400,
        n_test=500,
        size=224,
        shots=(1, 2, 4, 8, 16, 32),
        tower="runs/towers/full",
        tower_preset="full",
        language=LanguageConfig(
            kind="llama", hidden_size=512, num_layers=8, num_heads=8, intermediate_size=1536, max_positions=512
        ),
        lm_steps=3000,
        model=DepthLMConfig(prototypes=1000, heads=8, lm_training="lora", lora_rank=16),
        steps=6000,
        shot_steps=1500,
        batch_size=32,
        cnn=DepthCNNConfig(widths=(32, 64, 160, 256), depths=(2, 2, 2, 2), heads=(1, 2, 5, 8), decoder=64),
    ),
}


def preset(name: str, **overrides: Any) -> DepthBenchConfig:
    return apply_preset(DepthBenchConfig(), PRESETS, name, overrides)


# -------------------------------------------------------------------------------------------------------------


def _samples(specs: list[SplitSpec], where: str, progress: bool) -> list[Sample]:
    return with_depth([s for spec in specs for s in spec.load(progress)], where)


def k_shot(pool: list[Sample], k: int) -> list[Sample]:
    """The first ``k`` samples of each scene type in ``pool`` (samples without one form one group)."""
    groups: dict[str | None, list[Sample]] = defaultdict(list)
    for s in pool:
        if len(groups[s.scene_type]) < k:
            groups[s.scene_type].append(s)
    return [s for g in groups.values() for s in g]


def _pretrained_lm(
    cfg: DepthBenchConfig, text_data: SplitSpec, vision: VisionConfig, out: Path, progress: bool
) -> Path:
    """A directory holding a causal LM pretrained on SpatialWorld text: the LM of a grounded VLM trained with the
    project's trainer on region captions and referring expressions of ``text_data`` (or of ``cfg.lm``)."""
    if cfg.lm and not is_model_dir(cfg.lm):
        if not (Path(cfg.lm) / "config.json").is_file():
            raise UserError(f"--lm {cfg.lm}: not a groundlm model or transformers LM directory (no config.json)")
        return Path(cfg.lm)
    model_dir = cfg.lm
    if model_dir is None:
        tasks = [TaskSpec("region_caption", 1.0, data=text_data), TaskSpec("refer", 1.0, data=text_data)]
        tcfg = TrainConfig(
            run_dir=str(out.parent / "lm-pretrain"),
            train=text_data,
            tasks=tasks,
            model=VLMConfig(vision=vision, language=cfg.language, patch_position="sincos"),
            seed=cfg.seed,
            batch_size=32,
            lr=1e-3,
            max_steps=cfg.lm_steps,
            eval_every=0,
            save_every=0,
            device=cfg.device,
        )
        model_dir = train(tcfg, progress=progress)["final_model"]
    load_vlm(model_dir).lm.save_pretrained(str(out))
    return out


def run_depth_bench(cfg: DepthBenchConfig, progress: bool = True) -> dict[str, Any]:
    """Run every row; returns ``{"config", "zero_shot", "k_shot", "seconds", ...}`` and writes it to
    ``run_dir/bench-depth.json``. Models go to ``run_dir/models/`` (started afresh)."""
    t0 = time.perf_counter()
    cfg, run, log = start_run(cfg, progress)
    device = cfg.device
    vision = tower_vision(cfg.tower, cfg.tower_preset, cfg.model.vision, progress=progress)
    if cfg.train:
        source = [SplitSpec(cfg.train)]
    else:
        source = [cfg.split(None, d, "pretrain", cfg.n_source, 100) for d in cfg.source_domains]
    test_spec = cfg.split(cfg.test, cfg.test_domain, "test", cfg.n_test, 11)
    if cfg.pool:
        pool_spec = SplitSpec(cfg.pool)
    else:
        pool_spec = source[0] if cfg.train else cfg.split(None, cfg.test_domain, "pool", cfg.n_pool, 12)
    source_samples = _samples(source, "zero-shot training data", progress)
    test = _samples([test_spec], "depth test data", progress)[: cfg.n_test]
    pool = _samples([pool_spec], "k-shot pool", progress)

    log("pretraining the LM on SpatialWorld text" if cfg.lm is None else f"taking the LM of {cfg.lm}")
    # SpatialWorld's text whatever the depth data (real depth datasets carry no captions or expressions).
    text_data = cfg.split(None, cfg.source_domains[0], "pretrain", cfg.n_source, 100)
    lm_dir = _pretrained_lm(cfg, text_data, vision, run / "models" / "lm", progress)
    lm_tokenizer = str(lm_dir) if (lm_dir / "tokenizer.json").is_file() else None
    pretrained = replace(cfg.language, path=str(lm_dir))

    def depth_lm(**change: Any) -> DepthLM:
        lm = change.pop("lm", "pretrained")
        seed = cfg.seed + change.pop("seed", 0)
        mcfg = replace(cfg.model, vision=vision, **change)
        if lm == "pretrained":
            mcfg = replace(mcfg, language=pretrained, tokenizer=lm_tokenizer)
        else:
            mcfg = replace(mcfg, language=replace(cfg.language, path=None))
        torch.manual_seed(seed)
        return DepthLM(mcfg)

    def measure(model, batcher: DepthBatcher, train_samples: list[Sample], steps: int, align: str, name: str):
        seconds = 0.0
        if steps and any(p.requires_grad for p in model.parameters()):
            seed = cfg.seed + ABLATIONS.get(name, {}).get("seed", 0)
            seconds = fit_depth(
                model, batcher, train_samples, steps, cfg.batch_size, cfg.lr, cfg.loss, seed,
                device=device, progress=progress, desc=name[:24],
            )  # fmt: skip
        metrics = evaluate_depth(model.to(device), batcher, test, align)
        return {k: metrics[k] for k in COLUMNS}, round(seconds, 1)

    # The baselines' loss and the floor's map compare at LLM-MDE's output size.
    out_size = vision.image_size // vision.patch_size * 2**cfg.model.head_blocks
    plain = DepthBatcher(vision.image_size, out_size, vision.image_mean, vision.image_std, cfg.model.max_depth)

    def row_model(kind: str, train_samples: list[Sample], name: str):
        if kind == "tower":
            torch.manual_seed(cfg.seed)
            return TowerDepth(vision, cfg.model.head_channels, cfg.model.head_blocks, cfg.model.max_depth), plain
        if kind == "cnn":
            return DepthCNN(replace(cfg.cnn, max_depth=round(cfg.model.max_depth))), plain
        if kind == "floor":
            return MeanDepthMap(plain, train_samples), plain
        model = depth_lm(**ABLATIONS[name])
        return model, DepthBatcher.for_model(model)

    zero_rows: list[dict[str, Any]] = []
    plan = [(name, "llm-mde") for name in ABLATIONS] + [(TOWER_ONLY, "tower"), (CNN, "cnn"), (FLOOR, "floor")]
    for name, kind in plan:
        log(f"zero-shot: {name}")
        model, batcher = row_model(kind, source_samples, name)
        align = "median"
        metrics, seconds = measure(model, batcher, source_samples, cfg.steps, align, name)
        zero_rows.append({"row": name, **metrics, "train_seconds": seconds})
        log(f"  {name}: " + ", ".join(f"{k} {format_value(metrics[k])}" for k in COLUMNS))
        if name == FULL:
            model.save_pretrained(run / "models" / "llm-mde-zero-shot")

    shot_rows: list[dict[str, Any]] = []
    labels = {"llm-mde": FULL, "cnn": CNN, "floor": FLOOR}
    for k in cfg.shots:
        chosen = k_shot(pool, k)
        for kind in cfg.shot_rows:
            name = labels[kind]
            log(f"{k}-shot ({len(chosen)} images): {name}")
            model, batcher = row_model(kind, chosen, name)
            align = "median" if kind == "floor" else "none"
            metrics, seconds = measure(model, batcher, chosen, cfg.shot_steps, align, f"{k}-shot {kind}")
            shot_rows.append(
                {"row": f"{k}-shot {name}", "k": k, "images": len(chosen), **metrics, "train_seconds": seconds}
            )
            log(f"  {k}-shot {name}: " + ", ".join(f"{kk} {format_value(metrics[kk])}" for kk in COLUMNS))

    full = next(r for r in zero_rows if r["row"] == FULL)
    floor = next(r for r in zero_rows if r["row"] == FLOOR)
    result = {
        "benchmark": "depth",
        "config": asdict(cfg),
        "zero_shot": {
            "train": cfg.train or "SpatialWorld " + " + ".join(cfg.source_domains),
            "test": cfg.test or f"SpatialWorld {cfg.test_domain}",
            "train_images": len(source_samples),
            "test_images": len(test),
            "align": "median",
            "rows": zero_rows,
        },
        "k_shot": {"pool": pool_spec.uri, "align": "none (floor: median)", "rows": shot_rows},
        "full_vs_floor_abs_rel": round(full["abs_rel"] / floor["abs_rel"], 3),
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
    }
    write_result(run, "bench-depth", result)
    return result


def format_depth_tables(result: dict[str, Any]) -> str:
    zs, ks = result["zero_shot"], result["k_shot"]
    zero = format_table(
        f"LLM-MDE bench, zero-shot: train {zs['train']} ({zs['train_images']} images) -> test {zs['test']} "
        f"({zs['test_images']} images), median-aligned; RMSE in metres; {result['seconds'] / 60:.1f} min in all",
        [(r["row"], {k: r[k] for k in COLUMNS}) for r in zs["rows"]],
    )
    shots = format_table(
        f"k-shot: k images per scene type of {zs['test']} ({ks['pool']}), metric (no alignment; floor median-aligned)",
        [(r["row"], {"images": r["images"], **{k: r[k] for k in COLUMNS}}) for r in ks["rows"]],
    )
    ratio = result["full_vs_floor_abs_rel"]
    return f"{zero}\n\n{shots}\n\nzero-shot AbsRel, full LLM-MDE / floor: {ratio} (target < 0.7)"
