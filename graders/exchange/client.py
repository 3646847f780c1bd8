"""The HTTP client of the sadari exchange API: every call the nbgrader exchange makes.

`ServiceClient` talks to `<service_url>/api/v1/exchange` with the caller's own hub token
(`Authorization: token ...`). It never sends a username or a time: the service knows who calls
from the token and stamps submissions itself. Every failure (unreachable service, timeout, a
non-2xx answer with the service's `{"status", "message"}` error body, an answer of the wrong
type) goes to the `fail` callback, which is the exchange's `fail` and raises nbgrader's
`ExchangeError`. When the service lists `problems` (a refused upload: each file and why), the
message carries them, one a line, bounded (`MAX_PROBLEMS`, `PROBLEM_CHARS`, `MESSAGE_CHARS`), so
the trainee sees which file to change.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import Any, NoReturn
from urllib.parse import quote

import requests

API_PREFIX = "/api/v1/exchange"
ZIP_TYPE = "application/zip"
MAX_PROBLEMS = 20  # problems of a failed call shown in its message
PROBLEM_CHARS = 300  # of each
HEAD_CHARS = 1200  # of the service's message itself
MESSAGE_CHARS = 8000  # of the whole message (above what the others add up to)
WIDTH = 100  # columns of a message's lines


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def wrap_lines(text: str) -> list[str]:
    """`text` wrapped at WIDTH columns, keeping its own line breaks and indents."""
    out = []
    for line in text.splitlines() or [""]:
        indent = line[: len(line) - len(line.lstrip())]
        out += _wrap(line.strip(), indent, indent + "  ")
    return out


def problem_lines(problems: Any, known: str = "") -> list[str]:
    """The service's `problems` as lines of a message: at most MAX_PROBLEMS, each cut short and
    wrapped (JupyterLab's Assignment List shows the message in a <pre>, which does not wrap).
    Problems the `known` message already quotes are left out."""
    if not isinstance(problems, list):
        return []
    shown = [" ".join(str(p).split()) for p in problems]
    known = " ".join(known.split())
    shown = [p for p in shown if p not in known]
    lines = []
    for p in shown[:MAX_PROBLEMS]:
        lines += _wrap(_cut(p, PROBLEM_CHARS), "  - ", "    ")
    if len(shown) > MAX_PROBLEMS:
        lines.append(f"  … and {len(shown) - MAX_PROBLEMS} more / 외 더 있음")
    return lines


def _q(segment: str | int) -> str:
    return quote(str(segment), safe="")


class ServiceClient:
    """One caller's connection to the sadari exchange API.

    `service_url` is the service's base URL (e.g. http://127.0.0.1:10101/services/sadari),
    `token` the caller's JupyterHub API token, `timeout` seconds to connect and for each read,
    `fail` a callback that raises (nbgrader's `Exchange.fail`).
    """

    def __init__(
        self,
        service_url: str,
        token: str,
        fail: Callable[[str], NoReturn],
        *,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.fail = fail
        if not service_url:
            fail(
                "The sadari service URL is not set (SADARI_SERVICE_URL or "
                "c.SadariExchange.service_url); ask your instructor."
            )
        if not token:
            fail(
                "No API token to call the sadari service with (JUPYTERHUB_API_TOKEN or "
                "c.SadariExchange.api_token); run this inside your JupyterHub server."
            )
        self.base = service_url.rstrip("/") + API_PREFIX
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Authorization": f"token {token}", "User-Agent": "sadari-nbgrader-exchange"}
        )

    def url(self, path: str) -> str:
        """Full URL of an API path such as '/assignments'."""
        return self.base + path

    # --- transport ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        zip_body: bytes | None = None,
    ) -> requests.Response:
        """Make one call; return the 2xx response or fail with the service's message."""
        headers = {"Content-Type": ZIP_TYPE} if zip_body is not None else {}
        try:
            r = self.session.request(
                method,
                self.url(path),
                params=params,
                data=zip_body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.Timeout:
            self.fail(
                f"The sadari service did not answer {method} {path} within {self.timeout:g}s; "
                "try again later."
            )
        except requests.RequestException as e:
            self.fail(f"Cannot reach the sadari service at {self.base}: {e}")
        if not 200 <= r.status_code < 300:
            self.fail(self.error_message(method, path, r))
        return r

    @staticmethod
    def error_message(method: str, path: str, r: requests.Response) -> str:
        """The message of a failed call: the service's own when it sent its JSON error body,
        with each of its `problems` on a line of its own."""
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            status = f"(HTTP {body.get('status', r.status_code)})"
            problems = problem_lines(body.get("problems"), body["message"])
            if not problems:
                return f"{body['message']} {status}"
            # the message, each problem on a line of its own, then the status
            lines = [*wrap_lines(_cut(body["message"], HEAD_CHARS)), *problems, status]
            return _cut("\n".join(lines), MESSAGE_CHARS)
        snippet = " ".join(r.text.split())[:200]
        return f"The sadari service answered HTTP {r.status_code} to {method} {path}: {snippet}"

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """A call whose answer is a JSON object."""
        r = self.request(method, path, **kw)
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.fail(f"The sadari service sent no JSON object for {method} {path}")
        return body

    def zip(self, method: str, path: str, **kw: Any) -> bytes:
        """A call whose answer is a zip archive."""
        r = self.request(method, path, **kw)
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype != ZIP_TYPE:
            self.fail(f"The sadari service sent {ctype or 'no content type'} for {method} {path}")
        return r.content

    def field(self, body: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        """`body[key]`, failing clearly when the service's answer lacks it or has the wrong type."""
        value = body.get(key)
        if not isinstance(value, kind):
            self.fail(f"The sadari service's answer has no valid '{key}'")
        return value

    # --- the protocol -------------------------------------------------------------------------

    def assignments(self) -> tuple[str, list[dict[str, Any]]]:
        """GET /assignments: (course_id, the released assignments the caller may see)."""
        body = self.json("GET", "/assignments")
        return str(body.get("course_id") or ""), self.field(body, "assignments", list)

    def release_zip(self, assignment_id: str) -> bytes:
        """GET /assignments/{aid}/release: the released files as a zip."""
        return self.zip("GET", f"/assignments/{_q(assignment_id)}/release")

    def submit(self, assignment_id: str, data: bytes) -> dict[str, Any]:
        """POST /assignments/{aid}/submissions: hand in a zip; the service's submission record."""
        body = self.json("POST", f"/assignments/{_q(assignment_id)}/submissions", zip_body=data)
        return dict(self.field(body, "submission", dict))

    def submissions(
        self,
        assignment_id: str | None = None,
        *,
        everyone: bool = False,
        history: bool = False,
        cohort: str | None = None,
    ) -> list[dict[str, Any]]:
        """The caller's own submissions (of one assignment, or of all when `assignment_id` is
        None); with `everyone` (instructors) every trainee's latest one (all with `history`),
        of one `cohort` when given."""
        params: dict[str, str] = {}
        if everyone:
            if not assignment_id:
                self.fail("Listing every trainee's submissions needs an assignment id")
            params["all"] = "1"
            if history:
                params["history"] = "1"
            if cohort:
                params["cohort"] = cohort
        path = f"/assignments/{_q(assignment_id)}/submissions" if assignment_id else "/submissions"
        body = self.json("GET", path, params=params or None)
        return list(self.field(body, "submissions", list))

    def feedback_zip(self, submission_id: int) -> bytes:
        """GET /submissions/{id}/feedback: the feedback html files of one own submission."""
        return self.zip("GET", f"/submissions/{_q(submission_id)}/feedback")

    def release(self, assignment_id: str, data: bytes, cohort: str | None = None) -> Any:
        """POST /assignments/{aid}/release (instructors): publish nbgrader's release folder (to
        one `cohort`, or to every cohort with that assessment); the service's record(s)."""
        body = self.json(
            "POST",
            f"/assignments/{_q(assignment_id)}/release",
            params={"cohort": cohort} if cohort else None,
            zip_body=data,
        )
        return self.field(body, "release", (dict, list))

    def submission_files(self, submission_id: int) -> bytes:
        """GET /submissions/{id}/files (instructors): the submitted files as a zip."""
        return self.zip("GET", f"/submissions/{_q(submission_id)}/files")

    def post_feedback(self, submission_id: int, data: bytes) -> dict[str, Any]:
        """POST /submissions/{id}/feedback (instructors): the feedback html files as a zip."""
        return self.json("POST", f"/submissions/{_q(submission_id)}/feedback", zip_body=data)
