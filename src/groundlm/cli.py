"""The ``groundlm`` command.

Each subcommand is a plain function with typed arguments, named by its parser as its handler; ``main`` parses the
command line, calls the handler, and maps user errors (:func:`groundlm.errors.is_user_error`) to a one-line message
and exit status 2. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groundlm import __version__, formats
from groundlm.errors import UserError, is_user_error
from groundlm.evaluation import TASKS, Options, evaluate, format_table


def _jsonable(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def eval_command(
    task: str,
    gt: str,
    preds: Sequence[str],
    format_names: Sequence[str] = (),
    as_json: bool = False,
    options: Options | None = None,
) -> str:
    """Evaluate one or more prediction files; returns the table, or JSON (one object, or one per file)."""
    options = options or Options()
    if len(format_names) not in (0, 1, len(preds)):
        raise UserError(f"give --format once, or once per --pred ({len(preds)} files, {len(format_names)} formats)")
    reports = []
    for i, pred in enumerate(preds):
        name = format_names[i] if len(format_names) == len(preds) else (format_names[0] if format_names else None)
        options.format = name
        report = evaluate(task, gt, pred, options)
        for w in report.warnings:
            print(f"warning: {Path(pred).name}: {w}", file=sys.stderr)
        reports.append((name, report))
    if as_json:
        if len(reports) == 1:
            return json.dumps(_jsonable(reports[0][1].metrics))
        return json.dumps({r.pred_path: _jsonable(r.metrics) for _, r in reports})
    rows = [(Path(r.pred_path).name + (f" [{name}]" if name else ""), r.metrics) for name, r in reports]
    table = format_table(f"{task}: {gt}", rows)
    notes = []
    for _, r in reports:
        if r.errors:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items()))
            notes.append(f"  invalid in {Path(r.pred_path).name}: {kinds}")
    return table + ("\n" + "\n".join(notes) if notes else "")


def formats_parse_command(name: str, text: str, width: float, height: float) -> str:
    """Parse ``text`` in format ``name`` for an image of ``width x height`` pixels; the result as JSON."""
    return json.dumps(formats.get(name).parse(text, width, height).to_dict())


def formats_list_command() -> str:
    return "\n".join(f"{n:10s} {formats.get(n).description}" for n in formats.names())


def _write_json(path: str | None, result: dict) -> None:
    """Write a benchmark's result to ``path`` (its folder created) when one is given."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")


def data_make_command(
    out: str, n: int, seed: int, domain: str, size: int, workers: int, scene_type: str | None = None
) -> str:
    """Generate a SpatialWorld split into ``out``."""
    from groundlm.data.synth.writer import write_split

    path = write_split(out, n, seed=seed, domain=domain, size=size, workers=workers, scene_type=scene_type)
    return f"wrote {n} samples to {path}"


def data_info_command(uri: str, as_json: bool = False) -> str:
    from groundlm import data
    from groundlm.data.info import dataset_info, format_info

    info = dataset_info(data.load(uri))
    return json.dumps(info) if as_json else format_info(info)


def data_show_command(uri: str, index: int, out: str) -> str:
    from groundlm import data
    from groundlm.data.show import render_sample

    ds = data.load(uri)
    if not 0 <= index < len(ds):
        raise UserError(f"index {index} is out of range: {uri} has {len(ds)} samples")
    render_sample(ds[index]).save(out)
    return f"wrote {out}"


def bench_data_command(n: int, size: int, workers: Sequence[int], json_path: str | None) -> str:
    from groundlm.bench.data_speed import bench_data

    result = bench_data(n=n, size=size, workers=tuple(workers))
    _write_json(json_path, result)
    rows = [(f"{r['workers']} worker(s)", {k: v for k, v in r.items() if k != "workers"}) for r in result["rows"]]
    return format_table(f"SpatialWorld generation, {size}x{size}, {result['cpu_count']} CPUs", rows)


def train_command(config: str, overrides: Sequence[str], resume: bool) -> str:
    from groundlm.train.config import load_config
    from groundlm.train.loop import train

    summary = train(load_config(config, list(overrides)), resume=resume)
    return json.dumps(summary, indent=2) if summary else ""


