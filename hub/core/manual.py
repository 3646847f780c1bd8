"""Manual grading, the pure part: rubrics, the queue of answers that need a person, pseudonyms
for blind grading, and the decision on one grade written in the browser.

A *question* is one graded cell of an assessment (notebook and nbgrader grade_id); its *answers*
are that cell in each trainee's latest graded submission. Cells graded by hand are the gradebook's
rows of kind "manual" (written answers, project criteria); a rubric (labs/<track>/project/
rubric.yaml, checked by core/labcheck.py `check_rubric`) gives a question its title and levels,
one criterion per grade_id.

Trainees are shown by a pseudonym (`Trainee #7`) until the grader asks for names: numbered in the
order of their first submission to the assessment, so a number never changes when someone submits
later, and says nothing of the name.

Every grade carries a version; a write based on another version than the stored one is stale and
refused, so two graders never overwrite each other unknowingly (`decide`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_COMMENT_CHARS = 4000
"""Longest comment a grader may leave on an answer (the trainee reads it with the feedback)."""

KEYS = 9
"""Levels reachable by the keys 1..9."""

SEP = ":"
"""Between notebook and cell in a question's key (grade_ids have no ':' — nbgrader allows only
letters, digits, '_' and '-' — so the last one splits)."""


# --- rubrics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One level of a criterion: its points and what earns them, in Korean and English."""

    points: float
    text: Mapping[str, str]


@dataclass(frozen=True)
class Criterion:
    """A rubric's criterion, graded in the answer cell of the same grade_id."""

    id: str
    title: Mapping[str, str]
    points: float
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Rubric:
    """A rubric of one assessment: its criteria by grade_id, in the rubric's order."""

    assessment: str
    notebook: str  # the gradebook's name of the rubric's notebook (no folder, no .ipynb)
    criteria: tuple[Criterion, ...]

    def criterion(self, cell: str) -> Criterion | None:
        """The criterion graded in `cell`, if the rubric has one."""
        return next((c for c in self.criteria if c.id == cell), None)

    def order(self, cell: str) -> int:
        """Where `cell` comes in the rubric (cells without a criterion after all of them)."""
        ids = [c.id for c in self.criteria]
        return ids.index(cell) if cell in ids else len(ids)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _bilingual(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: str(value[k]) for k in ("ko", "en") if value.get(k)}


def parse_rubric(spec: Any) -> Rubric | None:
    """A rubric from its parsed YAML; None when it is not one. Lenient: a criterion or level that
    does not read (check_rubric reports those) is left out rather than refusing the whole."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("criteria"), list):
        return None
    criteria = []
    for c in spec["criteria"]:
        if not isinstance(c, Mapping) or not c.get("id"):
            continue
        points = _number(c.get("points"))
        levels = []
        for lv in c.get("levels") or []:
            lp = _number(lv.get("points")) if isinstance(lv, Mapping) else None
            if lp is not None:
                levels.append(Level(lp, _bilingual(lv)))
        criteria.append(
            Criterion(str(c["id"]), _bilingual(c.get("title")), points or 0.0, tuple(levels))
        )
    notebook = str(spec.get("notebook") or "").rsplit("/", 1)[-1].removesuffix(".ipynb")
    return Rubric(str(spec.get("assessment", "")), notebook, tuple(criteria))


def level_for(criterion: Criterion | None, key: int) -> Level | None:
    """The level the key `key` (1..9) picks: the criterion's levels in the rubric's order; None
    for a key beyond them or without a criterion."""
    if criterion is None or not 1 <= key <= min(KEYS, len(criterion.levels)):
        return None
    return criterion.levels[key - 1]


def level_of(criterion: Criterion | None, points: float | None) -> int | None:
    """The key (1..9) of the level worth exactly `points`, if there is one."""
    if criterion is None or points is None:
        return None
    for i, lv in enumerate(criterion.levels[:KEYS], start=1):
        if abs(lv.points - points) < 1e-9:
            return i
    return None


# --- questions and pseudonyms -------------------------------------------------------------------


def question_key(notebook: str, cell: str) -> str:
    """The key of a question in URLs: `notebook:cell`."""
    return f"{notebook}{SEP}{cell}"


def parse_question_key(key: str) -> tuple[str, str] | None:
    """(notebook, cell) of a question key, None if it is not one."""
    notebook, sep, cell = key.rpartition(SEP)
    return (notebook, cell) if sep and notebook and cell else None


def pseudonyms(first_submissions: Mapping[int, int]) -> dict[int, int]:
    """A number per trainee (member id -> 1, 2, …) in the order of their first submission's id
    (`first_submissions`: member id -> that id): stable when others submit later."""
    order = sorted(first_submissions, key=lambda m: (first_submissions[m], m))
    return {m: i for i, m in enumerate(order, start=1)}


@dataclass(frozen=True)
class GradeFact:
    """One graded cell of a latest submission, as the queue needs it."""

    submission: int
    member: int
    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str  # auto | manual
    graded_by: str
    origin: str  # grader | formgrader | sadari


@dataclass
class Question:
    """A question of the queue: its answers ordered by pseudonym, and how many are graded."""

    notebook: str
    cell: str
    max_score: float
    answers: list[GradeFact] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The question's key (`question_key`)."""
        return question_key(self.notebook, self.cell)

    @property
    def graded(self) -> int:
        """Answers with points."""
        return sum(1 for a in self.answers if a.score is not None)

    @property
    def total(self) -> int:
        """Answers in all."""
        return len(self.answers)

    def first_waiting(self, after: int = 0) -> int | None:
        """The position (1-based) of the first answer without points after position `after`,
        wrapping round to the start; None when every answer is graded."""
        n = len(self.answers)
        for step in range(1, n + 1):
            i = (after + step - 1) % n
            if self.answers[i].score is None:
                return i + 1
        return None


