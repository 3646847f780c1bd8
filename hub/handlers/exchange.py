"""The nbgrader exchange over HTTP, under /api/v1/exchange/ (client: sadari.graders.exchange).

Trainees list and fetch the releases of their own cohort/track/stage, submit zips of their
assignment folder and fetch their own feedback; instructors release, collect and return feedback.
Every upload is checked (core/archive.py) before anything is stored; identity comes from the token
and time from the service clock; files go to the blob store, metadata to the database.

Instructors' uploads obey the rules of `sadari assessment release | feedback` (hub/assessments.py):
a release whose student version still holds a solution or hidden test is refused (422, `problems`
naming notebook and cell); feedback of an assessment with hidden tests for a trainee who could
still gain by submitting again is refused (409, with `why` and `until`) and the hold audited.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from .. import assessments as ops_
from ..core import permissions as perm
from ..core.archive import Entry, Limits, make_archive, read_archive
from ..core.deadlines import LatePolicy, lateness
from ..store import exchange as ex
from ..store.models import Assessment, Member, Release, Submission
from .base import ApiError, ApiHandler

AID = r"([a-z0-9][a-z0-9-]{0,38}[a-z0-9])"
IGNORED = ("timestamp.txt", "submission_secret.txt")  # nbgrader metadata: the server's counts


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

    def limits(self, suffixes: tuple[str, ...] | None = None) -> Limits:
        """Upload limits from the settings (feedback: only the given suffixes, no notebook)."""
        s = self.ctx.settings
        limits = Limits(max_bytes=s.max_submission_bytes, max_files=s.max_submission_files)
        if suffixes:
            return replace(limits, suffixes=suffixes, require_notebook=False)
        return limits

    async def read_upload(
        self, name: str, suffixes: tuple[str, ...] | None = None
    ) -> tuple[bytes, list[Entry]]:
        """Check the request body's archive, storing nothing: (the archive to store, entries).

        The archive is the upload as sent when every file in it is kept (its checksum is the one
        the client can compute); otherwise a normalised archive without the ignored files. The
        work runs in a thread so that one large upload does not hold up other requests.
        """
        body = self.request.body
        limit = self.ctx.settings.max_submission_bytes
        if len(body) > limit:
            raise ApiError(
                413, f"upload is {len(body)} bytes; the limit is {limit} / 용량 제한을 넘었습니다"
            )

        def check() -> tuple[bytes, list[Entry]]:
            entries = read_archive(body, name, self.limits(suffixes))
            kept = [e for e in entries if e.path not in IGNORED]
            return (body if len(kept) == len(entries) else make_archive(kept)), kept

        return await asyncio.to_thread(check)

    async def store(self, archive: bytes) -> str:
        """Put a checked archive in the blob store: its sha256."""
        sha: str = await asyncio.to_thread(self.ctx.blobs.put, archive)
        return sha

    async def upload(
        self, name: str, suffixes: tuple[str, ...] | None = None
    ) -> tuple[str, int, list[Entry]]:
        """Check the request body's archive and store it: (sha256, size, entries)."""
        archive, entries = await self.read_upload(name, suffixes)
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
        archive, entries = await self.read_upload(f"release {aid}")
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
            ids = [row.id for row in ex.trainee_assessment(s, username, aid)]
        sha, size, entries = await self.upload(f"submission {aid}")
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
        archive, entries = await self.read_upload(f"feedback {sid}", suffixes=(".html",))
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
