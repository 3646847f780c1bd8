"""The staff's trainees table as pure values: what a request asks for, who may see which cohorts,
a hub user model read as a server state, and the sorting and paging of rows the hub describes.

- `ListQuery.parse(args)`: the table's query (search, cohort, track, stage, `key=value` of a
  roster attribute, enrollment status, server state, sort, order, page), every value bounded and
  checked; what is not understood is dropped and named in `problems` (the page says so).
- `visible_cohorts(role, groups)`: admins see every cohort (None), instructors the cohorts whose
  hub group `instructors:<cohort>` they are in (the same groups the hub's roles use to let them
  open, start and stop those trainees' servers), anyone else none.
- `server_state(model)`: a hub user model (GET /hub/api/users) as ready | pending | stopped and
  the last activity; `last_seen(model)`: the latest activity of the user or any of their servers.
- `arrange(rows, query, states)`: rows the database matched, filtered by server state and sorted
  by what only the hub knows (state, last activity), then cut to the page: used when the query
  needs the hub; the database sorts and pages the rest itself.
- `Paging`: the page numbers of a total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

INSTRUCTOR_GROUP_PREFIX = "instructors:"

STATES = ("ready", "pending", "stopped")
STATE_FILTERS = ("running", *STATES)  # running: ready or pending (the server exists)
DB_SORTS = ("username", "name", "cohort", "track", "stage", "since")
HUB_SORTS = ("state", "activity")
SORTS = DB_SORTS + HUB_SORTS
PER_PAGE = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
MAX_SEARCH = 100
MAX_SLUG = 64
MAX_ATTRIBUTE = 200


def instructor_group(cohort: str) -> str:
    """Hub group of the instructors of `cohort` (`instructors:<cohort>`); sadari never changes
    its members (admins do, on the hub), the hub's roles and the trainees pages read it."""
    return INSTRUCTOR_GROUP_PREFIX + cohort


def visible_cohorts(role: str | None, groups: Iterable[str]) -> frozenset[str] | None:
    """The cohorts whose trainees a caller may see: None for every cohort (admins), the cohorts
    of their `instructors:<cohort>` hub groups for instructors, none for anyone else."""
    if role == "admin":
        return None
    if role != "instructor":
        return frozenset()
    n = len(INSTRUCTOR_GROUP_PREFIX)
    return frozenset(g[n:] for g in groups if g.startswith(INSTRUCTOR_GROUP_PREFIX) and g[n:])


def may_see(visible: frozenset[str] | None, cohorts: Iterable[str]) -> bool:
    """True when any of `cohorts` (a trainee's enrollments) is visible."""
    return visible is None or any(c in visible for c in cohorts)


@dataclass(frozen=True)
class ServerState:
    """A trainee's default server as the hub describes it."""

    state: str  # ready | pending | stopped
    last_activity: datetime | None = None  # naive UTC, as the database keeps times
    pending: str | None = None  # spawn | stop | ... while pending


def hub_time(value: str | None) -> datetime | None:
    """A hub timestamp (ISO 8601, `Z` or an offset) as naive UTC; None when absent or unreadable."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def server_state(model: Mapping[str, Any]) -> ServerState:
    """The default server of a hub user model: `ready` when it answers, `pending` while it
    starts or stops, else `stopped`; with the user's last activity."""
    activity = hub_time(model.get("last_activity"))
    server = (model.get("servers") or {}).get("")
    if server is None:
        # a model without `servers` (older hubs, fewer scopes) still says `pending` and `server`
        if model.get("pending"):
            return ServerState("pending", activity, str(model["pending"]))
        return ServerState("ready" if model.get("server") else "stopped", activity)
    server_activity = hub_time(server.get("last_activity"))
    if server_activity and (activity is None or server_activity > activity):
        activity = server_activity
    if server.get("pending"):
        return ServerState("pending", activity, str(server["pending"]))
    if server.get("ready"):
        return ServerState("ready", activity)
    return ServerState("pending", activity)  # started, not ready yet


