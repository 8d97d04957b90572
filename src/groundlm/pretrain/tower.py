"""``groundlm pretrain``: a vision tower pretrained on SpatialWorld's dense labels (docs/architecture.md,
section 5.4).

The seed systems stand on towers pretrained on a web of images; ours stands on a tower that learned, from exact
labels over a broad mix of domains and scene types, per-cell metric depth (SILog), object classes, instance
boundaries, colour and texture names, head landmarks and head orientation (:mod:`groundlm.pretrain.heads`). The
heads are thrown away; the output is a tower directory (:func:`groundlm.models.backbones.save_tower`) that a VLM
config loads with ``vision: {path: DIR}`` (add ``freeze: true`` to keep it fixed). Every bench's test domain stays
out of the mix.

Training runs on the shared engine (:mod:`groundlm.train.engine`: AdamW, a cosine schedule, the metrics log,
checkpoints and exact resumption) over images and targets held in memory, with random horizontal flips and
photometric jitter.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from groundlm import data
from groundlm.device import resolve_device
from groundlm.errors import UserError
from groundlm.geometry.rotations import matrix_to_euler, sixd_to_matrix
from groundlm.models.backbones import (
    VisionTower,
    build_vision,
    is_tower_dir,
    normalized,
    read_tower,
    resized_rgb,
    save_tower,
)
from groundlm.models.config import VisionConfig
from groundlm.pretrain.heads import LOSSES, MIN_HEAD_COVER, DenseHeads, dense_losses
from groundlm.pretrain.targets import CLASSES, dense_targets, flip_targets, head_cover_maps
from groundlm.train.checkpoint import checkpoint_to_resume
from groundlm.train.config import SplitSpec, load_typed
from groundlm.train.engine import Engine, Trainable
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import build_optimizer, cosine_schedule

# Domains the quick tower sees: every scene type, three looks and the close-up head framing. Left out: the test
# domains of the benches (headshot-dusk for head pose; portrait, and sparse that shares its look, for refer).
QUICK_DOMAINS = ("classic", "vivid", "dusk", "headshot")


def _mix(domains: tuple[str, ...], n: int, size: int, seed: int, data_dir: str = "runs/data") -> list[SplitSpec]:
    return [
        SplitSpec(
            f"spatialworld:{data_dir}/{d}-pretrain-{n}-{size}",
            {"n": n, "seed": seed, "size": size, "domain": d},
        )
        for d in domains
    ]


def _quick_vision() -> VisionConfig:
    return VisionConfig(kind="resnet", image_size=128, patch_size=16, hidden_size=128, num_layers=6)


@dataclass
class TowerPretrainConfig:
    out: str = "runs/towers/quick"  # the tower directory written at the end (metrics.csv and summary.json too)
    vision: VisionConfig = field(default_factory=_quick_vision)
    data: list[SplitSpec] = field(default_factory=lambda: _mix(QUICK_DOMAINS, 1200, 128, 100))
    # Held-out splits, only measured (a bench's test domain may be measured here, never trained on).
    val: list[SplitSpec] = field(default_factory=list)
    steps: int = 3000
    save_every: int = 0  # a checkpoint every this many steps and after the last (0: none), to resume from
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {
            "depth": 0.1,
            "category": 1.0,
            "boundary": 1.0,
            "landmarks": 5.0,
            "color": 1.0,
            "texture": 1.0,
            "rotation": 3.0,
        }
    )
    flip: bool = True
    # Photometric strength: brightness and contrast within 1 +- jitter, per-channel gains within 1 +- jitter / 4 (kept
    # small so that a colour keeps its name: red must not turn orange).
    jitter: float = 0.3
    head_hidden: int = 128
    val_items: int = 300
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.loss_weights) - set(LOSSES)
        if unknown:
            raise UserError(f"loss_weights: unknown loss(es) {sorted(unknown)}; known: {', '.join(LOSSES)}")
        if not self.data:
            raise UserError("a tower needs at least one training split in 'data'")
        if self.steps < 1 or self.batch_size < 1:
            raise UserError("steps and batch_size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # configs/tower-quick.yaml: 3,000 steps of 32 at about 9.5 steps/s on 2 CPU cores, plus data generation.
    "quick": dict(
        val=[
            SplitSpec(
                "spatialworld:runs/data/headshot-val-200-128",
                {"n": 200, "seed": 101, "size": 128, "domain": "headshot"},
            ),
            SplitSpec(
                "spatialworld:runs/data/headshot-dusk-test-300-128",
                {"n": 300, "seed": 1, "size": 128, "domain": "headshot-dusk"},
            ),
            # refer-quick's validation split: colour and texture names on scenes the tower never saw.
            SplitSpec("spatialworld:runs/data/portrait-val", {"n": 200, "seed": 1, "size": 128, "domain": "portrait"}),
        ]
    ),
    # make demo's tower: the same mix, fewer images and steps.
    "demo": dict(data=_mix(QUICK_DOMAINS, 600, 128, 100), steps=1500),
    # GPU sizes: 224-pixel images, a wider and deeper ResNet, more of everything.
    "full": dict(
        vision=VisionConfig(kind="resnet", image_size=224, patch_size=16, hidden_size=256, num_layers=8),
        val=[],
        data=_mix(QUICK_DOMAINS, 5000, 224, 100),
        steps=20000,
        batch_size=64,
    ),
}


def preset(name: str, **overrides: Any) -> TowerPretrainConfig:
    if name not in PRESETS:
        raise UserError(f"unknown tower preset {name!r}; known: {', '.join(PRESETS)}")
    return replace(TowerPretrainConfig(), **{**PRESETS[name], **overrides})


def load_pretrain_config(path: str | Path, overrides: list[str] = ()) -> TowerPretrainConfig:
    """A tower pretraining config from YAML (fields of :class:`TowerPretrainConfig`), with ``--set`` overrides."""
    return load_typed(TowerPretrainConfig, path, overrides)


# -------------------------------------------------------------------------------------------------------------


def _tensors(samples: list[data.Sample], size: int, grid: int, progress: bool) -> tuple[torch.Tensor, dict]:
    """Images ``[N, 3, S, S]`` uint8 and targets (dict of ``[N, ...]`` float tensors) in memory."""
    images, targets = [], []
    for s in tqdm(samples, desc="tower targets", unit="img", disable=not progress, leave=False):
        images.append(torch.from_numpy(resized_rgb(s.load_image(), size)).permute(2, 0, 1))
        targets.append(dense_targets(s, size, grid).as_dict())
    stacked = {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}
    return torch.stack(images), stacked


def _jitter(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Random brightness and contrast within ``1 +- strength`` and per-channel gains within ``1 +- strength / 4``;
    ``x`` ``[B, 3, S, S]`` in [0, 1]."""
    b = x.shape[0]

    def factor(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (1.0 + scale * strength * (2 * torch.rand(*shape, generator=gen) - 1)).to(x.device)

    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * factor(b, 1, 1, 1) + mean
    x = x * factor(b, 1, 1, 1) * factor(b, 3, 1, 1, scale=0.25)
    return x.clamp(0, 1)


def _features(tower: VisionTower, pixels: torch.Tensor) -> torch.Tensor:
    """``[B, D, g, g]`` feature map of the tower (its tokens in row-major order, reshaped)."""
    tokens = tower(pixels)
    b, _, d = tokens.shape
    return tokens.transpose(1, 2).reshape(b, d, tower.grid, tower.grid)


@torch.no_grad()
def evaluate_tower(
    tower: VisionTower, heads: DenseHeads, cfg: VisionConfig, dataset: data.SampleDataset, limit: int
) -> dict[str, float]:
    """Held-out numbers of the tower with its heads: per-cell depth AbsRel (cells with depth), class, colour and
    texture accuracy (cells where one class, or one colour or texture name, covers at least half), and the
    head-pose probe: each head's rotation is the mean of the predicted rotations over the cells it covers (at least
    ``MIN_HEAD_COVER``, else its best-covered cell), read back as (yaw, pitch, roll) in degrees; ``pose_mae`` is
    the mean of the three MAEs."""
    samples = list(dataset)[:limit]
    if not samples:
        return {}
    was = tower.training, heads.training
    tower.eval(), heads.eval()
    device = next(tower.parameters()).device
    absrel, errors = [], []
    acc: dict[str, list[torch.Tensor]] = {"category": [], "color": [], "texture": []}
    for k in range(0, len(samples), 64):
        chunk = samples[k : k + 64]
        images, targets = _tensors(chunk, cfg.image_size, tower.grid, progress=False)
        x = normalized(images.float().to(device) / 255.0, cfg.image_mean, cfg.image_std)
        out = {k2: v.cpu() for k2, v in heads(_features(tower, x)).items()}
        valid = targets["depth_valid"] > 0
        pred_d, true_d = out["depth"].exp(), targets["log_depth"].exp()
        absrel.append(((pred_d - true_d).abs() / true_d)[valid])
        for name, scores in acc.items():
            shares = targets[name] if name == "category" else targets[name][:, :-1]  # not the "none" channel
            major = shares.max(1)
            sure = major.values >= 0.5
            scores.append((out[name].argmax(1) == major.indices)[sure].float())
        for i, s in enumerate(chunk):
            for head, cover in head_cover_maps(s, cfg.image_size, tower.grid):
                cells = cover >= min(MIN_HEAD_COVER, float(cover.max()))
                if cover.max() <= 0:
                    continue
                rot = out["rotation"][i][torch.from_numpy(cells)].mean(0)
                mean_r = sixd_to_matrix(torch.cat([rot[:, 0], rot[:, 1]]).double())
                yaw, pitch, roll = (float(a) for a in matrix_to_euler(mean_r))
                errors.append([abs(yaw - head.yaw), abs(pitch - head.pitch), abs(_wrap(roll - head.roll))])
    tower.train(was[0]), heads.train(was[1])
    result = {
        "depth_absrel": float(torch.cat(absrel).mean()) if absrel else float("nan"),
        **{f"{name}_acc": float(torch.cat(scores).mean()) for name, scores in acc.items()},
    }
    if errors:
        e = np.asarray(errors)
        result.update(
            pose_heads=len(e), yaw=float(e[:, 0].mean()), pitch=float(e[:, 1].mean()), roll=float(e[:, 2].mean())
        )
        result["pose_mae"] = float(e.mean())
    return result


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


class TowerSteps(Trainable):
    """Tower pretraining's optimisation steps: ``batch_size`` images drawn with replacement by the run's own
    generator, flipped (half of them) and jittered, scored by the dense heads' weighted losses. ``recent`` holds a
    running mean of each logged number (shown, and the summary's ``final_losses``)."""

    def __init__(
        self,
        cfg: TowerPretrainConfig,
        tower: VisionTower,
        heads: DenseHeads,
        images: torch.Tensor,
        targets: dict[str, torch.Tensor],
        device: torch.device,
    ) -> None:
        self.cfg, self.tower, self.heads, self.images, self.targets, self.device = (
            cfg, tower, heads, images, targets, device
        )  # fmt: skip
        self.module = nn.ModuleDict({"tower": tower, "heads": heads})
        self.weights = {k: cfg.loss_weights.get(k, 0.0) for k in LOSSES}
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.recent: dict[str, float] = {}

    def parameters(self) -> list[nn.Parameter]:
        return [*self.tower.parameters(), *self.heads.parameters()]

    def backward(self, step: int) -> dict[str, float]:
        cfg, gen = self.cfg, self.generator
        idx = torch.randint(len(self.images), (cfg.batch_size,), generator=gen)
        x = self.images[idx].float() / 255.0
        batch = {k: v[idx] for k, v in self.targets.items()}
        if cfg.flip:
            rows = torch.rand(cfg.batch_size, generator=gen) < 0.5
            x = torch.where(rows[:, None, None, None], x.flip(-1), x)
            batch = flip_targets(batch, rows)
        if cfg.jitter:
            x = _jitter(x, cfg.jitter, gen)
        x = normalized(x.to(self.device), cfg.vision.image_mean, cfg.vision.image_std)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        losses = dense_losses(self.heads(_features(self.tower, x)), batch)
        total = sum(self.weights[k] * v for k, v in losses.items())
        total.backward()
        values = {"loss": float(total.detach()), **{k: float(v.detach()) for k, v in losses.items()}}
        self.recent = {k: 0.9 * self.recent.get(k, v) + 0.1 * v for k, v in values.items()}
        return values

    def shown(self, values: dict[str, float]) -> dict[str, str]:
        return {"loss": f"{self.recent['loss']:.3f}", "rot": f"{self.recent['rotation']:.3f}"}

    def random_state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "recent": dict(self.recent)}

    def load_random_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.recent = dict(state["recent"])


