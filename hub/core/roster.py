"""Rosters as campuses export them: CSV (UTF-8, UTF-8 with BOM, Excel's CP949) or XLSX to
validated rows, with every problem said where (line, column, value, why).

Pure. `read_roster(data, file, curriculum, mapping, remembered)` reads every row and returns them
with every problem: the encoding is chosen for the file and each line that does not decode is a
problem of its own (the other lines are read on); XLSX is read from its first sheet (row numbers
as Excel shows them). Columns are resolved by roster_mapping (the admin's mapping, the remembered
one, known English and Korean headers); columns nobody maps are kept as attributes of the person
(campus, phone…). `parse_roster` is the all-or-nothing form: every row, or InputError listing
every problem.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from .curriculum import Curriculum
from .limits import excerpt
from .roster_mapping import FIELDS, HEADER_ALIASES, Column, RosterMapping, resolve
from .yamlsrc import InputError, Problem

__all__ = [
    "FIELDS",
    "HEADER_ALIASES",
    "Parsed",
    "Record",
    "RosterRow",
    "RowProblem",
    "decode",
    "decode_lines",
    "parse_roster",
    "read_roster",
]

ROLES = ("trainee", "instructor", "admin")
REQUIRED = ("username", "name")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# the database's column sizes (store/models.py Member): longer values are refused per row
FIELD_LIMITS = {"username": 64, "name": 200, "email": 320, "major": 200}
ATTRIBUTE_CHARS = 200
VALUE_CHARS = 40  # of a value quoted in a problem
SAMPLES = 20  # distinct values of a column shown for value mapping
SAVE_AS = (
    "Save the file from Excel as 'CSV UTF-8' or 'CSV (쉼표로 분리)'. / "
    "'CSV UTF-8'로 다시 저장하세요."
)


@dataclass(frozen=True)
class RosterRow:
    """One person of a roster; trainees have cohort, track and stage, staff may not.
    `attributes` are the file's other columns (an empty value: the person has none)."""

    line: int
    username: str
    name: str
    role: str = "trainee"
    email: str | None = None
    cohort: str | None = None
    track: str | None = None
    stage: str | None = None
    major: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowProblem:
    """One problem of a roster: its line (None: the whole file), the column as named in the
    file, the value (shortened) and why."""

    line: int | None
    column: str
    message: str
    value: str = ""

    def at(self, file: str) -> Problem:
        """As a Problem of `file` (`file:line: column: message`)."""
        return Problem(file, self.line, self.column, self.message)

    def as_dict(self, file: str) -> dict[str, Any]:
        """JSON-ready, with the one-line text."""
        return {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "text": str(self.at(file)),
        }


@dataclass(frozen=True)
class Record:
    """One data row of the file as read: its line, who it seems to be, and the row when valid."""

    line: int
    username: str
    name: str
    row: RosterRow | None


@dataclass(frozen=True)
class Parsed:
    """A roster read whole: its columns, every data row, every problem, and up to SAMPLES
    distinct values of each column (for mapping values)."""

    file: str
    format: str  # csv | xlsx
    encoding: str | None  # utf-8 | utf-8-sig | cp949 (CSV)
    columns: tuple[Column, ...]
    records: tuple[Record, ...]
    problems: tuple[RowProblem, ...]
    samples: Mapping[str, tuple[str, ...]]
    header_line: int = 1

    @property
    def rows(self) -> list[RosterRow]:
        """The valid rows."""
        return [r.row for r in self.records if r.row is not None]

    def errors(self) -> list[Problem]:
        """Every problem as a Problem of the file."""
        return [p.at(self.file) for p in self.problems]


def decode(data: bytes, file: str) -> tuple[str, str]:
    """(text, encoding name) of a whole file: UTF-8 (with or without BOM), else CP949;
    InputError naming the first line that neither reads (for files read all at once)."""
    text, encoding, bad = decode_lines(data)
    if bad:
        line = min(bad)
        raise InputError([Problem(file, line, "", bad[line])])
    return text, encoding


