"""The demo cohort of `sadari demo seed`, and with `--week` a week of it in full swing.

The roster (always): admin, instructor and N trainees of the curriculum's first cohort, the tracks
in turn, two in three of them non-majors; imported as a roster import is (audited as one, and the
CLI then asks the running service to sync the hub, so the new logins work at once).

The week (`--week`; what `make run` seeds): the cohort two days after its first stage's deadline,
whatever the calendar says, so every page has something to show:

- Dates. labs/curriculum.yaml keeps the program's calendar (a cohort `starts` on a date; dues are
  `+Nd HH:MM` after it). The seed moves the demo cohort's deadlines the way an instructor moves a
  cohort's schedule: a deadline override per assessment (store/exchange.py `set_due`, audited
  with the reason), each the curriculum's own relative due counted from the day that puts the
  first stage's deadline two days before the seeding day, at its usual local time. Nothing else
  moves: the curriculum file, the cohort's start date on record and the other cohorts stay; the
  curriculum sync at every start leaves overrides alone; an assessment that already has an
  override (an instructor's, or an earlier seed's) keeps it, and the week is built around it.
- Releases: each track's first-stage assessment through the real release path
  (assessments.release: nbgrader generate_assignment from labs/, the hidden-material check),
  stamped on the cohort's first day.
- Submissions made from the released notebooks with the source's answers in some of the solution
  cells (all, most, half, one), stamped hours before or after the deadline (`PROFILES`, per
  position in the track): some late, one trainee per track not submitted, one notebook renamed by
  its trainee (the exchange takes any notebook; grading finds the assessment's notebook missing
  and says so), one late submission covered by an extension granted with a reason.
- Grading with the configured grader (settings.grader), at seed time, of the demo's submissions
  that are waiting (the same queue and worker loop as `sadari assessment autograde`). Where that
  grader cannot run (the local sandbox needs root), they stay queued and the service's own worker
  grades them once it runs (or `sadari grading work`).
- Written answers (graded by hand): the instructor's grade on every one but one, which waits (a
  later seed grades those of submissions the service has graded since).
- Selection: the program's basics -> advanced policy (40% of each track, at least 3 non-majors per
  track) needs 8 or more trainees per track with 3 eligible non-majors; the week's roster has 10
  per track (40 trainees), so `preview` works on it.

Times: what happens in the week's story (releases, submissions, the extension) carries the
story's time; what the seed does now (deadline overrides, grading, the written answers' grades)
carries the real one, so the audit log tells the two apart. Cost, measured on two busy cores:
about 25 s releasing (nbgrader, 4 assessments) and 60-80 s grading 36 submissions, once.

Idempotent: every step first looks at the record (a release, a trainee's submission, an
extension, a waiting job, a written answer still waiting), so seeding again changes nothing, and
seeding with more trainees adds only theirs. Everything the seed writes is the CLI's
(`cli:demo-seed`), except the written answers' grades, given as `instructor`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..graders.autograde import Autograder, CellScore
from . import assessments as ops_
from . import workers as workers_
from .core.archive import Entry as FileEntry
from .core.archive import Rules, check_archive, make_archive, release_files
from .core.curriculum import Assessment as Spec
from .core.curriculum import Curriculum
from .core.roster import RosterRow
from .settings import SadariSettings
from .storage import LocalBlobStore
from .store import exchange as ex
from .store import grading, repo
from .store.models import Assessment, Extension, Grade, GradingJob, Release, Submission

ACTOR = "cli:demo-seed"
INSTRUCTOR = "instructor"
WEEK_TRAINEES = 40  # 10 per track: the selection policy's reserved seats can be met
DAYS_AFTER_DUE = 2  # the week is seeded two days after the first stage's deadline
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN: tuple[str, ...] = ("민준", "서연", "도윤", "지우", "하준", "서윤", "시우", "하은")
GIVEN += ("주원", "지민", "예준", "수아", "지호", "채원", "준서", "다은")
MEMO = (
    "수도권 파일럿을 추천합니다. SOM과 퍼널 전환율로 필요한 방문자 수를 계산했고, 가장 약한 "
    "방문→가입 단계부터 개선하겠습니다. / I recommend a metro-area pilot, starting with the "
    "weakest step of the funnel, visit to signup."
)
RENAMED = "{aid} (1).ipynb"  # what a browser download makes of a second copy


@dataclass(frozen=True)
class Profile:
    """A demo trainee's week: how many solution cells they answered (from the first; a written
    answer counts last), when they submitted (hours after the deadline: negative is on time),
    and what else happened to them."""

    answered: int | None  # None: did not submit
    hours: float = -24.0
    special: str = ""  # renamed | extension | waiting


# by position in the track (trainee001 is the first of the first track, trainee005 the second)
PROFILES = (
    Profile(4, -50),
    Profile(4, -30),
    Profile(3, -20),
    Profile(4, 3),
    Profile(2, -6),
    Profile(4, -70),
    Profile(1, -2),
    Profile(3, 20),
    Profile(None),
    Profile(4, -1),
)
# one of each per cohort: (track position in the curriculum, position in the track)
SPECIALS = {(0, 7): "extension", (0, 6): "renamed", (1, 1): "waiting"}
EXTENSION_REASON = "병원 진료 (진단서 제출) / hospital visit (doctor's note handed in)"


def demo_rows(curriculum: Curriculum, trainees: int) -> list[RosterRow]:
    """The demo cohort: admin, instructor and `trainees` trainees spread over the tracks."""
    cohort = curriculum.cohorts[0].id
    first = curriculum.stages[0].id
    rows = [
        RosterRow(1, "admin", "관리자 (데모)", role="admin"),
        RosterRow(2, "instructor", "강사 (데모)", role="instructor"),
    ]
    for i in range(1, trainees + 1):
        name = SURNAMES[(i * 7) % len(SURNAMES)] + GIVEN[(i * 5) % len(GIVEN)]
        track = curriculum.tracks[(i - 1) % len(curriculum.tracks)].id
        rows.append(
            RosterRow(
                i + 2,
                f"trainee{i:03d}",
                name,
                cohort=cohort,
                track=track,
                stage=first,
                major="비전공" if i % 3 else "컴퓨터공학",
            )
        )
    return rows


def seed_roster(
    sessions: sessionmaker[Session], curriculum: Curriculum, trainees: int, now: datetime
) -> repo.ImportReport:
    """Sync the curriculum and import the demo roster in one transaction."""
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, now)
        return repo.import_roster(
            s,
            demo_rows(curriculum, trainees),
            data=b"demo-seed",
            file="demo-seed",
            actor=ACTOR,
            now=now,
        )


# --- the week -----------------------------------------------------------------------------------


@dataclass
class WeekReport:
    """What seeding the week did (counts of this run; `graded`: outcome statuses)."""

    moved_deadlines: int = 0
    released: list[str] = field(default_factory=list)
    submitted: int = 0
    extensions: int = 0
    graded: dict[str, int] = field(default_factory=dict)
    queued: int = 0  # left for the service's worker (the grader could not run here)
    grader_problem: str = ""
    manual_grades: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # per step that did something

    def lines(self) -> list[str]:
        """The report as the CLI prints it."""
        out = [
            f"demo week: {self.moved_deadlines} deadlines moved, released "
            f"{', '.join(self.released) or 'nothing new'}, {self.submitted} submissions, "
            f"{self.extensions} extensions, {self.manual_grades} written answers graded"
        ]
        if self.graded:
            out.append("graded: " + ", ".join(f"{n} {k}" for k, n in sorted(self.graded.items())))
        if self.seconds:
            out.append("took " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items()))
        if self.queued:
            out.append(
                f"{self.queued} submissions queued for grading: {self.grader_problem}; the "
                "service grades them once it runs (or `sadari grading work`)"
            )
        return out


def first_day(curriculum: Curriculum, today: date) -> date:
    """The start date that puts the demo cohort's first deadline DAYS_AFTER_DUE days before
    `today` (its local date): the earliest relative due of the first stage decides."""
    first = curriculum.stages[0].id
    days = [
        a.due.days
        for t in curriculum.tracks
        for a in (t.stages[first].assessments if first in t.stages else ())
        if a.due.absolute is None and a.due.days is not None
    ]
    return today - timedelta(days=DAYS_AFTER_DUE + min(days, default=0))


def _specs(curriculum: Curriculum) -> dict[str, tuple[int, str, Spec]]:
    """Assessment id -> (track position, stage, its curriculum entry)."""
    return {
        a.id: (ti, sid, a)
        for ti, t in enumerate(curriculum.tracks)
        for sid, plan in t.stages.items()
        for a in plan.assessments
    }


def move_deadlines(
    s: Session, curriculum: Curriculum, start: date, now: datetime
) -> tuple[int, dict[str, datetime]]:
    """Override the deadline of every demo-cohort assessment that has none yet with its relative
    due counted from `start` (audited); the due instant in force of each (UTC)."""
    cohort = curriculum.cohorts[0]
    shifted = replace(cohort, starts=start)
    moved, dues = 0, {}
    for aid, (_, _, spec) in _specs(curriculum).items():
        (row,) = ex.cohort_assessments(s, aid, cohort.id)
        if row.due_override_at is None and spec.due.absolute is None:
            ex.set_due(
                s,
                row,
                spec.due.resolve(shifted),
                actor=ACTOR,
                reason=f"demo: the week as seeded on {now.date().isoformat()} — the cohort's "
                f"deadlines counted from {start.isoformat()} / 데모 일정",
                now=now,
            )
            moved += 1
        dues[aid] = row.effective_due.replace(tzinfo=UTC)
    return moved, dues


def _answer(source: str) -> str:
    """A solution cell's answer: the source without nbgrader's solution markers."""
    lines = source.splitlines()
    return "\n".join(line for line in lines if not re.search(r"#+ (BEGIN|END) SOLUTION", line))


def _text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def answered_notebook(
    released: dict[str, Any], source: dict[str, Any], answered: int
) -> dict[str, Any]:
    """The released notebook with the first `answered` solution cells answered from the source
    (code first, written answers last; a written answer gets the demo memo)."""
    sources = {
        c["metadata"]["nbgrader"]["grade_id"]: c
        for c in source["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb: dict[str, Any] = json.loads(json.dumps(released))
    solutions = [
        c
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in sources
    ]
    solutions.sort(key=lambda c: c["cell_type"] != "code")  # written answers last
    for cell in solutions[:answered]:
        gid = cell["metadata"]["nbgrader"]["grade_id"]
        cell["source"] = _answer(_text(sources[gid])) if cell["cell_type"] == "code" else MEMO
    return nb


@dataclass
class Week:
    """What seeding the week works with."""

    ops: ops_.Ops
    curriculum: Curriculum
    now: datetime

    @property
    def cohort(self) -> str:
        """The demo cohort's id."""
        return self.curriculum.cohorts[0].id


