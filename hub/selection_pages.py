"""What the selection page shows (templates/selection.html), as plain values read from the
workflow's own records (the teams and audit pages: teams_pages.py, audit_pages.py).

Nothing here decides or changes anything: rankings, overrides, confirm, apply, rollback, teams and
moves are hub/selection.py's, called by the JSON API the pages' script sends to. Before a step
that moves people the pages show what it will do by running that same workflow function in a
transaction that is rolled back (`dry_run`): the trainees it would move, the audit entry it would
write, the labs their next server start would bring, the team rules a move would break. So the
preview can never disagree with what the step then does.

A selection of 10,000 trainees x 30 assessments stores hundreds of MB of rows: the page reads them
once per selection and keeps them compact in memory (`Ranking`: what counts, cutoff, histogram
and search need for every row; the breakdowns packed, unpacked for the rows shown), and shows per
pool its top and the rows around the cutoff, a page of its whole ranking, or the trainees a
search finds; every count, the cutoff and the histogram are still the whole pool's.
"""

from __future__ import annotations

import marshal
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from . import selection as workflow
from .audit_pages import entry_view
from .core import charts
from .core.audit_view import PAGE_SIZES, paging
from .core.curriculum import Curriculum
from .core.policy import Placement, spawn_plan
from .locale import DEFAULT, number
from .store import audit as audit_store
from .store import repo
from .store import selection as db
from .store.models import AuditEntry, Cohort, Member, Selection, SelectionOverride

STEPS = ("confirm", "apply", "rollback")
PARTS = ("raw", "penalty", "percent", "normalised", "weight", "contribution")
PLAN_REASON = "(preview of the step, not carried out)"
T = TypeVar("T")


def named(stage: Any) -> dict[str, Any]:
    return {"id": stage.id, "name": {"ko": stage.name.ko, "en": stage.name.en}}


def transitions(curriculum: Curriculum) -> list[dict[str, Any]]:
    """The stage transitions that have a selection policy: {stage, source} as {id, name}."""
    out = []
    for st in curriculum.stages:
        if st.selection is not None:
            source = curriculum.stage(st.selection.source)
            out.append({"stage": named(st), "source": named(source)})
    return out


def cohorts(curriculum: Curriculum) -> list[dict[str, Any]]:
    """The curriculum's cohorts as {id, name}."""
    return [named(c) for c in curriculum.cohorts]


