"""``groundlm bench speed``: our grounded VLM against ``transformers``' ``LlavaForConditionalGeneration``.

Both are built from the same tiny CLIP-vision and Llama configurations (same widths, depths, vocabulary, image
size; LLaVA reads the last vision layer, as ours does, and drops the CLS token like ours), and measured on the same
inputs: training samples per second (forward, backward, AdamW step), greedy generation latency with the KV cache,
and peak memory (CUDA allocator on GPU; resident set size of a fresh process on CPU). Achieved GFLOP/s of a
training step (FLOPs counted by ``torch.utils.flop_counter``) is compared with a measured dense matmul peak.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

SIZES = {
    "image_size": 128,
    "patch_size": 16,
    "vision_hidden": 192,
    "vision_layers": 4,
    "lm_hidden": 256,
    "lm_layers": 4,
    "heads": 4,
    "text_tokens": 32,
}


def _ours(sizes: dict[str, int]):
    from groundlm.models.config import LanguageConfig, VisionConfig, VLMConfig
    from groundlm.models.vlm import GroundedVLM

    cfg = VLMConfig(
        vision=VisionConfig(
            kind="clip",
            image_size=sizes["image_size"],
            patch_size=sizes["patch_size"],
            hidden_size=sizes["vision_hidden"],
            num_layers=sizes["vision_layers"],
            num_heads=sizes["heads"],
            intermediate_size=4 * sizes["vision_hidden"],
        ),
        language=LanguageConfig(
            kind="llama",
            hidden_size=sizes["lm_hidden"],
            num_layers=sizes["lm_layers"],
            num_heads=sizes["heads"],
            intermediate_size=4 * sizes["lm_hidden"],
        ),
    )
    model = GroundedVLM(cfg)
    return model, model.image_token_id, len(model.tokenizer), model.image_tokens


def _llava(sizes: dict[str, int], vocab: int, image_token: int):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(
        hidden_size=sizes["vision_hidden"],
        num_hidden_layers=sizes["vision_layers"],
        num_attention_heads=sizes["heads"],
        intermediate_size=4 * sizes["vision_hidden"],
        image_size=sizes["image_size"],
        patch_size=sizes["patch_size"],
    )
    text = LlamaConfig(
        vocab_size=vocab,
        hidden_size=sizes["lm_hidden"],
        num_hidden_layers=sizes["lm_layers"],
        num_attention_heads=sizes["heads"],
        num_key_value_heads=sizes["heads"],
        intermediate_size=4 * sizes["lm_hidden"],
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )
    return LlavaForConditionalGeneration(cfg)


def _inputs(batch: int, sizes: dict[str, int], image_token: int, image_tokens: int, vocab: int, device):
    g = torch.Generator().manual_seed(0)
    text = torch.randint(6, vocab, (batch, sizes["text_tokens"]), generator=g)
    ids = torch.cat([torch.full((batch, image_tokens), image_token), text], 1).to(device)
    pixels = torch.randn(batch, 3, sizes["image_size"], sizes["image_size"], generator=g).to(device)
    return ids, torch.ones_like(ids), pixels


def _measure(which: str, batch: int, steps: int, new_tokens: int, device_name: str, sizes: dict, queue) -> None:
    torch.manual_seed(0)
    device = torch.device(device_name)
    ours, image_token, vocab, image_tokens = _ours(sizes)
    model = ours if which == "groundlm" else _llava(sizes, vocab, image_token)
    model.to(device).train()
    ids, mask, pixels = _inputs(batch, sizes, image_token, image_tokens, vocab, device)

    def step(opt=None):
        if which == "groundlm":
            loss = model(ids, mask, pixels, labels=ids).loss
        else:
            loss = model(input_ids=ids, attention_mask=mask, pixel_values=pixels, labels=ids).loss
        loss.backward()
        if opt is not None:
            opt.step()
            opt.zero_grad(set_to_none=True)

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for _ in range(2):
        step(opt)
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    opt.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step(opt)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    model.eval()
    prompt_ids, prompt_mask, prompt_px = ids[:1], mask[:1], pixels[:1]
    latencies = []
    with torch.no_grad():
        for _ in range(3):
            t = time.perf_counter()
            if which == "groundlm":
                model.generate(prompt_ids, prompt_mask, prompt_px, max_new_tokens=new_tokens)
            else:
                model.generate(
                    input_ids=prompt_ids,
                    attention_mask=prompt_mask,
                    pixel_values=prompt_px,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    do_sample=False,
                )
            if device.type == "cuda":
                torch.cuda.synchronize()
            latencies.append(time.perf_counter() - t)
    step_s = statistics.median(times)
    peak = (
        torch.cuda.max_memory_allocated()
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    queue.put(
        {
            "model": which,
            "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "train_samples_per_s": round(batch / step_s, 2),
            "step_ms": round(1000 * step_s, 1),
            "generate_ms": round(1000 * statistics.median(latencies), 1),
            "peak_memory_mb": round(peak / 2**20, 1),
            "gflops_per_step": round(flops / 1e9, 2),
            "achieved_gflop_s": round(flops / 1e9 / step_s, 2),
        }
    )


def matmul_peak(device_name: str, n: int = 1024, repeat: int = 10) -> float:
    """Measured dense float32 matmul GFLOP/s (2 n^3 per product), median of ``repeat``."""
    device = torch.device(device_name)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def bench_speed(
    batch: int = 16, steps: int = 10, new_tokens: int = 16, device: str | None = None, sizes: dict | None = None
) -> dict[str, Any]:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = {**SIZES, **(sizes or {})}
    ctx = mp.get_context("spawn")
    rows = []
    for which in ("groundlm", "llava"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(which, batch, steps, new_tokens, device, sizes, queue))
        proc.start()
        rows.append(queue.get())
        proc.join()
    peak = matmul_peak(device)
    for r in rows:
        r["share_of_matmul_peak"] = round(r["achieved_gflop_s"] / peak, 3)
    ours, peer = rows
    return {
        "benchmark": "speed",
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "sizes": sizes,
        "batch": batch,
        "matmul_peak_gflop_s": round(peak, 1),
        "rows": rows,
        "train_throughput_ratio": round(ours["train_samples_per_s"] / peer["train_samples_per_s"], 3),
        "generate_latency_ratio": round(ours["generate_ms"] / peer["generate_ms"], 3),
    }