def release_first_stage(week: Week, start: date) -> list[str]:
    """Release each track's first-stage assessments to the demo cohort unless released already,
    stamped on `start` at 09:00 local time."""
    c = week.curriculum.cohorts[0]
    at = datetime.combine(start, time(9, 0)).replace(tzinfo=ZoneInfo(c.timezone)).astimezone(UTC)
    first = week.curriculum.stages[0].id
    done = []
    for t in week.curriculum.tracks:
        for a in t.stages[first].assessments if first in t.stages else ():
            with week.ops.sessions() as s:
                (row,) = ex.cohort_assessments(s, a.id, c.id)
                if s.scalars(select(Release.id).filter_by(assessment_id=row.id)).first():
                    continue
            ops = replace(week.ops, now=lambda: at)
            ops_.release(ops, a.id, c.id)
            done.append(a.id)
    return done


def _trainees(curriculum: Curriculum, s: Session) -> list[tuple[str, int, int]]:
    """Demo trainees on record: (username, track position, position in the track)."""
    tracks = [t.id for t in curriculum.tracks]
    seen: dict[str, int] = {}
    out = []
    for e in repo.trainees(s, cohort=curriculum.cohorts[0].id):
        username = e.member.username
        if not re.fullmatch(r"trainee\d{3}", username) or e.track.slug not in tracks:
            continue
        ti = tracks.index(e.track.slug)
        out.append((username, ti, seen.get(e.track.slug, 0)))
        seen[e.track.slug] = seen.get(e.track.slug, 0) + 1
    return out