def dry_run(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """`work(session)` in a transaction that is always rolled back: what a workflow step would do,
    without doing it. `work` returns plain values (ORM rows expire with the rollback)."""
    with sessions() as s:
        try:
            return work(s)
        finally:
            s.rollback()


def _last_entry(s: Session) -> AuditEntry | None:
    return s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()


# --- selection ---------------------------------------------------------------------------------

SHOW_ALL = 25  # a pool this small is shown whole (the default page size)
TOP = 3  # rows of the top of a pool shown above the cutoff window
AROUND = 5  # rows shown either side of the cutoff line (the last admitted and the first not)
EXTRA = 20  # reserved-seat and overridden rows a pool's summary shows below the window, at most
MATCHES = 50  # search matches shown per pool
INELIGIBLE = 100  # ineligible trainees listed (the last pages of each pool hold the rest)
QUERY_CHARS = 100  # of a search
LIGHT = ("pool", "rank", "trainee", "track", "total", "eligible", "selected", "basis")
DETAIL = ("cutoff", "gap", "groups", "reasons", "why")
# a selection's columns before its rows, and after them: SQLite walks the rows' overflow pages
# (hundreds of MB at 10,000 trainees x 30 assessments) to reach any column after them
LEAD = ("id", "cohort_id", "stage", "source", "status", "policy", "inputs_hash")
TRAIL = ("pools", "warnings", "created_by", "created_at", "confirmed_by", "confirmed_at",
         "applied_by", "applied_at", "rolled_back_by", "rolled_back_at", "rollback_reason",
         "moved")  # fmt: skip
K = TypeVar("K")
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """The `most` values used last, shared by the service's threads."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value of `key` (now the newest), or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: K, value: V) -> V:
        """Keep `value` (the oldest beyond `most` are dropped)."""
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.most:
                self._items.popitem(last=False)
        return value


@dataclass(frozen=True)
class Ranking:
    """A stored selection's rows, compact. `light` holds, per row in stored order (pool, then
    rank), what the counts, the cutoff window, the search and the histogram need (LIGHT); the
    rest of a row (the explanation and the score parts, 30 assessments' worth each) is kept
    packed in `details` and unpacked only for the rows a page shows."""

    light: tuple[dict[str, Any], ...]
    details: tuple[bytes, ...]
    components: tuple[str, ...]

    def row(self, i: int) -> dict[str, Any]:
        """Row `i` as stored (decision_rows' keys; the parts of the components it has)."""
        *detail, parts = marshal.loads(zlib.decompress(self.details[i]))
        out = {**self.light[i], **dict(zip(DETAIL, detail, strict=True))}
        for c, *values in parts:
            cid = self.components[c]
            out.update({f"{cid}:{f}": v for f, v in zip(PARTS, values, strict=True)})
        return out


def ranking_of(policy: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> Ranking:
    """The Ranking of a selection's stored rows (`policy`: its SelectionPolicy.as_dict())."""
    comps = tuple(c["id"] for c in policy["components"])
    keys = [(c, f"{cid}:weight", [f"{cid}:{f}" for f in PARTS]) for c, cid in enumerate(comps)]
    light, details = [], []
    for r in rows:
        light.append({k: r[k] for k in LIGHT})
        parts = tuple((c, *[r.get(k) for k in ks]) for c, w, ks in keys if r.get(w) is not None)
        packed = marshal.dumps((*[r[k] for k in DETAIL], parts))
        details.append(zlib.compress(packed, 1))
    return Ranking(tuple(light), tuple(details), comps)


# The stored rows never change, nor the columns after them while the status stays the same
# (confirm, apply and rollback each set the status with them, once): both are read once per
# selection and status, then kept. Keys: the database (engine), selection id, inputs hash.
_rankings: _Memo[tuple[int, str, int, str], Ranking] = _Memo(4)
_trails: _Memo[tuple[int, str, int, str, str], dict[str, Any]] = _Memo(256)


def _db(s: Session) -> tuple[int, str]:
    engine = s.get_bind().engine
    return id(engine), engine.url.render_as_string(hide_password=True)


def ranking(s: Session, sel: Any) -> Ranking:
    """The compact rows of the stored selection `sel` (read from the database the first time)."""
    key = (*_db(s), sel.id, sel.inputs_hash)
    known = _rankings.get(key)
    if known is not None:
        return known
    rows = s.scalar(select(Selection.rows).where(Selection.id == sel.id)) or []
    return _rankings.put(key, ranking_of(sel.policy, rows))


def stored(s: Session, ids: Iterable[int]) -> dict[int, SimpleNamespace]:
    """The selections `ids` as read-only records of every column but `rows` (the columns after
    the rows from memory when the status is the one they were read at), by id."""
    db_key = _db(s)
    lead = [getattr(Selection, c) for c in LEAD]
    out: dict[int, SimpleNamespace] = {}
    missing: dict[int, tuple[int, str, int, str, str]] = {}
    for row in s.execute(select(*lead).where(Selection.id.in_(sorted(set(ids))))):
        rec = SimpleNamespace(**dict(zip(LEAD, row, strict=True)))
        key = (*db_key, rec.id, rec.inputs_hash, rec.status)
        trail = _trails.get(key)
        if trail is None:
            missing[rec.id] = key
        else:
            rec.__dict__.update(trail)
        out[rec.id] = rec
    if missing:
        q = select(Selection.id, *[getattr(Selection, c) for c in TRAIL])
        for sid, *values in s.execute(q.where(Selection.id.in_(sorted(missing)))):
            trail = _trails.put(missing[sid], dict(zip(TRAIL, values, strict=True)))
            out[sid].__dict__.update(trail)
    return out


def names_of(s: Session, usernames: Iterable[str]) -> dict[str, str | None]:
    wanted = sorted(set(usernames))
    out: dict[str, str | None] = {}
    for k in range(0, len(wanted), 5000):
        q = select(Member.username, Member.name).where(Member.username.in_(wanted[k : k + 5000]))
        out.update({u: n for u, n in s.execute(q)})
    return out


def _matching(s: Session, text: str, usernames: set[str]) -> set[str]:
    """Of `usernames`, those whose username or name holds `text` (case aside)."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text.lower()) + "%"
    q = select(Member.username).where(
        or_(
            func.lower(Member.username).like(pattern, escape="\\"),
            func.lower(Member.name).like(pattern, escape="\\"),
        )
    )
    return {u for u in s.scalars(q) if u in usernames}


@lru_cache(maxsize=8192)
def _number(value: float | None, lang: str, digits: int = 2) -> str:
    """locale.number, remembered: a page of 30-assessment breakdowns writes thousands of
    numbers, most of them a few points, percentages and weights seen before."""
    return number(value, lang, digits)


def _parts(policy: Mapping[str, Any], row: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """The score breakdown of a stored row: one part per component that applies to the trainee,
    its numbers also as `text` in `lang` (the late penalty in percent)."""
    out = []
    for c in policy["components"]:
        if row.get(f"{c['id']}:weight") is None:
            continue
        part = {"component": c["id"], "kind": c["kind"]} | {
            f: row.get(f"{c['id']}:{f}") for f in PARTS
        }
        text = {f: _number(part[f], lang) for f in ("raw", "percent", "normalised", "contribution")}
        text["weight"] = _number(part["weight"], lang, 3)
        text["penalty"] = _number(part["penalty"] * 100, lang) if part["penalty"] else ""
        out.append(part | {"text": text})
    return out


def _as_selection(rec: SimpleNamespace, rows: Any) -> Selection:
    """`rec` with `rows` as the workflow's functions read a Selection (summary, final_advance,
    outcome_rows, the audit trail): only attributes are read, so a record stands in for it."""
    return cast(Selection, SimpleNamespace(**(vars(rec) | {"rows": rows})))


def _rows(
    s: Session, rec: SimpleNamespace, stored: list[dict[str, Any]], lang: str
) -> list[dict[str, Any]]:
    """Stored rows as the page shows them: outcome (overrides in force), name, breakdown."""
    rows = workflow.outcome_rows(_as_selection(rec, stored))
    names = names_of(s, (r["trainee"] for r in rows))
    return [
        {
            **{k: r[k] for k in ("pool", "rank", "trainee", "track", "total", "eligible")},
            **{k: r[k] for k in ("selected", "basis", "cutoff", "gap", "why", "advances")},
            **{k: r[k] for k in ("override", "override_reason", "override_by")},
            "name": names.get(r["trainee"]),
            "groups": [g for g in str(r["groups"] or "").split("; ") if g],
            "reasons": [x for x in str(r["reasons"] or "").split("; ") if x],
            "parts": _parts(rec.policy, r, lang),
        }
        for r in rows
    ]


def window(n: int, cut_after: int | None, keep: Iterable[int] = ()) -> list[int]:
    """Which of a pool's `n` ranked rows its summary shows: all of a small pool; else the TOP
    rows, AROUND rows either side of the cutoff line (after row `cut_after`; without a cutoff,
    the first 2 x AROUND) and the rows in `keep` (reserved seats, overrides; EXTRA at most)."""
    if n <= SHOW_ALL:
        return list(range(n))
    shown = set(range(min(TOP, n)))
    if cut_after is None:
        shown |= set(range(min(n, 2 * AROUND)))
    else:
        shown |= set(range(max(0, cut_after - AROUND + 1), min(n, cut_after + AROUND + 1)))
    extra = sorted(i for i in set(keep) if 0 <= i < n and i not in shown)
    return sorted(shown | set(extra[:EXTRA]))


def page_numbers(page: int, pages: int) -> list[int | None]:
    """The page links of a pager: the first, the last and two either side of `page`; None
    where pages are left out."""
    out: list[int | None] = []
    for k in sorted({1, pages} | set(range(max(1, page - 2), min(pages, page + 2) + 1))):
        if out and out[-1] is not None and k > out[-1] + 1:
            out.append(None)
        out.append(k)
    return out


def _items(
    rows: list[dict[str, Any]],
    shown: list[int],
    n: int,
    cut_after: int | None,
    size: int,
    gaps: bool = True,
) -> list[dict[str, Any]]:
    """The table's lines: the rows shown (each `cut_below`: the cutoff line follows it) and,
    with `gaps`, between and after them the ranks left out with the page that holds the first
    of them (`hidden`: how many)."""
    items: list[dict[str, Any]] = []
    for k, (i, row) in enumerate(zip(shown, rows, strict=True)):
        prev = shown[k - 1] if k else -1
        if gaps and i > prev + 1:
            items.append(
                {"hidden": i - prev - 1, "from": prev + 2, "to": i, "page": (prev + 1) // size + 1}
            )
        nxt = shown[k + 1] if k + 1 < len(shown) else None
        below = (
            cut_after is not None
            and i <= cut_after
            and (
                (nxt is not None and cut_after < nxt)
                or (nxt is None and i == cut_after and i < n - 1)
            )
        )
        items.append({**row, "cut_below": below})
    last = shown[-1] if shown else -1
    if gaps and shown and last < n - 1:
        items.append(
            {"hidden": n - 1 - last, "from": last + 2, "to": n, "page": (last + 1) // size + 1}
        )
    return items


def pools(
    s: Session,
    sel: SimpleNamespace,
    *,
    pool: int | None = None,
    page: str | int | None = None,
    size: str | int | None = None,
    q: str = "",
    lang: str = DEFAULT,
) -> list[dict[str, Any]]:
    """Per pool of a selection: its summary and counts over the whole pool, where the cutoff
    line goes (after the last trainee selected on merit), the histogram of all its totals and
    the rows shown, in rank order: its summary (the top, the rows around the cutoff, reserved
    seats and overrides), or page `page` of pool number `pool` (1-based), or the trainees
    matching `q` (username or name)."""
    rk = ranking(s, sel)
    whole = _as_selection(sel, rk.light)
    summary = {p["name"]: p for p in workflow.summary(whole)["pools"]}
    final = workflow.final_advance(whole)
    overridden = {o.username for o in sel.overrides}
    by_pool: dict[str, list[int]] = {}
    for i, r in enumerate(rk.light):
        by_pool.setdefault(r["pool"], []).append(i)
    found = _matching(s, q, {r["trainee"] for r in rk.light}) if q else set()
    per_page = paging(0, None, size).size
    out = []
    for pos, p in enumerate(sel.pools, start=1):
        idx = sorted(by_pool.get(p["name"], []), key=lambda i: rk.light[i]["rank"])
        n = len(idx)
        light = [rk.light[i] for i in idx]
        merit = [k for k, r in enumerate(light) if r["basis"] == "merit"]
        cut_after = merit[-1] if merit and p["cutoff"] is not None else None
        pg = None
        matches = 0
        if q:
            mode = "search"
            hits = [k for k, r in enumerate(light) if r["trainee"] in found]
            matches, shown = len(hits), hits[:MATCHES]
        elif pool == pos:
            mode = "page"
            pg = paging(n, page, size)
            shown = list(range(pg.offset, min(n, pg.offset + pg.size)))
        else:
            keep = [k for k, r in enumerate(light) if r["basis"] == "reserved"]
            keep += [k for k, r in enumerate(light) if r["trainee"] in overridden]
            shown = window(n, cut_after, keep)
            mode = "all" if len(shown) == n else "summary"
        rows = _rows(s, sel, [rk.row(idx[k]) for k in shown], lang)
        out.append(
            {
                **summary[p["name"]],
                "number": pos,
                "reserved": [
                    {"group": g, "seats": n_, "met": met} for g, n_, met in p.get("reserved", [])
                ],
                "mode": mode,
                "cut_after": cut_after,
                "rows": _items(rows, shown, n, cut_after, per_page, mode == "summary"),
                "shown": len(shown),
                "matches": matches,
                "paging": pg,
                "page_numbers": page_numbers(pg.page, pg.pages) if pg else [],
                "cut_page": None if cut_after is None else cut_after // per_page + 1,
                "histogram": charts.histogram(
                    [float(r["total"]) for r in light],
                    [final[r["trainee"]] for r in light],
                    p["cutoff"],
                ),
            }
        )
    return out


def ineligible(s: Session, sel: SimpleNamespace) -> dict[str, Any]:
    """The trainees not eligible, in stored order (pool, rank): the first INELIGIBLE with their
    reasons, and how many there are."""
    rk = ranking(s, sel)
    idx = [i for i, r in enumerate(rk.light) if not r["eligible"]]
    rows = [rk.row(i) for i in idx[:INELIGIBLE]]
    listed = [
        {**{k: r[k] for k in ("pool", "rank", "trainee", "track")},
         "reasons": [x for x in str(r["reasons"] or "").split("; ") if x]}
        for r in rows
    ]  # fmt: skip
    return {"rows": listed, "count": len(idx)}


def policy_view(policy: Mapping[str, Any]) -> dict[str, Any]:
    """A stored or current policy (`SelectionPolicy.as_dict()`) for the page."""
    cap = policy["capacity"]
    return {
        **policy,
        "reserved": [{"attribute": a, "value": v, "seats": n} for a, v, n in policy["reserved"]],
        "capacity": {**cap, "overrides": sorted(cap.get("overrides", {}).items())},
    }


def _history(s: Session, cohort_id: int, stage: str, limit: int) -> list[dict[str, Any]]:
    """The selections of a cohort into `stage`, newest first: {id, status, by, at}."""
    q = (
        select(Selection.id)
        .where(Selection.cohort_id == cohort_id, Selection.stage == stage)
        .order_by(Selection.id.desc())
        .limit(limit)
    )
    ids = list(s.scalars(q))
    recs = stored(s, ids)
    return [
        {"id": i, "status": recs[i].status, "by": recs[i].created_by, "at": recs[i].created_at}
        for i in ids
    ]


def record(s: Session, co: Cohort, selection_id: int) -> SimpleNamespace:
    """Selection `selection_id` of the cohort `co` as a record of what db.selection gives (its
    cohort and overrides too) but with only the light rows (`ranking`): a preview of 10,000
    trainees x 30 assessments stores hundreds of MB of rows, read once per process."""
    rec = stored(s, [selection_id]).get(selection_id)
    if rec is None:
        raise repo.NotFound(f"no selection {selection_id} / 선발 {selection_id}번이 없습니다")
    rec.cohort = co
    q = select(SelectionOverride).where(SelectionOverride.selection_id == selection_id)
    rec.overrides = list(s.scalars(q.order_by(SelectionOverride.id)))
    return rec


def selection_page(
    s: Session,
    curriculum: Curriculum,
    cohort: str,
    stage: str,
    selection_id: int | None = None,
    *,
    pool: int | None = None,
    page: str | int | None = None,
    size: str | int | None = None,
    q: str = "",
    lang: str = DEFAULT,
) -> dict[str, Any]:
    """The page of one transition into `stage` for `cohort`: the policy, the selections made
    (newest first), and the one shown (`selection_id`, else the newest) with its pools (see
    `pools` for `pool`, `page`, `size` and the search `q`), its ineligible trainees, overrides
    and audit trail; numbers of the breakdowns written in `lang`."""
    co = db.cohort_row(s, cohort)
    policy = workflow.policy_for(curriculum, stage)
    history = _history(s, co.id, stage, 50)
    q = " ".join(q.split())[:QUERY_CHARS]
    sel = None
    if selection_id is not None:
        sel = record(s, co, selection_id)
        if sel.cohort_id != co.id or sel.stage != stage:
            raise repo.NotFound(
                f"selection {selection_id} is not one of {cohort} into {stage} "
                f"/ {cohort}의 {stage} 선발이 아닙니다"
            )
    elif history:
        sel = record(s, co, history[0]["id"])
    view: dict[str, Any] = {
        "cohort": {"id": co.slug, "name": {"ko": co.name_ko, "en": co.name_en}},
        "zone": co.timezone,
        "stage": named(curriculum.stage(stage)),
        "source": named(curriculum.stage(policy.source)),
        "policy": policy_view(sel.policy if sel else policy.as_dict()),
        "policy_changed": sel is not None and sel.policy != policy.as_dict(),
        "history": history,
        "selection": None,
    }
    if sel is None:
        return view
    pg = paging(0, None, size)
    view["selection"] = workflow.summary(_as_selection(sel, ranking(s, sel).light))
    view["pools"] = pools(s, sel, pool=pool, page=page, size=size, q=q, lang=lang)
    view["q"] = q
    view["size"] = pg.size
    view["sizes"] = PAGE_SIZES
    view["query"] = {k: v for k, v in (("pool", pool), ("page", page), ("q", q)) if v} | (
        {"size": pg.size} if size is not None and pg.size != PAGE_SIZES[0] else {}
    )
    view["ineligible"] = ineligible(s, sel)
    view["trail"] = [entry_view(e) for e in audit_store.decision_trail(s, _as_selection(sel, []))]
    return view


def index_page(s: Session, curriculum: Curriculum) -> list[dict[str, Any]]:
    """Per cohort and transition: the newest selection (id, status, who, when) or None."""
    out = []
    for c in curriculum.cohorts:
        for t in transitions(curriculum):
            co = s.scalar(select(Cohort.id).where(Cohort.slug == c.id))
            latest = _history(s, co, t["stage"]["id"], 1) if co is not None else []
            out.append({"cohort": named(c), **t, "latest": latest[0] if latest else None})
    return out


def _labs(curriculum: Curriculum, cohort: str, track: str, stage: str) -> list[str]:
    return [lab.dest for lab in spawn_plan(curriculum, Placement(cohort, track, stage)).labs]


def plan(
    sessions: sessionmaker[Session],
    curriculum: Curriculum,
    selection_id: int,
    step: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """What `step` (confirm, apply, rollback) would do to a selection, from a dry run of the
    workflow's own function: {ok, problem} and, when ok, the trainees it moves (with their track
    and the labs of the stage they land in), those it leaves, and the audit entry it would
    write. Nothing is changed."""
    if step not in STEPS:
        raise repo.Invalid(f"step must be one of {', '.join(STEPS)}")

    def work(s: Session) -> dict[str, Any]:
        kw: dict[str, Any] = {"actor": actor, "now": now}
        before = _last_entry(s)
        sel = db.selection(s, selection_id)
        tracks = {r["trainee"]: r["track"] for r in sel.rows}
        final = workflow.final_advance(sel)
        cohort = sel.cohort.slug
        try:
            if step == "confirm":
                sel, changed = workflow.confirm(s, curriculum, selection_id, **kw)
            elif step == "apply":
                sel, changed = workflow.apply(s, curriculum, selection_id, **kw)
            else:
                sel, changed, _ = workflow.rollback(s, selection_id, reason=PLAN_REASON, **kw)
        except (repo.Invalid, repo.NotFound) as e:
            return {"ok": False, "problem": str(e), "step": step}
        entry = _last_entry(s)
        wrote = entry is not None and (before is None or entry.id != before.id)
        details = dict(entry.details) if wrote and entry is not None else {}
        moves: list[dict[str, Any]] = []
        if step == "apply":
            moves = [{**m, "track": tracks[m["username"]]} for m in details.get("moved", [])]
        elif step == "rollback":
            moves = [
                {"username": u, "from": sel.stage, "to": sel.source, "track": tracks[u]}
                for u in details.get("restored", [])
            ]
        labs: dict[tuple[str, str], list[str]] = {}
        for m in moves:
            key = (m["track"], m["to"])
            labs.setdefault(key, _labs(curriculum, cohort, *key))
        return {
            "ok": True,
            "step": step,
            "changed": changed,
            "advancing": sorted(u for u, yes in final.items() if yes),
            "held": sorted(u for u, yes in final.items() if not yes),
            "moves": moves,
            "already_there": details.get("already_there", []),
            "not_restored": details.get("not_restored", []),
            "labs": [
                {"track": t, "stage": st, "labs": files} for (t, st), files in sorted(labs.items())
            ],
            "entry": (
                {"action": entry.action, "target": entry.target}
                if wrote and entry is not None
                else None
            ),
        }

    return dry_run(sessions, work)
