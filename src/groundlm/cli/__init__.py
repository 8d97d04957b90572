"""The ``groundlm`` command.

Each subcommand is a plain function with typed arguments (:mod:`groundlm.cli.commands`, :mod:`groundlm.cli.evaluate`,
:mod:`groundlm.cli.bench`; shared options in :mod:`groundlm.cli.options`);
its options are read from its signature and docstring (:mod:`groundlm.cli.arguments`). ``main`` parses the command
line, calls the function, and maps user errors (:func:`groundlm.errors.is_user_error`) to a one-line message
and exit status 2. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

from groundlm import __version__
from groundlm.cli.arguments import Command, Group, Tree, add_commands
from groundlm.cli.bench import (
    bench_data_command,
    bench_depth_command,
    bench_method_command,
    bench_serve_command,
    bench_speed_command,
    bench_train_command,
    hpe_command,
)
from groundlm.cli.commands import (
    data_info_command,
    data_make_command,
    data_show_command,
    formats_list_command,
    formats_parse_command,
    merge_command,
    predict_command,
    pretrain_command,
    serve_command,
    train_command,
)
from groundlm.cli.evaluate import eval_command
from groundlm.errors import is_user_error

COMMANDS: Tree = {
    "eval": eval_command,
    "data": Group(
        "generate and inspect datasets",
        {"make": data_make_command, "info": data_info_command, "show": data_show_command},
    ),
    "bench": Group(
        "benchmarks (print a table, optionally write JSON)",
        {
            "data": bench_data_command,
            "speed": bench_speed_command,
            "hpe": (
                partial(hpe_command, "bench"),
                "head pose grounding: LoRA, rehearsal, merging, CNN baseline (HPE-CogVLM)",
            ),
            "depth": bench_depth_command,
            "pixel": (
                partial(bench_method_command, "pixel"),
                "PixelLLM: per-word points, refer by text vs regression, location prompts",
            ),
            "region": (
                partial(bench_method_command, "region"),
                "DynRefer: 1 view, fixed, random and pHash-selected views, tasks, baseline",
            ),
            "train": bench_train_command,
            "serve": bench_serve_command,
        },
    ),
    "recipe": Group(
        "a method's pipeline end to end, its models and their scores (no baselines: see bench)",
        {
            "hpe": (
                partial(hpe_command, "recipe"),
                "HPE-CogVLM: grounding base, pose LoRA per rehearsal ratio, merges, evaluation",
            ),
        },
    ),
    "serve": serve_command,
    "merge": merge_command,
    "train": train_command,
    "pretrain": pretrain_command,
    "predict": predict_command,
    "formats": Group("inspect the text formats", {"list": formats_list_command, "parse": formats_parse_command}),
}
"""Every ``groundlm`` command: its name and the typed function its arguments are read from."""


def _current(fn: Command) -> Command:
    """The command as this module names it when it runs (a test may stand another in for it)."""
    return globals().get(getattr(fn, "__name__", ""), fn)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groundlm", description="Teach vision-language models spatial skills.")
    parser.add_argument("--version", action="version", version=f"groundlm {__version__}")
    add_commands(parser.add_subparsers(dest="command", required=True), COMMANDS, call=_current)
    return parser


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
