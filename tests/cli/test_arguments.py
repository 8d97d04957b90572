"""The command line read from typed signatures (groundlm.cli.arguments)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Annotated, Literal

import pytest

from groundlm.cli.arguments import Arg, Group, add_commands, docstring_help


def toy(
    name: str,
    *,
    out: str,
    n: int = 3,
    scale: float = 0.5,
    mode: Literal["a", "b"] = "a",
    flag: bool = False,
    switch: bool | None = None,
    many: Sequence[int] = (1, 2),
    again: Annotated[Sequence[str], Arg(flag="--set", repeat=True)] = (),
    pair: tuple[float, float] | None = None,
    size: Annotated[Literal["quick", "full"], Arg(shorthands={"--quick": "quick"})] = "full",
    shout: Annotated[str | None, Arg(convert=lambda v: v and v.upper())] = None,
) -> str:
    """a toy command

    Args:
        name: the first word
        out: where it goes
        n: how many,
          on two lines
    """
    return repr(
        dict(name=name, out=out, n=n, scale=scale, mode=mode, flag=flag, switch=switch, many=many, again=again,
             pair=pair, size=size, shout=shout)
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t")
    add_commands(parser.add_subparsers(required=True), {"toy": toy, "g": Group("a group", {"inner": toy})})
    return parser


def _run(*argv: str) -> dict:
    args = _parser().parse_args(argv)
    return eval(args.handler(args))


def test_signatures_become_arguments():
    assert _run("toy", "x", "--out", "o") == dict(
        name="x", out="o", n=3, scale=0.5, mode="a", flag=False, switch=None, many=[1, 2], again=[], pair=None,
        size="full", shout=None,
    )  # fmt: skip
    got = _run(
        "g", "inner", "y", "--out", "o", "--n", "4", "--scale", "2", "--mode", "b", "--flag", "--no-switch",
        "--many", "5", "6", "7", "--set", "a=1", "--set", "b=2", "--pair", "1", "2", "--quick", "--shout", "hi",
    )  # fmt: skip
    assert got == dict(
        name="y", out="o", n=4, scale=2.0, mode="b", flag=True, switch=False, many=[5, 6, 7], again=["a=1", "b=2"],
        pair=[1.0, 2.0], size="quick", shout="HI",
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [("toy", "x"), ("toy", "x", "--out", "o", "--mode", "c"), ("toy", "x", "--out", "o", "--quick", "--size", "quick")],
)
def test_mistakes_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        _parser().parse_args(argv)
    assert e.value.code == 2


def test_help_comes_from_the_docstring_with_defaults():
    summary, helps = docstring_help(toy)
    assert summary == "a toy command" and helps["n"] == "how many, on two lines"
    text = _parser()._subparsers._group_actions[0].choices["toy"].format_help()
    assert "how many, on two lines (default: 3)" in text and "--many MANY [MANY ...]" in text


def test_data_make_lists_every_domain():
    from groundlm.cli import _build_parser
    from groundlm.data.synth.world import DOMAINS

    make = _build_parser()._subparsers._group_actions[0].choices["data"]
    text = make._subparsers._group_actions[0].choices["make"].format_help()
    assert all(d in " ".join(text.split()) for d in DOMAINS)


COMPUTED: list[int] = []  # one entry per computation of computed_kinds


def computed_kinds() -> list[str]:
    COMPUTED.append(1)
    return ["x", "y"]


def pick(*, kind: Annotated[str, Arg(choices=computed_kinds)] = "x") -> str:
    return kind


def test_computed_choices_are_read_only_when_needed(capsys):
    COMPUTED.clear()
    parser = argparse.ArgumentParser(prog="t")
    add_commands(parser.add_subparsers(required=True), {"pick": pick})
    assert COMPUTED == []  # building every command's parser computes nothing
    assert parser.parse_args(["pick", "--kind", "y"]).kind == "y"
    with pytest.raises(SystemExit):
        parser.parse_args(["pick", "--kind", "z"])
    assert "invalid choice: 'z'" in capsys.readouterr().err and len(COMPUTED) == 1
