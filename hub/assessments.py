"""Instructor operations on assessments: release, collect, feedback, export (grading: workers.py).

Each operation works for one assessment in one cohort or all of them. nbgrader does the notebook
side in a working course directory per cohort (<data_dir>/courses/<cohort>/); sadari's database is
the record: releases, submissions, grades and results live there, files in the blob store.

Hidden material stays hidden (core/feedback.py): a release whose generated student version still
holds a solution or hidden test is refused; feedback that shows hidden tests goes only to trainees
who can no longer gain by submitting again, the others are held back and the caller told why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, object_session, sessionmaker

from ..graders.autograde import (
    Autograder,
    NbgraderSubprocess,
    SandboxAutograder,
    nbgrader,
    read_scores,
)
from ..graders.sandbox.base import Limits
from ..graders.sandbox.pool import KernelPool
from . import boards
from .core import feedback_preview as preview
from .core.archive import Entry, make_archive
from .core.curriculum import Assessment as CurriculumAssessment
from .core.curriculum import Curriculum
from .core.deadlines import LatePolicy
from .core.feedback import (
    HiddenTest,
    Leak,
    hidden_tests,
    may_release_feedback,
    student_version_leaks,
)
from .core.nbmeta import nbgrader_hint
from .locale import when
from .settings import SadariSettings
from .storage import BlobStore
from .store import exchange as ex
from .store import grading
from .store.models import Assessment, Submission

Progress = Callable[[int, int, str], None]
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
TEMPLATES = Path(__file__).with_name("templates")
SUMMARY = "sadari-summary.html"


def autograder_for(settings: SadariSettings) -> Autograder:
    """The autograder the settings choose (see SadariSettings.grader)."""
    if settings.grader == "nbgrader":
        return NbgraderSubprocess()
    workers = max(1, settings.grading_workers)
    limits = Limits(memory_bytes=2 * 1024**3)
    backend: KernelPool
    if settings.grader == "kubernetes":
        from ..graders.sandbox import cluster

        try:
            api = cluster.ClusterAPI.in_cluster()
        except cluster.ClusterError as e:
            raise OperationError(f"the kubernetes grader cannot run here: {e}") from None
        kube = cluster.KubernetesSandbox(api, settings.grading_namespace, settings.grader_image)
        return SandboxAutograder(kube, limits, settings.max_submission_bytes, record_nbgrader=True)
    if settings.grader == "docker":
        from ..graders.sandbox import docker

        reason = docker.available(settings.grader_image)
        if reason is None:
            backend = docker.DockerSandbox(settings.grader_image, pool=workers, limits=limits)
    else:
        from ..graders.sandbox import local

        reason = local.available()
        if reason is None:
            backend = local.LocalSandbox(slots=workers, pool=workers, limits=limits)
    if reason:
        raise OperationError(
            f"the {settings.grader} grading sandbox cannot run here: {reason}. Install it, or set "
            "SADARI_GRADER=nbgrader to grade WITHOUT a sandbox (trusted code only)"
        )
    return SandboxAutograder(backend, limits, settings.max_submission_bytes, record_nbgrader=True)


class OperationError(RuntimeError):
    """An instructor operation could not be carried out (the message says why)."""


class StudentVersionLeak(OperationError):
    """A release refused: the generated student version still holds hidden material."""

    def __init__(self, aid: str, cohort: str, leaks: list[Leak]):
        self.leaks = leaks
        shown = "\n".join(f"  - {leak}" for leak in leaks[:20])
        more = f"\n  … and {len(leaks) - 20} more" if len(leaks) > 20 else ""
        super().__init__(
            f"refusing to release {aid} to {cohort}: the student version nbgrader generated still "
            f"holds solutions or hidden tests; nothing was released. Fix the source notebook "
            f"(a solution or hidden test region whose markers nbgrader did not recognise?):\n"
            f"{shown}{more}\n배포 거부: 학생용 노트북에 정답 또는 숨은 테스트가 남아 있습니다"
        )


@dataclass
class Ops:
    """What the operations need: settings, database, blob store, curriculum, who and when."""

    settings: SadariSettings
    sessions: sessionmaker[Session]
    blobs: BlobStore
    curriculum: Curriculum
    actor: str
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def course_dir(self, cohort: str) -> Path:
        """The working nbgrader course directory of a cohort."""
        path = Path(self.settings.data_dir) / "courses" / cohort
        path.mkdir(parents=True, exist_ok=True)
        return path

    def spec(self, aid: str) -> CurriculumAssessment:
        """An assessment as the curriculum declares it."""
        for track in self.curriculum.tracks:
            for plan in track.stages.values():
                for a in plan.assessments:
                    if a.id == aid:
                        return a
        raise OperationError(f"no assessment {aid!r} in the curriculum")

    def source_dir(self, aid: str) -> Path:
        """The nbgrader source folder of an assessment in labs/."""
        return Path(self.settings.labs_dir) / self.spec(aid).source_dir


def _cohorts(ops: Ops, aid: str, cohort: str | None) -> list[str]:
    with ops.sessions() as s:
        return [a.stage.track.cohort.slug for a in ex.cohort_assessments(s, aid, cohort)]


def _files(root: Path) -> list[Entry]:
    return [
        Entry(str(p.relative_to(root)), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def _run(course: Path, *args: str) -> None:
    """`nbgrader ARGS` in a cohort's course (<data_dir>/courses/<cohort>); on failure an
    OperationError of one line with nbgrader's own reason (core/nbmeta.py `nbgrader_hint`) and
    where its full log was kept."""
    run = nbgrader(course, *args)
    if run.returncode != 0:
        log = _keep_log(course, args, f"{run.stdout}\n{run.stderr}")
        notebook, hint = nbgrader_hint(f"{run.stdout}\n{run.stderr}")
        what = f"{args[1]} ({notebook})" if len(args) > 1 and notebook else " ".join(args[1:2])
        raise OperationError(f"nbgrader {args[0]} failed for {what}: {hint}\nfull log: {log}")


def _keep_log(course: Path, args: tuple[str, ...], output: str) -> Path:
    """Write a failed nbgrader run's output to <data_dir>/logs/nbgrader-<id>-<cohort>-<UTC>.log
    (0600) and return its path."""
    logs = course.parent.parent / "logs"
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = "-".join(["nbgrader", *(a for a in args[1:2]), course.name, stamp]) + ".log"
    path = logs / name.replace("/", "_")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"$ nbgrader {' '.join(args)}  (course {course})\n{output}")
    return path


def _notebooks(folder: Path) -> dict[str, dict[str, Any]]:
    """The notebooks under `folder`, parsed (path relative to it -> JSON)."""
    out = {}
    for path in sorted(folder.rglob("*.ipynb")):
        try:
            out[str(path.relative_to(folder))] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise OperationError(f"{path}: not a readable notebook: {e}") from None
    return out


def _source(ops: Ops, aid: str, cohort: str) -> Path:
    """The source folder a cohort's course uses for an assessment: its copy (made by the last
    release or grading), else labs/."""
    source = ops.course_dir(cohort) / "source" / aid
    return source if source.is_dir() else ops.source_dir(aid)


def check_student_version(
    ops: Ops, aid: str, cohort: str, entries: list[Entry], where: str | None = None
) -> None:
    """Refuse a student version (`entries`, the files of nbgrader's release folder) that still
    holds a solution or a hidden test of the assessment's source notebooks (the cohort's course
    copy, else labs/): StudentVersionLeak naming `where` it was to go (default: the cohort) and
    each notebook and cell (core/feedback.py `student_version_leaks`)."""
    sources = _notebooks(_source(ops, aid, cohort))
    leaks = student_version_leaks(sources, {e.path: e.data for e in entries})
    if leaks:
        raise StudentVersionLeak(aid, where or cohort, leaks)


def release(ops: Ops, aid: str, cohort: str | None = None) -> list[dict[str, Any]]:
    """generate_assignment from labs/, check that the student version holds no solution or hidden
    test (else StudentVersionLeak, and nothing released to any cohort), then release it to the
    cohort(s)."""
    built = []
    for c in _cohorts(ops, aid, cohort):
        course = ops.course_dir(c)
        source = course / "source" / aid
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(ops.source_dir(aid), source)
        _run(course, "generate_assignment", aid, "--force")
        entries = _files(course / "release" / aid)
        try:
            check_student_version(ops, aid, c, entries)
        except StudentVersionLeak:
            shutil.rmtree(course / "release" / aid, ignore_errors=True)
            raise
        built.append((c, entries))
    out = []
    for c, entries in built:
        archive = make_archive(entries)
        sha = ops.blobs.put(archive)
        notebooks = [e.path for e in entries if e.path.endswith(".ipynb")]
        with ops.sessions.begin() as s:
            (a,) = ex.cohort_assessments(s, aid, c)
            r = ex.record_release(
                s,
                a,
                sha256=sha,
                size=len(archive),
                notebooks=notebooks,
                actor=ops.actor,
                now=ops.now(),
            )
            out.append({"cohort": c, "version": r.version, "notebooks": notebooks})
    return out


def _stamp(at: datetime) -> str:
    """The timestamp.txt nbgrader gets for a submission made at `at` (naive UTC)."""
    return at.replace(tzinfo=UTC).strftime(TIMESTAMP_FORMAT)


def _extract(data: bytes, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # archives were checked when stored
        zf.extractall(dest)


def collect(ops: Ops, aid: str, cohort: str | None = None) -> list[tuple[str, int, Path]]:
    """Latest submission per trainee into <course>/submitted/<user>/<aid>/, with the server's
    timestamp.txt, ready for nbgrader's autograde and formgrader. (cohort, submission id, dir)."""
    out = []
    for c in _cohorts(ops, aid, cohort):
        course = ops.course_dir(c)
        with ops.sessions() as s:
            subs = ex.submissions_for(s, ex.cohort_assessments(s, aid, c))
            items = [(x.id, x.member.username, x.sha256, x.submitted_at) for x in subs]
        for sid, username, sha, at in items:
            dest = course / "submitted" / username / aid
            _extract(ops.blobs.get(sha), dest)
            (dest / "timestamp.txt").write_text(_stamp(at))
            out.append((c, sid, dest))
    return out