def last_seen(model: Mapping[str, Any]) -> datetime | None:
    """The last activity of a hub user model: the user's own or any of their servers', the
    later (aware UTC); None when the hub saw none."""
    seen = [hub_time(model.get("last_activity"))]
    seen += [hub_time(x.get("last_activity")) for x in (model.get("servers") or {}).values()]
    times = [t for t in seen if t is not None]
    return max(times).replace(tzinfo=UTC) if times else None


def _text(args: Mapping[str, str], name: str, limit: int) -> tuple[str, str | None]:
    value = (args.get(name) or "").strip()
    if len(value) > limit:
        return "", f"{name}: at most {limit} characters"
    return value, None


@dataclass(frozen=True)
class ListQuery:
    """What the trainees table is asked for; `problems` names what was dropped and why."""

    search: str = ""
    cohort: str = ""
    track: str = ""
    stage: str = ""
    attribute: tuple[str, str] | None = None
    status: str = "active"  # the enrollment's status; "" for any
    state: str = ""  # one of STATE_FILTERS; "" for any
    sort: str = "username"
    descending: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    problems: tuple[str, ...] = field(default=())

    @property
    def needs_hub(self) -> bool:
        """True when rows are filtered or sorted by what only the hub knows."""
        return bool(self.state) or self.sort in HUB_SORTS

    @property
    def attribute_text(self) -> str:
        """The attribute filter as typed (`campus=서울`)."""
        return f"{self.attribute[0]}={self.attribute[1]}" if self.attribute else ""

    def args(self, **changes: Any) -> dict[str, str]:
        """The query string's values of this query with `changes` (for links), defaults left
        out."""
        values = {
            "q": self.search,
            "cohort": self.cohort,
            "track": self.track,
            "stage": self.stage,
            "attr": self.attribute_text,
            "status": self.status if self.status != "active" else "",
            "state": self.state,
            "sort": self.sort if self.sort != "username" else "",
            "order": "desc" if self.descending else "",
            "page": str(self.page) if self.page != 1 else "",
            "per_page": str(self.per_page) if self.per_page != DEFAULT_PER_PAGE else "",
        }
        for k, v in changes.items():
            values[k] = "" if v is None else str(v)
        if values["status"] == "active":
            values["status"] = ""
        return {k: v for k, v in values.items() if v}

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> ListQuery:
        """The query of a request's arguments (each the first value given)."""
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name, key, limit in (
            ("q", "search", MAX_SEARCH),
            ("cohort", "cohort", MAX_SLUG),
            ("track", "track", MAX_SLUG),
            ("stage", "stage", MAX_SLUG),
        ):
            value, problem = _text(args, name, limit)
            values[key] = value
            if problem:
                problems.append(problem)
        raw_attr, problem = _text(args, "attr", MAX_ATTRIBUTE)
        if problem:
            problems.append(problem)
        if raw_attr:
            attribute = parse_attribute(raw_attr)
            if attribute is None:
                problems.append("attr: write it as key=value")
            values["attribute"] = attribute
        status, problem = _text(args, "status", 16)
        values["status"] = "" if status == "any" else (status or "active")
        if problem:
            problems.append(problem)
        state = (args.get("state") or "").strip()
        if state and state not in STATE_FILTERS:
            problems.append(f"state: one of {', '.join(STATE_FILTERS)}")
            state = ""
        values["state"] = state
        sort = (args.get("sort") or "username").strip()
        if sort not in SORTS:
            problems.append(f"sort: one of {', '.join(SORTS)}")
            sort = "username"
        values["sort"] = sort
        values["descending"] = (args.get("order") or "").strip() == "desc"
        values["page"] = _number(args.get("page"), 1, "page", problems)
        per_page = _number(args.get("per_page"), DEFAULT_PER_PAGE, "per_page", problems)
        if per_page not in PER_PAGE:
            problems.append(f"per_page: one of {', '.join(map(str, PER_PAGE))}")
            per_page = DEFAULT_PER_PAGE
        values["per_page"] = per_page
        return cls(**values, problems=tuple(problems))


def _number(raw: str | None, default: int, name: str, problems: list[str]) -> int:
    if not raw:
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 9 or int(raw) < 1:
        problems.append(f"{name}: a whole number from 1")
        return default
    return int(raw)


