"""The nbgrader exchange over HTTP, under /api/v1/exchange/ (client: sadari.graders.exchange).

Trainees list and fetch the releases of their own cohort/track/stage, submit zips of their
assignment folder and fetch their own feedback; instructors release, collect and return feedback.
Every upload is checked (core/archive.py) before anything is stored; identity comes from the token
and time from the service clock; files go to the blob store, metadata to the database.

A submission may hold the files of the assessment's current release (any type, e.g. its data
files), notebooks, and files matching the assessment's `extra_files` in the curriculum; nbgrader's
clutter (checkpoints, byte code, feedback) and metadata are dropped. It may be as large as the
trainee's allowance (`max_submission_bytes`, `max_submission_files`) plus the release itself. A
refused upload is answered 400 with every refused file and why in `problems`, and what may be
submitted in the message. Releases may hold any file type; feedback only .html files.

Instructors' uploads obey the rules of `sadari assessment release | feedback` (hub/assessments.py):
a release whose student version still holds a solution or hidden test is refused (422, `problems`
naming notebook and cell); feedback of an assessment with hidden tests for a trainee who could
still gain by submitting again is refused (409, with `why` and `until`) and the hold audited.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import Any

from .. import assessments as ops_
from ..core import permissions as perm
from ..core.archive import Entry, ReleaseFiles, Rules, check_archive, make_archive, release_files
from ..core.curriculum import Curriculum
from ..core.curriculum_schema import DEFAULT_EXTRA_FILES
from ..core.deadlines import LatePolicy, lateness
from ..core.yamlsrc import InputError
from ..store import exchange as ex
from ..store.models import Assessment, Member, Release, Submission
from .base import ApiError, ApiHandler

AID = r"([a-z0-9][a-z0-9-]{0,38}[a-z0-9])"
FEEDBACK_PATTERNS = ("*.html",)
SHOWN_RELEASE_FILES = 12  # release files named in a refusal's message


class ReleaseCache:
    """The file lists of release archives, by sha256 (content-addressed, so never stale); the
    most recently used `size` kept."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, ReleaseFiles] = OrderedDict()
        self._lock = Lock()

    def get(self, sha256: str, read: Callable[[], bytes]) -> ReleaseFiles:
        """The files of the release stored under `sha256`; `read()` gives its archive."""
        with self._lock:
            if sha256 in self._items:
                self._items.move_to_end(sha256)
                return self._items[sha256]
        files = release_files(read())
        with self._lock:
            self._items[sha256] = files
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return files


RELEASES = ReleaseCache()


def extra_files_of(curriculum: Curriculum, track: str, stage: str, aid: str) -> tuple[str, ...]:
    """The assessment's `extra_files` globs in the curriculum (the defaults when it is gone)."""
    try:
        plan = curriculum.track(track).stages[stage]
    except KeyError:
        return DEFAULT_EXTRA_FILES
    for a in plan.assessments:
        if a.id == aid:
            return a.extra_files
    return DEFAULT_EXTRA_FILES


def refusal_message(what: str, rules: Rules) -> str:
    """The message of a refused upload: what may be uploaded, naming the release's files."""
    if rules.any_type:
        return f"{what} has problems / 업로드에 문제가 있습니다"
    shown = sorted(rules.release.files)
    names = ", ".join(shown[:SHOWN_RELEASE_FILES])
    if len(shown) > SHOWN_RELEASE_FILES:
        names += f", … ({len(shown) - SHOWN_RELEASE_FILES} more)"
    release = f"; the release's files: {names}" if names else ""
    return (
        f"{what} was refused (every problem is listed). Allowed: {rules.allowed()}{release}"
        " / 업로드가 거부되었습니다(문제마다 이유가 있습니다)"
    )


def submission_json(sub: Any) -> dict[str, Any]:
    """A submission as the client sees it."""
    return {
        "username": sub.member.username,
        "id": sub.id,
        "assignment_id": sub.assessment.slug,
        "timestamp": sub.submitted_at.isoformat() + "+00:00",
        "sha256": sub.sha256,
        "size": sub.size,
        "files": sub.files,
        "has_feedback": sub.feedback is not None,
        "feedback_sha256": sub.feedback.sha256 if sub.feedback else None,
    }


