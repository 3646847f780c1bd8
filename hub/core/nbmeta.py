"""nbgrader's own view of a source notebook's metadata, and of its logs.

`inspect` runs nbgrader's metadata validator (`nbgrader.nbgraderformat.MetadataValidator`, what
`generate_assignment` runs before it converts a notebook) over a notebook's bytes and says which
cells are of an older metadata schema (what `nbgrader update` upgrades) and which cells fail
validation, by grade_id; `upgrade` is `nbgrader update` on one notebook's text. `nbgrader_hint`
picks from a failed nbgrader run's log the lines that say why (its ERROR records, a traceback's
last line) so a failure reads as one line instead of kilobytes of copy logs.

Pure: bytes and text in, values out; the caller reads and writes files.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .yamlsrc import Problem

UPDATE_COMMAND = "sadari curriculum check --update"


@dataclass(frozen=True)
class CellError:
    """A cell nbgrader's validator refuses: its index, grade_id (if any) and nbgrader's message."""

    index: int
    grade_id: str | None
    message: str

    @property
    def where(self) -> str:
        """`cells[3] (grade_id test_total)`."""
        gid = f" (grade_id {self.grade_id})" if self.grade_id else ""
        return f"cells[{self.index}]{gid}"


@dataclass(frozen=True)
class NotebookMeta:
    """What nbgrader thinks of one source notebook's metadata.

    `versions`: the schema versions its nbgrader cells carry; `stale`: the grade_ids (or cell
    indices) of the cells below nbgrader's schema, which `nbgrader update` upgrades; `too_new`:
    cells written by a newer nbgrader; `errors`: cells that fail validation (after the upgrade
    when the notebook is stale: those `nbgrader update` will not fix).
    """

    file: str
    versions: tuple[int, ...] = ()
    stale: tuple[str, ...] = ()
    too_new: tuple[str, ...] = ()
    errors: tuple[CellError, ...] = field(default_factory=tuple)
    expected: int = field(default_factory=lambda: schema_version())

    @property
    def needs_update(self) -> bool:
        """True when `nbgrader update` has cells to upgrade."""
        return bool(self.stale)

    def problems(self) -> list[Problem]:
        """The notebook's problems, worded for instructors (the update's command included)."""
        out = []
        if self.stale:
            found = ", ".join(str(v) for v in self.versions if v < self.expected)
            out.append(
                Problem(
                    self.file,
                    None,
                    "",
                    f"nbgrader metadata of schema version {found}, this nbgrader expects "
                    f"{self.expected} ({len(self.stale)} cells: {_few(self.stale)}): needs "
                    f"`nbgrader update`; run `{UPDATE_COMMAND}` to update it in place",
                )
            )
        if self.too_new:
            out.append(
                Problem(
                    self.file,
                    None,
                    "",
                    f"nbgrader metadata newer than this nbgrader's schema {self.expected} "
                    f"(cells {_few(self.too_new)}): it was written by a newer nbgrader",
                )
            )
        for e in self.errors:
            after = " (after `nbgrader update`)" if self.stale else ""
            out.append(Problem(self.file, None, e.where, f"nbgrader metadata{after}: {e.message}"))
        return out


def _few(items: Sequence[str], n: int = 6) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _meta(cell: Any) -> dict[str, Any] | None:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else None


def _name(index: int, nbg: dict[str, Any]) -> str:
    gid = nbg.get("grade_id")
    return str(gid) if gid else f"cells[{index}]"


def schema_version() -> int:
    """The nbgrader metadata schema version this nbgrader writes."""
    from nbgrader.nbgraderformat import SCHEMA_VERSION  # type: ignore[import-untyped]

    return int(SCHEMA_VERSION)


def _message(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e)
    return " ".join(str(text).split())


def _cell_errors(nb: Any) -> list[CellError]:
    """Validate every nbgrader cell of `nb` (a NotebookNode) as nbgrader does, one at a time so
    each error names its cell (duplicate grade_ids are labcheck's)."""
    from nbgrader.nbgraderformat import (
        MetadataValidator,
        SchemaTooNewError,
        SchemaTooOldError,
        ValidationError,
    )

    validator = MetadataValidator()
    errors = []
    for i, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.metadata:
            continue
        try:
            validator.validate_cell(cell)
        except (ValidationError, SchemaTooOldError, SchemaTooNewError) as e:
            gid = cell.metadata["nbgrader"].get("grade_id")
            errors.append(CellError(i, str(gid) if gid else None, _message(e)))
        except (KeyError, TypeError) as e:  # metadata too broken for the validator's own checks
            errors.append(CellError(i, None, f"malformed nbgrader metadata ({e!r})"))
    return errors


def inspect(data: bytes, file: str) -> NotebookMeta | None:
    """nbgrader's verdict on the notebook in `data` (None when it is not a readable nbformat 4
    notebook: core/labcheck.py reports that)."""
    # nbgrader and nbformat are imported where they are used: a `sadari` command that reads no
    # notebook does not pay for them
    import nbformat
    from nbgrader.nbgraderformat import SCHEMA_VERSION, MetadataValidator

    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("nbformat") != 4
        or not isinstance(raw.get("cells"), list)
    ):
        return None
    versions: set[int] = set()
    stale, too_new = [], []
    for i, cell in enumerate(raw["cells"]):
        nbg = _meta(cell)
        if nbg is None:
            continue
        version = nbg.get("schema_version", 0)
        version = version if isinstance(version, int) else 0
        versions.add(version)
        if version < SCHEMA_VERSION:
            stale.append(_name(i, nbg))
        elif version > SCHEMA_VERSION:
            too_new.append(_name(i, nbg))
    nb = nbformat.from_dict(copy.deepcopy(raw))  # type: ignore[no-untyped-call]
    if stale:
        try:
            nb = MetadataValidator().upgrade_notebook_metadata(nb)
        except (KeyError, TypeError, ValueError) as e:
            err = CellError(0, None, f"nbgrader update cannot upgrade it ({e!r})")
            return NotebookMeta(file, tuple(sorted(versions)), tuple(stale), (), (err,))
    errors = [] if too_new else _cell_errors(nb)
    return NotebookMeta(file, tuple(sorted(versions)), tuple(stale), tuple(too_new), tuple(errors))


