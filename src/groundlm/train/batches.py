"""The training input pipeline: each optimisation step's micro-batches, built in worker processes.

Item ``step`` of :class:`StepBatches` is what one process trains on at that step: the examples
``[step * B, (step + 1) * B)`` of the :class:`~groundlm.train.stream.ExampleStream` (a pure function of the seed and
the index), split into ``grad_accum`` micro-batches and then by rank, each decoded, resized, tokenised and collated.
Because an item depends only on ``step``, the batches are the same whatever the number of workers, and a resumed run
starts the loader at its step. :func:`step_loader` runs items in ``workers`` processes (``torch.utils.data``), in
step order, ``prefetch`` steps ahead per worker, pinned in page-locked memory for a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.decoded import DecodedImages
from groundlm.errors import UserError
from groundlm.inference.collate import Collator
from groundlm.inference.images import ImageCache
from groundlm.train.stream import ExampleStream


def default_workers(cpu_count: int | None = None) -> int:
    """Data workers for a machine with ``cpu_count`` cores: none on 1-2 cores, where a worker takes a core from the
    model step (measured: docs/bench/train.json), else one per two cores beyond the first two, at most 8."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return 0 if cores <= 2 else min(8, max(1, (cores - 2) // 2))


def decoded_splits(datasets: Sequence[SampleDataset], progress: bool = False) -> list[DecodedImages]:
    """The decoded-pixel arrays (:mod:`groundlm.data.decoded`) of those ``datasets`` that qualify, decoded on first
    use; each array lives beside its split (the URI's folder)."""
    out = []
    for ds in {id(d): d for d in datasets}.values():
        try:
            path = Uri.parse(ds.name).path
        except UserError:  # a dataset built in memory, not loaded from a URI
            continue
        folder = path if path.is_dir() else Path(path).parent
        split = DecodedImages.open(ds.samples, folder, progress)
        if split is not None:
            out.append(split)
    return out


class StepBatches(Dataset):
    """Item ``step``: the list of ``grad_accum`` collated micro-batches that process ``rank`` of ``world`` trains on
    at that step (each a dict of tensors, see :meth:`Collator.train_batch`)."""

    def __init__(
        self,
        stream: ExampleStream,
        collator: Collator,
        batch_size: int,
        grad_accum: int,
        max_steps: int,
        rank: int = 0,
        world: int = 1,
        decoded: Sequence[DecodedImages] = (),
    ) -> None:
        self.stream, self.collator = stream, collator
        self.batch_size, self.grad_accum, self.max_steps = batch_size, grad_accum, max_steps
        self.rank, self.world = rank, world
        # One per process: each worker keeps the images it decoded, or reads the splits' decoded arrays.
        self.images = ImageCache(decoded=decoded)

    def __len__(self) -> int:
        return self.max_steps

    def __getitem__(self, step: int) -> list[dict]:
        micro = self.batch_size // self.grad_accum
        share = micro // self.world
        examples = self.stream.batch(step * self.batch_size, self.batch_size)
        out = []
        for k in range(self.grad_accum):
            chunk = examples[k * micro : (k + 1) * micro]
            mine = chunk[self.rank * share : (self.rank + 1) * share]
            out.append(self.collator.train_batch(mine, [self.images.get(e.sample) for e in mine]))
        return out


def step_loader(
    batches: StepBatches, start_step: int, workers: int, pin_memory: bool = False, prefetch: int = 2
) -> Iterator[list[dict]]:
    """The items ``start_step, start_step + 1, ...`` of ``batches`` in order, built by ``workers`` processes (0: in
    this process, one step at a time)."""
    if workers == 0:
        return (batches[step] for step in range(start_step, len(batches)))
    loader = DataLoader(
        batches,
        batch_size=None,  # an item is already a step's batches
        sampler=range(start_step, len(batches)),
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=prefetch,
        persistent_workers=False,
        multiprocessing_context="fork" if "fork" in torch.multiprocessing.get_all_start_methods() else None,
    )
    return iter(loader)
