"""The CNN head-pose baseline: a 6DRepNet-style regressor on loose head crops.

As 6DRepNet (Hempel et al. 2022) does: the head box is enlarged on every side (a *loose* crop), resized to a
square, fed to a CNN whose pooled feature is mapped to the 6D rotation representation (two 3-vectors,
Gram-Schmidt to a matrix, :func:`groundlm.geometry.rotations.sixd_to_matrix`) and trained with the geodesic loss
``arccos((tr(R_pred R_gt^T) - 1) / 2)``. Angles are read back with
:func:`groundlm.geometry.rotations.matrix_to_euler` (degrees, the package convention).

The backbone is a ``transformers`` ResNet (built from a small config, or loaded from a local checkpoint through
:class:`groundlm.models.config.VisionConfig`). The crop comes from the ground-truth head box, the usual protocol of
crop regressors on AFLW2000 (the VLM must find the head itself).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from groundlm.data.dataset import SampleDataset
from groundlm.geometry.rotations import euler_to_matrix, geodesic_distance, matrix_to_euler, sixd_to_matrix
from groundlm.models.backbones import build_vision
from groundlm.models.config import VisionConfig
from groundlm.train.checkpoint import checkpoint_to_resume
from groundlm.train.engine import Engine, Trainable
from groundlm.train.schedule import build_optimizer, cosine_decay

Box = Sequence[float]


@dataclass
class CropPoseConfig:
    crop_size: int = 64  # pixels of the square network input
    margin: float = 0.3  # each side of the head box moves out by margin * box size (test time)
    margin_jitter: float = 0.1  # training draws the margin from margin +- jitter (6DRepNet's random loose crop)
    width: int = 128  # channels of the last ResNet stage
    blocks: int = 4  # residual blocks in all
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    steps: int = 1500
    flip: bool = True  # mirror half the crops; the pose becomes (-yaw, pitch, -roll)
    seed: int = 0


def loose_crop(image: Image.Image, box: Box, margin: float, size: int) -> Image.Image:
    """The box enlarged by ``margin`` times its width/height on each side, made square around its centre (the
    longer side), cut from ``image`` (black outside it) and resized to ``size`` x ``size``. Box: pixel ``xyxy``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rect = (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
    return image.convert("RGB").crop(rect).resize((size, size), Image.Resampling.BILINEAR)


class CropPoseNet(nn.Module):
    """ResNet features -> global mean pool -> linear -> 6D -> rotation ``[B, 3, 3]``."""

    def __init__(self, config: CropPoseConfig) -> None:
        super().__init__()
        self.config = config
        vision = VisionConfig(
            kind="resnet",
            image_size=config.crop_size,
            patch_size=16,
            hidden_size=config.width,
            num_layers=config.blocks,
        )
        self.backbone = build_vision(vision)
        self.head = nn.Linear(self.backbone.hidden_size, 6)
        # Start at the identity rotation (6D = first two columns of I), as a frontal face is the centre of the data.
        with torch.no_grad():
            self.head.weight.mul_(0.01)
            self.head.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1.0, 0]))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``pixels`` ``[B, 3, S, S]`` normalised to [-1, 1] -> rotation matrices ``[B, 3, 3]``."""
        return sixd_to_matrix(self.head(self.backbone(pixels).mean(1)))

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "crop_pose.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / "model.safetensors"))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CropPoseNet:
        directory = Path(directory)
        model = cls(CropPoseConfig(**json.loads((directory / "crop_pose.json").read_text())))
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
        return model


def _to_tensor(crop: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(crop, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)


def head_crops(
    dataset: SampleDataset, margins: Sequence[float], size: int, progress: bool = False
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Crops ``[N, 3, size, size]`` of every head in the split, one tensor per margin (each image is read once),
    and their poses ``[N, 3]`` (degrees)."""
    crops: list[list[torch.Tensor]] = [[] for _ in margins]
    poses = []
    for sample in tqdm(dataset, desc="crops", disable=not progress, leave=False):
        if not sample.heads:
            continue
        image = sample.load_image()
        for h in sample.heads:
            for out, m in zip(crops, margins):
                out.append(_to_tensor(loose_crop(image, h.box, m, size)))
            poses.append((h.yaw, h.pitch, h.roll))
    if not poses:
        raise ValueError(f"{dataset.name}: no head boxes to crop")
    return [torch.stack(c) for c in crops], torch.tensor(poses, dtype=torch.float32)


