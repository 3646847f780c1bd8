"""YAML text to plain Python values, remembering the line of every value.

Owns the one piece of YAML handling the curriculum needs: errors must say file, line and field, so
while turning YAML into dicts and lists we record, for every path into the document, the line it
starts on. Pure: takes text, returns values; reading the file is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where (file, line, field) and what."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InputError(ValueError):
    """Raised with every problem found in an input; nothing was changed."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def field_name(path: Path) -> str:
    """`('tracks', 1, 'stages')` -> `tracks[1].stages`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Located:
    """A parsed YAML document plus the line of each path in it."""

    file: str
    value: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path, message: str) -> Problem:
        """A Problem located at `path`."""
        return Problem(self.file, self.line_of(path), field_name(path), message)


def parse(text: str, file: str) -> Located:
    """Parse YAML `text`; raise InputError (with the line) on syntax errors or duplicate keys."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(file, line, "", f"YAML syntax error: {e.problem}")]) from None
    doc = Located(file, None)
    if node is None:
        return doc
    problems: list[Problem] = []
    constructor = yaml.SafeLoader("")
    doc.value = _convert(node, (), doc.lines, constructor, file, problems)
    if problems:
        raise InputError(problems)
    return doc


def _convert(
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    constructor: yaml.SafeLoader,
    file: str,
    problems: list[Problem],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            key = str(key)
            if key in out:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        field_name(path + (key,)),
                        "duplicate key",
                    )
                )
                continue
            out[key] = _convert(value_node, path + (key,), lines, constructor, file, problems)
            lines[path + (key,)] = key_node.start_mark.line + 1  # a field is where its key is
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, path + (i,), lines, constructor, file, problems)
            for i, item in enumerate(node.value)
        ]
    if node.tag == "tag:yaml.org,2002:timestamp":
        return str(node.value)  # dates stay text: the schema and our parsers own their meaning
    return constructor.construct_object(node, deep=True)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (schema validation reports the type)."""
    return value if isinstance(value, Mapping) else {}
