"""A YAML file validated by a pydantic model, with every error as one `FILE:LINE: reason`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class FileError(ValueError):
    """A file that cannot be used, said in one line that names the file and the line."""


def line_of(node: yaml.Node | None, path: list[Any]) -> int:
    """1-based line of the YAML node at `path` (the deepest one found); a path ending in
    pydantic's "[key]" means the mapping key itself."""
    line = node.start_mark.line + 1 if node is not None else 1
    for i, key in enumerate(path):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == key), None)
            if pair is not None and path[i + 1 : i + 2] == ["[key]"]:
                return int(pair[0].start_mark.line) + 1
            nxt = pair[1] if pair else None
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def load(
    path: Path,
    model: type[M],
    error: type[FileError] = FileError,
    *,
    reason: Callable[[Any], str] | None = None,
    locate: Callable[[list[Any]], list[Any]] | None = None,
    not_mapping: str = "the file must be a mapping",
) -> M:
    """`path` parsed and validated; raise `error('FILE:LINE: reason')` on the first problem.
    `reason` words a pydantic error for the file's author; `locate` adjusts the error's path
    before its line is looked up (e.g. to point at a mapping's key)."""
    root, data = _parse(path, error)
    if not isinstance(data, dict):
        raise error(f"{path}:1: {not_mapping}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = locate(list(err["loc"])) if locate else list(err["loc"])
        why = reason(err) if reason else _reason(err)
        raise error(f"{path}:{line_of(root, loc)}: {why}") from None


def _parse(path: Path, error: type[FileError]) -> tuple[yaml.Node | None, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    try:
        return yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _reason(err: Any) -> str:
    where = ".".join(str(x) for x in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
