"""Command-line arguments read from a command's signature and docstring, so that no parser restates them.

A command is a plain typed function. Its parameters become arguments by these rules:

- a parameter before ``*`` is a positional argument; a keyword-only one is an option ``--name-with-dashes``,
  required when it has no default;
- ``bool`` is a flag (``store_true``), ``bool | None`` a ``--x/--no-x`` pair; ``int``/``float``/``str`` convert;
- ``Literal[...]`` gives the choices; ``Sequence[T]`` takes one or more values, ``tuple[T, T]`` exactly two;
- ``Annotated[T, Arg(...)]`` adds what a type cannot say: another option name, choices computed at run time, a
  repeatable option, a metavar, shorthands, or a conversion applied to the parsed value (default included);
- the help of a command is its docstring's first line, the help of an argument its ``Args:`` line, and a default
  other than ``None``/``False``/empty is shown after it.

The parsed values are handed to the function by keyword; whatever it returns is what the command prints.
"""

from __future__ import annotations

import argparse
import collections.abc
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

Command = Callable[..., str]
Tree = Mapping[str, Union[Command, "Group", tuple[Command, str]]]


@dataclass(frozen=True)
class Arg:
    """What a parameter's type does not say about its argument.

    ``flag``: the option's name when it is not the parameter's (``"--json"`` for ``json_path``);
    ``choices``: the allowed values, or a function returning them (read when the parser is built);
    ``repeat``: the option may be given several times, each adding one value (``--pred a --pred b``);
    ``metavar``: the placeholder shown in the help; ``shorthands``: flags that stand for one value
    (``{"--quick": "quick"}``), exclusive with the option; ``convert``: applied to the parsed value, default included.
    """

    flag: str | None = None
    choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None
    repeat: bool = False
    metavar: str | tuple[str, ...] | None = None
    shorthands: Mapping[str, Any] = field(default_factory=dict)
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Group:
    """A command with subcommands (``groundlm data make``): its help and its subcommands by name, each a function,
    a group, or ``(function, help)`` where the function's own summary does not fit (a ``functools.partial``)."""

    help: str
    commands: Tree


def docstring_help(fn: Callable) -> tuple[str, dict[str, str]]:
    """A function's summary (its docstring's first line) and its ``Args:`` section as ``{parameter: help}``; a help
    continues on the following lines indented deeper than its name."""
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ").strip()
    helps: dict[str, str] = {}
    section = re.split(r"^Args:\s*$", doc, maxsplit=1, flags=re.M)
    if len(section) == 2:
        name = None
        for line in section[1].splitlines():
            m = re.match(r"^    (\w+): ?(.*)$", line)
            if m:
                name = m.group(1)
                helps[name] = m.group(2).strip()
            elif name and line.startswith("      "):
                helps[name] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break
    return summary, helps


def _split_annotation(hint: Any) -> tuple[Any, Arg, bool]:
    """``(type, Arg, optional)``: the type with ``Annotated`` and ``| None`` taken off."""
    arg = Arg()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
        arg = next((e for e in extras if isinstance(e, Arg)), arg)
    optional = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        hint = members[0] if len(members) == 1 else hint
    return hint, arg, optional


class LazyChoices(Sequence[Any]):
    """Choices computed when first read: argparse reads them only to check a value given to that option or to
    print that command's help, so building every command's parser costs nothing for them (the ``predict`` tasks
    load every method's parts)."""

    def __init__(self, compute: Callable[[], Sequence[Any]]) -> None:
        self._compute = compute
        self._values: tuple[Any, ...] | None = None

    @property
    def values(self) -> tuple[Any, ...]:
        if self._values is None:
            self._values = tuple(self._compute())
        return self._values

    def __getitem__(self, index):
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, value: object) -> bool:
        return value in self.values

    def __iter__(self):
        return iter(self.values)


