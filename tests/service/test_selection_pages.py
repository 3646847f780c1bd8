"""What the selection, teams and audit pages show (hub/selection_pages.py, store/audit.py) on a
real database: ranked pools with the cutoff, breakdowns, ineligible trainees and the decision's
trail; the dry runs of confirm, apply, rollback and a team move (what they would do, with nothing
changed); the audit chain verified from its checkpoint (only new entries re-hashed; a changed
entry found); the filters and pages; and the three templates rendered in Korean and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from sadari.hub import audit_pages, teams_pages
from sadari.hub import selection as workflow
from sadari.hub import selection_pages as pages
from sadari.hub.core.audit_view import AuditFilter, parse_filter
from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.service import page_templates
from sadari.hub.store import audit as audit_store
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo, scorecards
from sadari.hub.store import selection as db
from sadari.hub.store.db import session_factory
from sadari.hub.store.models import AuditEntry, Member, Result, Submission

COHORT = "2026-seoul-1"
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POOL = f"{COHORT}/data-analysis"
BASICS = [  # username, major, score of 10 ("-": no submission), hours late
    ("a01", "비전공", 9, 0),
    ("a02", "컴퓨터공학", 10, 0),
    ("a03", "Non Major", 5, 0),
    ("a05", "비전공자", "-", 0),
    ("a06", "전공", 3, 0),
    ("a07", "major", 7, 2),
    ("a08", "전공", 8, 0),
]


@dataclass
class Cell:
    score: float | None
    max_score: float
    notebook: str = "nb"
    cell: str = "answer"
    kind: str = "auto"


@pytest.fixture(scope="module")
def cur() -> Curriculum:
    """The project's curriculum with 50 % of each track and one reserved non-major seat."""
    text_ = (Path(__file__).parents[2] / "labs" / "curriculum.yaml").read_text(encoding="utf-8")
    text_ = text_.replace("capacity: {top_percent: 40}", "capacity: {top_percent: 50}")
    return parse_curriculum(
        text_.replace("value: non-major, seats: 3}", "value: non-major, seats: 1}")
    )


def enrol(sessions: Any, cur: Curriculum, people: list[tuple[str, str, str, str]]) -> None:
    lines = ["username,name,cohort,track,stage,major,role", "inst,강사,,,,,instructor"]
    lines += ["boss,관리자,,,,,admin"]
    lines += [f"{u},교육생 {u},{COHORT},{t},{st},{m},trainee" for u, t, st, m in people]
    data = "\n".join(lines).encode()
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        repo.import_roster(
            s, parse_roster(data, "r.csv", cur), data=data, file="r.csv", actor="boss", now=NOW
        )


def basics_cohort(engine: Any, cur: Curriculum) -> Any:
    sessions = session_factory(engine)
    enrol(sessions, cur, [(u, "data-analysis", "basics", m) for u, m, _, _ in BASICS])
    with sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, "da-basics-check", COHORT)
        for u, _, score, late in BASICS:
            if score == "-":
                continue
            at = DUE + timedelta(hours=late, minutes=-1)
            sub = ex.record_submission(
                s, repo.member(s, u), a, None, sha256="0" * 64, size=1, files=[], now=at
            )
            ex.record_grades(s, sub, [Cell(score, 10)], actor="grader", now=at)
    return sessions


