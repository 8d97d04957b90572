"""The ``groundlm`` commands as plain typed functions: arguments in, the text to print out. User errors raise
(:class:`~groundlm.errors.UserError` and the like); :mod:`groundlm.cli` parses the command line and words them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from groundlm import formats
from groundlm.cli.arguments import Arg
from groundlm.cli.options import (
    AsJson,
    Device,
    FormatName,
    Numeric,
    Overrides,
    jsonable,
    predict_tasks,
    question_task,
)
from groundlm.errors import UserError
from groundlm.evaluation import format_table


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

    asked = question_task(task)
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