class ExchangeHandler(ApiHandler):
    """Shared helpers of the exchange endpoints."""

    def rules(self, **kw: Any) -> Rules:
        """Upload rules with the allowance from the settings (and `kw`: see core/archive.py)."""
        s = self.ctx.settings
        return Rules(max_bytes=s.max_submission_bytes, max_files=s.max_submission_files, **kw)

    def release_files(self, sha256: str) -> ReleaseFiles:
        """The files of a stored release (cached per sha256)."""
        return RELEASES.get(sha256, lambda: self.ctx.blobs.get(sha256))

    async def read_upload(self, name: str, rules: Rules) -> tuple[bytes, list[Entry]]:
        """Check the request body's archive against `rules`, storing nothing: (the archive to
        store, entries). A refused one is a 400 listing every problem (`problems`).

        The archive is the upload as sent when every file in it is kept (its checksum is the one
        the client can compute); otherwise a normalised archive without the dropped files. The
        work runs in a thread so that one large upload does not hold up other requests.
        """
        body = self.request.body
        limit = rules.total_bytes
        if len(body) > limit:
            raise ApiError(
                413, f"upload is {len(body)} bytes; the limit is {limit} / 용량 제한을 넘었습니다"
            )

        def check() -> tuple[bytes, list[Entry]]:
            checked = check_archive(body, name, rules)
            kept = checked.entries
            return (make_archive(kept) if checked.dropped else body), kept

        try:
            return await asyncio.to_thread(check)
        except InputError as e:
            raise ApiError(
                400, refusal_message(name, rules), problems=[str(p) for p in e.problems]
            ) from None

    async def store(self, archive: bytes) -> str:
        """Put a checked archive in the blob store: its sha256."""
        sha: str = await asyncio.to_thread(self.ctx.blobs.put, archive)
        return sha

    async def upload(self, name: str, rules: Rules) -> tuple[str, int, list[Entry]]:
        """Check the request body's archive and store it: (sha256, size, entries)."""
        archive, entries = await self.read_upload(name, rules)
        return await self.store(archive), len(archive), entries

    def ops(self, who: dict[str, Any]) -> ops_.Ops:
        """The instructor operations (hub/assessments.py) as the caller, at the service's time."""
        ctx = self.ctx
        return ops_.Ops(ctx.settings, ctx.sessions, ctx.blobs, ctx.curriculum, who["name"], ctx.now)

    def send_zip(self, data: bytes, filename: str) -> None:
        """Reply with a zip."""
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(data)

    def trainee(self) -> str:
        """The calling user's name (services cannot act as trainees)."""
        who = self.caller(perm.LEARN)
        if who.get("kind") == "service":
            raise ApiError(403, "services cannot submit or fetch as a trainee")
        return str(who["name"])


def assignment_json(a: Any, r: Any) -> dict[str, Any]:
    """A released assessment as the client lists it."""
    return {
        "assignment_id": a.slug,
        "title": {"ko": a.title_ko, "en": a.title_en},
        "released_at": r.released_at.isoformat() + "+00:00",
        "due_at": a.effective_due.isoformat() + "+00:00",
        "late_policy": LatePolicy.from_dict(a.late_policy).describe(),
        "notebooks": [n.removesuffix(".ipynb") for n in r.notebooks],
    }


class AssignmentsHandler(ExchangeHandler):
    """GET /exchange/assignments: the released assessments the caller may fetch.

    Trainees: their own cohort/track/stage. Instructors (formgrader lists the exchange too):
    everything released to `?cohort=` (default: the first cohort with releases).
    """

    def get(self) -> None:
        """As a trainee, or as an instructor with no enrollment of their own."""
        who = self.caller(perm.LEARN, perm.INSTRUCT)
        instructor = self.hub_auth.check_scopes({perm.INSTRUCT}, who)
        with self.ctx.sessions() as s:
            if instructor:
                cohort, released = ex.released_in_cohort(s, self.get_argument("cohort", None))
            else:
                enrollment, released = ex.trainee_assessments(s, self.trainee())
                cohort = enrollment.cohort.slug
            body = {
                "course_id": cohort,
                "assignments": [assignment_json(a, r) for a, r in released],
            }
        self.write_json(body)