def parse_attribute(text: str) -> tuple[str, str] | None:
    """`key=value` (spaces around either trimmed) as (key, value); None without a key or `=`."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        return None
    return key, value


@dataclass(frozen=True)
class Paging:
    """Where a page lies in `total` rows."""

    total: int
    page: int
    per_page: int

    @classmethod
    def of(cls, total: int, page: int, per_page: int) -> Paging:
        """The page asked for, moved back to the last page when past it."""
        last = max(1, -(-total // per_page))
        return cls(total, min(max(1, page), last), per_page)

    @property
    def pages(self) -> int:
        """How many pages (at least one)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.per_page

    @property
    def first(self) -> int:
        """The first row shown, counting from 1 (0 when there is none)."""
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        """The last row shown."""
        return min(self.total, self.offset + self.per_page)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and `around` either side of this one, None
        where pages are left out."""
        keep = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        out: list[int | None] = []
        for n in range(1, self.pages + 1):
            if n in keep:
                out.append(n)
            elif out and out[-1] is not None:
                out.append(None)
        return out


_STATE_ORDER = {"ready": 0, "pending": 1, "stopped": 2}


def matches_state(state: ServerState | None, wanted: str) -> bool:
    """True when `state` is what the filter `wanted` asks for (`running`: ready or pending)."""
    if not wanted:
        return True
    current = state.state if state else "stopped"
    return current in ("ready", "pending") if wanted == "running" else current == wanted


def arrange(
    rows: Sequence[Mapping[str, Any]],
    query: ListQuery,
    states: Mapping[str, ServerState],
) -> tuple[list[Mapping[str, Any]], Paging]:
    """`rows` (each with `username`, in the database's order for the query: its sort when that
    is a column of the database, else by username) filtered by server state, sorted by state or
    last activity when asked (ties by username; who was never active last in either order),
    and the page of them."""
    kept = [r for r in rows if matches_state(states.get(r["username"]), query.state)]
    if query.sort == "state":
        kept.sort(key=lambda r: _STATE_ORDER[_state(states, r).state], reverse=query.descending)
    elif query.sort == "activity":
        seen = [r for r in kept if _state(states, r).last_activity is not None]
        never = [r for r in kept if _state(states, r).last_activity is None]
        seen.sort(key=lambda r: _activity(states, r), reverse=query.descending)
        kept = seen + never
    paging = Paging.of(len(kept), query.page, query.per_page)
    return list(kept[paging.offset : paging.offset + paging.per_page]), paging


def _state(states: Mapping[str, ServerState], row: Mapping[str, Any]) -> ServerState:
    return states.get(row["username"]) or ServerState("stopped")


def _activity(states: Mapping[str, ServerState], row: Mapping[str, Any]) -> datetime:
    at = _state(states, row).last_activity
    assert at is not None
    return at


@dataclass(frozen=True)
class Move:
    """One stage move of a trainee as the audit log records it (`trainee.move_stage`)."""

    at: datetime
    actor: str
    cohort: str
    source: str
    target: str
    reason: str | None = None


@dataclass(frozen=True)
class Step:
    """One line of a trainee's history in a cohort: where they were from `at` on."""

    cohort: str
    track: str
    stage: str
    at: datetime | None
    actor: str | None = None
    source: str | None = None  # the stage before (None: where they were enrolled)
    reason: str | None = None


def stage_history(
    enrollments: Sequence[tuple[str, str, str, datetime | None]], moves: Sequence[Move]
) -> list[Step]:
    """A trainee's stages over time, oldest first: per enrollment (cohort, track, current stage,
    enrolled at) the stage they started in (the first move's source, else the current stage),
    then each move of that cohort in order."""
    steps: list[Step] = []
    ordered = sorted(moves, key=lambda m: m.at)
    for cohort, track, current, enrolled in enrollments:
        mine = [m for m in ordered if m.cohort == cohort]
        steps.append(Step(cohort, track, mine[0].source if mine else current, enrolled))
        steps += [Step(cohort, track, m.target, m.at, m.actor, m.source, m.reason) for m in mine]
    return sorted(steps, key=lambda s: (s.at is not None, s.at or datetime.min))
