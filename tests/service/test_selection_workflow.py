"""Stage selection end to end on the database (hub/selection.py, store/selection.py): preview ->
override -> confirm -> apply -> apply again -> rollback with real Results rows and the audit
entries; participation CSV; candidates' attributes; teams and their hub groups; the API's
permission checks (a tornado app with a stand-in for HubOAuth, no hub).

The two whole-workflow tests run on SQLite and PostgreSQL; the rest on SQLite only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment
from sqlalchemy import select
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from sadari.hub import selection as workflow
from sadari.hub.core import permissions as perm
from sadari.hub.core.audit import verify_chain
from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.core.membership import is_managed, team_group
from sadari.hub.core.roster import parse_roster
from sadari.hub.core.yamlsrc import InputError
from sadari.hub.handlers import default_handlers
from sadari.hub.service import Context
from sadari.hub.settings import SadariSettings
from sadari.hub.standing import leaderboard, pseudonym, standing
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store import selection as db
from sadari.hub.store.db import make_engine, session_factory, upgrade
from sadari.hub.store.models import AuditEntry, ParticipationInput, Team
from tests.support.service import FakeAuth

COHORT = "2026-seoul-1"
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # da-basics-check: +13d 18:00 KST
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# basics -> advanced: 50% of each track, at least 1 non-major (the project's file reserves 3)
BASICS = [  # username, major, score of 10 (None: not graded yet; "-": no submission), hours late
    ("a01", "비전공", 9, 0),
    ("a02", "컴퓨터공학", 10, 0),
    ("a03", "Non Major", 5, 0),
    ("a04", "전공자", None, 0),
    ("a05", "비전공자", "-", 0),
    ("a06", "전공", 3, 0),
    ("a07", "major", 7, 2),  # 2 hours late: 10 %/hour -> 20 % off
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
    text = (Path(__file__).parents[2] / "labs" / "curriculum.yaml").read_text(encoding="utf-8")
    text = text.replace("capacity: {top_percent: 40}", "capacity: {top_percent: 50}")
    return parse_curriculum(
        text.replace("value: non-major, seats: 3}", "value: non-major, seats: 1}")
    )


@pytest.fixture
def sqlite_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path}/sadari.sqlite")
    upgrade(eng)
    yield eng
    eng.dispose()


def enrol(sessions, cur: Curriculum, people: list[tuple[str, str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    """people: (username, track, stage, major); plus an instructor and an admin."""
    lines = ["username,name,cohort,track,stage,major,role", "inst,강사,,,,,instructor"]
    lines += ["boss,관리자,,,,,admin"]
    lines += [f"{u},교육생 {u},{COHORT},{t},{st},{m},trainee" for u, t, st, m in people]
    data = "\n".join(lines).encode()
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        rows = parse_roster(data, "r.csv", cur)
        repo.import_roster(s, rows, data=data, file="r.csv", actor="boss", now=NOW)


def grade(s, username: str, aid: str, score: float | None, points: float, at: datetime) -> None:  # type: ignore[no-untyped-def]
    (a,) = ex.cohort_assessments(s, aid, COHORT)
    sub = ex.record_submission(
        s, repo.member(s, username), a, None, sha256="0" * 64, size=1, files=[], now=at
    )
    ex.record_grades(s, sub, [Cell(score, points)], actor="grader", now=at)


def basics_cohort(engine, cur: Curriculum):  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    enrol(sessions, cur, [(u, "data-analysis", "basics", m) for u, m, _, _ in BASICS])
    with sessions.begin() as s:
        for u, _, score, late in BASICS:
            if score != "-":
                grade(s, u, "da-basics-check", score, 10, DUE + timedelta(hours=late, minutes=-1))
    return sessions


def stages(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return {e.member.username: e.stage.slug for e in repo.trainees(s, cohort=COHORT)}


def audits(sessions, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_preview_override_confirm_apply_again_rollback(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(engine, cur)
    with sessions.begin() as s:
        sel = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW)
        sid, rows = sel.id, {r["trainee"]: r for r in sel.rows}
        assert sel.status == "preview" and sel.source == "basics"
        assert sel.warnings == [
            "채점되지 않은 제출 1건 (미제출로 처리) / 1 submissions not graded yet "
            "(treated as not submitted)"
        ]
    assert {u for u, r in rows.items() if r["selected"]} == {"a01", "a02", "a07"}
    assert rows["a07"]["da-basics-check:penalty"] == pytest.approx(0.2)
    assert rows["a07"]["total"] == pytest.approx(56.0)  # 7 of 10, 20 % late penalty
    assert rows["a04"]["reasons"] == "미제출: da-basics-check / not submitted: da-basics-check"
    assert rows["a01"]["groups"] == "major=non-major" and rows["a03"]["basis"] == "capacity"

    with sessions.begin() as s, pytest.raises(repo.Invalid, match="reason is required"):
        workflow.override(s, sid, "a03", "advance", "  ", actor="inst", now=NOW)
    with sessions.begin() as s:
        workflow.override(
            s, sid, "a03", "advance", "프로젝트 우수 / strong project", actor="inst", now=NOW
        )
        workflow.override(s, sid, "a07", "hold", "repeat the basics", actor="inst", now=NOW)
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="already advances"):
        workflow.override(s, sid, "a01", "advance", "again", actor="inst", now=NOW)
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="admin confirms it first"):
        workflow.apply(s, cur, sid, actor="boss", now=NOW)
    with sessions.begin() as s:
        sel, changed = workflow.confirm(s, cur, sid, actor="boss", now=NOW)
        assert changed and sel.status == "confirmed"
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="only possible on a preview"):
        workflow.override(s, sid, "a06", "advance", "late", actor="inst", now=NOW)

    with sessions.begin() as s:
        sel, changed = workflow.apply(s, cur, sid, actor="boss", now=NOW)
        assert changed and sel.status == "applied"
        moved = sorted(m["username"] for m in sel.moved)
    assert moved == ["a01", "a02", "a03"]
    after = stages(sessions)
    assert {u for u, st in after.items() if st == "advanced"} == {"a01", "a02", "a03"}
    (entry,) = audits(sessions, "selection.apply")
    assert entry.actor == "boss" and entry.target == f"selection:{sid}"
    assert entry.details["policy"] == cur.stage("advanced").selection.as_dict()  # type: ignore[union-attr]
    assert entry.details["inputs_hash"] == sel.inputs_hash
    decisions = {d["trainee"]: d for d in entry.details["decisions"]}
    assert decisions["a03"]["advances"] and decisions["a03"]["override"]["action"] == "advance"
    assert not decisions["a07"]["advances"] and "repeat" in decisions["a07"]["override"]["reason"]
    assert not decisions["a06"]["advances"] and decisions["a06"]["why"].startswith("미선발")
    assert len(audits(sessions, "trainee.move_stage")) == 3

    with sessions() as s:
        count = len(repo.audit_entries(s, 1000))
    with sessions.begin() as s:
        assert workflow.apply(s, cur, sid, actor="boss", now=NOW)[1] is False
    with sessions() as s:
        assert len(repo.audit_entries(s, 1000)) == count
    assert stages(sessions) == after

    with sessions.begin() as s:  # a01 moved on by hand: the rollback leaves them alone
        repo.move_stage(s, "a01", "project", actor="boss", reason="fast track", now=NOW)
    with sessions.begin() as s:
        sel, changed, restored = workflow.rollback(
            s, sid, reason="입력 오류 / wrong inputs", actor="boss", now=NOW
        )
        assert changed and sel.status == "rolled-back" and restored == ["a02", "a03"]
    assert stages(sessions) == {**{u: "basics" for u, *_ in BASICS}, "a01": "project"}
    (back,) = audits(sessions, "selection.rollback")
    assert back.reason == "입력 오류 / wrong inputs"
    assert back.details["not_restored"] == [
        {"username": "a01", "from": "basics", "to": "advanced", "now": "project"}
    ]
    with sessions.begin() as s:
        assert workflow.rollback(s, sid, reason="again", actor="boss", now=NOW)[1] is False
    with sessions() as s:
        chain = [
            (repo.audit_content(e), e.prev_hash, e.hash)
            for e in reversed(repo.audit_entries(s, 1000))
        ]
    assert verify_chain(chain) is None


def test_teams_from_an_applied_selection(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    people = [(f"d{i}", "data-analysis", "advanced", "비전공") for i in range(1, 5)]
    people += [(f"p{i}", "product-manager", "advanced", "전공") for i in range(1, 5)]
    enrol(sessions, cur, people)
    with sessions.begin() as s:
        for k, (u, track, _, _) in enumerate(people):
            aid = "da-advanced-check" if track == "data-analysis" else "pm-advanced-check"
            grade(s, u, aid, 10 + k, 20, datetime(2026, 12, 1, tzinfo=UTC))
    csv = "아이디,이름,값\r\n" + "".join(
        f"{u},교육생,{90 + k}\r\n" for k, (u, *_) in enumerate(people)
    )
    with sessions.begin() as s:
        report = workflow.import_inputs(
            s, csv.encode("cp949"), "출석.csv", "attendance", actor="boss", now=NOW
        )
        assert report["created"] == 8
        sel = workflow.preview(s, cur, COHORT, "project", actor="inst", now=NOW)
        sid = sel.id
        assert all(r["selected"] for r in sel.rows)  # 4 per track, 6 seats each
        assert sel.rows[0]["attendance:raw"] is not None
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
        workflow.apply(s, cur, sid, actor="boss", now=NOW)
    with sessions.begin() as s:
        teams, result, notes = workflow.form_teams(s, cur, COHORT, seed=7, actor="boss", now=NOW)
        first = [[m["username"] for m in t.members] for t in teams]
        assert notes == [] and [t.name for t in teams] == [
            "team-2026-seoul-1-01",
            "team-2026-seoul-1-02",
        ]
        for t in teams:  # max_same track 2 in teams of 4
            assert (
                sorted(m["track"] for m in t.members)
                == ["data-analysis"] * 2 + ["product-manager"] * 2
            )
    with sessions.begin() as s:
        again, _, _ = workflow.form_teams(s, cur, COHORT, seed=7, actor="boss", now=NOW)
        assert [[m["username"] for m in t.members] for t in again] == first
    with sessions() as s:
        wanted = repo.wanted_membership(s)
    assert "team-2026-seoul-1-01" in wanted[first[0][0]]
    assert "team-2026-seoul-1-02" in wanted[first[1][0]]
    assert not any(g.startswith("team-") for g in wanted["boss"])
    assert is_managed("team-2026-seoul-1-01") and not is_managed("team-alpha")  # stale ones go
    who = first[0][0]
    with sessions.begin() as s:
        old, new, warnings = workflow.move_to_team(
            s, cur, who, "2", reason="같은 회사 / same employer", actor="boss", now=NOW
        )
        assert (old.name, new.name) == ("team-2026-seoul-1-01", "team-2026-seoul-1-02")
        track = next(m["track"] for m in new.members if m["username"] == who)
        # teams of 4 with at most 2 of a track: 3 and 5 members are within 4 +- 1, 3 of a track not
        assert warnings == [
            f"team-2026-seoul-1-02: track={track} 3명 > 최대 2 / 3 members with "
            f"track={track}, more than 2"
        ]
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="in team-2026-seoul-1-02 alr"):
        workflow.move_to_team(s, cur, who, "02", reason="again", actor="boss", now=NOW)
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="a reason is required"):
        workflow.move_to_team(s, cur, who, "1", reason=" ", actor="boss", now=NOW)
    with sessions() as s:
        groups = repo.wanted_membership(s, [who])[who]
    assert "team-2026-seoul-1-02" in groups and "team-2026-seoul-1-01" not in groups
    assert len(audits(sessions, "teams.form")) == 2
    (moved,) = audits(sessions, "teams.move")
    assert moved.reason == "같은 회사 / same employer" and len(moved.details["warnings"]) == 1
    with sessions.begin() as s:  # rolled back: out of the project stage, out of the team groups
        workflow.rollback(s, sid, reason="redo", actor="boss", now=NOW)
    with sessions() as s:
        assert not any(g.startswith("team-") for g in repo.wanted_membership(s, [who])[who])


def test_inputs_change_since_the_preview_block_confirmation(sqlite_engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(sqlite_engine, cur)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        grade(s, "a05", "da-basics-check", 10, 10, DUE)  # a late arrival, graded
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="changed since selection"):
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
    with sessions.begin() as s:
        sel = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW)
        assert "a05" in {r["trainee"] for r in sel.rows if r["selected"]}


def test_participation_csv_is_all_or_nothing(sqlite_engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(sqlite_engine)
    enrol(sessions, cur, [("b01", "azure-ai", "basics", ""), ("b02", "azure-ai", "basics", "")])
    bad = "아이디,값\r\nb01,95\r\nb02,많음\r\nghost,80\r\nb01,90\r\n".encode("cp949")
    with sessions.begin() as s, pytest.raises(InputError) as e:
        workflow.import_inputs(s, bad, "출석.csv", "attendance", actor="boss", now=NOW)
    assert [str(p) for p in e.value.problems] == [
        "출석.csv:3: value: '많음' is not a number / 숫자 아님",
        "출석.csv:5: username: duplicate (also line 2)",
    ]
    unknown = b"username,value\nb01,95\nghost,80\n"
    with sessions.begin() as s, pytest.raises(InputError, match="출석.csv:3: username: unknown"):
        workflow.import_inputs(s, unknown, "출석.csv", "attendance", actor="boss", now=NOW)
    with sessions() as s:
        assert s.scalars(select(ParticipationInput)).all() == []
    good = "\ufeffusername,name,value\nb01,김,95.5\nb02,이,88%\n".encode()
    with sessions.begin() as s:
        assert (
            workflow.import_inputs(s, good, "a.csv", "attendance", actor="boss", now=NOW)["created"]
            == 2
        )
    with sessions.begin() as s:
        again = workflow.import_inputs(s, good, "a.csv", "attendance", actor="boss", now=NOW)
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert len(audits(sessions, "selection.inputs")) == 1


def test_candidates_attributes(sqlite_engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    assert [db.normalise_major(x) for x in ("비전공", " 비전공자 ", "NON-major", "Non Major")] == [
        "non-major"
    ] * 4
    assert [db.normalise_major(x) for x in ("전공", "전공자", "Major", "통계학", "", None)] == [
        "major",
        "major",
        "major",
        "통계학",
        None,
        None,
    ]
    sessions = basics_cohort(sqlite_engine, cur)
    with sessions() as s:
        got = db.candidates(s, COHORT, cur.stage("advanced").selection)  # type: ignore[arg-type]
    sheet = got.sheet
    row = {t: i for i, t in enumerate(sheet.trainees)}
    assert sheet.attributes[row["a02"]] == {"track": "data-analysis", "major": "컴퓨터공학"}
    assert sheet.attributes[row["a03"]]["major"] == "non-major"
    assert not sheet.present[row["a04"]].any()
    da = [c.id for c in sheet.components].index("da-basics-check")
    assert sheet.raw[row["a01"], da] == 9 and got.pending == 1


KEY = b"test pseudonym key"


def test_standing_and_leaderboard_views(sqlite_engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(sqlite_engine, cur)
    with sessions() as s:
        assert standing(s, "a01") == {"username": "a01", "selection": None}
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.override(s, sid, "a07", "hold", "attendance", actor="inst", now=NOW)
    with sessions() as s:  # a preview may still change: trainees see nothing of it yet
        assert standing(s, "a07") == {"username": "a07", "selection": None}
        assert leaderboard(s, COHORT, "a06", staff=False, key=KEY)["pools"] == []
    with sessions.begin() as s:
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
    with sessions() as s:
        mine = standing(s, "a07")
        board = leaderboard(s, COHORT, "a06", staff=False, key=KEY, top=2, around=1)
    assert (mine["rank"], mine["selected"], mine["advances"]) == (3, True, False)
    assert mine["override"] == {"action": "hold", "reason": "attendance"}
    (part,) = mine["parts"]
    assert part["component"] == "da-basics-check" and part["percent"] == pytest.approx(56.0)
    (pool,) = board["pools"]
    ranks = [(e["rank"], e["you"]) for e in pool["entries"]]
    assert ranks == [(1, False), (2, False), (4, False), (5, True), (6, False)]
    assert pool["entries"][3]["pseudonym"] == pseudonym(KEY, sid, "a06")
    assert "a0" not in json.dumps(board)  # no usernames
    # without the server's key the pseudonyms cannot be recomputed from the usernames
    unkeyed = {hashlib.sha256(f"{sid}:a0{i}".encode()).hexdigest()[:8] for i in range(1, 10)}
    assert not unkeyed & {e["pseudonym"] for e in pool["entries"]}
    assert pseudonym(b"another key", sid, "a06") != pseudonym(KEY, sid, "a06")


# --- the API's permission checks ------------------------------------------------------------------


async def test_api_permissions(sqlite_engine, cur: Curriculum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sessions = basics_cohort(sqlite_engine, cur)
    roles = {"a01": "trainee", "inst": "instructor", "boss": "admin"}
    ctx = Context(
        settings=SadariSettings(data_dir=str(tmp_path), leaderboard_cohorts=COHORT),
        engine=sqlite_engine,
        sessions=sessions,
        curriculum=cur,
        hub=None,
        hub_auth=FakeAuth({u: perm.ROLE_SCOPES[r] for u, r in roles.items()}),  # type: ignore[arg-type]
        templates=Environment(),
        prefix="/services/sadari/",
        blobs=LocalBlobStore(tmp_path / "blobs"),
        now=lambda: NOW,
    )
    sock, port = bind_unused_port()
    server = HTTPServer(Application(default_handlers, sadari=ctx))
    server.add_sockets([sock])
    client = AsyncHTTPClient()

    async def call(who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        r = await client.fetch(
            f"http://127.0.0.1:{port}/api/v1/{path}",
            method=method,
            headers={"Authorization": f"token {who}"},
            body=None if body is None else json.dumps(body),
            raise_error=False,
        )
        kind = r.headers.get("Content-Type", "")
        return r.code, json.loads(r.body) if kind.startswith("application/json") else r.body

    try:
        code, err = await call("a01", "POST", "selections", {"cohort": COHORT, "stage": "advanced"})
        assert code == 403 and err["status"] == 403 and "custom:sadari:instruct" in err["message"]
        code, made = await call(
            "inst", "POST", "selections", {"cohort": COHORT, "stage": "advanced"}
        )
        assert code == 201 and made["status"] == "preview"
        sid = made["id"]
        code, err = await call(
            "inst", "POST", f"selections/{sid}/overrides", {"username": "a03", "action": "advance"}
        )
        assert code == 400 and "'reason' is required" in err["message"]
        body = {"username": "a03", "action": "advance", "reason": "portfolio"}
        assert (await call("inst", "POST", f"selections/{sid}/overrides", body))[0] == 201
        code, err = await call("inst", "POST", f"selections/{sid}/confirm", {})
        assert code == 403 and "custom:sadari:admin" in err["message"]
        assert (await call("boss", "POST", f"selections/{sid}/confirm", {}))[0] == 200
        code, done = await call("boss", "POST", f"selections/{sid}/apply", {})
        assert code == 200 and done["status"] == "applied" and done["advancing"] == 4
        assert done["hub_sync"]["status"] == "skipped"  # no hub here
        code, err = await call("boss", "POST", f"selections/{sid}/rollback", {})
        assert code == 400 and "'reason' is required" in err["message"]
        code, data = await call("inst", "GET", f"selections/{sid}?format=csv")
        assert code == 200 and data.startswith("\ufeffpool,rank,trainee".encode())
        assert (await call("a01", "GET", f"selections/{sid}"))[0] == 403
        code, mine = await call("a01", "GET", "me/standing")
        assert code == 200 and mine["rank"] == 2 and mine["advances"] is True
        code, board = await call("a01", "GET", f"cohorts/{COHORT}/leaderboard")
        assert code == 200 and len(board["pools"][0]["entries"]) == 7
        code, err = await call("a01", "GET", "cohorts/2026-busan-1/leaderboard")
        assert code == 404 and "no leaderboard" in err["message"]
        code, err = await call("nobody", "GET", "me/standing")
        assert code == 401 and err["status"] == 401
        assert (await call("a01", "GET", "selections/999"))[0] == 403
        code, err = await call("inst", "GET", "selections/999")
        assert code == 404 and "no selection 999" in err["message"]

        # moving a team member: teams of the three trainees left in basics, stored directly
        with sessions.begin() as s:
            co = db.cohort_row(s, COHORT).id
            made_at = NOW.replace(tzinfo=None)
            db.replace_teams(s, co, "basics", [
                Team(cohort_id=co, stage="basics", number=k, name=team_group(COHORT, k),
                     members=[{"username": u, "skill": 0.0, "track": "data-analysis",
                               "major": None} for u in names],
                     explanation="test", seed=0, created_by="test", created_at=made_at)
                for k, names in ((1, ["a04", "a05"]), (2, ["a06"]))
            ])  # fmt: skip
        moves = f"cohorts/{COHORT}/teams/moves"
        move = {"username": "a05", "team": "2", "reason": "같은 회사 / same employer"}
        code, err = await call("inst", "POST", moves, move)
        assert code == 403 and "custom:sadari:admin" in err["message"]
        code, err = await call("boss", "POST", moves, {**move, "reason": " "})
        assert code == 400 and "'reason' is required" in err["message"]
        code, err = await call("boss", "POST", "cohorts/2026-busan-1/teams/moves", move)
        assert code == 404 and "a05 is not a trainee of '2026-busan-1'" in err["message"]
        code, done = await call("boss", "POST", moves, move)
        assert code == 200 and (done["from"], done["to"]) == (
            team_group(COHORT, 1),
            team_group(COHORT, 2),
        )
        assert done["warnings"] == [] and done["hub_sync"]["status"] == "skipped"
        code, err = await call("boss", "POST", moves, {**move, "username": "a04"})
        assert code == 400 and "last member" in err["message"]
        code, err = await call("boss", "POST", moves, {**move, "team": "9"})
        assert code == 404 and "no team '9'" in err["message"]
        with sessions() as s:
            assert [m["username"] for m in db.teams(s, co, "basics")[1].members] == ["a06", "a05"]
    finally:
        server.stop()


def test_roster_attributes_reach_selection(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]
    """A roster's other columns (here `campus`) are attributes selection can reserve seats on,
    in the fast and the plain reader alike; track and major keep their own meaning."""
    from sadari.hub.store import selection as db

    data = (
        "username,name,cohort,track,stage,major,campus\n"
        f"ca1,가,{COHORT},data-analysis,basics,비전공,구로\n"
        f"ca2,나,{COHORT},data-analysis,basics,전공,서초\n"
    ).encode()
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        rows = parse_roster(data, "r.csv", cur)
        repo.import_roster(s, rows, data=data, file="r.csv", actor="boss", now=NOW)
    policy = cur.stage("advanced").selection
    assert policy is not None
    with sessions() as s:
        sheet = db.candidates(s, COHORT, policy).sheet
        plain = db.candidates_from_history(s, COHORT, policy)
    wanted = {
        "ca1": {"campus": "구로", "track": "data-analysis", "major": "non-major"},
        "ca2": {"campus": "서초", "track": "data-analysis", "major": "major"},
    }
    assert dict(zip(sheet.trainees, map(dict, sheet.attributes), strict=True)) == wanted
    assert {c.trainee: dict(c.attributes) for c in plain} == wanted