class CropPoseSteps(Trainable):
    """The baseline's optimisation steps: ``batch_size`` crops drawn with replacement (each at one of the margins)
    by the run's own generator, half of them mirrored, scored by the mean geodesic distance (radians) to the true
    rotations."""

    def __init__(
        self,
        model: CropPoseNet,
        crops: list[torch.Tensor],
        poses: torch.Tensor,
        config: CropPoseConfig,
        device: str | torch.device,
    ) -> None:
        self.module, self.crops, self.poses, self.config, self.device = model, crops, poses, config, device
        self.rng = np.random.default_rng(config.seed)

    def backward(self, step: int) -> dict[str, float]:
        config, rng = self.config, self.rng
        idx = rng.integers(self.poses.shape[0], size=config.batch_size)
        which = rng.integers(len(self.crops), size=config.batch_size)
        x = torch.stack([self.crops[w][i] for w, i in zip(which, idx)])
        pose = self.poses[torch.from_numpy(idx)]
        if config.flip:
            flip = torch.from_numpy(rng.random(config.batch_size) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            pose = torch.where(flip[:, None], pose * torch.tensor([-1.0, 1.0, -1.0]), pose)
        target = euler_to_matrix(*pose.unbind(1)).to(self.device)
        loss = geodesic_distance(self.module(x.to(self.device)), target).mean()
        loss.backward()
        return {"loss": loss.item()}

    def shown(self, values: dict[str, float]) -> dict[str, str]:
        return {"loss_deg": f"{math.degrees(values['loss']):.1f}"}

    def random_state(self) -> dict[str, Any]:
        return {"numpy": self.rng.bit_generator.state}

    def load_random_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["numpy"]


def train_crop_pose(
    dataset: SampleDataset,
    config: CropPoseConfig,
    progress: bool = True,
    device: str | torch.device = "cpu",
    run_dir: str | Path | None = None,
    save_every: int = 0,
    resume: bool = False,
    stop_after: int | None = None,
) -> CropPoseNet:
    """Train on every head of ``dataset`` with the geodesic loss (AdamW, cosine schedule) on ``device``; the crops
    are cut on the CPU and each batch is moved there. With ``run_dir``, a checkpoint every ``save_every`` steps goes
    to ``run_dir/checkpoints``; ``resume`` continues from the newest, exactly; ``stop_after`` ends training after
    that many steps as an interruption would (the model returned is then the partly trained one)."""
    ckpt = checkpoint_to_resume(run_dir, resume) if run_dir is not None else None
    torch.manual_seed(config.seed)
    # Three margins cover the jitter range; each batch draws crops from all of them.
    margins = [config.margin - config.margin_jitter, config.margin, config.margin + config.margin_jitter]
    crops, poses = head_crops(dataset, margins, config.crop_size, progress)
    model = CropPoseNet(config).to(device)
    steps = CropPoseSteps(model, crops, poses, config, device)
    optimizer, scheduler = build_optimizer(
        model.parameters(), config.lr, config.weight_decay, cosine_decay(config.steps)
    )
    model.train()
    engine = Engine(
        optimizer, scheduler, config.steps, run_dir=Path(run_dir) if run_dir is not None else None,
        save_every=save_every, progress=progress, desc="crop baseline",
    )  # fmt: skip
    engine.run(steps, ckpt, stop_after)
    return model.eval()


@torch.no_grad()
def predict_crop_pose(
    model: CropPoseNet, image: Image.Image, boxes: Sequence[Box], batch_size: int = 256
) -> list[tuple[float, float, float]]:
    """``(yaw, pitch, roll)`` in degrees for each head box (pixel ``xyxy``) of ``image``, computed where the model
    is."""
    model.eval()
    cfg = model.config
    device = next(model.parameters()).device
    x = torch.stack([_to_tensor(loose_crop(image, b, cfg.margin, cfg.crop_size)) for b in boxes])
    out = []
    for k in range(0, len(x), batch_size):
        yaw, pitch, roll = matrix_to_euler(model(x[k : k + batch_size].to(device)).float().cpu())
        out += [(float(a), float(b), float(c)) for a, b, c in zip(yaw, pitch, roll)]
    return out