def pretrain_command(config: str, overrides: Sequence[str], out: str | None) -> str:
    from groundlm.pretrain.tower import load_pretrain_config, pretrain_tower

    cfg = load_pretrain_config(config, list(overrides))
    if out:
        cfg.out = out
    summary = pretrain_tower(cfg)
    return json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2) + f"\ntower written to {cfg.out}"


def predict_command(
    checkpoint: str,
    image: str,
    task: str,
    query: str | None,
    box: Sequence[float] | None,
    format_name: str,
    constrain: bool,
    out: str | None,
    numeric: str = "greedy",
    samples: int = 16,
    reread: bool | None = None,
) -> str:
    from PIL import Image

    from groundlm.formats.numeric import NumericDecoding
    from groundlm.inference import draw_overlay, load_model, predict
    from groundlm.tasks import trained_options

    if task == "refer" and not query:
        raise UserError("refer needs --query TEXT")
    if task == "region_caption" and box is None:
        raise UserError("region_caption needs --box X0 Y0 X1 Y1")
    if task == "pose" and not query:
        raise UserError('pose needs --query naming the person, e.g. "the person in the red shirt"')
    if not Path(image).is_file():
        raise UserError(f"{image}: no such image")
    with Image.open(image) as im:
        picture = im.convert("RGB")
    result = predict(
        load_model(checkpoint),
        picture,
        task,
        query,
        tuple(box) if box else None,
        format_name,
        constrain,
        numeric=NumericDecoding(numeric, samples),
        reread=trained_options(checkpoint, "pose").get("reread", False) if reread is None else reread,
        query_first=trained_options(checkpoint, "refer").get("query_first", False),
    )
    if out:
        draw_overlay(picture, result, out)
        result["overlay"] = out
    return json.dumps(_jsonable(result))


def eval_checkpoint_command(
    task: str,
    checkpoint: str,
    uri: str,
    limit: int,
    format_name: str | None,
    constrain: bool,
    as_json: bool,
    numeric: str = "greedy",
    samples: int = 16,
) -> str:
    from groundlm import data
    from groundlm.formats.numeric import NumericDecoding
    from groundlm.inference import Collator, load_model
    from groundlm.tasks import build_task, trained_options
    from groundlm.train.evaluate import evaluate_task

    model = load_model(checkpoint)
    names = {"refer": "refer", "caption": "region_caption", "pose": "pose"}
    if task not in names:
        raise UserError(f"evaluating a checkpoint supports the tasks refer, pose and caption, not {task!r}")
    options = {}
    if task == "refer":
        trained = trained_options(checkpoint, "refer")
        options = {"format": format_name or "cogvlm", "query_first": trained.get("query_first", False)}
    if task == "pose":
        options = {"reread": trained_options(checkpoint, "pose").get("reread", False)}
    task_obj = build_task(names[task], **options)
    collator = Collator.for_model(model)
    metrics = evaluate_task(
        model,
        collator,
        task_obj,
        data.load(uri),
        limit,
        max_new_tokens=40 if task == "pose" else 24,
        constrain=(format_name or "cogvlm") if constrain and task == "refer" else None,
        numeric=NumericDecoding(numeric, samples),
    )
    if as_json:
        return json.dumps(_jsonable(metrics))
    return format_table(f"{task}: {checkpoint} on {uri}", [(Path(checkpoint).name, metrics)])


def bench_speed_command(batch: int, steps: int, device: str | None, json_path: str | None) -> str:
    from groundlm.bench.speed import bench_speed

    result = bench_speed(batch=batch, steps=steps, device=device)
    _write_json(json_path, result)
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
    )
    result = run_hpe_bench(cfg)
    _write_json(json_path, result)
    lines = [format_hpe_table(result), f"run directory: {result['run_dir']} (bench-hpe.json, models/)"]
    if result["pictures"]:
        lines.append(f"pictures of '{result['best_vlm_row']}': {Path(result['pictures'][0]).parent}/")
    return "\n".join(lines)


