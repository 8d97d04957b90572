"""``groundlm bench serve``: a bounded load test of ``groundlm serve`` on 127.0.0.1.

The server runs in this process (a background thread, the real application and micro-batcher); ``clients`` threads
each send refer requests one after another (closed loop: a client sends its next request when the last is answered)
until ``requests`` have been sent, with the built-in pictures and their referring expressions as multipart uploads.
Each row reports requests per second over the whole run, latency percentiles (milliseconds, from sending to the
parsed answer), the requests lost (anything but a 200 answer; must be 0), and the mean batch the model ran.
"""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import torch

from groundlm.serve import ModelService, create_app, running_server
from groundlm.serve.samples import built_in_samples

# refer-quick's model (configs/refer-quick.yaml), for a run without a checkpoint: weights do not change the cost of a
# step, but a random model's answers run to the token limit, so it is the slow end of the range.
RANDOM_MODEL = {
    "vision": {"kind": "vit", "image_size": 128, "patch_size": 16, "hidden_size": 192, "num_layers": 4},
    "language": {"kind": "llama", "hidden_size": 192, "num_layers": 3, "num_heads": 4, "intermediate_size": 384},
}


def _service(checkpoint: str | None, device: str | None) -> ModelService:
    if checkpoint:
        return ModelService.from_checkpoint(checkpoint, device)
    from groundlm.inference.model import GroundedModel
    from groundlm.models.config import LanguageConfig, VisionConfig, VLMConfig
    from groundlm.models.vlm import GroundedVLM

    torch.manual_seed(0)
    vision = VisionConfig(**RANDOM_MODEL["vision"], num_heads=4, intermediate_size=384)
    config = VLMConfig(vision=vision, language=LanguageConfig(**RANDOM_MODEL["language"], max_positions=256))
    model = GroundedVLM(config)
    if device:
        model.to(device)
    trained = {"refer": {"format": "cogvlm", "query_first": True}}
    return ModelService(GroundedModel.of(model, trained), "random refer-quick-size model")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _load(url: str, payloads: list[tuple[bytes, str]], clients: int, requests: int) -> dict[str, Any]:
    """``requests`` refer requests from ``clients`` closed-loop clients; latencies and losses."""
    latencies: list[float] = []
    lost: list[str] = []
    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=clients)) as client:

        def one(i: int) -> None:
            image, query = payloads[i % len(payloads)]
            start = time.perf_counter()
            try:
                response = client.post(f"{url}/api/refer", files={"image": ("p.png", image)}, data={"query": query})
                response.json()
                ok = response.status_code == 200
                detail = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as err:
                ok, detail = False, f"{type(err).__name__}: {err}"
            if ok:
                latencies.append(1000 * (time.perf_counter() - start))
            else:
                lost.append(detail)

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": requests,
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(_percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 99), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "lost": len(lost),
        "lost_examples": lost[:5],
    }


def bench_serve(
    checkpoint: str | None = None,
    clients: tuple[int, ...] = (1, 16),
    requests: int = 200,
    max_batch: int = 8,
    wait_ms: float = 10.0,
    device: str | None = None,
) -> dict[str, Any]:
    """One row per client count, all against one server; see the module's docs."""
    if requests < 1 or not clients or min(clients) < 1:
        raise ValueError("bench serve needs --requests >= 1 and client counts >= 1")
    service = _service(checkpoint, device)
    samples = built_in_samples(size=128)
    payloads = [(s.png, q) for s in samples.values() for q in s.queries[:3]]
    app = create_app(service, max_batch=max_batch, wait_ms=wait_ms, samples=samples)
    rows = []
    with running_server(app) as url:
        _load(url, payloads, 2, 4)  # warm-up: first-call costs stay out of the numbers
        for n in clients:
            stats = app.state.batcher.stats
            batches, answered = stats.batches, stats.requests
            row = _load(url, payloads, n, requests)
            done = stats.batches - batches
            row["mean_batch"] = round((stats.requests - answered) / done, 2) if done else None
            rows.append(row)
    return {
        "model": service.name,
        "device": str(service.device),
        "max_batch": max_batch,
        "wait_ms": wait_ms,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
    }
