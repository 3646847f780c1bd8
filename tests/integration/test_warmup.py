"""Warm before the bell, against a real hub: with a class starting in a few minutes, the service
starts its cohort's trainees' servers by itself, without anyone logging in."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.hub import ROOT, RunningHub

pytestmark = pytest.mark.hub

COHORT = "2026-seoul-1"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    tmp = tmp_path_factory.mktemp("warmup")
    labs = tmp / "labs"  # the project's labs, with a class in 5 minutes for the Seoul cohort
    shutil.copytree(ROOT / "labs", labs, ignore=shutil.ignore_patterns("__pycache__"))
    soon = (datetime.now(ZoneInfo("Asia/Seoul")) + timedelta(minutes=5)).strftime("%H:%M")
    text = (labs / "curriculum.yaml").read_text(encoding="utf-8")
    seoul = "    starts: 2026-11-16\n    timezone: Asia/Seoul\n"
    assert seoul in text, "the curriculum's Seoul cohort changed"
    days = "[mon, tue, wed, thu, fri, sat, sun]"
    classes = f"    classes: {{days: {days}, start: '{soon}', warm_minutes: 10}}\n"
    (labs / "curriculum.yaml").write_text(text.replace(seoul, seoul + classes), encoding="utf-8")
    (tmp / "data").mkdir()
    running = RunningHub.start(
        tmp / "data",
        f"sqlite:///{tmp / 'sadari.sqlite'}",
        trainees=2,
        SADARI_LABS_DIR=str(labs),
        SADARI_WARM_CHECK_SECONDS="2",
    )
    try:
        yield running
    finally:
        running.stop()


def test_servers_of_the_class_are_started_before_it(hub: RunningHub) -> None:
    trainees = ["trainee001", "trainee002"]  # the demo cohort is the Seoul one
    deadline = time.monotonic() + 120
    ready: set[str] = set()
    while time.monotonic() < deadline and ready != set(trainees):
        for user in trainees:
            model = hub.call(user, "GET", f"/hub/api/users/{user}").json()
            if model.get("servers", {}).get("", {}).get("ready"):
                ready.add(user)
        time.sleep(1)
    assert ready == set(trainees), hub.story()
    assert "warm-up: class of 2026-seoul-1" in hub.log()
    for user in ("instructor", "admin"):  # staff are not in the cohort: not warmed
        assert not hub.call(user, "GET", f"/hub/api/users/{user}").json().get("servers")
    # a trainee who stops the warmed server keeps it stopped for this class
    hub.stop_server("trainee001")
    time.sleep(6)
    model = hub.call("trainee001", "GET", "/hub/api/users/trainee001").json()
    assert not model.get("servers")
