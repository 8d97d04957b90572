"""The ``groundlm bench`` commands: each runs a benchmark, writes its JSON when asked, and returns its table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from groundlm.cli.commands import write_json
from groundlm.errors import UserError
from groundlm.evaluation import format_table


def bench_data_command(n: int, size: int, workers: Sequence[int], json_path: str | None) -> str:
    from groundlm.bench.data_speed import bench_data

    result = bench_data(n=n, size=size, workers=tuple(workers))
    write_json(json_path, result)
    rows = [(f"{r['workers']} worker(s)", {k: v for k, v in r.items() if k != "workers"}) for r in result["rows"]]
    return format_table(f"SpatialWorld generation, {size}x{size}, {result['cpu_count']} CPUs", rows)


def bench_speed_command(batch: int, steps: int, device: str | None, json_path: str | None) -> str:
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
    checkpoint: str | None,
    clients: Sequence[int],
    requests: int,
    max_batch: int,
    wait_ms: float,
    device: str | None,
    json_path: str | None,
) -> str:
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


def bench_hpe_command(
    preset_name: str,
    json_path: str | None,
    run_dir: str | None,
    train: str | None,
    test: str | None,
    grounding: str | None,
    grounding_test: str | None,
    base_model: str | None,
    numeric: str | None = None,
    samples: int | None = None,
    tower: str | None = None,
    device: str | None = None,
) -> str:
    from groundlm.bench.hpe import format_hpe_table, preset, run_hpe_bench
    from groundlm.formats.numeric import NumericDecoding

    decoding = None
    if numeric is not None or samples is not None:
        default = preset(preset_name).numeric
        decoding = NumericDecoding(numeric or default.mode, samples or default.samples, default.temperature)
    cfg = preset(
        preset_name,
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
    result = run_hpe_bench(cfg)
    write_json(json_path, result)
    lines = [format_hpe_table(result), f"run directory: {result['run_dir']} (bench-hpe.json, models/)"]
    if result["pictures"]:
        lines.append(f"pictures of '{result['best_vlm_row']}': {Path(result['pictures'][0]).parent}/")
    return "\n".join(lines)


def bench_depth_command(
    preset_name: str,
    json_path: str | None,
    run_dir: str | None,
    train: str | None,
    test: str | None,
    pool: str | None,
    lm: str | None,
    tower: str | None,
    device: str | None,
) -> str:
    from groundlm.bench.depth import format_depth_tables, preset, run_depth_bench

    if (train is None) != (test is None):
        raise UserError("--train and --test go together (the zero-shot protocol needs both)")
    for name, path in (("--lm", lm), ("--tower", tower)):
        if path is not None and not Path(path).is_dir():
            raise UserError(f"{name} {path}: no such directory")
    cfg = preset(preset_name, run_dir=run_dir, train=train, test=test, pool=pool, lm=lm, tower=tower, device=device)
    result = run_depth_bench(cfg)
    write_json(json_path, result)
    return format_depth_tables(result) + f"\nrun directory: {result['run_dir']} (bench-depth.json, models/)"


def bench_method_command(
    module: str,
    preset_name: str,
    json_path: str | None,
    run_dir: str | None,
    train: str | None,
    test: str | None,
    tower: str | None,
    device: str | None,
    seed: int | None = None,
) -> str:
    """``groundlm bench pixel|region``: ``groundlm.bench.<module>``'s bench at a preset (its ``preset``,
    ``run_<module>_bench`` and ``format_<module>_table``); writes the JSON and returns the table."""
    import importlib

    bench = importlib.import_module(f"groundlm.bench.{module}")
    if tower is not None and not Path(tower).is_dir():
        raise UserError(f"--tower {tower}: no such directory")
    cfg = bench.preset(preset_name, run_dir=run_dir, train=train, test=test, tower=tower, device=device, seed=seed)
    result = getattr(bench, f"run_{module}_bench")(cfg)
    write_json(json_path, result)
    table = getattr(bench, f"format_{module}_table")(result)
    return table + f"\nrun directory: {result['run_dir']} (bench-{module}.json, models/)"


def bench_train_command(
    config: str, steps: int, workers: Sequence[int] | None, device: str | None, json_path: str | None
) -> str:
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