def upgrade(data: bytes) -> bytes:
    """What `nbgrader update` writes for the notebook in `data`: every nbgrader cell upgraded to
    the current schema, then validated (ValidationError, SchemaTooNewError as nbgrader raises)."""
    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.reads(data.decode("utf-8"), as_version=nbformat.current_nbformat)  # type: ignore[no-untyped-call]
    nb = MetadataValidator().upgrade_notebook_metadata(nb)
    MetadataValidator().validate_nb(nb)
    text: str = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


_RECORD = re.compile(r"^\[(?P<app>[^\]|]+)\s*\|\s*(?P<level>[A-Z]+)\]\s?(?P<text>.*)$")
_CONVERTING = re.compile(r"Converting notebook (?P<path>.+\.ipynb)\s*$")
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_][\w.]*\.)?(?:[A-Z]\w*(?:Error|Exception)): (?P<msg>.+)$"
)
_GENERIC = (
    re.compile(r"^There was an error processing assignment"),
    re.compile(r"^Please see the (the )?above traceback"),
    re.compile(r"^Removing failed assignment"),
)


def _records(log: str) -> list[tuple[str, str]]:
    """(level, text) of every record of a traitlets application's log; continuation lines (a
    multi-line message, a traceback) belong to the record above them."""
    out: list[tuple[str, list[str]]] = []
    for line in log.splitlines():
        m = _RECORD.match(line)
        if m:
            out.append((m.group("level"), [m.group("text")]))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            out.append(("", [line]))
    return [(level, "\n".join(lines)) for level, lines in out]


def _gist(text: str) -> str:
    """One line for a record: a traceback's exception message, else its words on one line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        for ln in reversed(lines):
            m = _EXCEPTION_LINE.match(ln)
            if m:
                return m.group("msg").strip()
        return lines[-1]
    return " ".join(" ".join(lines).split())


def nbgrader_hint(log: str) -> tuple[str | None, str]:
    """(the notebook being converted when it failed, if the log says; why it failed) from a
    failed nbgrader run's combined output: its ERROR/CRITICAL records in order, tracebacks
    reduced to their exception message, duplicates and generic follow-ups dropped; else the last
    exception line or the last line of the log. When nbgrader asks for `nbgrader update`, the
    sadari command doing it for labs/ is added."""
    records = _records(log)
    notebook = None
    hints: list[str] = []
    for level, text in records:
        if level == "INFO" and not hints:
            m = _CONVERTING.search(text)
            if m:
                notebook = m.group("path").rsplit("/", 1)[-1]
        if level in ("ERROR", "CRITICAL"):
            gist = _gist(text)
            if gist and gist not in hints:
                hints.append(gist)
    specific = [h for h in hints if not any(g.match(h) for g in _GENERIC)]
    hints = specific or hints
    if not hints:
        lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
        found = [m.group("msg") for ln in lines if (m := _EXCEPTION_LINE.match(ln))]
        hints = [found[-1] if found else (lines[-1] if lines else "no output")]
    hint = "; ".join(h.rstrip(".") for h in hints) + "."
    if "nbgrader update" in hint:
        hint += f" (for labs/: `{UPDATE_COMMAND}` updates the notebooks in place)"
    return notebook, hint
