"""Changing an autograded cell's points over the HTTP API, on SQLite and PostgreSQL (the
submission page's calls): only the instructors of the submission's cohort (hub group
`instructors:<cohort>`) and admins may — another cohort's instructor is told so by
GET .../grades/SID and refused (403) by the PUT, a trainee gets 403 — while grading a written
answer by hand stays open to every instructor; a reason is required (400 saying so); a stale
write is 409 with the stored grade; the result follows, and the page's rows carry who changed the
points, when, why and what the grading had given (`auto_score`, through two changes, reset by a
regrade)."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import AsyncHTTPClient

from sadari.hub import assessments as ops_
from sadari.hub.core import permissions as perm
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from tests.service.test_manual_grading import AID, COHORT, MEMO, NOW, cells, ops, submit
from tests.support import service
from tests.support.service import FakeAuth

__all__ = ["ops"]  # the fixture, from test_manual_grading

TEST = "pm-test"  # autograded, 3 points
STAFF = {
    "kim": (perm.ROLE_SCOPES["instructor"], [f"instructors:{COHORT}"]),
    "lee": (perm.ROLE_SCOPES["instructor"], ["instructors:2026-busan-1"]),
    "boss": (perm.ROLE_SCOPES["admin"], []),
    "pm1": (perm.ROLE_SCOPES["trainee"], []),
}


def serving(ops: ops_.Ops) -> Any:
    """The service's handlers on a local port, the staff above calling (with their groups)."""
    scopes = {name: scopes for name, (scopes, _) in STAFF.items()}
    groups = {name: groups for name, (_, groups) in STAFF.items()}
    return service.serving(ops, FakeAuth(scopes, groups))


async def call(
    port: int, who: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    r = await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/api/v1/assessments/{AID}/{path}",
        method=method,
        headers={"Authorization": f"token {who}"},
        body=None if body is None else json.dumps(body).encode(),
        raise_error=False,
    )
    return r.code, json.loads(r.body)


def row(ops: ops_.Ops, sid: int, cell: str = TEST) -> dict[str, Any]:
    with ops.sessions() as s:
        (out,) = [c for c in ex.cell_rows(s, ex.submission(s, sid)) if c["cell"] == cell]
        return out


async def test_the_cohorts_instructors_and_admins_change_autograded_points_with_a_reason(
    ops: ops_.Ops,
) -> None:
    sid = submit(ops, "pm1", memo=2.0)  # the test scored 3 of 3, the memo 2 of 2
    put = f"grades/{sid}/{AID}/{TEST}"
    with serving(ops) as port:
        status, out = await call(port, "kim", "GET", f"grades/{sid}")
        assert (status, out["may_adjust"], out["cohort"]) == (200, True, COHORT)
        assert {g["cell"]: g["version"] for g in out["grades"]} == {TEST: 1, MEMO: 1}
        status, out = await call(port, "lee", "GET", f"grades/{sid}")
        assert (status, out["may_adjust"], "grades" in out) == (200, False, False)
        assert (await call(port, "pm1", "GET", f"grades/{sid}"))[0] == 403

        # no reason: refused, saying why; nothing written
        status, out = await call(port, "kim", "PUT", put, {"points": 1, "version": 1})
        assert status == 400 and "needs a reason" in out["message"]
        # another cohort's instructor and a trainee: 403, nothing written
        body = {"points": 1, "version": 1, "reason": "mine now"}
        status, out = await call(port, "lee", "PUT", put, body)
        assert status == 403 and "only its instructors and admins" in out["message"]
        assert (await call(port, "pm1", "PUT", put, body))[0] == 403
        assert row(ops, sid)["version"] == 1
        # a written answer is graded by hand by any instructor, as on the grading pages
        status, _ = await call(
            port, "lee", "PUT", f"grades/{sid}/{AID}/{MEMO}", {"points": 1, "version": 1}
        )
        assert status == 200

        body = {"points": 1, "version": 1, "reason": "the test read the wrong column <b>"}
        status, out = await call(port, "kim", "PUT", put, {**body, "comment": "see the memo"})
        assert status == 200, out
        assert (out["grade"]["score"], out["grade"]["version"]) == (1.0, 2)
        assert out["result"] == {
            "status": "graded",
            "raw_score": 2.0,
            "max_score": 5.0,
            "final_score": 2.0,
        }
        # a second page that still showed version 1: 409 with kim's grade
        status, out = await call(port, "boss", "PUT", put, {**body, "points": 2})
        assert status == 409
        current = out["current"]
        assert (current["score"], current["graded_by"], current["version"]) == (1.0, "kim", 2)
        assert current["reason"] == "the test read the wrong column <b>"
        # the admin, over what is stored now
        status, out = await call(port, "boss", "PUT", put, {**body, "points": 2, "version": 2})
        assert status == 200 and out["result"]["raw_score"] == 3.0

    shown = row(ops, sid)
    assert (shown["score"], shown["graded_by"], shown["auto_score"]) == (2.0, "boss", 3.0)
    assert shown["graded_at"] == NOW.replace(tzinfo=None) and shown["comment"] == ""
    assert row(ops, sid, MEMO)["auto_score"] is None
    with ops.sessions() as s:
        adjusts = [
            e for e in repo.audit_entries(s, target="user:pm1") if e.action == "grade.adjust"
        ]
        assert sorted((e.actor, e.details["from"], e.details["to"]) for e in adjusts) == [
            ("boss", 1.0, 2.0),
            ("kim", 3.0, 1.0),
        ]
        assert ex.submission(s, sid).result.final_score == 3.0  # type: ignore[union-attr]
    # a regrade gives the cell back to the grading: nothing changed by hand any more
    with ops.sessions.begin() as s:
        ex.record_grades(s, ex.submission(s, sid), cells(2.0), actor="grading-run", now=NOW)
    again = row(ops, sid)
    assert (again["origin"], again["auto_score"], again["score"]) == ("grader", None, 3.0)


async def test_a_failed_submission_has_nothing_to_adjust(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm2")
    with ops.sessions.begin() as s:
        ex.record_failure(s, ex.submission(s, sid), "the kernel died", now=NOW)
    with serving(ops) as port:
        status, out = await call(
            port, "kim", "PUT", f"grades/{sid}/{AID}/{TEST}", {"points": 1, "version": 1,
            "reason": "r"},
        )  # fmt: skip
        assert status == 400 and "no grading to amend" in out["message"]
        status, out = await call(port, "kim", "GET", f"grades/{sid + 1000}")
        assert status == 404
