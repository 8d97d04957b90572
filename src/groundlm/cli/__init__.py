"""The ``groundlm`` command.

Each subcommand is a plain function with typed arguments, named by its parser as its handler; ``main`` parses the
command line, calls the handler, and maps user errors (:func:`groundlm.errors.is_user_error`) to a one-line message
and exit status 2. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from groundlm import __version__, formats
from groundlm.cli.bench import (
    bench_data_command,
    bench_depth_command,
    bench_hpe_command,
    bench_method_command,
    bench_serve_command,
    bench_speed_command,
    bench_train_command,
)
from groundlm.cli.commands import (
    data_info_command,
    data_make_command,
    data_show_command,
    eval_checkpoint_command,
    eval_command,
    eval_depth_checkpoint_command,
    formats_list_command,
    formats_parse_command,
    merge_command,
    predict_command,
    pretrain_command,
    run_device,
    serve_command,
    train_command,
)
from groundlm.errors import UserError, is_user_error
from groundlm.evaluation import TASKS, Options


def _method_bench(bsub, name: str, help: str) -> argparse.ArgumentParser:
    """A method's bench: presets (``--quick`` for 2 CPU cores, ``full`` for a GPU), data, tower, device, JSON."""
    parser = bsub.add_parser(name, help=help)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="preset", help="2 CPU cores, <30 min")
    size.add_argument("--preset", choices=("quick", "full"), help="sizes (default: full, for a GPU)")
    parser.set_defaults(preset="full")
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--run-dir", default=None, help=f"default runs/bench-{name}")
    parser.add_argument("--train", default=None, metavar="URI", help="training data (default: SpatialWorld portrait)")
    parser.add_argument("--test", default=None, metavar="URI", help="test data (default: held-out portrait images)")
    parser.add_argument("--tower", default=None, metavar="DIR", help="the pretrained tower (default: the preset's)")
    parser.add_argument("--device", default=None, help="cpu or cuda for every model (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=None, help="models' seed (default 0); the data stay the same")
    parser.set_defaults(
        handler=lambda a: bench_method_command(
            name, a.preset, a.json, a.run_dir, a.train, a.test, a.tower, run_device(a.device), a.seed
        )
    )
    return parser


def _build_parser() -> argparse.ArgumentParser:
    from groundlm.data.synth.world import DOMAINS

    parser = argparse.ArgumentParser(prog="groundlm", description="Teach vision-language models spatial skills.")
    parser.add_argument("--version", action="version", version=f"groundlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="score prediction files against ground truth")
    ev.add_argument("task", choices=TASKS)
    ev.add_argument("--gt", help="ground-truth JSON Lines file")
    ev.add_argument("--pred", action="append", default=[], help="prediction JSON Lines file (repeatable)")
    ev.add_argument(
        "--checkpoint", help="evaluate a model directory (groundlm's or a transformers VLM's), not prediction files"
    )
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
    ev.add_argument("--device", default=None, help="with --checkpoint: cpu or cuda (default: cuda if available)")

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
    mk.add_argument("--workers", type=int, default=None, help="generating processes (default: one per core)")
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
    bh.add_argument(
        "--base-model",
        default=None,
        metavar="DIR",
        help="a grounding model to start from, groundlm's or a transformers VLM's (LLaVA, Qwen2-VL, PaliGemma)",
    )
    bh.add_argument("--tower", default=None, metavar="DIR", help="the pretrained tower (default: the preset's)")
    bh.add_argument(
        "--numeric", default=None, choices=("greedy", "mean", "median"), help="angle decoding (default: median)"
    )
    bh.add_argument("--samples", type=int, default=None, help="sampled answers per head for mean/median (16)")
    bh.add_argument("--device", default=None, help="cpu or cuda for every model (default: cuda if available)")

    bp = bsub.add_parser("depth", help="LLM-MDE: ablations, CNN baseline, floor; zero-shot and k-shot")
    dsize = bp.add_mutually_exclusive_group()
    dsize.add_argument("--quick", action="store_const", const="quick", dest="preset", help="2 CPU cores, <30 min")
    dsize.add_argument("--preset", choices=("quick", "full"), help="sizes (default: full, for a GPU)")
    bp.set_defaults(preset="full")
    bp.add_argument("--json", default=None, metavar="FILE")
    bp.add_argument("--run-dir", default=None, help="default runs/bench-depth")
    bp.add_argument("--train", default=None, metavar="URI", help="training data (default: SpatialWorld classic+vivid)")
    bp.add_argument("--test", default=None, metavar="URI", help="test data (default: SpatialWorld portrait)")
    bp.add_argument("--pool", default=None, metavar="URI", help="k-shot images (default: the test domain, or --train)")
    bp.add_argument("--lm", default=None, metavar="DIR", help="a pretrained LM (default: pretrain one on SpatialWorld)")
    bp.add_argument("--tower", default=None, metavar="DIR", help="the pretrained tower (default: the preset's)")
    bp.add_argument("--device", default=None, help="cpu or cuda for every model (default: cuda if available)")

    _method_bench(bsub, "pixel", "PixelLLM: per-word points, refer by text vs regression, location prompts")
    _method_bench(bsub, "region", "DynRefer: 1 view, fixed, random and pHash-selected views, tasks, baseline")

    bt = bsub.add_parser("train", help="the trainer end to end against the model step alone, same batches")
    bt.add_argument("--config", default="configs/refer-quick.yaml")
    bt.add_argument("--steps", type=int, default=100, help="optimisation steps per row")
    bt.add_argument("--workers", type=int, nargs="+", default=None, help="data workers, one row each")
    bt.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    bt.add_argument("--json", default=None, metavar="FILE")
    bv = bsub.add_parser("serve", help="load test of groundlm serve on 127.0.0.1")
    bv.add_argument("--checkpoint", default=None, help="model directory (default: a random refer-quick-size model)")
    bv.add_argument("--clients", type=int, nargs="+", default=[1, 16], help="concurrent clients, one row each")
    bv.add_argument("--requests", type=int, default=200, help="requests per row")
    bv.add_argument("--max-batch", type=int, default=8)
    bv.add_argument("--wait-ms", type=float, default=10.0)
    bv.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    bv.add_argument("--json", default=None, metavar="FILE")

    sv = sub.add_parser("serve", help="an HTTP API and a web page in front of a model")
    sv.add_argument("--checkpoint", required=True, help="a model directory (e.g. RUN/final)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    sv.add_argument("--max-batch", type=int, default=8, help="largest batch of concurrent requests")
    sv.add_argument("--wait-ms", type=float, default=10.0, help="how long a request waits for company")
    sv.add_argument("--max-upload-mb", type=float, default=8.0, help="largest accepted image file")

    mg = sub.add_parser("merge", help="merge fine-tuned models (or LoRA adapters) with their base")
    mg.add_argument("--base", required=True, help="the base model directory (groundlm's, or a transformers VLM's)")
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
    pt.add_argument("--resume", action="store_true", help="continue from the tower directory's newest checkpoint")

    pr = sub.add_parser("predict", help="answer one query about one image")
    pr.add_argument("--checkpoint", required=True, help="a model directory (e.g. RUN/final)")
    pr.add_argument("--image", required=True)
    pr.add_argument(
        "--task",
        default="refer",
        choices=("refer", "region_caption", "describe", "pose", "narrate", "depth"),
        help="describe: region_caption (a caption of --box); narrate: a narration with each word at its point",
    )
    pr.add_argument("--query", help="refer: the referring expression; pose: the person")
    pr.add_argument("--box", nargs=4, type=float, metavar=("X0", "Y0", "X1", "Y1"), help="region_caption: pixels")
    pr.add_argument(
        "--format",
        default=None,
        choices=formats.names(),
        help="box format the model writes (default: as it was trained, a transformers VLM's own, else cogvlm)",
    )
    pr.add_argument("--constrain", action="store_true", help="format-constrained decoding")
    pr.add_argument("--out", help="write an overlay PNG (depth: the 16-bit depth PNG, default IMAGE-depth.png)")
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
    pr.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")

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
            run_device(a.device),
        )
    )
    bp.set_defaults(
        handler=lambda a: bench_depth_command(
            a.preset, a.json, a.run_dir, a.train, a.test, a.pool, a.lm, a.tower, run_device(a.device)
        )
    )
    bt.set_defaults(handler=lambda a: bench_train_command(a.config, a.steps, a.workers, run_device(a.device), a.json))
    bv.set_defaults(
        handler=lambda a: bench_serve_command(
            a.checkpoint, a.clients, a.requests, a.max_batch, a.wait_ms, run_device(a.device), a.json
        )
    )
    sv.set_defaults(
        handler=lambda a: serve_command(
            a.checkpoint, a.host, a.port, run_device(a.device), a.max_batch, a.wait_ms, a.max_upload_mb
        )
    )
    mg.set_defaults(
        handler=lambda a: merge_command(
            a.base, a.tuned, a.out, a.method, a.weights, a.density, a.tau, a.granularity, a.seed
        )
    )
    tr.set_defaults(handler=lambda a: train_command(a.config, a.set, a.resume))
    pt.set_defaults(handler=lambda a: pretrain_command(a.config, a.set, a.out, a.resume))
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
            run_device(a.device),
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
        if args.task == "depth":
            return eval_depth_checkpoint_command(
                args.checkpoint, args.data, args.limit, args.align, args.eigen_crop, args.json, run_device(args.device)
            )
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
            run_device(args.device),
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