def merge_command(
    base: str,
    tuned: Sequence[str],
    out: str,
    method: str,
    weights: Sequence[float] | None,
    density: float,
    tau: float,
    granularity: str,
    seed: int,
) -> str:
    from groundlm.adapters.merge import merge_models

    for d in (base, *tuned):
        if not Path(d).is_dir():
            raise UserError(f"{d}: no such model directory")
    report = merge_models(base, tuned, out, method, weights, density, tau, granularity, seed)  # type: ignore[arg-type]
    if method == "layer_select":
        rows = [
            (c["layer"], {"similarity": min(c["similarity"]), "source": c["source"]})
            for c in report["layers"]["layers"]
        ]
        taken = ", ".join(f"{k}: {v}" for k, v in report["taken"].items())
        return format_table(f"layer selection, tau {tau}, by {granularity} ({taken} layers)", rows) + f"\nwrote {out}"
    return f"merged {base} with {len(tuned)} fine-tune(s) by {method}; wrote {out}"


def _build_parser() -> argparse.ArgumentParser:
    from groundlm.data.synth.world import DOMAINS

    parser = argparse.ArgumentParser(prog="groundlm", description="Teach vision-language models spatial skills.")
    parser.add_argument("--version", action="version", version=f"groundlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="score prediction files against ground truth")
    ev.add_argument("task", choices=TASKS)
    ev.add_argument("--gt", help="ground-truth JSON Lines file")
    ev.add_argument("--pred", action="append", default=[], help="prediction JSON Lines file (repeatable)")
    ev.add_argument("--checkpoint", help="evaluate a model directory instead of prediction files")
    ev.add_argument("--data", help="with --checkpoint: the dataset URI to evaluate on")
    ev.add_argument("--limit", type=int, default=500, help="with --checkpoint: items to evaluate")
    ev.add_argument("--constrain", action="store_true", help="with --checkpoint: format-constrained decoding")
    ev.add_argument(
        "--format",
        action="append",
        default=[],
        choices=formats.names(),
        help="format of 'text' predictions: once, or once per --pred",
    )
    ev.add_argument("--json", action="store_true", help="print metrics as JSON")
    ev.add_argument(
        "--policy",
        default="first",
        choices=formats.MULTI_BOX_POLICIES,
        help="refer: what to do with several boxes where one is expected",
    )
    ev.add_argument("--threshold", type=float, default=0.5, help="refer: IoU threshold of the accuracy")
    ev.add_argument("--strict", action="store_true", help="refer: count IoU > threshold instead of >=")
    ev.add_argument(
        "--numeric",
        default=None,
        choices=("greedy", "mean", "median"),
        help="refer, pose: combine the numbers of sampled answers ('texts' in --pred files; with --checkpoint, "
        "sample --samples answers) by their mean or median; with --checkpoint 'greedy' decodes once",
    )
    ev.add_argument("--no-pose-filter", action="store_true", help="pose: keep samples with |angle| > 99 degrees")
    ev.add_argument("--min-depth", type=float, default=1e-3, help="depth: lower cap in metres")
    ev.add_argument("--max-depth", type=float, default=10.0, help="depth: upper cap in metres")
    ev.add_argument("--eigen-crop", action="store_true", help="depth: evaluate inside the Eigen crop only")
    ev.add_argument(
        "--align",
        default="none",
        choices=("none", "median", "lstsq", "lstsq_disparity"),
        help="depth: align predictions to ground truth first",
    )
    ev.add_argument("--samples", type=int, default=16, help="with --checkpoint and --numeric mean|median: answers")

    dt = sub.add_parser("data", help="generate and inspect datasets")
    dsub = dt.add_subparsers(dest="data_command", required=True)
    mk = dsub.add_parser("make", help="generate a SpatialWorld split")
    mk.add_argument("--out", required=True, help="output folder")
    mk.add_argument("--n", type=int, required=True, help="number of samples")
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument(
        "--domain",
        default="classic",
        help=f"style preset: {', '.join(DOMAINS)}",
    )
    mk.add_argument("--size", type=int, default=224, help="image side in pixels")
    mk.add_argument("--workers", type=int, default=1, help="generating processes")
    mk.add_argument(
        "--scene-type", default=None, help="room, corridor, courtyard, studio or warehouse (default: mixed)"
    )
    inf = dsub.add_parser("info", help="counts and label statistics of a dataset")
    inf.add_argument("uri", help="dataset URI or SpatialWorld folder")
    inf.add_argument("--json", action="store_true")
    sh = dsub.add_parser("show", help="draw one sample with its labels")
    sh.add_argument("uri")
    sh.add_argument("--index", type=int, default=0)
    sh.add_argument("--out", required=True, help="PNG file to write")

    bn = sub.add_parser("bench", help="benchmarks (print a table, optionally write JSON)")
    bsub = bn.add_subparsers(dest="bench_command", required=True)
    bd = bsub.add_parser("data", help="SpatialWorld generation speed")
    bd.add_argument("--n", type=int, default=200)
    bd.add_argument("--size", type=int, default=224)
    bd.add_argument("--workers", type=int, nargs="+", default=[1])
    bd.add_argument("--json", default=None, metavar="FILE")
    bs = bsub.add_parser("speed", help="our VLM against transformers' LlavaForConditionalGeneration")
    bs.add_argument("--batch", type=int, default=16)
    bs.add_argument("--steps", type=int, default=10)
    bs.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    bs.add_argument("--json", default=None, metavar="FILE")
    bh = bsub.add_parser("hpe", help="head pose grounding: LoRA, rehearsal, merging, CNN baseline (HPE-CogVLM)")
    size = bh.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="preset", help="2 CPU cores, <30 min")
    size.add_argument("--preset", choices=("demo", "quick", "full"), help="sizes (default: full, for a GPU)")
    bh.set_defaults(preset="full")
    bh.add_argument("--json", default=None, metavar="FILE")
    bh.add_argument("--run-dir", default=None, help="default runs/bench-hpe")
    bh.add_argument("--train", default=None, metavar="URI", help="pose training data (default: SpatialWorld headshot)")
    bh.add_argument("--test", default=None, metavar="URI", help="pose test data (default: headshot-dusk)")
    bh.add_argument("--grounding", default=None, metavar="URI", help="referring data (default: the train data)")
    bh.add_argument("--grounding-test", default=None, metavar="URI", help="default: the test data")
    bh.add_argument("--base-model", default=None, metavar="DIR", help="a trained grounding model: skip its training")
    bh.add_argument("--tower", default=None, metavar="DIR", help="the pretrained tower (default: the preset's)")
    bh.add_argument(
        "--numeric", default=None, choices=("greedy", "mean", "median"), help="angle decoding (default: median)"
    )
    bh.add_argument("--samples", type=int, default=None, help="sampled answers per head for mean/median (16)")

    mg = sub.add_parser("merge", help="merge fine-tuned models (or LoRA adapters) with their base")
    mg.add_argument("--base", required=True, help="the base model directory")
    mg.add_argument("--tuned", required=True, nargs="+", help="fine-tuned model or adapter directories")
    mg.add_argument("--out", required=True, help="the merged model directory to write")
    mg.add_argument(
        "--method",
        default="task_arithmetic",
        choices=("task_arithmetic", "ties", "dare_linear", "dare_ties", "layer_select"),
    )
    mg.add_argument("--weights", type=float, nargs="+", default=None, help="lambda per fine-tune (default 1)")
    mg.add_argument("--density", type=float, default=0.5, help="kept share for TIES and DARE")
    mg.add_argument("--tau", type=float, default=0.999, help="layer selection: cosine threshold")
    mg.add_argument("--granularity", choices=("module", "block"), default="module")
    mg.add_argument("--seed", type=int, default=0, help="DARE's random drop")

    tr = sub.add_parser("train", help="train a model from a YAML config")
    tr.add_argument("config")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    tr.add_argument("--resume", action="store_true", help="continue from the run directory's newest checkpoint")

    pt = sub.add_parser("pretrain", help="pretrain a vision tower on SpatialWorld's dense labels")
    pt.add_argument("config", help="a YAML config, e.g. configs/tower-quick.yaml")
    pt.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    pt.add_argument("--out", default=None, help="the tower directory to write (default: the config's 'out')")

    pr = sub.add_parser("predict", help="answer one query about one image")
    pr.add_argument("--checkpoint", required=True, help="a model directory (e.g. RUN/final)")
    pr.add_argument("--image", required=True)
    pr.add_argument("--task", default="refer", choices=("refer", "region_caption", "pose"))
    pr.add_argument("--query", help="refer: the referring expression; pose: the person")
    pr.add_argument("--box", nargs=4, type=float, metavar=("X0", "Y0", "X1", "Y1"), help="region_caption: pixels")
    pr.add_argument("--format", default="cogvlm", choices=formats.names(), help="box format the model writes")
    pr.add_argument("--constrain", action="store_true", help="format-constrained decoding")
    pr.add_argument("--out", help="write an overlay PNG")
    pr.add_argument(
        "--numeric",
        default="greedy",
        choices=("greedy", "mean", "median"),
        help="refer, pose: decode numbers greedily, or as the mean/median of --samples sampled answers",
    )
    pr.add_argument("--samples", type=int, default=16)
    pr.add_argument(
        "--reread",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pose: the model re-reads its head box before the angles (default: as its tasks.json says)",
    )

    fm = sub.add_parser("formats", help="inspect the text formats")
    fsub = fm.add_subparsers(dest="formats_command", required=True)
    fsub.add_parser("list", help="list the formats")
    fp = fsub.add_parser("parse", help="parse model output text and print the result as JSON")
    fp.add_argument("name", choices=formats.names())
    fp.add_argument("text")
    fp.add_argument("--size", nargs=2, type=float, metavar=("W", "H"), required=True, help="image size in pixels")

    # Each command's handler: the parsed arguments -> the plain typed function above.
    ev.set_defaults(handler=_eval)
    mk.set_defaults(handler=lambda a: data_make_command(a.out, a.n, a.seed, a.domain, a.size, a.workers, a.scene_type))
    inf.set_defaults(handler=lambda a: data_info_command(a.uri, a.json))
    sh.set_defaults(handler=lambda a: data_show_command(a.uri, a.index, a.out))
    bd.set_defaults(handler=lambda a: bench_data_command(a.n, a.size, a.workers, a.json))
    bs.set_defaults(handler=lambda a: bench_speed_command(a.batch, a.steps, a.device, a.json))
    bh.set_defaults(
        handler=lambda a: bench_hpe_command(
            a.preset,
            a.json,
            a.run_dir,
            a.train,
            a.test,
            a.grounding,
            a.grounding_test,
            a.base_model,
            a.numeric,
            a.samples,
            a.tower,
        )
    )
    mg.set_defaults(
        handler=lambda a: merge_command(
            a.base, a.tuned, a.out, a.method, a.weights, a.density, a.tau, a.granularity, a.seed
        )
    )
    tr.set_defaults(handler=lambda a: train_command(a.config, a.set, a.resume))
    pt.set_defaults(handler=lambda a: pretrain_command(a.config, a.set, a.out))
    pr.set_defaults(
        handler=lambda a: predict_command(
            a.checkpoint,
            a.image,
            a.task,
            a.query,
            a.box,
            a.format,
            a.constrain,
            a.out,
            a.numeric,
            a.samples,
            a.reread,
        )
    )
    fsub.choices["list"].set_defaults(handler=lambda a: formats_list_command())
    fp.set_defaults(handler=lambda a: formats_parse_command(a.name, a.text, *a.size))
    return parser


def _eval(args: argparse.Namespace) -> str:
    """``groundlm eval``: a checkpoint on a dataset, or prediction files against ground truth."""
    if args.checkpoint:
        if not args.data:
            raise UserError("--checkpoint needs --data URI")
        return eval_checkpoint_command(
            args.task,
            args.checkpoint,
            args.data,
            args.limit,
            args.format[0] if args.format else None,
            args.constrain,
            args.json,
            args.numeric or "greedy",
            args.samples,
        )
    if not args.gt or not args.pred:
        raise UserError("eval needs --gt and --pred (or --checkpoint and --data)")
    options = Options(
        policy=args.policy,
        threshold=args.threshold,
        inclusive=not args.strict,
        pose_filter=None if args.no_pose_filter else 99.0,
        min_depth=args.min_depth,
        max_depth=args.max_depth,
        eigen_crop=args.eigen_crop,
        align=args.align,
        numeric="mean" if args.numeric in (None, "greedy") else args.numeric,
    )
    return eval_command(args.task, args.gt, args.pred, args.format, args.json, options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.handler(args)
    except Exception as e:
        if not is_user_error(e):
            raise  # a bug: the traceback is what a report needs
        print(f"groundlm: error: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