def decode_lines(data: bytes) -> tuple[str, str, dict[int, str]]:
    """(text, encoding, {line: why}) of CSV bytes: the encoding that reads the most lines (a BOM
    means UTF-8; a tie, UTF-8), each line decoded on its own so one broken byte sequence spoils
    only its line (its bytes replaced by U+FFFD in `text`). Splitting at b"\\n" is safe in both
    encodings: neither uses the byte inside a character."""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    candidates = ("utf-8",) if bom else ("utf-8", "cp949")
    for encoding in candidates:
        try:
            return body.decode(encoding), "utf-8-sig" if bom else encoding, {}
        except UnicodeDecodeError:
            pass
    lines = body.split(b"\n")
    failing = {enc: sum(1 for raw in lines if not _decodes(raw, enc)) for enc in candidates}
    encoding = min(candidates, key=lambda enc: failing[enc])
    other = "CP949" if encoding == "utf-8" else "UTF-8"
    out, bad = [], {}
    for n, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode(encoding))
        except UnicodeDecodeError as e:
            out.append(raw.decode(encoding, errors="replace"))
            bad[n] = (
                f"not UTF-8 or CP949 text: undecodable byte 0x{raw[e.start]:02x} at byte "
                f"{e.start + 1} of the line (the rest of the file reads as "
                f"{'UTF-8' if encoding == 'utf-8' else 'CP949'}, not {other}). {SAVE_AS}"
            )
    return "\n".join(out), "utf-8-sig" if bom else encoding, bad


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def is_xlsx(data: bytes, file: str) -> bool:
    """An Excel workbook (a zip: `PK\\x03\\x04`), or a file named .xlsx."""
    return data[:4] == b"PK\x03\x04" or file.lower().endswith((".xlsx", ".xlsm"))


def cell_text(value: object) -> str:
    """An Excel cell as the roster reads it: whole numbers without `.0` (student numbers),
    dates as ISO dates, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_records(data: bytes) -> tuple[list[tuple[int, list[str]]], str | None]:
    """(row number, cells) of the first sheet's rows, or why the workbook cannot be read."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # zipfile, XML and openpyxl's own errors alike
        return [], f"not an Excel workbook (.xlsx): {excerpt(e, 120, quote=False)}"
    try:
        if not book.worksheets:
            return [], "the workbook has no sheet"
        sheet = book.worksheets[0]
        out = []
        for n, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            while cells and not cells[-1].strip():
                cells.pop()
            out.append((n, cells))
        return out, None
    finally:
        book.close()


def _csv_records(
    text: str, file: str, bad: Mapping[int, str], problems: list[RowProblem]
) -> list[tuple[int, list[str]]]:
    """(line, cells) of each CSV record that is not blank; a record spanning an undecodable line
    is a problem (its value the line as read) and left out."""
    reader = csv.reader(io.StringIO(text, newline=""))
    out: list[tuple[int, list[str]]] = []
    lines: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(RowProblem(start, "", f"malformed CSV: {e}"))
            break
        if not bad:
            if any(c.strip() for c in cells):  # blank records are skipped (Excel leaves some)
                out.append((start, cells))
            continue
        broken = [n for n in range(start, reader.line_num + 1) if n in bad]
        if broken and lines is None:
            lines = text.split("\n")
        for n in broken:
            shown = lines[n - 1].rstrip("\r") if lines is not None else ""
            problems.append(RowProblem(n, "", bad[n], excerpt(shown, VALUE_CHARS, quote=False)))
        if not broken and any(c.strip() for c in cells):
            out.append((start, cells))
    return out


