"""The trainees table's pure parts: the query of a request, who sees which cohorts, a hub user
model read as a server state, sorting and paging by the hub's states, the stage history."""

from __future__ import annotations

from datetime import datetime

from sadari.hub.core.trainee_list import (
    ListQuery,
    Move,
    Paging,
    ServerState,
    arrange,
    instructor_group,
    may_see,
    parse_attribute,
    server_state,
    stage_history,
    visible_cohorts,
)

T0 = datetime(2026, 11, 20, 9, 0)


def test_the_query_of_a_request() -> None:
    q = ListQuery.parse(
        {"q": " Kim ", "cohort": "c1", "attr": "campus = 서울", "state": "running",
         "sort": "activity", "order": "desc", "page": "3", "per_page": "100"}
    )  # fmt: skip
    assert (q.search, q.cohort, q.attribute, q.state) == (
        "Kim",
        "c1",
        ("campus", "서울"),
        "running",
    )
    assert (q.sort, q.descending, q.page, q.per_page, q.problems) == ("activity", True, 3, 100, ())
    assert q.needs_hub
    assert q.args(page=None) == {
        "q": "Kim", "cohort": "c1", "attr": "campus=서울", "state": "running",
        "sort": "activity", "order": "desc", "per_page": "100",
    }  # fmt: skip
    assert ListQuery.parse({}).args() == {} and not ListQuery.parse({}).needs_hub
    assert ListQuery.parse({"status": "any"}).status == ""


def test_what_is_not_understood_is_dropped_and_named() -> None:
    q = ListQuery.parse(
        {"q": "x" * 101, "attr": "no-equals", "state": "exploded", "sort": "password",
         "page": "-1", "per_page": "7"}
    )  # fmt: skip
    assert (q.search, q.attribute, q.state, q.sort, q.page, q.per_page) == (
        "", None, "", "username", 1, 50,
    )  # fmt: skip
    assert [p.split(":")[0] for p in q.problems] == [
        "q",
        "attr",
        "state",
        "sort",
        "page",
        "per_page",
    ]
    assert parse_attribute("=x") is None and parse_attribute("a=") == ("a", "")
    assert parse_attribute("url=a=b") == ("url", "a=b")


def test_who_sees_which_cohorts() -> None:
    groups = ["sadari-instructors", instructor_group("c1"), "instructors:", "cohort:c2"]
    assert visible_cohorts("admin", groups) is None
    assert visible_cohorts("instructor", groups) == {"c1"}
    assert visible_cohorts("trainee", [instructor_group("c1")]) == frozenset()
    assert visible_cohorts(None, []) == frozenset()
    assert may_see(None, ["c9"]) and may_see(frozenset({"c1"}), ["c2", "c1"])
    assert not may_see(frozenset({"c1"}), ["c2"]) and not may_see(frozenset(), ["c1"])


def test_a_hub_user_model_as_a_server_state() -> None:
    ready = {"name": "a", "last_activity": "2026-11-20T09:00:00.000000Z",
             "servers": {"": {"ready": True, "pending": None,
                              "last_activity": "2026-11-20T10:00:00+00:00"}}}  # fmt: skip
    assert server_state(ready) == ServerState("ready", datetime(2026, 11, 20, 10, 0))
    spawning = {"name": "b", "servers": {"": {"ready": False, "pending": "spawn"}}}
    assert server_state(spawning) == ServerState("pending", None, "spawn")
    assert server_state({"name": "c", "servers": {"": {"ready": False}}}).state == "pending"
    assert server_state({"name": "d", "servers": {}, "last_activity": None}).state == "stopped"
    assert server_state({"name": "e", "pending": "stop"}).state == "pending"  # no `servers`
    assert server_state({"name": "f", "server": "/user/f/"}).state == "ready"
    assert server_state({"name": "g", "last_activity": "not a time"}).last_activity is None


def rows(*names: str) -> list[dict[str, object]]:
    return [{"id": i, "username": n} for i, n in enumerate(names)]


def test_arranged_by_the_hubs_states_then_paged() -> None:
    states = {
        "a": ServerState("stopped", T0),
        "b": ServerState("ready", T0.replace(hour=12)),
        "c": ServerState("pending", T0.replace(hour=10), "spawn"),
    }
    table = rows("a", "b", "c", "d")  # d: the hub never saw them
    by = lambda **a: [r["username"] for r in arrange(table, ListQuery.parse(a), states)[0]]  # noqa: E731
    assert by(state="running") == ["b", "c"]
    assert by(state="stopped") == ["a", "d"]
    assert by(state="ready") == ["b"]
    assert by(sort="state") == ["b", "c", "a", "d"]
    assert by(sort="state", order="desc") == ["a", "d", "c", "b"]  # ties keep username order
    assert by(sort="activity") == ["a", "c", "b", "d"]  # never active: last either way
    assert by(sort="activity", order="desc") == ["b", "c", "a", "d"]
    many = rows(*(f"u{i:03d}" for i in range(120)))
    page, paging = arrange(many, ListQuery.parse({"page": "3", "per_page": "50"}), {})
    assert [r["username"] for r in page][:2] == ["u100", "u101"] and len(page) == 20
    assert (paging.total, paging.pages, paging.first, paging.last) == (120, 3, 101, 120)


def test_paging() -> None:
    assert Paging.of(0, 5, 50).page == 1 and Paging.of(0, 1, 50).first == 0
    p = Paging.of(10_000, 100, 50)
    assert (p.page, p.pages, p.offset) == (100, 200, 4950)
    assert p.window() == [1, None, 98, 99, 100, 101, 102, None, 200]
    assert Paging.of(120, 1, 50).window() == [1, 2, 3]


def test_stage_history() -> None:
    moves = [
        Move(T0.replace(day=25), "admin", "c1", "advanced", "project", "selection #2"),
        Move(T0.replace(day=22), "admin", "c1", "basics", "advanced", "잘함"),
    ]
    steps = stage_history([("c1", "da", "project", T0)], moves)
    assert [(s.source, s.stage, s.actor) for s in steps] == [
        (None, "basics", None),
        ("basics", "advanced", "admin"),
        ("advanced", "project", "admin"),
    ]
    (only,) = stage_history([("c2", "da", "basics", None)], moves)
    assert (only.stage, only.at) == ("basics", None)
