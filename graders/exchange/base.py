"""`SadariExchange`: the settings and helpers every sadari exchange class shares.

It subclasses nbgrader's pluggable `nbgrader.exchange.abc.Exchange`; its traits say where the
sadari service is and which token to call it with (environment variables are read only in
`@default`, so `c.SadariExchange.<name>` in a config file wins). Identity and time come only from
the service: `set_timestamp` deliberately stamps nothing locally.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cached_property
from typing import Any, NoReturn

from dateutil.tz import gettz
from nbgrader.exchange.abc import Exchange
from traitlets import Float, Unicode, default

from .archive import DEFAULT_IGNORE
from .client import ServiceClient
from .listing import format_timestamp, parse_server_time, readable_timestamp


class SadariExchange(Exchange):
    """nbgrader's exchange over HTTP to the sadari service (base of all sadari exchange classes)."""

    service_url = Unicode(
        help="""Base URL of the sadari service, e.g. http://127.0.0.1:10101/services/sadari
        (the exchange API is under <service_url>/api/v1/exchange).
        Default: $SADARI_SERVICE_URL.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get("SADARI_SERVICE_URL", "")

    api_token = Unicode(
        help="""JupyterHub API token sent as 'Authorization: token ...'; the service knows the
        caller from it. Default: $JUPYTERHUB_API_TOKEN (set in every single-user server).""",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(
        120.0,
        help="Seconds to wait for the sadari service to accept a connection and for each read.",
    ).tag(config=True)

    def fail(self, msg: str) -> NoReturn:
        """Log `msg` and raise nbgrader's ExchangeError (typed as never returning)."""
        super().fail(msg)
        raise AssertionError("unreachable")  # pragma: no cover

    def set_timestamp(self) -> None:
        """Check the time zone only: every timestamp comes from the service, none from here."""
        if gettz(self.timezone) is None:
            self.fail(f"Invalid timezone: {self.timezone}")
        self.timestamp = ""

    @cached_property
    def client(self) -> ServiceClient:
        """The HTTP client, made on first use."""
        return ServiceClient(
            self.service_url, self.api_token, self.fail, timeout=self.request_timeout
        )

    # --- helpers ------------------------------------------------------------------------------

    def format_time(self, value: str | datetime) -> str:
        """A service timestamp in nbgrader's format (`timestamp_format` in `timezone`)."""
        try:
            return format_timestamp(value, self.timezone, self.timestamp_format)
        except ValueError as e:
            self.fail(f"Cannot read the service's timestamp {value!r}: {e}")

    def timestamp_txt(self, value: str | datetime) -> str:
        """A service timestamp as written to timestamp.txt: nbgrader's format when nbgrader reads
        it back as the same instant, else UTC (see `readable_timestamp`)."""
        try:
            return readable_timestamp(value, self.timezone, self.timestamp_format)
        except ValueError as e:
            self.fail(f"Cannot read the service's timestamp {value!r}: {e}")

    def server_time(self, item: dict[str, Any]) -> datetime:
        """The (UTC) server time of a service record."""
        try:
            return parse_server_time(item["timestamp"])
        except (KeyError, TypeError, ValueError):
            self.fail(f"The sadari service sent a record without a valid timestamp: {item!r}")

    def require_assignment_id(self) -> str:
        """The assignment id from the command line/config, checked to be one folder name."""
        aid = self.coursedir.assignment_id if self.coursedir else ""
        if not aid:
            self.fail("No assignment id given: nbgrader <command> ASSIGNMENT")
        return self.check_name(aid, "assignment id")

    def check_name(self, name: str, what: str) -> str:
        """`name` if it is usable as one folder name (no separators, not '.' or '..')."""
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            self.fail(f"Not a valid {what}: {name!r}")
        return name

    def assignment_path(self, assignment_id: str) -> str:
        """The trainee's local folder of an assignment: <assignment_dir>/<assignment_id>."""
        return os.path.abspath(os.path.join(self.assignment_dir, assignment_id))

    def archive_options(self) -> dict[str, Any]:
        """What nbgrader's copy honours (CourseDirectory.ignore/include/max sizes), for zips."""
        cd = self.coursedir
        if cd is None:
            return {"ignore": DEFAULT_IGNORE}
        return {
            "ignore": list(cd.ignore),
            "include": list(cd.include),
            "max_file_size": 1000 * cd.max_file_size,
            "max_total_size": 1000 * cd.max_dir_size,
            "log": self.log,
        }

    @cached_property
    def released(self) -> tuple[str, list[dict[str, Any]]]:
        """(course_id, assignments) from GET /assignments, asked once per exchange object."""
        return self.client.assignments()

    def released_assignment(self, assignment_id: str) -> dict[str, Any] | None:
        """The service's record of one released assignment the caller may see, or None."""
        for a in self.released[1]:
            if isinstance(a, dict) and a.get("assignment_id") == assignment_id:
                return a
        return None
