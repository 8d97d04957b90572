"""``groundlm bench train``: how fast the real trainer runs against the model step alone, on the same batches.

Each row is a short run of :func:`groundlm.train.loop.train` on a config (evaluations and checkpoints off) in a fresh
process: the end-to-end rows build their batches as training does (in the training process with 0 workers, else in
``workers`` data processes), and the ``model step alone`` row builds every step's batches before the clock starts
(``train(preload=True)``), so the same steps run with nothing to wait for. Columns: training samples per second,
the share of the run spent waiting for batches (the last row reads decoded pixel arrays instead of image files,
:mod:`groundlm.data.decoded`), peak memory (CUDA allocator on a GPU; resident set size of the
process on the CPU, so the preloaded row's includes its batches), and the ratio to the model step alone.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import tempfile
from typing import Any

import torch

from groundlm.train.batches import default_workers


def _run(config: str, overrides: list[str], preload: bool, queue: Any) -> None:
    from groundlm.train.config import load_config
    from groundlm.train.loop import train

    cfg = load_config(config, overrides)
    summary = train(cfg, progress=False, preload=preload)
    peak = (
        torch.cuda.max_memory_allocated()
        if torch.cuda.is_available() and cfg.device != "cpu"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    queue.put({**summary, "peak_memory_mb": round(peak / 2**20, 1)})


def bench_train(
    config: str = "configs/refer-quick.yaml",
    steps: int = 100,
    workers: tuple[int, ...] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Rows: the model step alone, then end to end with each worker count (default: 0 and the machine's default,
    :func:`~groundlm.train.batches.default_workers`)."""
    if steps < 2:
        raise ValueError("bench train needs --steps >= 2")
    chosen = default_workers()
    counts = workers if workers else tuple(dict.fromkeys((0, chosen, 1)))
    ctx = mp.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory(prefix="groundlm-bench-train-") as tmp:
        plan = [("model step alone", 0, True, False)]
        plan += [(f"end to end, {w} workers", w, False, False) for w in counts]
        plan += [(f"end to end, {chosen} workers, decoded arrays", chosen, False, True)]
        for k, (name, w, preload, decoded) in enumerate(plan):
            overrides = [
                f"run_dir={tmp}/run-{k}",
                f"max_steps={steps}",
                "eval_every=0",
                "save_every=0",
                f"workers={w}",
                f"decoded_cache={str(decoded).lower()}",
                *([f"device={device}"] if device else []),
            ]
            queue = ctx.Queue()
            proc = ctx.Process(target=_run, args=(config, overrides, preload, queue))
            proc.start()
            result = queue.get()
            proc.join()
            seconds = max(result["train_seconds"], 1e-3)
            rows.append(
                {
                    "run": name,
                    "workers": w,
                    "decoded_arrays": decoded,
                    "samples_per_s": round(result["examples"] / seconds, 2),
                    "data_wait_share": round(result["data_wait_seconds"] / seconds, 3),
                    "peak_memory_mb": result["peak_memory_mb"],
                    "seconds": seconds,
                }
            )
    alone = rows[0]["samples_per_s"]
    for row in rows:
        row["ratio_to_model_step"] = round(row["samples_per_s"] / alone, 3)
    default_row = next(r for r in rows[1:] if r["workers"] == chosen and not r["decoded_arrays"])
    on_gpu = torch.cuda.is_available() and device != "cpu"
    return {
        "benchmark": "train",
        "config": config,
        "steps": steps,
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "default_workers": chosen,
        "rows": rows,
        "end_to_end_ratio": default_row["ratio_to_model_step"],
    }
