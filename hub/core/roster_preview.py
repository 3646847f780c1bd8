"""Roster preview: what an import would change, row by row — new, updated, unchanged or a
problem — compared with the current members, given as plain data.

Pure: the store reads the members (`store/repo.py` `current_members`) and applies exactly what
`compare` says, so the preview an admin confirms and the import cannot drift apart. An import
never moves an enrolled trainee: a row naming another track in a cohort the trainee is enrolled
in is a problem (stage moves go through `move_stage` and selection); a different stage is not a
change. Attributes the file has replace the stored ones of the same name (an empty cell removes
one); attributes the file does not have are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .roster import Parsed, RosterRow, RowProblem
from .yamlsrc import Problem

NEW, UPDATED, UNCHANGED, PROBLEM = "new", "updated", "unchanged", "problem"
STATUSES = (NEW, UPDATED, UNCHANGED, PROBLEM)
MEMBER_FIELDS = ("name", "email", "role", "major")


@dataclass(frozen=True)
class Current:
    """A member as the record has them: `enrollments` maps a cohort to (track, stage)."""

    username: str
    name: str
    email: str | None = None
    role: str = "trainee"
    major: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    enrollments: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One value an import would change (`enrollment`: `cohort/track/stage`)."""

    field: str
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class PreviewRow:
    """One row of the file and what importing it would do."""

    line: int
    username: str
    name: str
    status: str
    changes: tuple[Change, ...] = ()
    problems: tuple[RowProblem, ...] = ()
    row: RosterRow | None = None

    def as_dict(self, file: str) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "line": self.line,
            "username": self.username,
            "name": self.name,
            "status": self.status,
            "changes": [c.as_dict() for c in self.changes],
            "problems": [p.as_dict(file) for p in self.problems],
        }


@dataclass(frozen=True)
class Preview:
    """Every row with its status, and every problem (rows' and the whole file's)."""

    file: str
    rows: tuple[PreviewRow, ...]
    problems: tuple[RowProblem, ...]

    @property
    def ok(self) -> bool:
        """Nothing stands in the way of importing."""
        return not self.problems

    @property
    def counts(self) -> dict[str, int]:
        """Rows per status."""
        out = dict.fromkeys(STATUSES, 0)
        for r in self.rows:
            out[r.status] += 1
        return out

    def errors(self) -> list[Problem]:
        """Every problem as a Problem of the file."""
        return [p.at(self.file) for p in self.problems]


def merged_attributes(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """`old` with the file's attributes laid over it (an empty value removes the attribute)."""
    out = dict(old)
    for name, value in new.items():
        if value:
            out[name] = value
        else:
            out.pop(name, None)
    return dict(sorted(out.items()))


def member_values(row: RosterRow) -> dict[str, str | None]:
    """The member's fields a row sets."""
    return {"name": row.name, "email": row.email, "role": row.role, "major": row.major}


def compare(row: RosterRow, current: Current | None) -> PreviewRow:
    """What importing `row` would do to `current` (None: nobody of that name yet)."""
    enroll = None
    if row.cohort and row.track and row.stage:
        enroll = f"{row.cohort}/{row.track}/{row.stage}"
    if current is None:
        changes = [Change(k, None, v) for k, v in member_values(row).items() if v]
        changes += [Change(k, None, v) for k, v in sorted(row.attributes.items()) if v]
        if enroll:
            changes.append(Change("enrollment", None, enroll))
        return PreviewRow(row.line, row.username, row.name, NEW, tuple(changes), row=row)
    changes = [
        Change(k, getattr(current, k), v)
        for k, v in member_values(row).items()
        if getattr(current, k) != v
    ]
    after = merged_attributes(current.attributes, row.attributes)
    for name in sorted(set(after) | set(current.attributes)):
        if current.attributes.get(name) != after.get(name):
            changes.append(Change(name, current.attributes.get(name), after.get(name)))
    problems = []
    if enroll and row.cohort:
        enrolled = current.enrollments.get(row.cohort)
        if enrolled is None:
            changes.append(Change("enrollment", None, enroll))
        elif enrolled[0] != row.track:
            problems.append(
                RowProblem(
                    row.line,
                    "",
                    f"{row.username} is enrolled in track {enrolled[0]!r} of this cohort, not "
                    f"{row.track!r}; move them explicitly / 다른 트랙에 등록되어 있습니다",
                    row.track or "",
                )
            )
    status = PROBLEM if problems else (UPDATED if changes else UNCHANGED)
    return PreviewRow(
        row.line, row.username, row.name, status, tuple(changes), tuple(problems), row
    )


def preview(parsed: Parsed, current: Mapping[str, Current]) -> Preview:
    """Every row of `parsed` compared with `current` (members by username)."""
    by_line: dict[int, list[RowProblem]] = {}
    for p in parsed.problems:
        if p.line is not None:
            by_line.setdefault(p.line, []).append(p)
    rows: list[PreviewRow] = []
    conflicts: list[RowProblem] = []
    recorded = {r.line for r in parsed.records}
    for record in parsed.records:
        if record.row is None:
            rows.append(
                PreviewRow(
                    record.line,
                    record.username,
                    record.name,
                    PROBLEM,
                    problems=tuple(by_line.get(record.line, ())),
                )
            )
            continue
        compared = compare(record.row, current.get(record.row.username))
        conflicts += compared.problems
        rows.append(compared)
    # lines that never became a record (undecodable, malformed): a row of their own
    for line, problems in sorted(by_line.items()):
        if line not in recorded and line != parsed.header_line:
            rows.append(PreviewRow(line, "", "", PROBLEM, problems=tuple(problems)))
    rows.sort(key=lambda r: r.line)
    everything = sorted(
        [*parsed.problems, *conflicts], key=lambda p: p.line if p.line is not None else 1 << 62
    )
    return Preview(parsed.file, tuple(rows), tuple(everything))


def statuses(rows: Iterable[PreviewRow]) -> dict[str, list[str]]:
    """Usernames per status."""
    out: dict[str, list[str]] = {s: [] for s in STATUSES}
    for r in rows:
        out[r.status].append(r.username)
    return out