def profile_of(track: int, position: int) -> Profile:
    """The week of the trainee at `position` of track `track`."""
    p = PROFILES[position % len(PROFILES)]
    return replace(p, special=SPECIALS.get((track, position), ""))


def submit_week(week: Week, dues: dict[str, datetime]) -> tuple[int, int, list[int]]:
    """Each demo trainee's submission of their first-stage assessment, unless they have one:
    (submissions made, extensions granted, ids of the demo's latest submissions)."""
    ops, first = week.ops, week.curriculum.stages[0].id
    made = extended = 0
    ids = []
    with ops.sessions.begin() as s:
        for username, ti, k in sorted(_trainees(week.curriculum, s), key=lambda x: x[0]):
            p = profile_of(ti, k)
            track = week.curriculum.tracks[ti]
            for spec in track.stages[first].assessments if first in track.stages else ():
                mine = ex.submissions_of(s, username, spec.id)
                if mine:
                    ids.append(mine[-1].id)
                    continue
                if p.answered is None:
                    continue
                m, a, release = ex.trainee_assessment(s, username, spec.id)
                at = dues[spec.id] + timedelta(hours=p.hours)
                if p.special == "extension":
                    extended += _extend(s, a, username, dues[spec.id], at)
                sub = _submit(ops, s, spec, m, a, release, p, at)
                ids.append(sub.id)
                made += 1
    return made, extended, ids