def read_roster(
    data: bytes,
    file: str,
    curriculum: Curriculum,
    mapping: RosterMapping | None = None,
    remembered: RosterMapping | None = None,
) -> Parsed:
    """Every row of a roster and every problem (nothing raised for bad input)."""
    mapping = mapping or RosterMapping()
    problems: list[RowProblem] = []
    encoding: str | None = None
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        problems.append(
            RowProblem(None, "", "an old Excel .xls file: save it as .xlsx or CSV / xlsx로 저장")
        )
        return Parsed(file, "xls", None, (), (), tuple(problems), {})
    if is_xlsx(data, file):
        fmt = "xlsx"
        records, why = _xlsx_records(data)
        if why:
            problems.append(RowProblem(None, "", why))
    else:
        fmt = "csv"
        text, encoding, bad = decode_lines(data)
        records = _csv_records(text, file, bad, problems)
        if 1 in bad:  # the header itself: columns cannot be told
            return Parsed(file, fmt, encoding, (), (), tuple(problems), {})
    if not records or not any(c.strip() for c in records[0][1]):
        if not problems:
            problems.append(RowProblem(1, "", "empty file / 빈 파일입니다"))
        return Parsed(file, fmt, encoding, (), (), tuple(problems), {})
    (header_line, header) = records[0]
    body = [r for r in records[1:] if any(c.strip() for c in r[1])]
    columns, header_problems = resolve(header, mapping, remembered)
    problems[:0] = [RowProblem(header_line, c, m) for c, m in header_problems]
    targets = {c.target: c for c in columns}
    for f in REQUIRED:
        if f not in targets:
            problems.append(
                RowProblem(
                    header_line,
                    f,
                    f"required column missing: map a column to it (--map COLUMN={f}) "
                    "/ 필수 열이 없습니다: 열을 지정하세요",
                )
            )
    samples = _samples(columns, body)
    if any(p.line == header_line for p in problems):  # rows cannot be read without their columns
        return Parsed(
            file, fmt, encoding, tuple(columns), (), _ordered(problems), samples, header_line
        )
    values = mapping.over(remembered) if remembered else mapping  # remembered Y/N too
    records_out = _rows(body, columns, values, curriculum, problems)
    if not records_out and not problems:
        problems.append(RowProblem(None, "", "no rows / 행이 없습니다"))
    return Parsed(
        file,
        fmt,
        encoding,
        tuple(columns),
        tuple(records_out),
        _ordered(problems),
        samples,
        header_line,
    )


def _ordered(problems: list[RowProblem]) -> tuple[RowProblem, ...]:
    """By line (stable: a line's problems in the order found); the whole file's last."""
    return tuple(sorted(problems, key=lambda p: p.line if p.line is not None else 1 << 62))


def _samples(
    columns: Sequence[Column], body: Sequence[tuple[int, list[str]]]
) -> dict[str, tuple[str, ...]]:
    """Up to SAMPLES distinct non-empty values per column header (more: the column is not one
    to map values of, and gets none)."""
    out: dict[str, tuple[str, ...]] = {}
    for c in columns:
        if c.target == "ignore" or c.field in ("username", "name", "email"):
            continue
        seen: dict[str, None] = {}
        for _, cells in body:
            v = cells[c.index].strip() if c.index < len(cells) else ""
            if v:
                seen.setdefault(v[:VALUE_CHARS])
                if len(seen) > SAMPLES:
                    break
        if len(seen) <= SAMPLES:
            out[c.header] = tuple(seen)
    return out


def _rows(
    body: Sequence[tuple[int, list[str]]],
    columns: Sequence[Column],
    mapping: RosterMapping,
    curriculum: Curriculum,
    problems: list[RowProblem],
) -> list[Record]:
    tracks = {t.id for t in curriculum.tracks}
    cohorts = {c.id for c in curriculum.cohorts}
    stages = [s.id for s in curriculum.stages]
    fields = {c.field: c for c in columns if c.field}
    attrs = [c for c in columns if c.attribute]
    labels = {(c.field or c.attribute or ""): c.label for c in columns}
    default = mapping.cohort
    if default and default not in cohorts:
        problems.append(
            RowProblem(
                None,
                "cohort",
                f"unknown default cohort {default!r} (known: {', '.join(sorted(cohorts))})",
                excerpt(default, VALUE_CHARS, quote=False),
            )
        )
        default = None
    no_cohort = "cohort" not in fields and not default
    without_cohort = 0
    records: list[Record] = []
    first_line: dict[str, int] = {}
    width = len(columns)
    for line, cells in body:
        if not any(c.strip() for c in cells):
            continue
        raw = {
            f: (cells[c.index].strip() if c.index < len(cells) else "") for f, c in fields.items()
        }
        v = {f: mapping.value(f, x) for f, x in raw.items()}
        username_raw = v.get("username", "")
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            problems.append(RowProblem(line, "", f"{len(cells)} cells but {width} columns"))
            records.append(Record(line, username_raw, v.get("name", ""), None))
            continue
        attributes = {}
        for c in attrs:
            x = cells[c.index].strip() if c.index < len(cells) else ""
            attributes[c.attribute or ""] = mapping.value(c.attribute or "", x)
        file_cohort = v.get("cohort") or None
        if not file_cohort:
            v["cohort"] = default or ""
        role = v.get("role") or "trainee"
        if no_cohort and role == "trainee":
            without_cohort += 1
        bad = _check_row(v, attributes, tracks, cohorts, stages, skip_cohort=no_cohort)
        for f, message in bad:
            value = v.get(f, attributes.get(f, ""))
            problems.append(
                RowProblem(
                    line, labels.get(f, f), message, excerpt(value, VALUE_CHARS, quote=False)
                )
            )
        username = v["username"].lower()
        if username and username in first_line:
            problems.append(
                RowProblem(
                    line,
                    fields["username"].label,
                    f"duplicate {username!r} (also line {first_line[username]})",
                    excerpt(username, VALUE_CHARS, quote=False),
                )
            )
            bad.append(("username", "duplicate"))
        first_line.setdefault(username, line)
        row = None
        if not bad and not (no_cohort and role == "trainee"):
            trainee = role == "trainee"
            row = RosterRow(
                line=line,
                username=username,
                name=v["name"],
                role=role,
                email=v.get("email") or None,
                cohort=(v.get("cohort") or None) if trainee else file_cohort,
                track=v.get("track") or None,
                stage=(v.get("stage") or stages[0]) if trainee else None,
                major=v.get("major") or None,
                attributes=attributes,
            )
        records.append(Record(line, username, v.get("name", ""), row))
    if without_cohort:
        problems.append(
            RowProblem(
                None,
                "cohort",
                f"no cohort column and no default cohort: {without_cohort} trainee rows have no "
                "cohort (choose a default cohort, `--cohort`) / 기수 열이 없습니다: 기본 기수를 "
                "고르세요",
            )
        )
    return records


