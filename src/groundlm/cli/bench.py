"""The ``groundlm bench`` commands: each runs a benchmark, writes its JSON when asked, and returns its table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from groundlm.cli.arguments import Arg
from groundlm.cli.options import Device, JsonFile, Numeric, write_json
from groundlm.errors import UserError
from groundlm.evaluation import format_table

Uri = Annotated[str | None, Arg(metavar="URI")]
Dir = Annotated[str | None, Arg(metavar="DIR")]
Preset = Annotated[Literal["quick", "full"], Arg(shorthands={"--quick": "quick"})]
"""A method bench's sizes: ``full`` for a GPU, ``quick`` (or ``--quick``) for 2 CPU cores in under 30 minutes."""


def bench_data_command(
    *, n: int = 200, size: int = 224, workers: Sequence[int] = (1,), json_path: JsonFile = None
) -> str:
    """SpatialWorld generation speed

    Args:
        n: images per row
        size: image side in pixels
        workers: generating processes, one row each
        json_path: write the result as JSON
    """
    from groundlm.bench.data_speed import bench_data

    result = bench_data(n=n, size=size, workers=tuple(workers))
    write_json(json_path, result)
    rows = [(f"{r['workers']} worker(s)", {k: v for k, v in r.items() if k != "workers"}) for r in result["rows"]]
    return format_table(f"SpatialWorld generation, {size}x{size}, {result['cpu_count']} CPUs", rows)


def bench_speed_command(
    *, batch: int = 16, steps: int = 10, device: str | None = None, json_path: JsonFile = None
) -> str:
    """our VLM against transformers' LlavaForConditionalGeneration

    Args:
        batch: examples per step
        steps: timed steps
        device: cpu or cuda (default: cuda if available)
        json_path: write the result as JSON
    """
    from groundlm.bench.speed import bench_speed

    result = bench_speed(batch=batch, steps=steps, device=device)
    write_json(json_path, result)
    rows = [(r["model"], {k: v for k, v in r.items() if k != "model"}) for r in result["rows"]]
    title = (
        f"training and generation speed, batch {batch}, {result['device']} "
        f"(matmul peak {result['matmul_peak_gflop_s']} GFLOP/s)"
    )
    ratios = (
        f"groundlm / llava: train throughput x{result['train_throughput_ratio']}, "
        f"generation latency x{result['generate_latency_ratio']}"
    )
    return format_table(title, rows) + "\n" + ratios


def bench_serve_command(
    *,
    checkpoint: str | None = None,
    clients: Sequence[int] = (1, 16),
    requests: int = 200,
    max_batch: int = 8,
    wait_ms: float = 10.0,
    device: Device = None,
    json_path: JsonFile = None,
) -> str:
    """load test of groundlm serve on 127.0.0.1

    Args:
        checkpoint: model directory (default: a random refer-quick-size model)
        clients: concurrent clients, one row each
        requests: requests per row
        max_batch: largest batch of concurrent requests
        wait_ms: how long a request waits for company
        device: cpu or cuda (default: cuda if available)
        json_path: write the result as JSON
    """
    from groundlm.bench.serve import bench_serve

    result = bench_serve(checkpoint, tuple(clients), requests, max_batch, wait_ms, device)
    write_json(json_path, result)
    rows = [
        (f"{r['clients']} concurrent", {k: v for k, v in r.items() if k not in ("clients", "lost_examples")})
        for r in result["rows"]
    ]
    title = (
        f"groundlm serve on 127.0.0.1: {result['model']}, {result['device']}, "
        f"batches of <= {max_batch} gathered over {wait_ms:g} ms"
    )
    lost = [e for r in result["rows"] for e in r["lost_examples"]]
    return format_table(title, rows) + (f"\nlost requests, e.g.: {lost}" if lost else "")


def hpe_command(
    kind: Literal["bench", "recipe"],
    *,
    preset: Annotated[Literal["demo", "quick", "full"], Arg(shorthands={"--quick": "quick"})] = "full",
    json_path: JsonFile = None,
    run_dir: str | None = None,
    train: Uri = None,
    test: Uri = None,
    grounding: Uri = None,
    grounding_test: Uri = None,
    base_model: Dir = None,
    tower: Dir = None,
    numeric: Numeric | None = None,
    samples: int | None = None,
    device: Device = None,
) -> str:
    """``groundlm bench hpe`` (the recipe beside its baselines, :mod:`groundlm.bench.hpe`) or ``groundlm recipe hpe``
    (HPE-CogVLM's recipe alone, as its method folder declares it) at a preset; writes the JSON, returns the table.

    Args:
        preset: sizes (default: full, for a GPU; quick: 2 CPU cores, <30 min)
        json_path: write the result as JSON
        run_dir: default runs/bench-hpe (bench) or runs/hpe-cogvlm (recipe)
        train: pose training data (default: SpatialWorld headshot)
        test: pose test data (default: headshot-dusk)
        grounding: referring data (default: the train data)
        grounding_test: default: the test data
        base_model: a grounding model to start from, groundlm's or a transformers VLM's (LLaVA, Qwen2-VL, PaliGemma)
        tower: the pretrained tower (default: the preset's)
        numeric: angle decoding (default: median)
        samples: sampled answers per head for mean/median (16)
        device: cpu or cuda for every model (default: cuda if available)
    """
    from groundlm.formats.numeric import NumericDecoding

    if kind == "bench":
        from groundlm.bench import hpe as module

        run = module.run_hpe_bench
    else:
        from groundlm.methods import recipe_module

        module = recipe_module("hpe")
        run = module.run_recipe

    decoding = None
    if numeric is not None or samples is not None:
        default = module.preset(preset).numeric
        decoding = NumericDecoding(numeric or default.mode, samples or default.samples, default.temperature)
    cfg = module.preset(
        preset,
        run_dir=run_dir,
        train=train,
        test=test,
        grounding=grounding,
        grounding_test=grounding_test,
        base_model=base_model,
        numeric=decoding,
        tower=tower,
        device=device,
    )
    result = run(cfg)
    write_json(json_path, result)
    name = "bench-hpe" if kind == "bench" else "hpe-cogvlm"
    lines = [module.format_hpe_table(result), f"run directory: {result['run_dir']} ({name}.json, models/)"]
    if result.get("pictures"):
        lines.append(f"pictures of '{result['best_vlm_row']}': {Path(result['pictures'][0]).parent}/")
    return "\n".join(lines)


