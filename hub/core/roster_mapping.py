"""Roster mappings: which column of a file is which field, the default cohort, and value
translations (major `Y` -> `major`); columns nobody maps are kept as trainee attributes.

Pure. A mapping comes from the admin — CLI options (`--map id=username`, `--value major:Y=major`,
`--cohort C`), the same options in the API's query string, the page's controls — and is laid over
the one remembered from the last import (`RosterMapping.over`). `resolve` says what every column
of a file's header is, in this order: the admin's mapping, the remembered one, the headers known
in English and Korean (`HEADER_ALIASES`), else an attribute named after the header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIELDS = ("username", "name", "email", "cohort", "track", "stage", "role", "major")
HEADER_ALIASES = {
    "username": ("username", "id", "user", "아이디", "사용자명", "계정"),
    "name": ("name", "이름", "성명"),
    "email": ("email", "e-mail", "이메일", "메일"),
    "cohort": ("cohort", "기수"),
    "track": ("track", "트랙", "과정"),
    "stage": ("stage", "단계"),
    "role": ("role", "역할"),
    "major": ("major", "전공"),
}
IGNORE = "ignore"
ATTRIBUTE = "attr:"
# attribute names: what a reserved seat names (`campus=seoul`), so no `=`, `:` or `,`
ATTRIBUTE_NAME = re.compile(r"^[^\s=:,][^=:,]{0,63}$")
MAX_ATTRIBUTES = 30
MAX_ENTRIES = 500  # column and value entries of one mapping (a remembered one grows)
ENTRY_CHARS = 200  # of a header, a raw value or a mapped value in a mapping


def key(text: str) -> str:
    """A header or raw value as mappings match it: spaces collapsed, case folded."""
    return " ".join(text.split()).casefold()


def attribute_name(header: str) -> str:
    """The attribute a column is kept as when nobody maps it: its header, spaces collapsed
    (`Campus ` -> `Campus`, `연락처`)."""
    return " ".join(header.split())


class MappingError(ValueError):
    """A mapping that cannot be used, with every reason (`problems`: (where, message))."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{w}: {m}" for w, m in self.problems))


def check_target(target: str) -> str | None:
    """Why `target` is not a column's target (a field, `attr:NAME` or `ignore`), else None."""
    if target in FIELDS or target == IGNORE:
        return None
    if target.startswith(ATTRIBUTE):
        name = target[len(ATTRIBUTE) :]
        if ATTRIBUTE_NAME.match(name) and name not in FIELDS:
            return None
        return f"{name!r} is not an attribute name (1-64 characters, no = : ,)"
    return f"{target!r} is not one of {', '.join(FIELDS)}, attr:NAME, {IGNORE}"


