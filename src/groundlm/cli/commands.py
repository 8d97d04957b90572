"""The ``groundlm`` commands as plain typed functions: arguments in, the text to print out. User errors raise
(:class:`~groundlm.errors.UserError` and the like); :mod:`groundlm.cli` parses the command line and words them."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from groundlm import formats
from groundlm.cli.arguments import Arg
from groundlm.errors import UserError
from groundlm.evaluation import TASKS, Options, evaluate, format_table


def jsonable(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def write_json(path: str | None, result: dict) -> None:
    """Write a benchmark's result to ``path`` (its folder created) when one is given."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")


def run_device(name: str | None) -> str | None:
    """The ``--device`` a command runs on: as given, else CUDA when there is one (``None``: where the model is)."""
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else None
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here")
    return name


Device = Annotated[str | None, Arg(convert=run_device)]
"""A ``--device`` option: cpu or cuda, default CUDA where there is one (:func:`run_device`)."""
JsonFile = Annotated[str | None, Arg(flag="--json", metavar="FILE")]
"""A ``--json FILE`` option: where to write a result as JSON."""
AsJson = Annotated[bool, Arg(flag="--json")]
"""A ``--json`` flag: print JSON instead of a table."""
Overrides = Annotated[Sequence[str], Arg(flag="--set", repeat=True, metavar="KEY=VALUE")]
"""``--set key.sub=value``, repeatable: config values replaced (parsed as YAML)."""
FormatName = Annotated[str | None, Arg(flag="--format", choices=formats.names)]
Numeric = Literal["greedy", "mean", "median"]


def eval_command(
    task: Annotated[str, Arg(choices=TASKS)],
    *,
    gt: str | None = None,
    pred: Annotated[Sequence[str], Arg(repeat=True)] = (),
    checkpoint: str | None = None,
    data: str | None = None,
    limit: int = 500,
    constrain: bool = False,
    format_names: Annotated[Sequence[str], Arg(flag="--format", repeat=True, choices=formats.names)] = (),
    as_json: AsJson = False,
    policy: Annotated[str, Arg(choices=formats.MULTI_BOX_POLICIES)] = "first",
    threshold: float = 0.5,
    strict: bool = False,
    numeric: Numeric | None = None,
    no_pose_filter: bool = False,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    eigen_crop: bool = False,
    align: Literal["none", "median", "lstsq", "lstsq_disparity"] = "none",
    samples: int = 16,
    device: str | None = None,
) -> str:
    """score prediction files against ground truth

    Args:
        task: what the files or the model answer
        gt: ground-truth JSON Lines file
        pred: prediction JSON Lines file (repeatable)
        checkpoint: evaluate a model directory (groundlm's or a transformers VLM's), not prediction files
        data: with --checkpoint: the dataset URI to evaluate on
        limit: with --checkpoint: items to evaluate
        constrain: with --checkpoint: format-constrained decoding
        format_names: format of 'text' predictions: once, or once per --pred
        as_json: print metrics as JSON
        policy: refer: what to do with several boxes where one is expected
        threshold: refer: IoU threshold of the accuracy
        strict: refer: count IoU > threshold instead of >=
        numeric: refer, pose: combine the numbers of sampled answers ('texts' in --pred files; with --checkpoint,
          sample --samples answers) by their mean or median; with --checkpoint 'greedy' decodes once
        no_pose_filter: pose: keep samples with |angle| > 99 degrees
        min_depth: depth: lower cap in metres
        max_depth: depth: upper cap in metres
        eigen_crop: depth: evaluate inside the Eigen crop only
        align: depth: align predictions to ground truth first
        samples: with --checkpoint and --numeric mean|median: answers
        device: with --checkpoint: cpu or cuda (default: cuda if available)
    """
    if checkpoint:
        if not data:
            raise UserError("--checkpoint needs --data URI")
        if _question_task(task) is None and task in _answerable_tasks():  # answered by a kind of model, not in text
            return eval_map_checkpoint_command(
                task, checkpoint, data, limit, align, eigen_crop, as_json, run_device(device)
            )
        return eval_checkpoint_command(
            task,
            checkpoint,
            data,
            limit,
            format_names[0] if format_names else None,
            constrain,
            as_json,
            numeric or "greedy",
            samples,
            run_device(device),
        )
    if not gt or not pred:
        raise UserError("eval needs --gt and --pred (or --checkpoint and --data)")
    options = Options(
        policy=policy,
        threshold=threshold,
        inclusive=not strict,
        pose_filter=None if no_pose_filter else 99.0,
        min_depth=min_depth,
        max_depth=max_depth,
        eigen_crop=eigen_crop,
        align=align,
        numeric="mean" if numeric in (None, "greedy") else numeric,
    )
    return eval_predictions_command(task, gt, pred, format_names, as_json, options)