class ReleaseHandler(ExchangeHandler):
    """GET /exchange/assignments/AID/release (trainee: fetch); POST (instructor: release)."""

    def get(self, aid: str) -> None:
        """The released files of an assessment the caller may see."""
        username = self.trainee()
        with self.ctx.sessions() as s:
            _, _, release = ex.trainee_assessment(s, username, aid)
            sha = release.sha256
        self.send_zip(self.ctx.blobs.get(sha), f"{aid}.zip")

    async def post(self, aid: str) -> None:
        """Release the uploaded files (nbgrader's release/AID folder) to one or every cohort,
        unless they still hold a solution or hidden test of a cohort's source (422, `problems`:
        notebook and cell of each; nothing stored or released)."""
        who = self.caller(perm.INSTRUCT)
        wanted = self.get_argument("cohort", None)
        with self.ctx.sessions() as s:  # 404 before reading an upload we would refuse anyway
            cohorts = [a.stage.track.cohort.slug for a in ex.cohort_assessments(s, aid, wanted)]
        # the instructor's release (nbgrader's release folder): any file type
        archive, entries = await self.read_upload(
            f"release {aid}", self.rules(any_type=True, patterns=())
        )
        ops = self.ops(who)
        try:
            for cohort in cohorts:
                await asyncio.to_thread(
                    ops_.check_student_version, ops, aid, cohort, entries, ", ".join(cohorts)
                )
        except ops_.StudentVersionLeak as e:
            raise ApiError(422, str(e), problems=[str(leak) for leak in e.leaks]) from None
        except ops_.OperationError as e:
            raise ApiError(500, str(e)) from None
        sha, size = await self.store(archive), len(archive)
        notebooks = sorted(e.path for e in entries if e.path.endswith(".ipynb"))
        with self.ctx.sessions.begin() as s:
            released = []
            for a in ex.cohort_assessments(s, aid, wanted):
                r = ex.record_release(
                    s,
                    a,
                    sha256=sha,
                    size=size,
                    notebooks=notebooks,
                    actor=who["name"],
                    now=self.ctx.now(),
                )
                released.append(
                    {
                        "cohort": a.stage.track.cohort.slug,
                        "version": r.version,
                        "sha256": sha,
                        "notebooks": notebooks,
                    }
                )
        self.write_json({"release": released}, 201)


class SubmissionsHandler(ExchangeHandler):
    """GET /exchange/assignments/AID/submissions (own; instructors ?all=1); POST: submit."""

    def get(self, aid: str) -> None:
        """The caller's submissions of AID, or (instructors, all=1) everyone's latest."""
        if self.get_argument("all", "") in ("1", "true"):
            self.caller(perm.INSTRUCT)
            history = self.get_argument("history", "") in ("1", "true")
            with self.ctx.sessions() as s:
                assessments = ex.cohort_assessments(s, aid, self.get_argument("cohort", None))
                subs = ex.submissions_for(s, assessments, history=history)
                self.write_json({"submissions": [submission_json(x) for x in subs]})
            return
        username = self.trainee()
        with self.ctx.sessions() as s:
            self.write_json(
                {"submissions": [submission_json(x) for x in ex.submissions_of(s, username, aid)]}
            )

    async def post(self, aid: str) -> None:
        """Store a submission: checked, with the server's time, kept alongside earlier ones."""
        now = self.ctx.now()  # when it arrived, not when we got round to storing it
        username = self.trainee()
        with self.ctx.sessions() as s:  # 404 before reading an upload we would refuse anyway
            rows = ex.trainee_assessment(s, username, aid)
            ids = [row.id for row in rows]
            a, release_sha = rows[1], rows[2].sha256
            track, stage = a.stage.track.slug, a.stage.slug
        released = await asyncio.to_thread(self.release_files, release_sha)
        patterns = extra_files_of(self.ctx.curriculum, track, stage, aid)
        rules = self.rules(release=released, patterns=patterns)
        sha, size, entries = await self.upload(f"submission {aid}", rules)
        with self.ctx.sessions.begin() as s:
            m, a, release = (
                s.get(cls, i) for cls, i in zip((Member, Assessment, Release), ids, strict=True)
            )
            sub = ex.record_submission(
                s,
                m,
                a,
                release,
                sha256=sha,
                size=size,
                files=sorted(e.path for e in entries),
                now=now,
            )
            late = lateness(
                LatePolicy.from_dict(a.late_policy), ex.due_for(s, sub), sub.submitted_at
            )
            body = submission_json(sub)
        body["late_seconds"] = late.seconds
        self.write_json({"submission": body}, 201)


