"""The trainee's side of the exchange: list, fetch_assignment, submit, fetch_feedback over HTTP.

Each class subclasses the matching `nbgrader.exchange.abc` class and `SadariExchange`, and returns
or writes what nbgrader's default exchange does, so `nbgrader list/fetch_assignment/submit/
fetch_feedback` and the JupyterLab Assignment List work unchanged. Local layout as nbgrader's:
assignments in `<assignment_dir>/<assignment_id>/`, feedback in
`<assignment_dir>/<assignment_id>/feedback/<timestamp>/<notebook_id>.html`, where <timestamp> is
the service's submission time in nbgrader's timestamp format.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from nbgrader.exchange.abc import (
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeSubmit,
)
from nbgrader.utils import get_username
from traitlets import Unicode, default

from .archive import ArchiveError, build_zip, safe_extract
from .base import SadariExchange
from .listing import FEEDBACK_MARKER, group_submissions, submission_info


def _late(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m", f"{s}s"])


class SadariExchangeList(ExchangeList, SadariExchange):
    """`nbgrader list`: released assignments, or (`--cached`/`--inbound`) your own submissions."""

    display_user = Unicode(
        help="""Name shown as student_id in `nbgrader list --cached` when the service does not
        name the submitter (display only: it is never sent). Default: $JUPYTERHUB_USER, else
        nbgrader's idea of the user name.""",
    ).tag(config=True)

    @default("display_user")
    def _default_display_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or get_username()

    def init_src(self) -> None:
        """Nothing to prepare: the service is asked in list_files."""

    def init_dest(self) -> None:
        """Nothing to prepare."""

    def copy_files(self) -> None:
        """Listing copies nothing."""

    def _course_ok(self, course_id: str) -> bool:
        wanted = self.coursedir.course_id if self.coursedir else ""
        if wanted and wanted != course_id:
            self.log.warning(
                "You are in course '%s' on this service, not '%s': nothing to list",
                course_id,
                wanted,
            )
            return False
        return True

    def _wanted_assignment(self) -> str:
        aid = self.coursedir.assignment_id if self.coursedir else ""
        return "" if aid in ("", "*") else self.check_name(aid, "assignment id")

    def released_infos(self) -> list[dict[str, Any]]:
        """Released assignments as nbgrader's default list describes outbound ones.

        Status is 'fetched' (path: the local folder, notebooks found there) when
        <assignment_dir>/<assignment_id> exists, else 'released' (path: the service's release
        URL, notebooks: the released notebook files).
        """
        course_id, assignments = self.released
        if not self._course_ok(course_id):
            return []
        wanted = self._wanted_assignment()
        infos = []
        for a in assignments:
            aid = self.check_name(str(a.get("assignment_id") or ""), "assignment id")
            if wanted and aid != wanted:
                continue
            local = self.assignment_path(aid)
            info: dict[str, Any] = {"course_id": course_id, "assignment_id": aid}
            if os.path.isdir(local):
                info["status"] = "fetched"
                info["path"] = local
                names = sorted(f for f in os.listdir(local) if f.endswith(".ipynb"))
                info["notebooks"] = [
                    {"notebook_id": f[: -len(".ipynb")], "path": os.path.join(local, f)}
                    for f in names
                ]
            else:
                info["status"] = "released"
                info["path"] = self.client.url(f"/assignments/{aid}/release")
                info["notebooks"] = [
                    {"notebook_id": nb, "path": f"{nb}.ipynb"} for nb in a.get("notebooks") or []
                ]
            if not info["notebooks"]:
                self.log.warning("No notebooks found in %s", info["path"])
            for key in ("title", "released_at", "due_at"):
                if key in a:
                    info[key] = a[key]
            infos.append(info)
        return infos

    def submission_groups(self) -> list[dict[str, Any]]:
        """Your submissions grouped per assignment, as nbgrader's default list does (--cached)."""
        course_id, _ = self.released
        if not self._course_ok(course_id):
            return []
        items = self.client.submissions(self._wanted_assignment() or None)
        infos = []
        for item in items:
            aid = self.check_name(str(item.get("assignment_id") or ""), "assignment id")
            infos.append(
                submission_info(
                    item,
                    course_id=course_id,
                    student_id=str(item.get("username") or self.display_user),
                    assignment_root=self.assignment_path(aid),
                    timestamp=self.format_time(self.server_time(item)),
                    path=self.client.url(f"/submissions/{item.get('id')}"),
                )
            )
        return group_submissions(infos)

    def list_files(self) -> list[dict[str, Any]]:
        """List (and log) released assignments, or your submissions with --cached/--inbound."""
        if self.inbound or self.cached:
            groups = self.submission_groups()
            self.log.info("Submitted assignments:")
            for group in groups:
                for info in group["submissions"]:
                    self.log.info(self.format_submission(info))
            return groups
        infos = self.released_infos()
        self.log.info("Released assignments:")
        for info in infos:
            msg = "{course_id} {assignment_id}".format(**info)
            if info["status"] == "fetched":
                msg += " (already downloaded)"
            self.log.info(msg)
        return infos

    @staticmethod
    def format_submission(info: dict[str, Any]) -> str:
        """One submission as nbgrader's default list logs it."""
        msg = "{course_id} {student_id} {assignment_id} {timestamp}".format(**info)
        if info["has_local_feedback"] and not info["feedback_updated"]:
            return msg + " (feedback already fetched)"
        if info["has_exchange_feedback"]:
            return msg + " (feedback ready to be fetched)"
        return msg + " (no feedback available)"

    def remove_files(self) -> None:
        """Not supported: the service keeps every release and submission as history."""
        self.fail(
            "Removing is not supported by the sadari exchange: the service keeps every release "
            "and every submission as history. Submit again to hand in a newer version."
        )


