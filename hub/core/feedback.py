"""What of an assessment stays hidden from trainees, and when feedback may show it.

Pure (notebooks as parsed JSON, times as arguments):
- `hidden_tests`: the hidden test blocks of an nbgrader source notebook (`### BEGIN HIDDEN TESTS`
  to `### END HIDDEN TESTS` in its cells, markers read leniently: any case, spacing, number of #).
  nbgrader's `generate_feedback` renders the autograded notebook, whose test cells come from the
  source, so an assessment with hidden tests has them verbatim in every trainee's feedback; its
  solution cells hold the trainee's own answers, never the instructor's solutions.
- `student_version_leaks`: what of the hidden material a generated student version still holds —
  a solution or hidden-test marker anywhere, or any line that only the source's hidden tests hold.
- `may_release_feedback`: whether feedback showing hidden tests may go to one trainee now. It may
  once no submission they could still make would score more than the result they have: their due
  instant (the deadline in force, or their extension) has passed and the late policy gives a late
  submission made from now on no more than their current score (`last_gain`). Under `zero` that is
  right after the due instant; under `linear` once the penalty has grown far enough; under `none`,
  or `linear` capped below what they would need, never (late submissions are accepted without
  end), unless they already have the full score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .audit import naive_utc
from .deadlines import LatePolicy, effective_due, lateness

MARKER = re.compile(r"\b(BEGIN|END)[\s_-]*(SOLUTION|HIDDEN[\s_-]*TESTS?)\b", re.IGNORECASE)
_BEGIN_HIDDEN = re.compile(r"\bBEGIN[\s_-]*HIDDEN[\s_-]*TESTS?\b", re.IGNORECASE)
_END_HIDDEN = re.compile(r"\bEND[\s_-]*HIDDEN[\s_-]*TESTS?\b", re.IGNORECASE)
EPS = 1e-9  # score shares closer than this are equal

# --- hidden material in notebooks -----------------------------------------------------------------


@dataclass(frozen=True)
class HiddenTest:
    """One hidden test block of a source notebook: where, and its lines (normalised)."""

    notebook: str
    cell: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Leak:
    """Hidden material found in a student version: the file, the cell, and what it is."""

    path: str
    cell: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}, {self.cell}: {self.what}"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def cell_label(cell: Mapping[str, Any], index: int) -> str:
    """How a cell is named in messages: its nbgrader grade_id, else its id, with its index."""
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), Mapping) else {}
    nbg = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    name = (nbg.get("grade_id") if isinstance(nbg, Mapping) else None) or cell.get("id")
    return f"cell {index} {name!r}" if name else f"cell {index}"


def _cells(nb: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cells = nb.get("cells")
    return [c for c in cells if isinstance(c, Mapping)] if isinstance(cells, list) else []


def _normalised(lines: Iterable[str]) -> list[str]:
    """Lines as compared: stripped, without blank and comment-only lines."""
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def _split(source: str) -> tuple[list[str], list[list[str]]]:
    """A cell's lines outside hidden test blocks, and the blocks' lines (a block whose end marker
    is missing runs to the end of the cell)."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    block: list[str] | None = None
    for line in source.split("\n"):
        if _BEGIN_HIDDEN.search(line):
            if block is None:  # nested: nbgrader refuses it anyway
                block = []
                blocks.append(block)
        elif _END_HIDDEN.search(line):
            block = None
        elif block is not None:
            block.append(line)
        else:
            outside.append(line)
    return outside, blocks


def hidden_tests(name: str, nb: Mapping[str, Any]) -> list[HiddenTest]:
    """The hidden test blocks of a source notebook `name` that hold something."""
    found = []
    for i, cell in enumerate(_cells(nb)):
        for block in _split(_text(cell.get("source")))[1]:
            if _normalised(block):
                found.append(HiddenTest(name, cell_label(cell, i), tuple(_normalised(block))))
    return found


def _hidden_only(sources: Mapping[str, Mapping[str, Any]]) -> dict[str, HiddenTest]:
    """Each line only hidden tests of the sources hold (not shown anywhere else in them, and not
    mere punctuation), with the block it is from: a student version made from the sources has no
    business holding any."""
    shown: set[str] = set()
    hidden: dict[str, HiddenTest] = {}
    for name, nb in sources.items():
        for i, cell in enumerate(_cells(nb)):
            outside, blocks = _split(_text(cell.get("source")))
            shown.update(_normalised(outside))
            for block in blocks:
                lines = tuple(_normalised(block))
                for line in lines:
                    if any(ch.isalnum() for ch in line):
                        hidden.setdefault(line, HiddenTest(name, cell_label(cell, i), lines))
    return {line: h for line, h in hidden.items() if line not in shown}


def _scan(path: str, where: str, text: str, hidden: Mapping[str, HiddenTest]) -> list[Leak]:
    leaks = []
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if MARKER.search(line):
            leaks.append(Leak(path, where, f"line {number} holds the marker {line.strip()[:80]!r}"))
    seen: set[HiddenTest] = set()
    for line in _normalised(lines):
        h = hidden.get(line)
        if h is not None and h not in seen:
            seen.add(h)
            leaks.append(
                Leak(path, where, f"holds the hidden test of {h.notebook}, {h.cell}: {line!r}")
            )
    return leaks


def _outputs_text(cell: Mapping[str, Any]) -> str:
    parts = []
    outputs = cell.get("outputs")
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, Mapping):
            continue
        parts.append(_text(out.get("text")))
        data = out.get("data")
        if isinstance(data, Mapping):
            parts.extend(_text(v) for k, v in data.items() if str(k).startswith("text/"))
    return "\n".join(parts)