def entries(sessions: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def render(template: str, lang: str, **ns: Any) -> str:
    return (
        page_templates()
        .get_template(template)
        .render(
            prefix="/services/sadari/",
            static_url=lambda p: f"/services/sadari/static/{p}",
            lang=lang,
            other_lang="en" if lang == "ko" else "ko",
            xsrf_token="token",
            me={"username": "boss", "name": "관리자", "role": "admin"},
            now=NOW,
            **ns,
        )
    )


def test_selection_page_plans_and_trail(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(engine, cur)
    with sessions() as s:
        empty = pages.selection_page(s, cur, COHORT, "advanced")
        index = pages.index_page(s, cur)
    assert empty["selection"] is None and empty["source"]["id"] == "basics"
    assert empty["policy"]["reserved"] == [{"attribute": "major", "value": "non-major", "seats": 1}]
    assert {(t["cohort"]["id"], t["stage"]["id"]) for t in index} >= {(COHORT, "advanced")}
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.override(s, sid, "a06", "advance", "포트폴리오 / portfolio", actor="inst", now=NOW)
    with sessions() as s:
        view = pages.selection_page(s, cur, COHORT, "advanced")
    assert view["selection"]["id"] == sid and view["selection"]["status"] == "preview"
    (pool,) = view["pools"]
    rows = pool["rows"]
    assert pool["name"] == POOL and [r["rank"] for r in rows] == list(range(1, 8))
    # 7 trainees, 3 seats (50 %): 10, 9 and 8 points on merit, a01 a non-major among them
    top = [(r["trainee"], r["basis"]) for r in rows[:4]]
    assert top[:3] == [("a02", "merit"), ("a01", "merit"), ("a08", "merit")]
    assert pool["cut_after"] == 2 and pool["cutoff"] == pytest.approx(80.0)
    assert pool["advancing"] == 4  # the ranking's three and a06 by override
    a07 = next(r for r in rows if r["trainee"] == "a07")
    assert a07["name"] == "교육생 a07" and a07["parts"][0]["penalty"] == pytest.approx(0.2)
    assert a07["parts"][0]["contribution"] == pytest.approx(56.0) and a07["gap"] < 0
    assert a07["why"].startswith("미선발") and " / not selected" in a07["why"]
    a06 = next(r for r in rows if r["trainee"] == "a06")
    assert a06["override"] == "advance" and a06["advances"] and a06["eligible"] is False
    assert pool["mode"] == "all" and [r["cut_below"] for r in rows].index(True) == 2
    assert view["ineligible"]["count"] == 2
    ineligible = {r["trainee"]: r["reasons"] for r in view["ineligible"]["rows"]}
    assert ineligible["a05"] == ["미제출: da-basics-check / not submitted: da-basics-check"]
    assert ineligible["a06"][0].startswith("da-basics-check 30.00% < 최소 40%")
    hist = pool["histogram"]
    assert hist.count == 7 and hist.cutoff == pytest.approx(80.0) and hist.cutoff_x is not None
    assert sum(b.counts[0] for b in hist.bins) == 4  # advancing, overrides included
    assert [e["action"] for e in view["trail"]] == ["selection.preview", "selection.override"]

    # dry runs: what each step would do, and nothing changes
    before = entries(sessions)
    apply_early = pages.plan(sessions, cur, sid, "apply", actor="boss", now=NOW)
    assert not apply_early["ok"] and "confirms it first" in apply_early["problem"]
    confirm = pages.plan(sessions, cur, sid, "confirm", actor="boss", now=NOW)
    assert confirm["ok"] and confirm["advancing"] == ["a01", "a02", "a06", "a08"]
    assert confirm["entry"] == {"action": "selection.confirm", "target": f"selection:{sid}"}
    assert entries(sessions) == before
    with sessions() as s:
        assert pages.selection_page(s, cur, COHORT, "advanced")["selection"]["status"] == "preview"

    with sessions.begin() as s:
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
    before = entries(sessions)
    apply = pages.plan(sessions, cur, sid, "apply", actor="boss", now=NOW)
    assert apply["ok"] and apply["changed"]
    assert sorted((m["username"], m["from"], m["to"]) for m in apply["moves"]) == [
        (u, "basics", "advanced") for u in ("a01", "a02", "a06", "a08")
    ]
    (labs,) = apply["labs"]
    assert labs["track"] == "data-analysis" and labs["stage"] == "advanced"
    assert labs["labs"] and all(f.startswith("2-advanced/") for f in labs["labs"])
    assert entries(sessions) == before
    with sessions() as s:
        assert {e.member.username for e in repo.trainees(s, stage="advanced")} == set()

    with sessions.begin() as s:
        workflow.apply(s, cur, sid, actor="boss", now=NOW)
    with sessions.begin() as s:  # a01 moved on by hand: a rollback leaves them
        repo.move_stage(s, "a01", "project", actor="boss", reason="fast track", now=NOW)
    back = pages.plan(sessions, cur, sid, "rollback", actor="boss", now=NOW)
    assert back["ok"] and sorted(m["username"] for m in back["moves"]) == ["a02", "a06", "a08"]
    assert [m["username"] for m in back["not_restored"]] == ["a01"]
    assert back["labs"][0]["stage"] == "basics"
    with sessions() as s:
        applied = pages.selection_page(s, cur, COHORT, "advanced", sid)
    trail = [e["action"] for e in applied["trail"]]
    assert trail[:3] == ["selection.preview", "selection.override", "selection.confirm"]
    assert (
        "selection.apply" in trail and trail.count("trainee.move_stage") == 4
    )  # not a01's hand move

    with sessions() as s, pytest.raises(repo.NotFound, match="not one of"):
        pages.selection_page(s, cur, COHORT, "project", sid)

    for lang in ("ko", "en"):
        html = render(
            "selection.html",
            lang,
            index=None,
            view=applied,
            plan=back,
            zone="Asia/Seoul",
            admin=True,
            here=f"/services/sadari/selection?cohort={COHORT}&to=advanced",
        )
        assert "<svg" in html and 'class="cutoff"' in html and 'class="cutoff-row"' in html
        assert 'id="do-rollback"' in html and "2-advanced/" not in html  # back to basics labs
        assert ("미선발" in html) == (lang == "ko")
    html = render("selection.html", "en", index=None, view=applied, plan=None, zone="UTC",
                  admin=False, here="/x?cohort=c&to=s")  # fmt: skip
    assert "step-rollback" not in html and "step=" not in html  # an instructor: no step buttons
    html = render("selection.html", "ko", index=index, view=None, zone="UTC", admin=True)
    assert f"cohort={COHORT}&amp;to=advanced" in html


def test_apply_plan_says_when_the_inputs_changed(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(engine, cur)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
        (a,) = ex.cohort_assessments(s, "da-basics-check", COHORT)
        sub = ex.record_submission(
            s, repo.member(s, "a05"), a, None, sha256="0" * 64, size=1, files=[], now=DUE
        )
        ex.record_grades(s, sub, [Cell(10, 10)], actor="grader", now=DUE)
    plan = pages.plan(sessions, cur, sid, "apply", actor="boss", now=NOW)
    assert not plan["ok"] and "changed since selection" in plan["problem"]


def test_teams_page_and_move_plan(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    people = [(f"d{i}", "data-analysis", "project", "비전공") for i in range(1, 5)]
    people += [(f"p{i}", "product-manager", "project", "전공") for i in range(1, 5)]
    enrol(sessions, cur, people)
    with sessions.begin() as s:
        rows, _, notes = workflow.form_teams(s, cur, COHORT, seed=7, actor="boss", now=NOW)
        first = [[m["username"] for m in t.members] for t in rows]
    with sessions() as s:
        view = teams_pages.teams_page(s, cur, COHORT)
    assert view["stage"]["id"] == "project" and view["policy"]["max_same"] == [("track", 2)]
    assert [[m["username"] for m in t["members"]] for t in view["teams"]] == first
    assert view["teams"][0]["members"][0]["name"].startswith("교육생")
    assert view["in_stage"] == 8 and view["unplaced"] == [] and view["skills_from"] is None
    who = first[0][0]
    before = entries(sessions)
    plan = teams_pages.move_plan(sessions, cur, COHORT, who, "2", actor="boss", now=NOW)
    assert plan["ok"] and (plan["from"]["size"], plan["to"]["size"]) == (3, 5)
    (warning,) = plan["warnings"]
    assert warning["team"] == plan["to"]["name"]
    assert "3명 > 최대 2" in warning["text"] and "more than 2" in warning["text"]
    assert entries(sessions) == before
    with sessions() as s:  # nothing moved
        again = teams_pages.teams_page(s, cur, COHORT)
    assert [[m["username"] for m in t["members"]] for t in again["teams"]] == first
    same = teams_pages.move_plan(sessions, cur, COHORT, who, "1", actor="boss", now=NOW)
    assert not same["ok"] and "already" in same["problem"]
    ghost = teams_pages.move_plan(sessions, cur, COHORT, "ghost", "1", actor="boss", now=NOW)
    assert not ghost["ok"]
    for lang in ("ko", "en"):
        html = render(
            "teams.html",
            lang,
            view=view,
            cohorts=pages.cohorts(cur),
            move=plan,
            zone="Asia/Seoul",
            admin=True,
            here=f"/services/sadari/teams?cohort={COHORT}&stage=project",
        )
        assert 'id="move-warnings"' in html and 'id="do-move"' in html
        assert ("3명 &gt; 최대 2" in html) == (lang == "ko")


def _drop_triggers(s: Any) -> None:
    if s.bind.dialect.name == "sqlite":
        s.execute(text("DROP TRIGGER audit_log_no_update"))
    else:
        s.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))


def test_audit_chain_from_the_checkpoint(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(engine, cur)
    total = entries(sessions)
    with sessions.begin() as s:
        first = audit_store.verify(s, NOW)
    assert first.ok and first.full and first.checked == total and first.verified_id is not None
    with sessions.begin() as s:
        again = audit_store.verify(s, NOW + timedelta(minutes=1))
    assert again.ok and not again.full and again.checked == 0
    assert again.full_at == NOW.replace(tzinfo=None)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.override(s, sid, "a06", "advance", "portfolio", actor="inst", now=NOW)
    with sessions.begin() as s:
        later = audit_store.verify(s, NOW)
    assert later.ok and later.checked == 2 and later.verified_id == first.verified_id + 2  # type: ignore[operator]

    # an entry changed after the checkpoint: found by the next check
    with sessions.begin() as s:
        workflow.override(s, sid, "a08", "hold", "attendance", actor="inst", now=NOW)
        _drop_triggers(s)
    with sessions.begin() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": last.id})
    with sessions.begin() as s:
        broken = audit_store.verify(s, NOW)
    assert not broken.ok and broken.broken_id == last.id and broken.verified_id == later.verified_id
    # an entry changed before the checkpoint: a full check finds it; the checkpoint's own entry
    # changed: any check does
    with sessions.begin() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 1"))
    with sessions.begin() as s:
        assert audit_store.verify(s, NOW).broken_id == last.id  # from the checkpoint
        full = audit_store.verify(s, NOW, full=True)
    assert not full.ok and full.broken_id == 1 and full.full
    with sessions.begin() as s:
        cp = audit_store.checkpoint(s)
        assert cp is not None and cp.entry_id == later.verified_id  # never moved past a break
        s.execute(
            text("UPDATE audit_log SET reason = 'edited' WHERE id = :id"), {"id": cp.entry_id}
        )
    with sessions.begin() as s:
        moved = audit_store.verify(s, NOW)
    assert not moved.ok and moved.broken_id == later.verified_id


def test_audit_page_filters_and_pages(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(engine, cur)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.override(s, sid, "a06", "advance", "portfolio", actor="inst", now=NOW)
        workflow.override(s, sid, "a08", "hold", "attendance", actor="inst", now=NOW)
    total = entries(sessions)

    def page(f: AuditFilter, p: str | None = None, size: str | None = None) -> dict[str, Any]:
        with sessions.begin() as s:
            return audit_pages.audit_page(s, f, p, size, NOW)

    everything = page(AuditFilter())
    assert everything["chain"].ok and everything["paging"].total == total
    assert [e["id"] for e in everything["entries"]] == sorted(
        (e["id"] for e in everything["entries"]), reverse=True
    )
    assert "selection.*" in everything["action_groups"] and "inst" in everything["actors"]
    by_inst = page(AuditFilter(actor="inst"))
    assert {e["action"] for e in by_inst["entries"]} == {"selection.preview", "selection.override"}
    sel = page(AuditFilter(action="selection.*"))
    assert sel["paging"].total == 3
    assert page(AuditFilter(action="selection.override"))["paging"].total == 2
    a06 = page(AuditFilter(trainee="a06"))
    assert [e["action"] for e in a06["entries"]] == ["selection.override"]
    assert a06["entries"][0]["reason"] == "portfolio"
    f, _ = parse_filter({"from": "2026-12-01"}, "Asia/Seoul")  # after NOW (2026-11-30 18:00 KST)
    assert page(f)["paging"].total == 0
    f, _ = parse_filter({"from": "2026-11-30", "to": "2026-11-30"}, "Asia/Seoul")
    assert page(f)["paging"].total == total
    second = page(AuditFilter(), "2", "25")
    assert second["paging"].page == (2 if total > 25 else 1)
    for lang in ("ko", "en"):
        html = render(
            "audit.html",
            lang,
            view=sel,
            filter=AuditFilter(action="selection.*"),
            problems=[("from", "a date as YYYY-MM-DD / 날짜 형식(YYYY-MM-DD)")],
            zone="Asia/Seoul",
            sizes=(25, 50),
            page_url=lambda n: f"/services/sadari/audit?page={n}",
            here="/services/sadari/audit?page=1",
        )
        assert 'data-chain="verified"' in html and 'name="_xsrf" value="token"' in html
        assert html.count('data-action="selection.') == 3


# --- a large pool: the summary around the cutoff, pages, search -------------------------------

LARGE = 2000  # trainees, two tracks (pools) of 1,000


def large_cohort(engine: Any, cur: Curriculum) -> Any:
    """LARGE trainees t0001.. in two tracks' basics, graded 0-10 of 10 in a pattern with ties;
    every 50th never submitted; every 7th a non-major. 500 seats per pool, one reserved for a
    non-major. The roster is imported; the graded submissions are inserted in bulk and the
    scorecards rebuilt from them (as benchmarks/pages.py builds its cohorts)."""
    sessions = session_factory(engine)
    tracks = {"data-analysis": "da-basics-check", "product-manager": "pm-basics-check"}
    people = [
        (f"t{i:04d}", list(tracks)[i % 2], "basics", "비전공" if i % 7 == 0 else "전공")
        for i in range(1, LARGE + 1)
    ]
    enrol(sessions, cur, people)
    with sessions.begin() as s:
        checks = {t: ex.cohort_assessments(s, a, COHORT)[0].id for t, a in tracks.items()}
        ids = dict(s.execute(select(Member.username, Member.id)).all())
        graded = [(i, u, t) for i, (u, t, _, _) in enumerate(people, start=1) if i % 50]
        subs = s.execute(
            insert(Submission).returning(Submission.id, Submission.member_id),
            [{"assessment_id": checks[t], "member_id": ids[u], "release_id": None,
              "submitted_at": DUE.replace(tzinfo=None) - timedelta(minutes=i % 97),
              "sha256": "0" * 64, "size": 1, "files": []} for i, u, t in graded],
        ).all()  # fmt: skip
        score = {ids[u]: float((i * 37) % 11) for i, u, _ in graded}
        s.execute(
            insert(Result),
            [{"submission_id": sid, "status": "graded", "raw_score": score[mid],
              "max_score": 10.0, "late_seconds": 0, "penalty": 0.0, "final_score": score[mid],
              "computed_at": NOW.replace(tzinfo=None), "details": {}} for sid, mid in subs],
        )  # fmt: skip
        scorecards.rebuild(s, NOW)
    return sessions


def test_a_large_pool_shows_its_cutoff_pages_and_search(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = large_cohort(engine, cur)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
    with sessions() as s:  # what the workflow says of every row, read the usual way
        full = db.selection(s, sid)
        truth = {r["trainee"]: r for r in workflow.outcome_rows(full)}
        summary = {p["name"]: p for p in workflow.summary(full)["pools"]}
        far = next(r for r in full.rows if r["rank"] == 900 and not r["selected"])
    with sessions.begin() as s:
        workflow.override(
            s, sid, far["trainee"], "advance", "late enrolment", actor="inst", now=NOW
        )
    with sessions() as s:
        view = pages.selection_page(s, cur, COHORT, "advanced", lang="en")
        again = pages.selection_page(s, cur, COHORT, "advanced", lang="en")  # from memory
    assert [p["rows"] for p in again["pools"]] == [p["rows"] for p in view["pools"]]
    assert len(view["pools"]) == 2
    for pool in view["pools"]:
        # counts and the cutoff over the whole pool, not the rows shown
        whole = summary[pool["name"]]
        assert pool["size"] == 1000 and pool["mode"] == "summary"
        for k in ("size", "eligible", "seats", "selected", "cutoff"):
            assert pool[k] == whole[k]
        assert pool["advancing"] == whole["advancing"] + (pool["name"] == far["pool"])
        h = pool["histogram"]
        assert h.count == 1000 and sum(b.total for b in h.bins) == 1000 and len(h.bins) <= 12
        assert sum(b.counts[0] for b in h.bins) == pool["advancing"]
        rows = [r for r in pool["rows"] if "hidden" not in r]
        gaps = [r for r in pool["rows"] if "hidden" in r]
        assert len(rows) == pool["shown"] and len(rows) + sum(g["hidden"] for g in gaps) == 1000
        ranks = [r["rank"] for r in rows]
        assert ranks[:3] == [1, 2, 3] and ranks == sorted(ranks)
        # the line after the last trainee selected on merit, the first not selected below it
        (cut,) = [r for r in rows if r["cut_below"]]
        assert cut["rank"] == pool["cut_after"] + 1 and cut["basis"] == "merit"
        after = rows[rows.index(cut) + 1]
        assert after["rank"] == cut["rank"] + 1 and after["basis"] != "merit"
        assert cut["total"] == pytest.approx(pool["cutoff"])
        span = [r for r in ranks if abs(r - cut["rank"] - 0.5) < pages.AROUND]
        assert len(span) == 2 * pages.AROUND  # AROUND either side, all there
        assert {r["trainee"] for r in rows} >= {
            t for t, r in truth.items() if r["pool"] == pool["name"] and r["basis"] == "reserved"
        }
        # each row shown is the stored row: breakdown, explanation, outcome
        for r in rows:
            t = truth[r["trainee"]]
            assert r["why"] == t["why"] and r["gap"] == t["gap"] and r["total"] == t["total"]
            assert r["name"] == f"교육생 {r['trainee']}"
            for part in r["parts"]:
                for f in pages.PARTS:
                    assert part[f] == t[f"{part['component']}:{f}"]
        # the gaps say where the rows left out are
        for g in gaps:
            assert g["page"] == (g["from"] - 1) // 25 + 1
    # the override far below the line is shown, with its reason
    moved = next(p for p in view["pools"] if p["name"] == far["pool"])
    (o,) = [r for r in moved["rows"] if r.get("trainee") == far["trainee"]]
    assert o["override"] == "advance" and o["advances"] and o["rank"] == 900
    assert view["ineligible"]["count"] == sum(not r["eligible"] for r in truth.values())
    assert len(view["ineligible"]["rows"]) == pages.INELIGIBLE < view["ineligible"]["count"]

    # a page of one pool; the others keep their summary
    with sessions() as s:
        paged = pages.selection_page(s, cur, COHORT, "advanced", pool=2, page="3", size="50")
    first, second = paged["pools"]
    assert first["mode"] == "summary" and second["mode"] == "page"
    assert [r["rank"] for r in second["rows"]] == list(range(101, 151))
    pg = second["paging"]
    assert (pg.page, pg.pages, pg.size, pg.total) == (3, 20, 50, 1000)
    assert second["page_numbers"] == [1, 2, 3, 4, 5, None, 20]
    assert paged["query"] == {"pool": 2, "page": "3", "size": 50}
    with sessions() as s:  # out of range, not a number: the nearest page, the default size
        last = pages.selection_page(s, cur, COHORT, "advanced", pool=1, page="999")
        junk = pages.selection_page(s, cur, COHORT, "advanced", pool=1, page="x", size="7")
    assert last["pools"][0]["paging"].page == 40 and last["pools"][0]["rows"][-1]["rank"] == 1000
    assert [r["rank"] for r in junk["pools"][0]["rows"]] == list(range(1, 26))
    cut_page = view["pools"][0]["cut_page"]
    with sessions() as s:
        at_cut = pages.selection_page(s, cur, COHORT, "advanced", pool=1, page=cut_page)
    assert sum(r["cut_below"] for r in at_cut["pools"][0]["rows"]) == 1

    # search by username or name, in every pool, case aside; LIKE's wildcards are plain text
    with sessions() as s:
        found = pages.selection_page(s, cur, COHORT, "advanced", q="  T000 ")
        by_name = pages.selection_page(s, cur, COHORT, "advanced", q="교육생 t1999")
        wild = pages.selection_page(s, cur, COHORT, "advanced", q="t%1")
        many = pages.selection_page(s, cur, COHORT, "advanced", q="t")
    assert found["q"] == "T000" and [p["mode"] for p in found["pools"]] == ["search", "search"]
    hits = sorted(r["trainee"] for p in found["pools"] for r in p["rows"])
    assert hits == [f"t000{i}" for i in range(1, 10)]
    assert sum(p["matches"] for p in found["pools"]) == 9
    assert [r["trainee"] for p in by_name["pools"] for r in p["rows"]] == ["t1999"]
    assert all(p["matches"] == 0 and p["rows"] == [] for p in wild["pools"])
    assert [p["matches"] for p in many["pools"]] == [1000, 1000]
    assert all(len(p["rows"]) == pages.MATCHES for p in many["pools"])

    for lang in ("ko", "en"):
        here = f"/services/sadari/selection?cohort={COHORT}&to=advanced"
        ns = {"index": None, "plan": None, "zone": "Asia/Seoul", "admin": True, "here": here}
        html = render("selection.html", lang, view=view, **ns)
        assert html.count('class="cutoff-row"') == 2 and html.count('class="hidden-rows"') >= 4
        assert f"{here}&amp;id={sid}&amp;pool=1&amp;page=1#pool-1".replace("&to", "&amp;to") in html
        assert html.count('class="trainee-row') == sum(p["shown"] for p in view["pools"])
        html = render("selection.html", lang, view=paged, **ns)
        assert 'aria-current="page">3<' in html and "pool=2&amp;page=4&amp;size=50" in html
        html = render("selection.html", lang, view=found, **ns)
        assert 'value="T000"' in html and 'id="clear-search"' in html
        html = render("selection.html", lang, view=wild, **ns)
        assert "t%1" in html