def bench_depth_command(
    *,
    preset: Preset = "full",
    json_path: JsonFile = None,
    run_dir: str | None = None,
    train: Uri = None,
    test: Uri = None,
    pool: Uri = None,
    lm: Dir = None,
    tower: Dir = None,
    device: Device = None,
) -> str:
    """LLM-MDE: ablations, CNN baseline, floor; zero-shot and k-shot

    Args:
        preset: sizes (default: full, for a GPU; quick: 2 CPU cores, <30 min)
        json_path: write the result as JSON
        run_dir: default runs/bench-depth
        train: training data (default: SpatialWorld classic+vivid)
        test: test data (default: SpatialWorld portrait)
        pool: k-shot images (default: the test domain, or --train)
        lm: a pretrained LM (default: pretrain one on SpatialWorld)
        tower: the pretrained tower (default: the preset's)
        device: cpu or cuda for every model (default: cuda if available)
    """
    from groundlm.bench.depth import format_depth_tables, run_depth_bench
    from groundlm.bench.depth import preset as sized

    if (train is None) != (test is None):
        raise UserError("--train and --test go together (the zero-shot protocol needs both)")
    for name, path in (("--lm", lm), ("--tower", tower)):
        if path is not None and not Path(path).is_dir():
            raise UserError(f"{name} {path}: no such directory")
    cfg = sized(preset, run_dir=run_dir, train=train, test=test, pool=pool, lm=lm, tower=tower, device=device)
    result = run_depth_bench(cfg)
    write_json(json_path, result)
    return format_depth_tables(result) + f"\nrun directory: {result['run_dir']} (bench-depth.json, models/)"


def bench_method_command(
    module: str,
    *,
    preset: Preset = "full",
    json_path: JsonFile = None,
    run_dir: str | None = None,
    train: Uri = None,
    test: Uri = None,
    tower: Dir = None,
    device: Device = None,
    seed: int | None = None,
) -> str:
    """``groundlm bench pixel|region``: ``groundlm.bench.<module>``'s bench at a preset (its ``preset``,
    ``run_<module>_bench`` and ``format_<module>_table``); writes the JSON and returns the table.

    Args:
        preset: sizes (default: full, for a GPU; quick: 2 CPU cores, <30 min)
        json_path: write the result as JSON
        run_dir: default runs/bench-MODULE
        train: training data (default: SpatialWorld portrait)
        test: test data (default: held-out portrait images)
        tower: the pretrained tower (default: the preset's)
        device: cpu or cuda for every model (default: cuda if available)
        seed: models' seed (default 0); the data stay the same
    """
    import importlib

    bench = importlib.import_module(f"groundlm.bench.{module}")
    if tower is not None and not Path(tower).is_dir():
        raise UserError(f"--tower {tower}: no such directory")
    cfg = bench.preset(preset, run_dir=run_dir, train=train, test=test, tower=tower, device=device, seed=seed)
    result = getattr(bench, f"run_{module}_bench")(cfg)
    write_json(json_path, result)
    table = getattr(bench, f"format_{module}_table")(result)
    return table + f"\nrun directory: {result['run_dir']} (bench-{module}.json, models/)"


def bench_train_command(
    *,
    config: str = "configs/refer-quick.yaml",
    steps: int = 100,
    workers: Sequence[int] | None = None,
    device: Device = None,
    json_path: JsonFile = None,
) -> str:
    """the trainer end to end against the model step alone, same batches

    Args:
        config: the training config to time
        steps: optimisation steps per row
        workers: data workers, one row each
        device: cpu or cuda (default: cuda if available)
        json_path: write the result as JSON
    """
    from groundlm.bench.train_speed import bench_train

    if not Path(config).is_file():
        raise UserError(f"{config}: no such config")
    result = bench_train(config, steps, tuple(workers) if workers else None, device)
    write_json(json_path, result)
    rows = [(r["run"], {k: v for k, v in r.items() if k != "run"}) for r in result["rows"]]
    title = (
        f"training throughput, {config}, {steps} steps, {result['device']} ({result['cpu_count']} cores; "
        f"default workers {result['default_workers']})"
    )
    return format_table(title, rows) + f"\nend to end / model step alone: {result['end_to_end_ratio']}"