def _check_row(
    v: dict[str, str],
    attributes: Mapping[str, str],
    tracks: set[str],
    cohorts: set[str],
    stages: list[str],
    skip_cohort: bool = False,
) -> list[tuple[str, str]]:
    """(field or attribute, why) of each problem of one row's values."""
    bad = []
    for key, most in FIELD_LIMITS.items():
        if len(v.get(key) or "") > most:
            bad.append((key, f"{len(v[key])} characters; at most {most} / 최대 {most}자"))
    for name, value in attributes.items():
        if len(value) > ATTRIBUTE_CHARS:
            bad.append((name, f"{len(value)} characters; at most {ATTRIBUTE_CHARS} / 최대 200자"))
    if bad:
        return bad  # the other checks would only quote the overlong values back
    if not v["username"]:
        bad.append(("username", "missing / 비어 있습니다"))
    elif not USERNAME.match(v["username"].lower()):
        bad.append(
            (
                "username",
                f"{excerpt(v['username'])}: use 2-32 of a-z 0-9 . _ - (영문 소문자, 숫자, . _ -)",
            )
        )
    if not v["name"]:
        bad.append(("name", "missing / 비어 있습니다"))
    role = v.get("role") or "trainee"
    if role not in ROLES:
        bad.append(("role", f"{excerpt(role)} is not one of {', '.join(ROLES)}"))
    if v.get("email") and not EMAIL.match(v["email"]):
        bad.append(("email", f"{excerpt(v['email'])} is not an e-mail address"))
    if role == "trainee":
        for key, known in (("cohort", cohorts), ("track", tracks)):
            if key == "cohort" and skip_cohort:
                continue
            if not v.get(key):
                bad.append((key, "missing for a trainee / 교육생은 필수입니다"))
            elif v[key] not in known:
                bad.append(
                    (
                        key,
                        f"unknown {key} {excerpt(v[key])} (known: {', '.join(sorted(known))})",
                    )
                )
        if v.get("stage") and v["stage"] not in stages:
            bad.append(
                ("stage", f"unknown stage {excerpt(v['stage'])} (known: {', '.join(stages)})")
            )
    return bad


def parse_roster(
    data: bytes,
    file: str,
    curriculum: Curriculum,
    mapping: RosterMapping | None = None,
    remembered: RosterMapping | None = None,
) -> list[RosterRow]:
    """Validated rows of a roster; InputError lists every problem (nothing is returned then)."""
    parsed = read_roster(data, file, curriculum, mapping, remembered)
    if parsed.problems:
        raise InputError(parsed.errors())
    return parsed.rows