class SadariExchangeFetchAssignment(ExchangeFetchAssignment, SadariExchange):
    """`nbgrader fetch_assignment`: download a release into <assignment_dir>/<assignment_id>/."""

    def init_src(self) -> None:
        """The assignment to fetch."""
        self.assignment_id = self.require_assignment_id()

    def init_dest(self) -> None:
        """Refuse to touch an existing folder unless --replace (then only missing files)."""
        self.dest_path = self.assignment_path(self.assignment_id)
        if os.path.lexists(self.dest_path) and not os.path.isdir(self.dest_path):
            self.fail(f"{self.dest_path} exists and is not a folder")
        if os.path.isdir(self.dest_path) and not self.replace_missing_files:
            self.fail(
                "You already have a copy of the assignment in this directory: "
                f"{self.assignment_id} (use --replace to restore missing files only)"
            )

    def copy_files(self) -> None:
        """Download the release zip and extract it (into a fresh folder, or only missing files)."""
        data = self.client.release_zip(self.assignment_id)
        self.log.info("Source: %s", self.client.url(f"/assignments/{self.assignment_id}/release"))
        self.log.info("Destination: %s", self.dest_path)
        try:
            if os.path.isdir(self.dest_path):
                safe_extract(data, self.dest_path, only_missing=True, log=self.log)
            else:
                parent = os.path.dirname(self.dest_path)
                os.makedirs(parent, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=f".{self.assignment_id}-fetch-", dir=parent)
                try:
                    safe_extract(data, tmp, log=self.log)
                    os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700
                    os.rename(tmp, self.dest_path)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
        except ArchiveError as e:
            self.fail(f"The release of {self.assignment_id} cannot be unpacked safely: {e}")
        self.log.info("Fetched as: %s", self.assignment_id)