@dataclass(frozen=True)
class RosterMapping:
    """Columns (header key -> field, `attr:NAME` or `ignore`), the cohort of rows without one,
    and value translations per field or attribute (name -> raw value key -> value)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    cohort: str | None = None
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def over(self, base: RosterMapping) -> RosterMapping:
        """This mapping laid over `base`: its entries win; the cohort is this one's only (a
        default cohort is chosen per import, never remembered)."""
        values = {k: dict(v) for k, v in base.values.items()}
        for name, table in self.values.items():
            values.setdefault(name, {}).update(table)
        return RosterMapping({**base.columns, **self.columns}, self.cohort, values)

    def value(self, name: str, raw: str) -> str:
        """`raw` translated for the field or attribute `name` (as it is when not mapped)."""
        table = self.values.get(name)
        if not table or not raw:
            return raw
        return table.get(key(raw), raw)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the audit entry, the remembered mapping, the API)."""
        return {
            "columns": dict(sorted(self.columns.items())),
            "cohort": self.cohort,
            "values": {k: dict(sorted(v.items())) for k, v in sorted(self.values.items())},
        }

    @property
    def empty(self) -> bool:
        """Nothing mapped and no cohort."""
        return not self.columns and not self.values and not self.cohort

    @classmethod
    def from_dict(cls, data: object) -> RosterMapping:
        """A mapping from JSON (`as_dict`'s shape); MappingError says what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise MappingError([("mapping", "must be an object")])
        problems: list[tuple[str, str]] = []
        columns: dict[str, str] = {}
        values: dict[str, dict[str, str]] = {}
        raw_columns = data.get("columns") or {}
        raw_values = data.get("values") or {}
        cohort = data.get("cohort") or None
        if not isinstance(raw_columns, Mapping):
            problems.append(("columns", "must be an object of header: target"))
            raw_columns = {}
        if not isinstance(raw_values, Mapping):
            problems.append(("values", "must be an object of name: {raw: value}"))
            raw_values = {}
        if cohort is not None and (not isinstance(cohort, str) or len(cohort) > 64):
            problems.append(("cohort", "must be a cohort id"))
            cohort = None
        for header, target in raw_columns.items():
            where = f"columns.{header}"
            if not isinstance(target, str) or not isinstance(header, str):
                problems.append((where, "must be text"))
            elif (why := check_target(target)) or (why := _check_text(header)):
                problems.append((where, why))
            else:
                columns[key(header)] = target
        for name, table in raw_values.items():
            if not isinstance(table, Mapping) or not isinstance(name, str):
                problems.append((f"values.{name}", "must be an object of raw: value"))
                continue
            for raw, value in table.items():
                where = f"values.{name}.{raw}"
                if not isinstance(value, str) or not isinstance(raw, str):
                    problems.append((where, "must be text"))
                elif why := (_check_text(name) or _check_text(raw) or _check_text(value, True)):
                    problems.append((where, why))
                else:
                    values.setdefault(name.strip(), {})[key(raw)] = value.strip()
        if len(columns) + sum(len(v) for v in values.values()) > MAX_ENTRIES:
            problems.append(("mapping", f"more than {MAX_ENTRIES} entries"))
        if problems:
            raise MappingError(problems)
        return cls(columns, cohort, values)

    @classmethod
    def from_options(
        cls, maps: Sequence[str] = (), values: Sequence[str] = (), cohort: str | None = None
    ) -> RosterMapping:
        """A mapping from the CLI's and the API's options: `HEADER=TARGET` (`id=username`,
        `전공=major`, `campus=attr:캠퍼스`, `memo=ignore`) and `NAME:RAW=VALUE`
        (`major:Y=major`); MappingError says which option is wrong and why."""
        columns: dict[str, str] = {}
        tables: dict[str, dict[str, str]] = {}
        problems: list[tuple[str, str]] = []
        for option in maps:
            header, eq, target = option.rpartition("=")
            if not eq or not header.strip():
                problems.append((f"--map {option}", "write HEADER=FIELD, e.g. id=username"))
                continue
            columns[header] = target.strip()
        for option in values:
            name, colon, rest = option.partition(":")
            raw, eq, value = rest.partition("=")
            if not colon or not eq or not name.strip() or not raw.strip():
                problems.append((f"--value {option}", "write FIELD:RAW=VALUE, e.g. major:Y=major"))
                continue
            tables.setdefault(name.strip(), {})[raw] = value
        try:
            mapping = cls.from_dict({"columns": columns, "values": tables, "cohort": cohort})
        except MappingError as e:
            problems += e.problems
        if problems:
            raise MappingError(problems)
        return mapping


def _check_text(text: str, empty_ok: bool = False) -> str | None:
    if not text.strip() and not empty_ok:
        return "empty"
    if len(text) > ENTRY_CHARS:
        return f"{len(text)} characters; at most {ENTRY_CHARS}"
    return None


@dataclass(frozen=True)
class Column:
    """One column of a file: its place, its header as written, what it holds (a field,
    `attr:NAME` or `ignore`) and why (`mapped` by the admin, `remembered` from the last import,
    `known` header, `attribute` kept because nobody maps it, `empty` header)."""

    index: int
    header: str
    target: str
    how: str

    @property
    def field(self) -> str | None:
        """The field it fills, if any."""
        return self.target if self.target in FIELDS else None

    @property
    def attribute(self) -> str | None:
        """The attribute it fills, if any."""
        return self.target[len(ATTRIBUTE) :] if self.target.startswith(ATTRIBUTE) else None

    @property
    def label(self) -> str:
        """How problems name the column: the header, with the field when they differ
        (`id (username)`)."""
        name = self.field or self.attribute
        if not self.header:
            return f"column {self.index + 1}"
        if name is None or key(self.header) == key(name):
            return self.header
        return f"{self.header} ({name})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"index": self.index, "header": self.header, "target": self.target, "how": self.how}


_LOOKUP = {key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}


def resolve(
    header: Sequence[str], mapping: RosterMapping, remembered: RosterMapping | None = None
) -> tuple[list[Column], list[tuple[str, str]]]:
    """What each column of `header` holds, and the problems of the header as (column, message):
    two columns for one field, a mapped header the file does not have, too many attributes.
    A remembered mapping never makes a problem: where it would give a field a second column,
    the column falls back to its known header or an attribute."""
    remembered = remembered or RosterMapping()
    problems: list[tuple[str, str]] = []
    keys = [key(h) for h in header]
    for wanted in mapping.columns:
        if wanted not in keys:
            problems.append((wanted, "mapped, but the file has no such column / 파일에 없는 열"))

    def fallback(h: str) -> tuple[str, str]:
        k = key(h)
        if not k:
            return IGNORE, "empty"
        if k in _LOOKUP:
            return _LOOKUP[k], "known"
        return ATTRIBUTE + attribute_name(h), "attribute"

    chosen: list[tuple[str, str]] = []
    for h, k in zip(header, keys, strict=True):
        if k in mapping.columns:
            chosen.append((mapping.columns[k], "mapped"))
        elif k in remembered.columns:
            chosen.append((remembered.columns[k], "remembered"))
        else:
            chosen.append(fallback(h))

    # a remembered target that collides with another column's gives way
    def clash(i: int, target: str) -> bool:
        return target != IGNORE and any(t == target for j, (t, _) in enumerate(chosen) if j != i)

    for i, (target, how) in enumerate(chosen):
        if how == "remembered" and clash(i, target):
            chosen[i] = fallback(header[i])
            if clash(i, chosen[i][0]):
                chosen[i] = (ATTRIBUTE + attribute_name(header[i]), "attribute")
    columns = [
        Column(i, h.strip(), t, how)
        for i, (h, (t, how)) in enumerate(zip(header, chosen, strict=True))
    ]
    seen: dict[str, Column] = {}
    for c in columns:
        if c.target == IGNORE:
            continue
        if c.target in seen:
            first = seen[c.target]
            problems.append(
                (
                    c.label,
                    f"{c.target!r} is also column {first.index + 1} ({first.header!r}): map one "
                    "of them to something else / 같은 항목의 열이 둘입니다",
                )
            )
        else:
            seen[c.target] = c
    attributes = [c for c in columns if c.attribute is not None]
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(
            ("", f"{len(attributes)} attribute columns; at most {MAX_ATTRIBUTES} (ignore some)")
        )
    for c in attributes:
        if not ATTRIBUTE_NAME.match(c.attribute or ""):
            problems.append(
                (c.label, "not usable as an attribute name (1-64 characters, no = : ,): map it")
            )
    return columns, problems