class MySubmissionsHandler(ExchangeHandler):
    """GET /exchange/submissions: all of the caller's own submissions."""

    def get(self) -> None:
        """Oldest first."""
        username = self.trainee()
        with self.ctx.sessions() as s:
            self.write_json(
                {"submissions": [submission_json(x) for x in ex.submissions_of(s, username)]}
            )


class SubmissionFilesHandler(ExchangeHandler):
    """GET /exchange/submissions/ID/files: a submission's files (instructors)."""

    def get(self, sid: str) -> None:
        """The stored zip."""
        self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            sha = ex.submission(s, int(sid)).sha256
        self.send_zip(self.ctx.blobs.get(sha), f"submission-{sid}.zip")


class FeedbackHandler(ExchangeHandler):
    """GET /exchange/submissions/ID/feedback (its trainee or instructors); POST (instructors)."""

    def get(self, sid: str) -> None:
        """The feedback zip; someone else's submission answers exactly like a missing one."""
        who = self.caller(perm.LEARN, perm.INSTRUCT)
        instructor = self.hub_auth.check_scopes({perm.INSTRUCT}, who)
        with self.ctx.sessions() as s:
            sub = s.get(Submission, int(sid))
            if (
                sub is None
                or sub.feedback is None
                or (not instructor and sub.member.username != who["name"])
            ):
                raise ApiError(404, f"no feedback for submission {sid} / 피드백이 없습니다")
            sha = sub.feedback.sha256
        self.send_zip(self.ctx.blobs.get(sha), f"feedback-{sid}.zip")

    async def post(self, sid: str) -> None:
        """Attach feedback files (HTML per notebook) to a submission. nbgrader's feedback shows
        the hidden tests of the assessment, if it has any: then it is refused while the trainee
        could still gain by submitting again (409, nothing stored, the hold audited), as
        `sadari assessment feedback` holds it back (hub/assessments.py `hold_feedback`)."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:  # 404 before reading an upload we would refuse anyway
            sub = ex.submission(s, int(sid))
            aid, cohort = sub.assessment.slug, sub.assessment.stage.track.cohort.slug
            username = sub.member.username
        archive, entries = await self.read_upload(
            f"feedback {sid}",
            self.rules(patterns=FEEDBACK_PATTERNS, notebooks=False, require_notebook=False),
        )
        if not entries:
            raise ApiError(400, "feedback must be .html files / 피드백은 HTML 파일이어야 합니다")
        ops, now = self.ops(who), self.ctx.now()
        try:
            reveals = bool(await asyncio.to_thread(ops_.hidden_tests_of, ops, aid, cohort))
        except ops_.OperationError as e:
            raise ApiError(500, str(e)) from None
        hold = None
        if reveals:
            with self.ctx.sessions.begin() as s:  # the hold is audited even though we refuse
                sub = ex.submission(s, int(sid))
                hold = ops_.hold_feedback(s, sub, actor=who["name"], now=now)
        if hold is not None:
            raise ApiError(
                409,
                f"feedback on submission {sid} ({username}, {aid}) is held back and was not "
                f"stored: it shows the hidden tests, and {hold['reason']}. `sadari assessment "
                f"feedback {aid}` releases it to whoever is due and holds back the rest "
                "(nbgrader release_feedback stops at the first trainee held back: --student "
                "releases the others) / 숨은 테스트가 담긴 피드백이라 보류했습니다(저장하지 않음)",
                submission=int(sid),
                username=username,
                why=hold["why"],
                until=hold["until"],
            )
        sha = await self.store(archive)
        with self.ctx.sessions.begin() as s:
            ex.record_feedback(
                s,
                ex.submission(s, int(sid)),
                sha256=sha,
                actor=who["name"],
                now=now,
                hidden_tests=reveals,
            )
        self.write_json({"feedback": {"submission": int(sid), "sha256": sha}}, 201)


exchange_handlers = [
    ("/api/v1/exchange/assignments", AssignmentsHandler),
    (f"/api/v1/exchange/assignments/{AID}/release", ReleaseHandler),
    (f"/api/v1/exchange/assignments/{AID}/submissions", SubmissionsHandler),
    ("/api/v1/exchange/submissions", MySubmissionsHandler),
    (r"/api/v1/exchange/submissions/(\d+)/files", SubmissionFilesHandler),
    (r"/api/v1/exchange/submissions/(\d+)/feedback", FeedbackHandler),
]
