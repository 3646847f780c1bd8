"""The idle culler's arbiter: the stage's limit from the spawner state wins over the platform's."""

from __future__ import annotations

from datetime import timedelta

from sadari.hub.culler import arbiter, command


def test_platform_limit_without_a_stage_limit() -> None:
    assert arbiter(timedelta(minutes=61), 3600, {"state": {}})
    assert not arbiter(timedelta(minutes=59), 3600, {"state": None})


def test_stage_limit_wins() -> None:
    project = {"state": {"sadari_idle_seconds": 4 * 3600, "pid": 12}}
    assert not arbiter(timedelta(hours=2), 3600, project)
    assert arbiter(timedelta(hours=4), 3600, project)
    quick = {"state": {"sadari_idle_seconds": 600}}
    assert arbiter(timedelta(minutes=11), 3600, quick)


def test_check_interval_is_bounded() -> None:
    assert "--cull-every=5" in command("py", 10)
    assert "--cull-every=300" in command("py", 86400)