def _extend(s: Session, a: Assessment, username: str, due: datetime, at: datetime) -> int:
    """Grant the extension (once), a day before the deadline."""
    m = repo.member(s, username)
    if s.scalars(select(Extension.id).filter_by(assessment_id=a.id, member_id=m.id)).first():
        return 0
    ex.grant_extension(
        s,
        a,
        username,
        due + timedelta(days=2),
        actor=ACTOR,
        reason=EXTENSION_REASON,
        now=min(at, due - timedelta(days=1)),
    )
    return 1


def _submit(
    ops: ops_.Ops,
    s: Session,
    spec: Spec,
    m: Any,
    a: Assessment,
    release: Release,
    p: Profile,
    at: datetime,
) -> Submission:
    """Make, check (as the exchange checks an upload) and store one demo submission."""
    released = ops.blobs.get(release.sha256)
    files = {}
    with zipfile.ZipFile(io.BytesIO(released)) as zf:
        for name in zf.namelist():
            if name.endswith(".ipynb"):
                files[name] = json.loads(zf.read(name))
    entries = []
    for name, nb in files.items():
        source = json.loads((ops.source_dir(spec.id) / name).read_text("utf-8"))
        data = json.dumps(answered_notebook(nb, source, p.answered or 0), ensure_ascii=False)
        path = RENAMED.format(aid=name[: -len(".ipynb")]) if p.special == "renamed" else name
        entries.append(FileEntry(path, data.encode()))
    archive = make_archive(entries)
    rules = Rules(
        max_bytes=ops.settings.max_submission_bytes,
        max_files=ops.settings.max_submission_files,
        release=release_files(released),
        patterns=spec.extra_files,
    )
    check_archive(archive, f"demo submission {spec.id}", rules)  # InputError if the exchange would
    sha = ops.blobs.put(archive)
    return ex.record_submission(
        s,
        m,
        a,
        release,
        sha256=sha,
        size=len(archive),
        files=sorted(e.path for e in entries),
        now=at,
    )