def student_version_leaks(
    sources: Mapping[str, Mapping[str, Any]], files: Mapping[str, bytes]
) -> list[Leak]:
    """What a generated student version (`files`: path -> bytes) still holds of the hidden
    material of its source notebooks (`sources`: name -> parsed notebook): solution or hidden
    test markers in any cell (source, outputs, metadata) or file, and any line only the
    sources' hidden test blocks hold (compared stripped, comments left out). Empty when the
    student version is clean."""
    hidden = _hidden_only(sources)
    leaks: list[Leak] = []
    for path, data in sorted(files.items()):
        text = data.decode("utf-8", errors="replace")
        if not path.endswith(".ipynb"):
            leaks += _scan(path, "file", text, hidden)
            continue
        try:
            nb = json.loads(text)
        except ValueError:
            leaks += _scan(path, "file (not JSON)", text, hidden)
            continue
        if not isinstance(nb, Mapping):
            leaks += _scan(path, "file (not a notebook)", text, hidden)
            continue
        for i, cell in enumerate(_cells(nb)):
            label = cell_label(cell, i)
            leaks += _scan(path, label, _text(cell.get("source")), hidden)
            leaks += _scan(path, f"{label} outputs", _outputs_text(cell), hidden)
            meta = json.dumps(cell.get("metadata", {}), ensure_ascii=False)
            leaks += _scan(path, f"{label} metadata", meta, {})
        meta = json.dumps(nb.get("metadata", {}), ensure_ascii=False)
        leaks += _scan(path, "notebook metadata", meta, {})
    return leaks


# --- when feedback showing hidden tests may go out ------------------------------------------------

Why = Literal["released", "deadline", "extension", "late-window", "no-cutoff"]


@dataclass(frozen=True)
class Decision:
    """May feedback showing hidden tests go to this trainee now, and if not, why and until when
    (`until`: the last instant a submission of theirs could still score more, in UTC; after it the
    feedback may go out; None when no such instant is in sight)."""

    release: bool
    why: Why
    reason: str
    until: datetime | None


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(policy: LatePolicy) -> str:
    if policy.kind == "linear":
        return f"linear {policy.per_hour:g}%/h, cap {policy.cap:g}%"
    return policy.kind


def last_gain(due: datetime, policy: LatePolicy, score: float, max_score: float) -> datetime | None:
    """The last instant at which a new submission could still score more than `score` of
    `max_score` (the trainee's current final score), given their due instant and the late policy;
    never before `due`. None when late submissions could score more without end. A `max_score` of
    0 (unknown) counts `score` as nothing."""
    due = naive_utc(due)
    need = (
        min(1.0, 1.0 - score / max_score) if max_score > 0 else 1.0
    )  # penalty that leaves no gain
    if need <= EPS or policy.kind == "zero":
        return due
    if policy.kind == "none" or policy.per_hour <= 0 or policy.cap / 100 < need - EPS:
        return None

    def penalty(hours: int) -> float:  # of a submission `hours` started hours late
        return lateness(policy, due, due + timedelta(hours=hours)).penalty

    k = max(1, math.ceil(need * 100 / policy.per_hour - EPS))
    while k > 1 and penalty(k - 1) >= need - EPS:
        k -= 1
    while penalty(k) < need - EPS:
        k += 1
    return due + timedelta(hours=k - 1)  # later than this a submission is k started hours late


def may_release_feedback(
    now: datetime,
    due: datetime,
    extension: datetime | None,
    policy: LatePolicy,
    score: float = 0.0,
    max_score: float = 0.0,
) -> Decision:
    """Whether feedback showing hidden tests may go to a trainee at `now` (server time): only once
    their due instant (`due`, the assessment's deadline in force, or their `extension`) has passed
    and no late submission they could still make would score more than their current final
    `score` of `max_score` (see `last_gain`). Naive datetimes are UTC."""
    now = naive_utc(now)
    own = naive_utc(effective_due(due, extension))
    until = last_gain(own, policy, score, max_score)
    until_utc = until.replace(tzinfo=UTC) if until else None
    if until is None:
        later = (
            f"late submissions are accepted without end and could score more than their "
            f"{score:g}/{max_score:g} (late policy {_short(policy)}); a late_penalty that "
            "reaches 100% (zero, or linear with cap 100) gives a cut-off / 지각 제출이 기한 없이 "
            "현재 점수보다 높은 점수를 받을 수 있어 숨은 테스트가 담긴 피드백을 보내지 않습니다"
        )
    else:
        later = f"feedback may go out after {_when(until)} / {_when(until)} 이후에 보낼 수 있습니다"
    if now <= own:
        if extension is not None and own > naive_utc(due):
            head = f"their extension to {_when(own)} has not passed: they can still submit"
            ko = f"연장된 마감({_when(own)}) 전이라 다시 제출할 수 있습니다"
            why: Why = "extension"
        else:
            head = f"the deadline {_when(own)} has not passed: they can still submit"
            ko = f"마감({_when(own)}) 전이라 다시 제출할 수 있습니다"
            why = "deadline"
        return Decision(False, why, f"{head} / {ko}; {later}", until_utc)
    if until is None:
        return Decision(False, "no-cutoff", later, None)
    if now <= until:
        return Decision(
            False,
            "late-window",
            f"a late submission until {_when(until)} could still score more than their "
            f"{score:g}/{max_score:g} (late policy {_short(policy)}) / {_when(until)}까지는 지각 "
            f"제출로 현재 점수({score:g}/{max_score:g})보다 높은 점수를 받을 수 있습니다",
            until_utc,
        )
    return Decision(True, "released", "", until_utc)