def eval_predictions_command(
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
            return json.dumps(jsonable(reports[0][1].metrics))
        return json.dumps({r.pred_path: jsonable(r.metrics) for _, r in reports})
    rows = [(Path(r.pred_path).name + (f" [{name}]" if name else ""), r.metrics) for name, r in reports]
    table = format_table(f"{task}: {gt}", rows)
    notes = []
    for _, r in reports:
        if r.errors:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items()))
            notes.append(f"  invalid in {Path(r.pred_path).name}: {kinds}")
    return table + ("\n" + "\n".join(notes) if notes else "")


def formats_parse_command(
    name: Annotated[str, Arg(choices=formats.names)],
    text: str,
    *,
    size: Annotated[tuple[float, float], Arg(metavar=("W", "H"))],
) -> str:
    """parse model output text and print the result as JSON

    Args:
        name: the format the text is in
        text: the model's answer
        size: image size in pixels
    """
    width, height = size
    return json.dumps(formats.get(name).parse(text, width, height).to_dict())


def formats_list_command() -> str:
    """list the formats"""
    return "\n".join(f"{n:10s} {formats.get(n).description}" for n in formats.names())


def data_make_command(
    *,
    out: str,
    n: int,
    seed: int = 0,
    domain: str = "classic",
    size: int = 224,
    workers: int | None = None,
    scene_type: str | None = None,
) -> str:
    """generate a SpatialWorld split

    Args:
        out: output folder
        n: number of samples
        seed: the split's random seed
        domain: style preset: classic, vivid, dusk, portrait, sparse, headshot or headshot-dusk
        size: image side in pixels
        workers: generating processes (default: one per core)
        scene_type: room, corridor, courtyard, studio or warehouse (default: mixed)
    """
    from groundlm.data.synth.writer import write_split

    path = write_split(out, n, seed=seed, domain=domain, size=size, workers=workers, scene_type=scene_type)
    return f"wrote {n} samples to {path}"


def data_info_command(uri: str, *, as_json: AsJson = False) -> str:
    """counts and label statistics of a dataset

    Args:
        uri: dataset URI or SpatialWorld folder
        as_json: print the statistics as JSON
    """
    from groundlm import data
    from groundlm.data.info import dataset_info, format_info

    info = dataset_info(data.load(uri))
    return json.dumps(info) if as_json else format_info(info)


def data_show_command(uri: str, *, index: int = 0, out: str) -> str:
    """draw one sample with its labels

    Args:
        uri: dataset URI or SpatialWorld folder
        index: which sample
        out: PNG file to write
    """
    from groundlm import data
    from groundlm.data.show import render_sample

    ds = data.load(uri)
    if not 0 <= index < len(ds):
        raise UserError(f"index {index} is out of range: {uri} has {len(ds)} samples")
    render_sample(ds[index]).save(out)
    return f"wrote {out}"


def train_command(config: str, *, overrides: Overrides = (), resume: bool = False) -> str:
    """train a model from a YAML config

    A grounded VLM, or the model of the method that the config's ``method:`` names.

    Args:
        config: a YAML config, e.g. configs/try.yaml
        overrides: override a config value
        resume: continue from the run directory's newest checkpoint
    """
    from groundlm.train.trainers import train_from_config

    summary = train_from_config(config, list(overrides), resume=resume)
    return json.dumps(summary, indent=2) if summary else ""