def build_queue(
    facts: Iterable[GradeFact],
    numbers: Mapping[int, int],
    rubric: Rubric | None = None,
) -> list[Question]:
    """The questions graded by hand (cells of kind manual) with their answers ordered by the
    trainees' pseudonyms (`numbers`), in the rubric's order, then by notebook and cell; every
    criterion of the rubric is a question, even before anyone's answer to it was graded."""
    questions: dict[tuple[str, str], Question] = {}
    for f in facts:
        if f.kind != "manual":
            continue
        q = questions.setdefault((f.notebook, f.cell), Question(f.notebook, f.cell, f.max_score))
        q.max_score = max(q.max_score, f.max_score)
        q.answers.append(f)
    if rubric is not None:
        have = {cell for _, cell in questions}
        for c in rubric.criteria:
            if c.id not in have:
                questions[(rubric.notebook, c.id)] = Question(rubric.notebook, c.id, c.points)
    for q in questions.values():
        q.answers.sort(key=lambda a: (numbers.get(a.member, 1 << 30), a.submission))
    return sorted(
        questions.values(),
        key=lambda q: (rubric.order(q.cell) if rubric else 0, q.notebook, q.cell),
    )


def waiting(questions: Sequence[Question]) -> int:
    """Answers of the queue still without points."""
    return sum(q.total - q.graded for q in questions)


def grader_progress(facts: Iterable[GradeFact]) -> list[tuple[str, int]]:
    """Answers given points by hand, per grader (most first): the manual cells given points in
    sadari or read from formgrader, not the grading run's zero for an empty answer."""
    counts = Counter(
        f.graded_by
        for f in facts
        if f.kind == "manual" and f.score is not None and f.origin != "grader"
    )
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# --- one write --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do with a grade sent from the browser: `ok`, else `stale` (another version is
    stored: someone graded it meanwhile) or `invalid`, with a message in both languages."""

    verdict: str  # ok | stale | invalid
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the write may go ahead."""
        return self.verdict == "ok"


def decide(
    *,
    kind: str,
    max_score: float,
    stored_version: int,
    points: Any,
    version: Any,
    reason: str,
) -> Decision:
    """Whether a grade sent for a cell may be written: points a number from 0 to the cell's
    maximum, the version the grader saw equal to the stored one, and a reason for changing an
    autograded cell's points. Bad input is `invalid` before a version is compared."""
    if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
        return Decision("invalid", "'points' must be a number / 'points'는 숫자여야 합니다")
    if not 0 <= points <= max_score + 1e-9:
        return Decision(
            "invalid",
            f"points must be between 0 and {max_score:g} / 점수는 0에서 {max_score:g} 사이여야 합니다",
        )
    if isinstance(version, bool) or not isinstance(version, int):
        return Decision("invalid", "'version' must be an integer / 'version'은 정수여야 합니다")
    if kind != "manual" and not reason.strip():
        return Decision(
            "invalid",
            "changing an autograded cell's points needs a reason / "
            "자동 채점 점수를 바꾸려면 사유가 필요합니다",
        )
    if version != stored_version:
        return Decision(
            "stale",
            f"someone else graded this answer meanwhile (version {stored_version}, you saw "
            f"{version}) / 그사이 다른 사람이 이 답을 채점했습니다",
        )
    return Decision("ok")
