"""Server times and nbgrader's list shapes: the pure part of `nbgrader list` over HTTP.

The service stamps every submission (ISO 8601, UTC); `parse_server_time` reads such a stamp and
`format_timestamp` writes it the way nbgrader does (`Exchange.timestamp_format` in
`Exchange.timezone`), so folder names and timestamp.txt files look exactly like the default
exchange's. `submission_info` and `group_submissions` build the dicts nbgrader's default
`ExchangeList` returns for `--cached`/`--inbound`, which the JupyterLab Assignment List reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from dateutil.tz import gettz
from nbgrader.utils import parse_utc

#: Written next to fetched feedback: the service's feedback_sha256 of what was fetched, so a
#: later list can tell whether the instructor has released newer feedback.
FEEDBACK_MARKER = ".sadari-feedback-sha256"


def parse_server_time(value: str | datetime) -> datetime:
    """A service timestamp (ISO 8601; 'Z' allowed; naive means UTC) as an aware UTC datetime."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def format_timestamp(
    value: str | datetime, timezone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M:%S.%f %Z"
) -> str:
    """A service timestamp written as nbgrader writes its own (`timestamp_format`, `timezone`).

    Raises ValueError for an unknown time zone name.
    """
    tz = gettz(timezone)
    if tz is None:
        raise ValueError(f"Invalid timezone: {timezone}")
    return parse_server_time(value).astimezone(tz).strftime(fmt)


def readable_timestamp(
    value: str | datetime, timezone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M:%S.%f %Z"
) -> str:
    """`format_timestamp`, unless nbgrader would read that text back as another instant.

    nbgrader reads timestamp.txt with `nbgrader.utils.parse_utc`, which misreads zone
    abbreviations it does not know (e.g. 'KST' is taken as UTC) and ' +0900' (as 900 seconds).
    When the configured format does not survive that round trip, the time is written in UTC in
    nbgrader's default format instead, so autograding's lateness is always computed right.
    """
    text = format_timestamp(value, timezone, fmt)
    expected = parse_server_time(value).replace(tzinfo=None)
    try:
        if parse_utc(text) == expected:
            return text
    except (ValueError, OverflowError):
        pass
    return format_timestamp(value, "UTC", "%Y-%m-%d %H:%M:%S.%f %Z")


def notebook_ids(files: Iterable[str]) -> list[str]:
    """Notebook ids (file stems) of the top-level notebooks among archive paths `files`."""
    ids = set()
    for f in files:
        p = PurePosixPath(f)
        if len(p.parts) == 1 and p.suffix == ".ipynb":
            ids.add(p.stem)
    return sorted(ids)


def submission_info(
    item: Mapping[str, Any],
    *,
    course_id: str,
    student_id: str,
    assignment_root: str | os.PathLike[str],
    timestamp: str,
    path: str,
) -> dict[str, Any]:
    """One submission as nbgrader's default `ExchangeList` describes it for `--cached`.

    `item` is the service's submission ({id, assignment_id, timestamp, sha256, size, files,
    has_feedback, feedback_sha256}); `timestamp` is its server time formatted with
    `format_timestamp`; `assignment_root` is the trainee's local assignment folder, where fetched
    feedback lives in `feedback/<timestamp>/<notebook_id>.html`; `path` says where the submission
    is (the service URL: there is no local cache). Local feedback counts as fetched when any of
    its html files is there; it is `feedback_updated` when the service's feedback_sha256 differs
    from the one recorded at fetch time.
    """
    root = Path(assignment_root).absolute()
    feedback_dir = root / "feedback" / timestamp
    has_exchange = bool(item.get("has_feedback"))
    has_local = feedback_dir.is_dir() and any(feedback_dir.glob("*.html"))
    marker = feedback_dir / FEEDBACK_MARKER
    server_sha = item.get("feedback_sha256")
    updated = False
    if has_local and has_exchange and server_sha and marker.is_file():
        updated = marker.read_text(encoding="utf-8").strip() != server_sha

    notebooks = []
    for nb in notebook_ids(item.get("files") or []):
        local = feedback_dir / f"{nb}.html"
        nb_local = local.is_file()
        notebooks.append(
            {
                "notebook_id": nb,
                "path": str(root / f"{nb}.ipynb"),
                "has_local_feedback": nb_local,
                "has_exchange_feedback": has_exchange,
                "local_feedback_path": str(local) if nb_local else None,
                "feedback_updated": nb_local and updated,
            }
        )
    return {
        "course_id": course_id,
        "student_id": student_id,
        "assignment_id": item["assignment_id"],
        "timestamp": timestamp,
        "status": "submitted",
        "path": path,
        "notebooks": notebooks,
        "has_local_feedback": has_local,
        "has_exchange_feedback": has_exchange,
        "feedback_updated": updated,
        "local_feedback_path": str(feedback_dir) if has_local else None,
        "submission_id": item["id"],
        "server_timestamp": parse_server_time(item["timestamp"]).isoformat(),
        "sha256": item.get("sha256"),
        "size": item.get("size"),
    }


def group_submissions(infos: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Partition submissions per (course, student, assignment), oldest first, as nbgrader does.

    Each info needs course_id, student_id, assignment_id, status and server_timestamp (as
    `submission_info` makes them). Returns nbgrader's shape: [{course_id, student_id,
    assignment_id, status, submissions}], sorted by that key; submissions ordered by server time.
    """
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for info in infos:
        key = (info["course_id"], info["student_id"], info["assignment_id"])
        groups.setdefault(key, []).append(info)
    result = []
    for key in sorted(groups):
        subs = sorted(
            groups[key],
            key=lambda x: parse_server_time(x.get("server_timestamp") or x["timestamp"]),
        )
        result.append(
            {
                "course_id": key[0],
                "student_id": key[1],
                "assignment_id": key[2],
                "status": subs[0]["status"],
                "submissions": [dict(s) for s in subs],
            }
        )
    return result