def pretrain_command(config: str, *, overrides: Overrides = (), out: str | None = None, resume: bool = False) -> str:
    """pretrain a vision tower on SpatialWorld's dense labels

    Args:
        config: a YAML config, e.g. configs/tower-quick.yaml
        overrides: override a config value
        out: the tower directory to write (default: the config's 'out')
        resume: continue from the tower directory's newest checkpoint
    """
    from groundlm.pretrain.tower import load_pretrain_config, pretrain_tower

    cfg = load_pretrain_config(config, list(overrides))
    if out:
        cfg.out = out
    summary = pretrain_tower(cfg, resume=resume)
    return json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2) + f"\ntower written to {cfg.out}"


def _answerable_tasks() -> tuple[str, ...]:
    from groundlm.inference.model import answerable_tasks

    return answerable_tasks()


def predict_tasks() -> list[str]:
    """The tasks ``predict`` asks: every task some kind of model answers, each followed by its aliases."""
    return [name for task in _answerable_tasks() for name in (task, *_task_aliases(task))]


def _task_aliases(task: str) -> tuple[str, ...]:
    from groundlm.tasks import task_class, task_names

    return task_class(task).aliases if task in task_names() else ()


def _question_task(task: str):
    """The registered task (:class:`~groundlm.tasks.base.Task` class) ``task`` or an alias names; None for a task that
    a kind of model answers without one (a depth map)."""
    from groundlm.tasks import task_class, task_names

    named = {name for t in task_names() for name in (t, *task_class(t).aliases)}
    return task_class(task) if task in named else None


def predict_command(
    *,
    checkpoint: str,
    image: str,
    task: Annotated[str, Arg(choices=predict_tasks)] = "refer",
    query: str | None = None,
    box: Annotated[tuple[float, float, float, float] | None, Arg(metavar=("X0", "Y0", "X1", "Y1"))] = None,
    format_name: FormatName = None,
    constrain: bool = False,
    out: str | None = None,
    numeric: Numeric = "greedy",
    samples: int = 16,
    reread: bool | None = None,
    device: Device = None,
) -> str:
    """answer one query about one image

    Args:
        checkpoint: a model directory (e.g. RUN/final)
        image: the picture to ask about
        task: describe: region_caption (a caption of --box); narrate: a narration with each word at its point
        query: refer: the referring expression; pose: the person
        box: region_caption: pixels
        format_name: box format the model writes (default: as it was trained, a transformers VLM's own, else cogvlm)
        constrain: format-constrained decoding
        out: write an overlay PNG (depth: the 16-bit depth PNG, default IMAGE-depth.png)
        numeric: refer, pose: decode numbers greedily, or as the mean/median of --samples sampled answers
        samples: sampled answers for --numeric mean|median
        reread: pose: the model re-reads its head box before the angles (default: as the model was trained)
        device: cpu or cuda (default: cuda if available)
    """
    from groundlm.formats.numeric import NumericDecoding
    from groundlm.inference import load_model

    asked = _question_task(task)
    if asked is not None:
        task = asked.name  # an alias (describe) names its task
        if asked.takes == "query" and not query:
            raise UserError(f"{task} needs --query {asked.query_hint}")
        if asked.takes == "box" and box is None:
            also = f" ({asked.aliases[0]})" if asked.aliases else ""
            raise UserError(f"{task}{also} needs --box X0 Y0 X1 Y1")
    picture = _read_image(image)
    model = load_model(checkpoint, device=device)
    # Options left None are asked as the model was trained (its manifest: format, reread, query order).
    result = model.answer(
        picture,
        task,
        query,
        box=tuple(box) if box else None,
        format=format_name,
        constrain=constrain,
        numeric=NumericDecoding(numeric, samples),
        reread=reread,
    )
    return json.dumps(jsonable(model.save_answer(picture, result, Path(image), out)))


def _read_image(path: str):
    from PIL import Image, UnidentifiedImageError

    if not Path(path).is_file():
        raise UserError(f"{path}: no such image")
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise UserError(f"{path}: not a readable image ({e})") from None