def pretrain_tower(
    cfg: TowerPretrainConfig,
    progress: bool = True,
    preset_name: str | None = None,
    resume: bool = False,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Pretrain the tower as configured and write the tower directory ``cfg.out``; returns the summary (also in
    ``tower.json``'s ``info`` and ``summary.json``); ``preset_name`` records which preset it was built from.
    Checkpoints (every ``save_every`` steps) go to ``cfg.out/checkpoints``; ``resume`` continues from the newest,
    exactly; ``stop_after`` ends the run after that many steps as an interruption would (``{"interrupted_at":
    step}``)."""
    t0 = time.perf_counter()
    out = Path(cfg.out)
    ckpt = checkpoint_to_resume(out, resume)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device()
    out.mkdir(parents=True, exist_ok=True)

    tower = build_vision(cfg.vision).to(device)
    heads = DenseHeads(tower.hidden_size, cfg.head_hidden).to(device)
    train_sets = [spec.load(progress) for spec in cfg.data]
    val_sets = [spec.load(progress) for spec in cfg.val]
    samples = [s for ds in train_sets for s in ds]
    images, targets = _tensors(samples, cfg.vision.image_size, tower.grid, progress)
    steps = TowerSteps(cfg, tower, heads, images, targets, device)
    schedule = cosine_schedule(cfg.warmup, cfg.steps)
    optimizer, scheduler = build_optimizer(steps.parameters(), cfg.lr, cfg.weight_decay, schedule)
    log = MetricsLog(out / "metrics.csv", None)
    tower.train(), heads.train()
    engine = Engine(
        optimizer, scheduler, cfg.steps, grad_clip=1.0, run_dir=out, save_every=cfg.save_every, log=log,
        progress=progress, desc=f"tower {out}",
    )  # fmt: skip
    outcome = engine.run(steps, ckpt, stop_after)
    log.close()
    if outcome.interrupted:
        return {"interrupted_at": outcome.steps}
    val = {}
    for spec, ds in zip(cfg.val, val_sets):
        val[spec.uri] = evaluate_tower(tower, heads, cfg.vision, ds, cfg.val_items)
        if progress:
            print(f"{spec.uri}: " + ", ".join(f"{k} {v:.3f}" for k, v in val[spec.uri].items()), flush=True)
    summary = {
        "domains": sorted({s.domain for s in samples if s.domain}),
        "images": len(samples),
        "steps": cfg.steps,
        "examples": cfg.steps * cfg.batch_size,
        "classes": list(CLASSES),
        "final_losses": {k: round(v, 4) for k, v in steps.recent.items()},
        "val": val,
        "seconds": round(time.perf_counter() - t0, 1),
        "preset": preset_name,
        "config": cfg.to_dict(),
    }
    save_tower(tower.cpu(), cfg.vision, out, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _recipe(config: dict[str, Any]) -> dict[str, Any]:
    """What determines a tower's weights: its config without where it is written, the thread count and how often it
    was checkpointed."""
    ignored = ("out", "threads", "save_every")
    return {k: v for k, v in json.loads(json.dumps(config, default=str)).items() if k not in ignored}


def ensure_tower(directory: str | Path, preset_name: str = "quick", progress: bool = True) -> Path:
    """The tower directory, pretrained with the named preset first if it does not hold that preset's tower yet
    (missing, or built from this preset when it was defined otherwise): benches call this, so that every bench and
    ``make demo`` reuse one cached tower. A tower pretrained otherwise is used as it is."""
    directory = Path(directory)
    cfg = preset(preset_name, out=str(directory))
    if is_tower_dir(directory):
        _, info = read_tower(directory)
        # Another tower (pretrained by hand, or by another preset) is the user's choice: use it as it is.
        if info.get("preset") != preset_name or _recipe(cfg.to_dict()) == _recipe(info.get("config") or {}):
            return directory
        if progress:
            print(f"{directory} was pretrained with another config than preset {preset_name!r}: pretraining again")
    elif progress:
        print(
            f"building tower {directory} (preset {preset_name}: {cfg.steps:,} steps, first use only; later runs "
            "reuse it)",
            file=sys.stderr,
            flush=True,
        )
    pretrain_tower(cfg, progress=progress, preset_name=preset_name)
    return directory
