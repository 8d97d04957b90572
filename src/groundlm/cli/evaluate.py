"""``groundlm eval``: score prediction files, or a checkpoint's answers on a dataset, against ground truth."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from groundlm import formats
from groundlm.cli.arguments import Arg
from groundlm.cli.options import AsJson, Numeric, answerable_tasks, jsonable, question_task, run_device
from groundlm.errors import UserError
from groundlm.evaluation import TASKS, Options, evaluate, format_table


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
        if question_task(task) is None and task in answerable_tasks():  # answered by a kind of model, not in text
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

    in_text = [t for t in TASKS if question_task(t) is not None]  # the scored tasks a model answers in text
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
