"""The instructor's side of the exchange: release_assignment, collect, release_feedback over HTTP.

Each class subclasses the matching `nbgrader.exchange.abc` class and `SadariExchange` and works on
nbgrader's course folders exactly as the default exchange does: it releases
`release/<assignment_id>/`, collects into `submitted/<student>/<assignment_id>/` with a
timestamp.txt holding the service's submission time (nbgrader's timestamp format), and releases
`feedback/<student>/<assignment_id>/*.html` to the submission whose server time matches the
timestamp.txt there. Calls are made with the instructor's own token; nbgrader's course id, when
set, is the sadari cohort the calls are scoped to (else every cohort with the assessment).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import tempfile
from datetime import datetime
from typing import Any

from nbgrader.exchange.abc import (
    ExchangeCollect,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
)
from nbgrader.utils import parse_utc

from .archive import ArchiveError, build_zip, safe_extract, zip_files
from .base import SadariExchange


def _naive_utc(when: datetime) -> datetime:
    """As nbgrader's parse_utc returns times: naive, in UTC."""
    offset = when.utcoffset()
    return (when - offset).replace(tzinfo=None) if offset is not None else when


class _InstructorMixin(SadariExchange):
    def cohort(self) -> str | None:
        """nbgrader's course id is sadari's cohort id: when set (--course or
        CourseDirectory.course_id), instructor calls are scoped to that cohort."""
        return (self.coursedir.course_id if self.coursedir else "") or None

    def student_filter(self) -> str:
        sid = self.coursedir.student_id if self.coursedir else ""
        return sid or "*"

    def by_student(self, items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Submissions per (checked) username, newest first; only students matching --student."""
        pattern = self.student_filter()
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            username = self.check_name(str(item.get("username") or ""), "username")
            if fnmatch.fnmatchcase(username, pattern):
                groups.setdefault(username, []).append(item)
        for subs in groups.values():
            subs.sort(key=self.server_time, reverse=True)
        return groups

    def read_timestamp(self, folder: str) -> tuple[str, datetime | None]:
        """(text of folder/timestamp.txt or '', its time as naive UTC or None)."""
        path = os.path.join(folder, "timestamp.txt")
        if not os.path.isfile(path):
            return "", None
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
        try:
            return text, parse_utc(text) if text else None
        except (ValueError, OverflowError):
            self.log.warning("Unreadable timestamp in %s: %r", path, text)
            return text, None

    def same_time(self, item: dict[str, Any], text: str, when: datetime | None) -> bool:
        """Whether a timestamp.txt (`text`, parsed `when`) records this submission's server time."""
        when_item = self.server_time(item)
        if text and text in (self.format_time(when_item), self.timestamp_txt(when_item)):
            return True
        return when is not None and when == _naive_utc(when_item)


class SadariExchangeReleaseAssignment(ExchangeReleaseAssignment, _InstructorMixin):
    """`nbgrader release_assignment`: publish release/<assignment_id>/ through the service."""

    def init_src(self) -> None:
        """nbgrader's release folder of the assignment, which must exist."""
        self.assignment_id = self.require_assignment_id()
        cd = self.coursedir
        self.src_path = cd.format_path(cd.release_directory, ".", self.assignment_id)
        if not os.path.isdir(self.src_path):
            source = cd.format_path(cd.source_directory, ".", self.assignment_id)
            if os.path.isdir(source):
                self.fail(
                    f"Assignment found in '{source}' but not '{self.src_path}', run "
                    "`nbgrader generate_assignment` first."
                )
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        """Nothing local: the service is the destination."""

    def copy_files(self) -> None:
        """Zip the release folder and POST it."""
        try:
            data, files = build_zip(self.src_path, **self.archive_options())
        except ArchiveError as e:
            self.fail(f"Cannot release {self.assignment_id}: {e}")
        if not files:
            self.fail(f"Nothing to release in {self.src_path}")
        if self.force:
            self.log.info("--force: the service decides whether a re-release replaces files")
        self.log.info("Source: %s", self.src_path)
        self.log.info(
            "Destination: %s", self.client.url(f"/assignments/{self.assignment_id}/release")
        )
        self.release = self.client.release(self.assignment_id, data, self.cohort())
        records = self.release if isinstance(self.release, list) else [self.release]
        if not records:
            self.log.warning("The service released %s to no cohort", self.assignment_id)
        cohorts = sorted(
            str(r["cohort"]) for r in records if isinstance(r, dict) and r.get("cohort")
        )
        self.log.info(
            "Released as: %s (%d files)%s",
            self.assignment_id,
            len(files),
            f" to {', '.join(cohorts)}" if cohorts else "",
        )


class SadariExchangeCollect(ExchangeCollect, _InstructorMixin):
    """`nbgrader collect`: download every trainee's latest submission into
    submitted/<student>/<assignment_id>/ with the service's time in timestamp.txt."""

    def init_src(self) -> None:
        """The submissions to collect: per trainee the latest (or, with --before-duedate, the
        latest one on time when there is one)."""
        self.assignment_id = self.require_assignment_id()
        items = self.client.submissions(
            self.assignment_id, everyone=True, history=self.before_duedate, cohort=self.cohort()
        )
        groups = self.by_student(items)
        duedate = self._duedate() if self.before_duedate else None
        self.src_records = []
        for subs in groups.values():
            chosen = subs[0]
            if self.before_duedate:
                on_time = [s for s in subs if self._on_time(s, duedate)]
                chosen = on_time[0] if on_time else subs[0]
            self.src_records.append(chosen)
        self.src_records.sort(key=lambda s: str(s.get("username")))

    def _duedate(self) -> datetime | None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                return gb.find_assignment(self.assignment_id).duedate
            except MissingEntry:
                return None

    def _on_time(self, item: dict[str, Any], duedate: datetime | None) -> bool:
        late = item.get("late_seconds")
        if isinstance(late, int | float):
            return late <= 0
        return duedate is None or _naive_utc(self.server_time(item)) <= duedate

    def init_dest(self) -> None:
        """Nothing to prepare: folders are made per student."""

    def copy_files(self) -> None:
        """Download and unpack each chosen submission; honour --update as nbgrader does."""
        if not self.src_records:
            self.log.warning("No submissions of '%s' to collect", self.assignment_id)
            return
        self.log.info(
            "Processing %d submissions of '%s'", len(self.src_records), self.assignment_id
        )
        cd = self.coursedir
        for item in self.src_records:
            student = str(item["username"])
            dest = cd.format_path(cd.submitted_directory, student, self.assignment_id)
            timestamp = self.timestamp_txt(self.server_time(item))
            updating = os.path.isdir(dest)
            if updating:
                text, existing = self.read_timestamp(dest)
                new = _naive_utc(self.server_time(item))
                same = self.same_time(item, text, existing)
                newer = not same and (existing is None or new > existing)
                if not ((self.update and newer) or (self.before_duedate and not same)):
                    if self.update:
                        self.log.info(
                            "No newer submission to collect: %s %s", student, self.assignment_id
                        )
                    else:
                        self.log.info(
                            "Submission already exists, use --update to update: %s %s",
                            student,
                            self.assignment_id,
                        )
                    continue
            self.log.info(
                "%s submission: %s %s (%s)",
                "Updating" if updating else "Collecting",
                student,
                self.assignment_id,
                timestamp,
            )
            self._unpack(item, dest, timestamp)

    def _unpack(self, item: dict[str, Any], dest: str, timestamp: str) -> None:
        data = self.client.submission_files(item["id"])
        parent = os.path.dirname(dest)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".collect-", dir=parent)
        try:
            try:
                safe_extract(data, tmp, log=self.log)
            except ArchiveError as e:
                self.fail(f"The submission of {item['username']} cannot be unpacked safely: {e}")
            with open(os.path.join(tmp, "timestamp.txt"), "w", encoding="utf-8") as fh:
                fh.write(timestamp)
            os.chmod(tmp, 0o755)
            if os.path.isdir(dest):
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class SadariExchangeReleaseFeedback(ExchangeReleaseFeedback, _InstructorMixin):
    """`nbgrader release_feedback`: send feedback/<student>/<assignment_id>/*.html to the
    service, attached to the submission whose time is in the timestamp.txt there."""

    def init_src(self) -> None:
        """The students' feedback folders of the assignment (matching --student)."""
        self.assignment_id = self.require_assignment_id()
        cd = self.coursedir
        pattern = cd.format_path(cd.feedback_directory, self.student_filter(), self.assignment_id)
        regex = re.compile(
            cd.format_path(
                cd.feedback_directory,
                "(?P<student_id>[^/]+)",
                re.escape(self.assignment_id),
                escape=True,
            )
            + "$"
        )
        exclude = set(filter(None, cd.student_id_exclude.split(",")))
        self.feedback_dirs: list[tuple[str, str]] = []
        for folder in sorted(glob.glob(pattern)):
            m = regex.match(folder)
            if not os.path.isdir(folder) or m is None:
                continue
            student = m.group("student_id")
            if student in exclude:
                self.log.debug("Skipping student '%s'", student)
                continue
            self.feedback_dirs.append((student, folder))

    def init_dest(self) -> None:
        """Nothing local: the service is the destination."""

    def copy_files(self) -> None:
        """POST each student's html feedback to the matching submission."""
        if not self.feedback_dirs:
            self.log.warning("No feedback of '%s' to release", self.assignment_id)
            return
        groups = self.by_student(
            self.client.submissions(
                self.assignment_id, everyone=True, history=True, cohort=self.cohort()
            )
        )
        for student, folder in self.feedback_dirs:
            html = sorted(glob.glob(os.path.join(folder, "*.html")))
            if not html:
                self.log.warning("No html feedback in %s", folder)
                continue
            subs = groups.get(student)
            if not subs:
                self.log.warning(
                    "No submission of '%s' by %s on the service: feedback not released",
                    self.assignment_id,
                    student,
                )
                continue
            text, when = self.read_timestamp(folder)
            match = [s for s in subs if self.same_time(s, text, when)]
            if match:
                chosen = match[0]
            else:
                chosen = subs[0]
                self.log.warning(
                    "%s: no submission of %s at %r; releasing to the latest one (%s)",
                    folder,
                    student,
                    text,
                    self.format_time(self.server_time(chosen)),
                )
            data = zip_files((path, os.path.basename(path)) for path in html)
            self.client.post_feedback(chosen["id"], data)
            for path in html:
                self.log.info(
                    "Releasing feedback for student '%s' on assignment '%s/%s' (%s)",
                    student,
                    self.assignment_id,
                    os.path.splitext(os.path.basename(path))[0],
                    self.format_time(self.server_time(chosen)),
                )