def eval_map_checkpoint_command(
    task: str,
    checkpoint: str,
    uri: str,
    limit: int,
    align: str,
    eigen_crop: bool,
    as_json: bool,
    device: str | None = None,
) -> str:
    """The metrics of a model whose answers to ``task`` are maps (an LLM-MDE model's depth), on the first ``limit``
    samples of ``uri`` that hold what they are scored against."""
    from groundlm import data
    from groundlm.inference import load_model

    model = load_model(checkpoint, device=device)
    model.check_task(task)
    metrics = model.evaluate(task, list(data.load(uri)), uri, limit, align=align, eigen_crop=eigen_crop)
    if as_json:
        return json.dumps(metrics)
    crop = ", Eigen crop" if eigen_crop else ""
    title = f"{task}: {checkpoint} on {uri} ({metrics['n']} images, align {align}{crop})"
    return format_table(title, [(Path(checkpoint).name, metrics)])


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
    device: str | None = None,
) -> str:
    from groundlm import data
    from groundlm.formats.numeric import NumericDecoding
    from groundlm.inference import load_model
    from groundlm.tasks import task_name
    from groundlm.train.evaluate import evaluate_answers

    in_text = [t for t in TASKS if _question_task(t) is not None]  # the scored tasks a model answers in text
    if task not in in_text:
        supported = f"{', '.join(in_text[:-1])} and {in_text[-1]}"
        raise UserError(f"evaluating a checkpoint supports the tasks {supported}, not {task!r}")
    name = task_name(task)  # caption: region_caption
    model = load_model(checkpoint, device=device)
    model.check_task(name)
    task_obj = model.task(name, format=format_name)  # as the model was trained on it
    constrained = task_obj.answer_format if constrain and task == "refer" else None
    print(f"evaluating {checkpoint} on {task}: at most {limit} items of {uri}", file=sys.stderr, flush=True)
    generator = model.generator(task_obj.eval_max_new_tokens, progress=True)
    metrics = evaluate_answers(
        generator, task_obj, data.load(uri), limit, constrained, NumericDecoding(numeric, samples)
    )
    if as_json:
        return json.dumps(jsonable(metrics))
    return format_table(f"{task}: {checkpoint} on {uri}", [(Path(checkpoint).name, metrics)])


def merge_command(
    *,
    base: str,
    tuned: Sequence[str],
    out: str,
    method: Literal["task_arithmetic", "ties", "dare_linear", "dare_ties", "layer_select"] = "task_arithmetic",
    weights: Sequence[float] | None = None,
    density: float = 0.5,
    tau: float = 0.999,
    granularity: Literal["module", "block"] = "module",
    seed: int = 0,
) -> str:
    """merge fine-tuned models (or LoRA adapters) with their base

    Args:
        base: the base model directory (groundlm's, or a transformers VLM's)
        tuned: fine-tuned model or adapter directories
        out: the merged model directory to write
        method: how the fine-tunes' differences combine
        weights: lambda per fine-tune (default 1)
        density: kept share for TIES and DARE
        tau: layer selection: cosine threshold
        granularity: layer selection: compare whole blocks or single modules
        seed: DARE's random drop
    """
    from groundlm.inference.merge import merge_saved_models

    for d in (base, *tuned):
        if not Path(d).is_dir():
            raise UserError(f"{d}: no such model directory")
    report = merge_saved_models(base, tuned, out, method, weights, density, tau, granularity, seed)  # type: ignore[arg-type]
    if method == "layer_select":
        rows = [
            (c["layer"], {"similarity": min(c["similarity"]), "source": c["source"]})
            for c in report["layers"]["layers"]
        ]
        taken = ", ".join(f"{k}: {v}" for k, v in report["taken"].items())
        return format_table(f"layer selection, tau {tau}, by {granularity} ({taken} layers)", rows) + f"\nwrote {out}"
    return f"merged {base} with {len(tuned)} fine-tune(s) by {method}; wrote {out}"


def serve_command(
    *,
    checkpoint: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: Device = None,
    max_batch: int = 8,
    wait_ms: float = 10.0,
    max_upload_mb: float = 8.0,
) -> str:
    """an HTTP API and a web page in front of a model

    The model in ``checkpoint`` answers until interrupted.

    Args:
        checkpoint: a model directory (e.g. RUN/final)
        host: the address to listen on
        port: the port to listen on
        device: cpu or cuda (default: cuda if available)
        max_batch: largest batch of concurrent requests
        wait_ms: how long a request waits for company
        max_upload_mb: largest accepted image file
    """
    from groundlm.serve import serve

    return serve(checkpoint, host, port, device, max_batch, wait_ms, max_upload_mb)