_prepared: set[tuple[str, str, str]] = set()
_prepare_lock = threading.Lock()


def prepare(ops: Ops, cohort: str, aid: str) -> Path:
    """The cohort's course directory, holding the assessment's source and nbgrader's gradebook
    entry (cells and checksums) — made from labs/ once per process if a release did not."""
    course = ops.course_dir(cohort)
    key = (str(course), cohort, aid)
    with _prepare_lock:
        if key not in _prepared:
            if not (course / "gradebook.db").exists() or not (course / "source" / aid).is_dir():
                source = course / "source" / aid
                shutil.rmtree(source, ignore_errors=True)
                shutil.copytree(ops.source_dir(aid), source)
                _run(course, "generate_assignment", aid, "--force")
            _prepared.add(key)
    return course


def _gradebook_time(course: Path, aid: str, username: str) -> datetime | None:
    """When the submission nbgrader's gradebook holds for a trainee was made (naive UTC), or
    None: the gradebook is per trainee, not per submission, so this says whose grades it has."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            at: datetime | None = gb.find_submission(aid, username).timestamp
        except MissingEntry:
            return None
    return at


def import_manual_grades(ops: Ops, aid: str, cohort: str | None = None) -> int:
    """Read the manual grades of the course gradebooks (formgrader's) into the record: each
    result keeps its grading's status and reason (ex.record_manual_grades). Only submissions
    whose grading the gradebook holds (the same server time) and that have a grading to amend.
    Grades given in sadari's grading pages win: the import never overwrites them, and only
    brings points formgrader has (it never empties a cell); how many results it touched."""
    from nbgrader.api import MissingEntry

    n = 0
    for c in _cohorts(ops, aid, cohort):
        course = ops.course_dir(c)
        if not (course / "gradebook.db").exists():
            continue
        with ops.sessions.begin() as s:
            for sub in ex.submissions_for(s, ex.cohort_assessments(s, aid, c)):
                username = sub.member.username
                if sub.result is None or _gradebook_time(course, aid, username) != (
                    sub.submitted_at
                ):
                    continue  # not graded yet, or the gradebook holds another submission's
                try:
                    cells = read_scores(course, aid, username)
                except MissingEntry:  # not autograded yet: nothing to import
                    continue
                if ex.record_manual_grades(s, sub, cells, actor=ops.actor, now=ops.now()):
                    n += 1
    return n


def _summary_html(sub: Submission, a: Assessment) -> bytes:
    """sadari's score summary for the trainee: the result, and the cells graded by hand (points
    and the grader's comment) or whose autograded points a person changed (with the reason)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape())
    r = sub.result
    zone = a.stage.track.cohort.timezone  # the trainee reads every time in their cohort's zone
    due = datetime.fromisoformat(r.details["due_at"]) if r and r.details.get("due_at") else None
    s = object_session(sub)
    cells = ex.cell_rows(s, sub) if s is not None else []
    by_hand = [c for c in cells if c["kind"] == "manual" or c["origin"] == "sadari"]
    return (
        env.get_template("feedback_summary.html")
        .render(
            sub=sub,
            a=a,
            r=r,
            policy=LatePolicy.from_dict(a.late_policy).describe(),
            zone=zone,
            submitted=when(sub.submitted_at, zone, "ko", seconds=True),
            due=when(due, zone, "ko", seconds=True),
            by_hand=by_hand,
        )
        .encode()
    )


def hidden_tests_of(ops: Ops, aid: str, cohort: str) -> list[HiddenTest]:
    """The hidden tests of the source the cohort's course graded with (its copy, else labs/)."""
    notebooks = _notebooks(_source(ops, aid, cohort))
    return [h for name, nb in notebooks.items() for h in hidden_tests(name, nb)]


def hold_feedback(
    s: Session, sub: Submission, *, actor: str, now: datetime, record: bool = True
) -> dict[str, Any] | None:
    """Whether feedback showing hidden tests may go to the trainee of `sub` now: None if it may
    (core/feedback.py `may_release_feedback`, with their due instant and the current final score
    of their latest submission: none graded counts as nothing), else the hold, recorded in the
    audit log (feedback.hold): `why`, `reason`, `until` (ISO, None: no date in sight) and
    `earlier_feedback` (feedback released before stays with the trainee)."""
    a = sub.assessment
    mine = [x for x in ex.submissions_of(s, sub.member.username) if x.assessment_id == a.id]
    latest = max(mine, key=lambda x: x.id, default=sub)
    r = latest.result
    decision = may_release_feedback(
        now,
        a.effective_due,
        ex.extension_for(s, sub),
        LatePolicy.from_dict(a.late_policy),
        r.final_score if r else 0.0,
        (r.max_score if r else 0.0) or a.points,
    )
    if decision.release:
        return None
    until = decision.until
    if record:  # not in a preview
        ex.record_feedback_hold(
            s, sub, why=decision.why, reason=decision.reason, until=until, actor=actor, now=now
        )
    return {
        "why": decision.why,
        "reason": decision.reason,
        "until": until.isoformat() if until else None,
        "earlier_feedback": sub.feedback is not None,
    }


def feedback(
    ops: Ops, aid: str, cohort: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Import manual grades, generate nbgrader feedback, add sadari's score summary (late
    penalty included), and release it to each trainee's latest submission that has a result.

    nbgrader's feedback of an assessment with hidden tests shows them; it goes only to trainees
    who could not gain by submitting again (core/feedback.py `may_release_feedback`, at the
    service's now). The others are held back: nothing of theirs changes, the hold is audited, and
    a later run releases it once their time is up. nbgrader's feedback of another submission (the
    latest one's grading left none) is left out: such a submission gets sadari's summary only.
    Each trainee is placed by core/feedback_preview.py `place`: a submission whose grading is
    queued or running (a regrade) waits for it.

    With `dry_run` nothing is written or run (no manual grades imported, no nbgrader, no hold
    audited): the report of what a release now would do, for the board's preview.

    Returns {"released": [...], "held": [...], "hidden_tests": [...]} and what is left out:
    "waiting", "not_graded", "failed", "no_submission", with "manual" (released, some cells
    still wait for manual grading); per trainee its cohort, username and submission id; a hold
    also `why`, `reason`, `until` (ISO, None: no date in sight) and `earlier_feedback` (feedback
    released before stays with the trainee)."""
    if not dry_run:
        import_manual_grades(ops, aid, cohort)
    report: dict[str, Any] = {key: [] for key in preview.REPORT_KEYS.values()}
    shown: list[str] = []
    for c in _cohorts(ops, aid, cohort):
        course = ops.course_dir(c)
        graded = any((course / "autograded").glob(f"*/{aid}"))
        hidden = hidden_tests_of(ops, aid, c) if graded else []
        shown += [f"{c}: {h.notebook}, {h.cell}" for h in hidden]
        if graded and not dry_run:
            _run(course, "generate_feedback", aid, "--force")
        now = ops.now()
        with ops.sessions() if dry_run else ops.sessions.begin() as s:
            (a,) = ex.cohort_assessments(s, aid, c)
            subs = ex.submissions_for(s, [a])
            jobs = grading.statuses(s, [x.id for x in subs])
            submitted = {x.member_id for x in subs}
            for m in boards.stage_trainees(s, a):
                if m.id not in submitted:
                    report["no_submission"].append(
                        {"cohort": c, "username": m.username, "submission": None}
                    )
            for sub in subs:
                who = {"cohort": c, "username": sub.member.username, "submission": sub.id}
                r = sub.result
                # nbgrader's feedback of this submission: made now, or (dry run) it would be
                folder = course / ("autograded" if dry_run else "feedback") / who["username"] / aid
                stamp = folder / "timestamp.txt"
                ours = stamp.is_file() and stamp.read_text().strip() == _stamp(sub.submitted_at)
                entries = [e for e in _files(folder) if e.path.endswith(".html")] if ours else []
                st = preview.Standing(
                    submitted=True,
                    result=r.status if r else None,
                    grading=jobs.get(sub.id),
                    pending_manual=len(r.details.get("pending_manual", [])) if r else 0,
                    reveals=bool(hidden) and (ours if dry_run else bool(entries)),
                )
                hold = None
                if preview.asks_hold(st):
                    hold = hold_feedback(s, sub, actor=ops.actor, now=now, record=not dry_run)
                category = preview.place(st, held=hold is not None)
                earlier = {"earlier_feedback": sub.feedback is not None}
                if category == "held":
                    report["held"].append(who | (hold or {}))
                elif category == "waiting":
                    report["waiting"].append(who | {"grading": st.grading} | earlier)
                elif category in ("not_graded", "failed"):
                    why = {"reason": r.details.get("reason", "")} if r else {}
                    report[category].append(who | why | earlier)
                if category not in preview.RELEASED:
                    continue
                if category == "manual":
                    pending = r.details["pending_manual"] if r else []
                    report["manual"].append(who | {"pending_manual": pending})
                report["released"].append(who)
                if dry_run:
                    continue
                entries.append(Entry(SUMMARY, _summary_html(sub, sub.assessment)))
                sha = ops.blobs.put(make_archive(entries))
                ex.record_feedback(
                    s, sub, sha256=sha, actor=ops.actor, now=now, hidden_tests=st.reveals
                )
    return report | {"hidden_tests": shown}


EXPORT_COLUMNS = [
    "username",
    "name",
    "assessment",
    "submission",
    "submitted_at",
    "status",
    "raw_score",
    "max_score",
    "late_hours",
    "penalty_percent",
    "final_score",
]


def export_rows(ops: Ops, aid: str, cohort: str | None = None) -> list[dict[str, Any]]:
    """One row per trainee's latest submission."""
    with ops.sessions() as s:
        subs = ex.submissions_for(s, ex.cohort_assessments(s, aid, cohort))
        return [ex.result_row(x) for x in subs]


def export_bytes(rows: list[dict[str, Any]], fmt: str, sheet: str = "grades") -> bytes:
    """Grades as CSV (UTF-8 with BOM, for Excel) or XLSX bytes."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = sheet[:31]
        ws.append(EXPORT_COLUMNS)
        for row in rows:
            ws.append(
                [
                    row[k].replace(tzinfo=None) if isinstance(row[k], datetime) else row[k]
                    for k in EXPORT_COLUMNS
                ]
            )
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    text = io.StringIO()
    w = csv.DictWriter(text, EXPORT_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return text.getvalue().encode("utf-8-sig")


def export(ops: Ops, aid: str, path: Path, cohort: str | None = None) -> int:
    """Write the grades to `path`: XLSX for a .xlsx name, else CSV (UTF-8 with BOM)."""
    rows = export_rows(ops, aid, cohort)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    path.write_bytes(export_bytes(rows, fmt, aid))
    return len(rows)
