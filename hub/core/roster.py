"""Roster CSV parsing: bytes from Excel (CP949), UTF-8 or UTF-8 with BOM to validated rows.

Pure: `parse_roster(data, file, curriculum)` returns every row or raises InputError listing every bad
row with its line number and field, so an import is all or nothing. Headers may be English or Korean.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .curriculum import Curriculum
from .limits import excerpt
from .yamlsrc import InputError, Problem

ROLES = ("trainee", "instructor", "admin")
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
REQUIRED = ("username", "name")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# the database's column sizes (store/models.py Person): longer values are refused per row
FIELD_LIMITS = {"username": 64, "name": 200, "email": 320, "major": 200}


@dataclass(frozen=True)
class RosterRow:
    """One person of a roster; trainees have cohort, track and stage, staff may not."""

    line: int
    username: str
    name: str
    role: str = "trainee"
    email: str | None = None
    cohort: str | None = None
    track: str | None = None
    stage: str | None = None
    major: str | None = None


def decode(data: bytes, file: str) -> tuple[str, str]:
    """(text, encoding name): UTF-8 (with or without BOM) first, then CP949; InputError if neither."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("cp949"), "cp949"
        except UnicodeDecodeError:
            line = data.count(b"\n", 0, utf8_err.start) + 1
            raise InputError(
                [
                    Problem(
                        file,
                        line,
                        "",
                        f"not UTF-8 or CP949 text: undecodable byte 0x{data[utf8_err.start]:02x}. "
                        "Save the file from Excel as 'CSV UTF-8' or 'CSV (쉼표로 분리)'. / "
                        "인코딩을 알 수 없습니다: 'CSV UTF-8'로 다시 저장하세요.",
                    )
                ]
            ) from None


def _header_map(header: list[str], file: str) -> dict[str, int]:
    lookup = {alias.lower(): key for key, aliases in HEADER_ALIASES.items() for alias in aliases}
    columns: dict[str, int] = {}
    problems = []
    for i, raw in enumerate(header):
        key = lookup.get(raw.strip().lower())
        if key is None:
            problems.append(
                Problem(file, 1, raw, "unknown column (known: " + ", ".join(HEADER_ALIASES) + ")")
            )
        elif key in columns:
            problems.append(Problem(file, 1, raw, f"column {key!r} appears twice"))
        else:
            columns[key] = i
    for key in REQUIRED:
        if key not in columns:
            problems.append(Problem(file, 1, key, "required column missing / 필수 열이 없습니다"))
    if problems:
        raise InputError(problems)
    return columns


def parse_roster(data: bytes, file: str, curriculum: Curriculum) -> list[RosterRow]:
    """Validated rows of a roster; InputError lists every bad row (nothing is returned then)."""
    text, _ = decode(data, file)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError([Problem(file, 1, "", "empty file / 빈 파일입니다")]) from None
    columns = _header_map(header, file)
    tracks = {t.id: t for t in curriculum.tracks}
    cohorts = {c.id for c in curriculum.cohorts}
    stages = [s.id for s in curriculum.stages]
    rows: list[RosterRow] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(Problem(file, start, "", f"malformed CSV: {e}"))
            break
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            problems.append(
                Problem(file, start, "", f"{len(cells)} cells but {len(header)} columns")
            )
            continue
        v = {k: (cells[i].strip() if i < len(cells) else "") for k, i in columns.items()}
        bad = _check_row(v, tracks, cohorts, stages)
        problems += [Problem(file, start, f, m) for f, m in bad]
        username = v["username"].lower()
        if username and username in first_line:
            problems.append(
                Problem(
                    file,
                    start,
                    "username",
                    f"duplicate {username!r} (also line {first_line[username]})",
                )
            )
        first_line.setdefault(username, start)
        if not bad:
            role = v.get("role") or "trainee"
            trainee = role == "trainee"
            rows.append(
                RosterRow(
                    line=start,
                    username=username,
                    name=v["name"],
                    role=role,
                    email=v.get("email") or None,
                    cohort=v.get("cohort") or None,
                    track=v.get("track") or None,
                    stage=(v.get("stage") or stages[0]) if trainee else None,
                    major=v.get("major") or None,
                )
            )
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError([Problem(file, None, "", "no rows / 행이 없습니다")])
    return rows


def _check_row(
    v: dict[str, str], tracks: Mapping[str, object], cohorts: set[str], stages: list[str]
) -> list[tuple[str, str]]:
    bad = []
    for key, most in FIELD_LIMITS.items():
        if len(v.get(key) or "") > most:
            bad.append((key, f"{len(v[key])} characters; at most {most} / 최대 {most}자"))
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
            if not v.get(key):
                bad.append((key, "missing for a trainee / 교육생은 필수입니다"))
            elif v[key] not in known:
                bad.append((key, f"unknown {key} {v[key]!r} (known: {', '.join(sorted(known))})"))
        if v.get("stage") and v["stage"] not in stages:
            bad.append(("stage", f"unknown stage {v['stage']!r} (known: {', '.join(stages)})"))
    return bad
