"""``groundlm bench data``: SpatialWorld generation speed (render + label + PNG encoding), images per second."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import time
from typing import Any

from groundlm.data.synth.writer import encode_sample


def _run(n: int, size: int, workers: int, domain: str, seed: int) -> float:
    jobs = [(seed, i, domain, size, None) for i in range(n)]
    encode_sample(jobs[0])  # warm up imports and caches outside the timing
    start = time.perf_counter()
    if workers == 1:
        for job in jobs:
            encode_sample(job)
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            pool.map(encode_sample, [(seed, 0, domain, size, None)] * workers)  # start the workers first
            start = time.perf_counter()
            list(pool.imap(encode_sample, jobs, chunksize=4))
    return time.perf_counter() - start


def bench_data(
    n: int = 200, size: int = 224, workers: tuple[int, ...] = (1,), domain: str = "classic", seed: int = 0
) -> dict[str, Any]:
    rows = []
    for k in workers:
        seconds = _run(n, size, k, domain, seed)
        rows.append(
            {
                "workers": k,
                "images": n,
                "seconds": round(seconds, 3),
                "images_per_s": round(n / seconds, 2),
                "images_per_s_per_worker": round(n / seconds / k, 2),
            }
        )
    return {
        "benchmark": "data",
        "size": size,
        "domain": domain,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "rows": rows,
    }
