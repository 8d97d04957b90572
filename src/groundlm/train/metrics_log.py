"""The metrics log of a run: an append-only CSV, optionally mirrored to TensorBoard."""

from __future__ import annotations

import csv
from pathlib import Path


class MetricsLog:
    """Append-only CSV of ``step, kind, key, value`` rows (one file for training and evaluation numbers)."""

    def __init__(self, path: Path, tensorboard_dir: Path | None) -> None:
        self.path = path
        new = not path.exists()
        self.file = path.open("a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(["step", "kind", "key", "value"])
        self.tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(tensorboard_dir))
            except ImportError:
                print("tensorboard is not installed; metrics go to metrics.csv only")

    def log(self, step: int, kind: str, values: dict[str, float]) -> None:
        for k, v in values.items():
            if isinstance(v, (int, float)):
                self.writer.writerow([step, kind, k, v])
                if self.tb is not None:
                    self.tb.add_scalar(f"{kind}/{k}", v, step)
        self.file.flush()

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()