def _add_parameter(parser: argparse.ArgumentParser, param: inspect.Parameter, hint: Any, help: str | None) -> Arg:
    """One parameter as an argument of ``parser`` (the rules in the module docstring); returns its :class:`Arg`."""
    kind, arg, optional = _split_annotation(hint)
    positional = param.kind is not inspect.Parameter.KEYWORD_ONLY
    has_default = param.default is not inspect.Parameter.empty
    kwargs: dict[str, Any] = {}
    origin = typing.get_origin(kind)
    choices = LazyChoices(arg.choices) if callable(arg.choices) else arg.choices
    if origin is Literal:
        choices = typing.get_args(kind)
        kind = type(choices[0])
    elif origin is tuple:
        members = typing.get_args(kind)
        kwargs["nargs"] = len(members)
        kind = members[0]
    elif origin in (collections.abc.Sequence, list):
        kind = typing.get_args(kind)[0]
        kwargs["action" if arg.repeat else "nargs"] = "append" if arg.repeat else "+"
    elif kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction if optional else "store_true"
    if kind in (int, float):
        kwargs["type"] = kind
    if choices is not None:
        kwargs["choices"] = choices if isinstance(choices, LazyChoices) else tuple(choices)
    if arg.metavar is not None:
        kwargs["metavar"] = arg.metavar
    default = param.default if has_default else None
    if default is not None and default is not False and default != () and not (help and "default" in help):
        shown = " ".join(map(str, default)) if isinstance(default, (tuple, list)) else default
        help = f"{help} (default: {shown})" if help else f"default: {shown}"
    if help:
        kwargs["help"] = help.replace("%", "%%")
    # Lazy choices are set after add_argument, whose format check would read them.
    lazy = kwargs.pop("choices") if isinstance(kwargs.get("choices"), LazyChoices) else None
    if positional:
        action = parser.add_argument(param.name, **kwargs)
        if lazy is not None:
            action.choices = lazy
        return arg
    flag = arg.flag or "--" + param.name.replace("_", "-")
    if kwargs.get("action") == "append":
        default = []  # argparse appends to the default itself: a fresh list each time
    elif isinstance(default, tuple):
        default = list(default)
    target = parser
    if arg.shorthands:
        target = parser.add_mutually_exclusive_group()
        for name, value in arg.shorthands.items():
            target.add_argument(name, action="store_const", const=value, dest=param.name, help=f"{flag} {value}")
    action = target.add_argument(flag, dest=param.name, required=not has_default, **kwargs)
    if lazy is not None:
        action.choices = lazy
    parser.set_defaults(**{param.name: default})
    return arg


def add_command(
    subparsers: Any,
    name: str,
    fn: Command,
    call: Callable[[Command], Command] | None = None,
    help: str | None = None,
) -> None:
    """The subcommand ``name`` of ``subparsers`` from ``fn``'s signature and docstring (``help`` replaces its
    summary). When run it calls ``call(fn)`` (default ``fn``) with the parsed values by keyword."""
    plain = fn.func if isinstance(fn, functools.partial) else fn
    summary, helps = docstring_help(plain)
    summary = help or summary
    parser = subparsers.add_parser(name, help=summary, description=summary)
    hints = typing.get_type_hints(plain, include_extras=True)
    converters: dict[str, Callable[[Any], Any]] = {}
    for param in inspect.signature(fn).parameters.values():
        arg = _add_parameter(parser, param, hints.get(param.name, str), helps.get(param.name))
        if arg.convert is not None:
            converters[param.name] = arg.convert
    names = list(inspect.signature(fn).parameters)

    def handler(args: argparse.Namespace) -> str:
        values = {n: getattr(args, n) for n in names}
        values.update({n: convert(values[n]) for n, convert in converters.items()})
        return (call or (lambda f: f))(fn)(**values)

    parser.set_defaults(handler=handler)


def add_commands(subparsers: Any, tree: Tree, call: Callable[[Command], Command] | None = None, depth: int = 0) -> None:
    """Every command of ``tree`` (and of its groups, as nested subcommands) under ``subparsers``."""
    for name, node in tree.items():
        if isinstance(node, Group):
            parser = subparsers.add_parser(name, help=node.help, description=node.help)
            inner = parser.add_subparsers(dest=f"command_{depth + 1}", required=True)
            add_commands(inner, node.commands, call, depth + 1)
        elif isinstance(node, tuple):
            add_command(subparsers, name, node[0], call, help=node[1])
        else:
            add_command(subparsers, name, node, call)