def grade_waiting(
    week: Week,
    ids: list[int],
    grader: Callable[[], Autograder],
    progress: ops_.Progress | None = None,
) -> tuple[dict[str, int], int, str]:
    """Queue the demo's latest submissions (once per release) and grade those waiting with the
    configured grader: (outcome counts, left queued, why the grader could not run)."""
    ops = week.ops
    with ops.sessions.begin() as s:
        subs = [ex.submission(s, i) for i in ids]
        grading.enqueue(s, subs, week.now)
        waiting = list(
            s.scalars(
                select(GradingJob.submission_id).where(
                    GradingJob.submission_id.in_(ids), GradingJob.status == "queued"
                )
            )
        )
    if not waiting:
        return {}, 0, ""
    try:
        autograder = grader()
    except ops_.OperationError as e:
        return {}, len(waiting), str(e).split(". ")[0]
    try:
        counts = workers_.work(ops, autograder, workers=ops.settings.grading_workers, only=waiting,
                           progress=progress)  # fmt: skip
    finally:
        autograder.close()
    return counts, 0, ""


def grade_written_answers(week: Week, ids: list[int]) -> int:
    """The instructor's grades on the written answers waiting (full points: the demo memo is a
    fair answer), but for the `waiting` trainee's, which waits. An unanswered written answer
    needs no grade: grading scored the template left as released 0."""
    waiting = {u for u, ti, k in _demo_people(week) if profile_of(ti, k).special == "waiting"}
    n = 0
    with week.ops.sessions.begin() as s:
        for i in ids:
            sub = ex.submission(s, i)
            r = sub.result
            if r is None or r.status != "needs-manual" or sub.member.username in waiting:
                continue
            cells = [
                CellScore(g.notebook, g.cell, g.max_score, g.max_score, "manual")
                for g in s.scalars(select(Grade).filter_by(submission_id=sub.id, score=None))
            ]
            if ex.record_manual_grades(s, sub, cells, actor=INSTRUCTOR, now=week.now):
                n += 1
    return n


def _demo_people(week: Week) -> list[tuple[str, int, int]]:
    with week.ops.sessions() as s:
        return _trainees(week.curriculum, s)


def seed_week(
    week: Week,
    grader: Callable[[], Autograder],
    progress: ops_.Progress | None = None,
) -> WeekReport:
    """The week (see the module docstring): deadlines, releases, submissions with an extension,
    grading, written answers graded but one."""
    report = WeekReport()
    c = week.curriculum.cohorts[0]
    start = first_day(week.curriculum, week.now.astimezone(ZoneInfo(c.timezone)).date())
    with week.ops.sessions.begin() as s:
        report.moved_deadlines, dues = move_deadlines(s, week.curriculum, start, week.now)
    t0 = monotonic()
    report.released = release_first_stage(week, start)
    t1 = monotonic()
    report.submitted, report.extensions, ids = submit_week(week, dues)
    report.graded, report.queued, report.grader_problem = grade_waiting(week, ids, grader, progress)
    t2 = monotonic()
    report.manual_grades = grade_written_answers(week, ids)
    if report.released:
        report.seconds["releasing"] = t1 - t0
    if report.graded:
        report.seconds["grading"] = t2 - t1
    return report


def seed(
    settings: SadariSettings,
    curriculum: Curriculum,
    sessions: sessionmaker[Session],
    trainees: int,
    *,
    week: bool = False,
    now: datetime | None = None,
    grader: Callable[[], Autograder] | None = None,
    progress: ops_.Progress | None = None,
) -> tuple[repo.ImportReport, WeekReport | None]:
    """The demo roster, and with `week` the week; `grader` makes the autograder (default: the
    settings')."""
    now = now or datetime.now(UTC)
    roster = seed_roster(sessions, curriculum, trainees, now)
    if not week:
        return roster, None
    ops = ops_.Ops(
        settings, sessions, LocalBlobStore(settings.exchange_dir), curriculum, ACTOR, lambda: now
    )
    made = seed_week(
        Week(ops, curriculum, now),
        grader or (lambda: ops_.autograder_for(settings)),
        progress,
    )
    return roster, made