class SadariExchangeSubmit(ExchangeSubmit, SadariExchange):
    """`nbgrader submit`: zip <assignment_dir>/<assignment_id>/ and hand it in; the service
    stamps the time and knows who you are."""

    def init_src(self) -> None:
        """The local assignment folder, which must exist."""
        self.assignment_id = self.require_assignment_id()
        self.src_path = self.assignment_path(self.assignment_id)
        if not os.path.isdir(self.src_path):
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        """Nothing local: the service is the destination."""

    def check_filename_diff(self, files: list[str]) -> None:
        """Compare the notebooks being submitted with the released ones (as nbgrader does):
        with `strict`, refuse when a released notebook is missing; otherwise warn."""
        released = self.released_assignment(self.assignment_id)
        if released is None:
            msg = f"Assignment {self.assignment_id} is not among the assignments released to you"
            if self.strict:
                self.fail(f"{msg}; not submitted.")
            self.log.warning("%s; submitting anyway, the service decides.", msg)
            return
        expected = sorted(f"{nb}.ipynb" for nb in released.get("notebooks") or [])
        submitted = sorted(f for f in files if f.endswith(".ipynb"))
        missing = [f for f in expected if f not in submitted]
        extra = [f for f in submitted if f not in expected]
        if not (missing or extra):
            return
        diff = "Expected:\n\t{}\nSubmitted:\n\t{}".format(
            "\n\t".join(f"{f}: {'MISSING' if f in missing else 'FOUND'}" for f in expected),
            "\n\t".join(f"{f}: {'EXTRA' if f in extra else 'OK'}" for f in submitted),
        )
        if missing and self.strict:
            self.fail(
                f"Assignment {self.assignment_id} not submitted. "
                f"There are missing notebooks for the submission:\n{diff}"
            )
        self.log.warning(
            "Possible missing notebooks and/or extra notebooks submitted for assignment %s:\n%s",
            self.assignment_id,
            diff,
        )

    def copy_files(self) -> None:
        """Zip the folder, check it against the release, POST it; log the service's time."""
        try:
            data, files = build_zip(self.src_path, **self.archive_options())
        except ArchiveError as e:
            self.fail(f"Cannot submit {self.assignment_id}: {e}")
        if not files:
            self.fail(f"Nothing to submit in {self.src_path}")
        self.check_filename_diff(files)
        self.log.info("Source: %s", self.src_path)
        self.log.info(
            "Destination: %s", self.client.url(f"/assignments/{self.assignment_id}/submissions")
        )
        sub = self.client.submit(self.assignment_id, data)
        self.submission = sub
        self.timestamp = self.format_time(self.server_time(sub))
        course_id = self.released[0]
        self.log.info("Submitted as: %s %s %s", course_id, self.assignment_id, self.timestamp)
        late = sub.get("late_seconds") or 0
        if isinstance(late, int | float) and late > 0:
            self.log.warning(
                "This submission of %s is LATE: handed in %s after the due date.",
                self.assignment_id,
                _late(late),
            )


class SadariExchangeFetchFeedback(ExchangeFetchFeedback, SadariExchange):
    """`nbgrader fetch_feedback`: download released feedback of your submissions into
    <assignment_dir>/<assignment_id>/feedback/<timestamp>/."""

    def init_src(self) -> None:
        """Your submissions (of one assignment, or of all when none is given) with feedback."""
        aid = self.coursedir.assignment_id if self.coursedir else ""
        self.assignment_id = "" if aid in ("", "*") else self.check_name(aid, "assignment id")
        items = self.client.submissions(self.assignment_id or None)
        self.feedback_items = [i for i in items if i.get("has_feedback")]

    def init_dest(self) -> None:
        """Nothing to prepare: folders are made per submission."""

    def copy_files(self) -> None:
        """Download and unpack each submission's feedback; remember which version was fetched."""
        if not self.feedback_items:
            self.log.warning(
                "No feedback available yet for %s", self.assignment_id or "your submissions"
            )
            return
        for item in self.feedback_items:
            aid = self.check_name(str(item.get("assignment_id") or ""), "assignment id")
            timestamp = self.format_time(self.server_time(item))
            dest = os.path.join(self.assignment_path(aid), "feedback", timestamp)
            data = self.client.feedback_zip(item["id"])
            try:
                written = safe_extract(data, dest, log=self.log)
            except ArchiveError as e:
                self.fail(f"The feedback for {aid} ({timestamp}) cannot be unpacked safely: {e}")
            if item.get("feedback_sha256"):
                with open(os.path.join(dest, FEEDBACK_MARKER), "w", encoding="utf-8") as fh:
                    fh.write(str(item["feedback_sha256"]))
            for name in written:
                self.log.info("Fetched feedback: %s", os.path.join(dest, name))
