"""Config dataclass -> argparse flags: one `--flag` per field, --help from the field's docstring.

Used by all three CLIs (`llm-serve`, `llm-train fit`, `llm-quantize`). The field docstrings are
read by docstring-parser (`parse_from_object`), so help never drifts from the dataclass. The flags
are added to a plain argparse parser or group, because `llm-serve`'s flags sit beside vLLM's own
parser; the dataclass-CLI libraries (tyro, simple-parsing, jsonargparse) each own the parser.

A flag that is not given leaves no attribute in the namespace (argparse.SUPPRESS), so the
namespace says which fields were given; `apply` lays those over a base config (the dataclass
defaults, or a training preset). A field whose type is a dataclass contributes its own fields as
flags of the same flat namespace.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

import docstring_parser

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass, whitespace collapsed."""
    doc = docstring_parser.parse_from_object(cls)
    return {p.arg_name: " ".join((p.description or "").split()) for p in doc.params}


def add_flags(
    group: argparse._ActionsContainer,
    cls: type,
    *,
    dest_prefix: str = "",
    defaults: object | None = None,
    skip: Collection[str] = (),
    choices: Mapping[str, Sequence[str]] | None = None,
    one_value_per_flag: bool = False,
) -> None:
    """Add `--field-name` for every field of `cls` (and of its dataclass-typed fields).

    `defaults`, when given, is an instance whose values are shown in the help text. List fields
    take one or more values per flag and may repeat; with `one_value_per_flag` they take exactly
    one (`--key a --key b`), so a positional argument after them is never swallowed.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint = hints[f.name]
        value = getattr(defaults, f.name) if defaults is not None else None
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            add_flags(
                group, hint, dest_prefix=dest_prefix, defaults=value, skip=skip, choices=choices
            )
            continue
        help_text = docs.get(f.name, "").replace("%", "%%")
        if defaults is not None and value not in (None, [], ()):
            help_text += f" (default: {value})"
        kwargs = _kind(hint, f.name, one_value_per_flag)
        if choices and f.name in choices:
            kwargs["choices"] = choices[f.name]
            kwargs.pop("metavar", None)  # argparse lists the choices instead
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(
            flag, dest=dest_prefix + f.name, default=argparse.SUPPRESS, help=help_text, **kwargs
        )


def apply(base: T, ns: argparse.Namespace, *, dest_prefix: str = "") -> T:
    """`base` with every field that was given on the command line replaced."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(base):  # type: ignore[arg-type]
        current = getattr(base, f.name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            changes[f.name] = apply(current, ns, dest_prefix=dest_prefix)
            continue
        given = getattr(ns, dest_prefix + f.name, None)
        if given is not None:
            changes[f.name] = given
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]


def _kind(hint: Any, name: str, one_value_per_flag: bool) -> dict[str, Any]:
    """argparse keywords for a field's type: switches, repeatable lists, typed values."""
    inner = _without_none(hint)
    if inner is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner)
        if one_value_per_flag:
            return {"action": "append", "type": item, "metavar": name.upper()}
        return {"action": "extend", "nargs": "+", "type": item, "metavar": name.upper()}
    if inner in (int, float, str) or isinstance(inner, type):
        return {"type": inner, "metavar": name.upper()}
    raise TypeError(f"no command-line form for {name}: {hint!r}")


def _without_none(hint: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint
