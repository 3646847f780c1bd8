"""Hub membership plans: only managed groups, only known people, idempotent."""

from __future__ import annotations

from sadari.hub.core.membership import desired_groups, is_managed, plan_sync


def apply(plan, users: set[str], groups: dict[str, set[str]]) -> None:  # type: ignore[no-untyped-def]
    users.update(plan.create_users)
    for g in plan.create_groups:
        groups[g] = set()
    for g, us in plan.add.items():
        groups[g].update(us)
    for g, us in plan.remove.items():
        groups[g].difference_update(us)


def test_desired_groups() -> None:
    assert desired_groups("trainee", "c1", "azure-ai", "basics") == {
        "sadari-trainees",
        "cohort:c1",
        "track:azure-ai",
        "stage:basics",
    }
    assert desired_groups("admin", None, None, None) == {"sadari-admins"}


def test_new_people_and_groups_then_nothing_left_to_do() -> None:
    wanted = {
        "t1": desired_groups("trainee", "c1", "azure-ai", "basics"),
        "boss": desired_groups("admin", None, None, None),
    }
    users: set[str] = {"someone-else"}
    groups: dict[str, set[str]] = {"hand-made": {"t1", "someone-else"}}
    plan = plan_sync(wanted, users, groups)
    assert plan.create_users == ["boss", "t1"]
    assert "stage:basics" in plan.create_groups and "hand-made" not in plan.create_groups
    apply(plan, users, groups)
    assert plan_sync(wanted, users, groups).empty
    assert groups["hand-made"] == {"t1", "someone-else"}  # not sadari's: untouched


def test_stage_move_removes_the_old_stage_only_for_known_people() -> None:
    groups = {
        "stage:basics": {"t1", "t2", "stranger"},
        "stage:advanced": set(),
        "track:x": {"t1", "t2"},
        "sadari-trainees": {"t1", "t2"},
    }
    wanted = {
        "t1": {"sadari-trainees", "track:x", "stage:advanced"},
        "t2": {"sadari-trainees", "track:x", "stage:basics"},
    }
    plan = plan_sync(wanted, {"t1", "t2", "stranger"}, groups)
    assert plan.add == {"stage:advanced": ["t1"]}
    assert plan.remove == {"stage:basics": ["t1"]}  # "stranger" is not sadari's to remove


def test_managed_groups() -> None:
    assert is_managed("sadari-admins") and is_managed("track:x") and is_managed("cohort:y")
    assert not is_managed("team-alpha") and not is_managed("admins")
