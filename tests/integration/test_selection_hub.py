"""Stage selection on a running hub: apply a decision → the advanced trainee's next start holds the
stage-2 labs; a trainee not advanced keeps their work and gets no stage-2 material; the audit entry
is there; rollback restores the hub groups. Then the project stage's team folder is shared.

The demo cohort has two trainees per track, so this hub runs on a copy of the curriculum whose
basics → advanced policy is top 1 per track without reserved seats (the project's 40 % with three
reserved non-major seats cannot be met by two people, and says so).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import make_engine, session_factory
from tests.support.hub import ROOT, RunningHub

pytestmark = pytest.mark.hub
COHORT = "2026-seoul-1"
AID = "da-basics-check"
WINNER, RUNNER_UP = "trainee001", "trainee005"  # both data-analysis
MARKER = "내 분석 메모 / my own notes"


@dataclass
class Cell:
    score: float | None
    max_score: float
    notebook: str = AID
    cell: str = "all"
    kind: str = "auto"


def small_labs(tmp: Path) -> Path:
    """labs/ with the same material, and a selection policy two trainees per track can meet."""
    labs = tmp / "labs"  # a copy: provisioning refuses material that links outside labs/
    shutil.copytree(ROOT / "labs", labs, ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "labs" / "curriculum.yaml").read_text(encoding="utf-8")
    policy = "      capacity: {top_percent: 40}\n"
    reserved = "      reserved:\n        - {attribute: major, value: non-major, seats: 3}\n"
    assert policy in text and reserved in text, "the curriculum's basics policy changed"
    text = text.replace(policy, "      capacity: {top_n: 1}\n").replace(reserved, "")
    (labs / "curriculum.yaml").write_text(text, encoding="utf-8")
    return labs


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    tmp = tmp_path_factory.mktemp("selection-hub")
    labs = small_labs(tmp)
    (tmp / "data").mkdir()
    running = RunningHub.start(
        tmp / "data", f"sqlite:///{tmp / 'sadari.sqlite'}", trainees=8, SADARI_LABS_DIR=str(labs)
    )
    yield running
    running.stop()


def grade(hub: RunningHub, scores: dict[str, float]) -> None:
    """Graded submissions of the DA basics assessment, written as the grader records them."""
    engine = make_engine(hub.env["SADARI_DB_URL"])
    sessions = session_factory(engine)
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with sessions.begin() as s:
        for username, score in scores.items():
            (a,) = ex.cohort_assessments(s, AID, COHORT)
            sub = ex.record_submission(
                s, repo.member(s, username), a, None, sha256="0" * 64, size=1, files=[], now=now
            )
            ex.record_grades(s, sub, [Cell(score, 10.0)], actor="grader", now=now)
    engine.dispose()


def names(listing: dict[str, object]) -> set[str]:
    return {str(item["name"]) for item in listing["content"]}  # type: ignore[index, union-attr]


def test_apply_moves_the_selected_trainee_and_rollback_restores(hub: RunningHub) -> None:
    # the runner-up has been working in their basics notebook
    hub.start_server(RUNNER_UP)
    path = "1-basics/01-pandas-first-steps.ipynb"
    notebook = hub.contents(RUNNER_UP, path)["content"]
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": MARKER})
    hub.put_notebook(RUNNER_UP, path, notebook)
    hub.stop_server(RUNNER_UP)
    grade(hub, {WINNER: 9.0, RUNNER_UP: 6.0})

    api = "/services/sadari/api/v1/selections"
    r = hub.call("instructor", "POST", api, json={"cohort": COHORT, "stage": "advanced"})
    assert r.status_code in (200, 201), r.text
    sid = r.json()["id"]
    preview = hub.call("instructor", "GET", f"{api}/{sid}").json()
    rows = {row["trainee"]: row for row in preview["rows"]}
    assert rows[WINNER]["selected"] is True and rows[RUNNER_UP]["selected"] is False
    assert rows[RUNNER_UP]["why"] and rows[RUNNER_UP]["gap"] < 0  # explained, with the gap

    forbidden = hub.call("instructor", "POST", f"{api}/{sid}/apply")
    assert forbidden.status_code == 403, forbidden.text  # only admins apply
    assert hub.call("admin", "POST", f"{api}/{sid}/confirm").status_code == 200
    applied = hub.call("admin", "POST", f"{api}/{sid}/apply")
    assert applied.status_code == 200, applied.text
    sync = applied.json()["hub_sync"]
    assert sync["added"] == {"stage:advanced": [WINNER]}
    assert sync["removed"] == {"stage:basics": [WINNER]}
    again = hub.call("admin", "POST", f"{api}/{sid}/apply")  # applying again changes nothing
    assert again.status_code == 200 and again.json()["changed"] is False, again.text

    hub.start_server(WINNER)
    assert "01-groupby-and-joins.ipynb" in names(hub.contents(WINNER, "2-advanced"))
    hub.stop_server(WINNER)
    hub.start_server(RUNNER_UP)
    assert "2-advanced" not in names(hub.contents(RUNNER_UP))
    kept = hub.contents(RUNNER_UP, path)["content"]
    assert kept["cells"][-1]["source"] == MARKER
    hub.stop_server(RUNNER_UP)

    standing = hub.call(RUNNER_UP, "GET", "/services/sadari/api/v1/me/standing")
    assert standing.status_code == 200, standing.text
    assert standing.json()["selected"] is False and standing.json()["gap"] < 0

    audit = hub.call("admin", "GET", "/services/sadari/api/v1/audit").json()
    assert audit["chain_ok"] is True
    (entry,) = [e for e in audit["entries"] if e["action"] == "selection.apply"]
    assert entry["actor"] == "admin" and entry["details"]["inputs_hash"]
    assert entry["details"]["policy"] and WINNER in json.dumps(entry["details"]["decisions"])

    def hub_groups(user: str) -> set[str]:
        """The user's groups as the hub itself has them (the user's own token reads them)."""
        model = hub.call(user, "GET", f"/hub/api/users/{user}").json()
        return {g for g in model["groups"] if g.startswith("stage:")}

    assert hub_groups(WINNER) == {"stage:advanced"}

    back = hub.call("admin", "POST", f"{api}/{sid}/rollback", json={"reason": "재검토 / review"})
    assert back.status_code == 200, back.text
    assert back.json()["hub_sync"]["added"] == {"stage:basics": [WINNER]}
    assert back.json()["hub_sync"]["removed"] == {"stage:advanced": [WINNER]}
    me = hub.call(WINNER, "GET", "/services/sadari/api/v1/me").json()
    assert me["enrollment"]["stage"]["id"] == "basics"
    assert hub_groups(WINNER) == {"stage:basics"}  # the hub's own groups are restored
    assert hub_groups(RUNNER_UP) == {"stage:basics"}


def test_team_members_share_a_folder(hub: RunningHub) -> None:
    pair = ("trainee002", "trainee006")  # both product-manager
    for user in pair:  # as an applied project-stage selection would
        r = hub.call(
            "admin",
            "POST",
            f"/services/sadari/api/v1/trainees/{user}/stage",
            json={"stage": "project", "reason": "팀 프로젝트 선발 / selected for the project"},
        )
        assert r.status_code == 200, r.text
    r = hub.call(
        "admin", "POST", f"/services/sadari/api/v1/cohorts/{COHORT}/teams", json={"seed": 7}
    )
    assert r.status_code == 201, r.text
    group = f"team-{COHORT}-01"
    assert set(r.json()["hub_sync"]["added"][group]) == set(pair), r.text

    for user in pair:
        hub.start_server(user)
    note = {"type": "file", "format": "text", "content": "우리 팀 계획 / our plan"}
    r = hub.call(pair[0], "PUT", f"/user/{pair[0]}/api/contents/{group}/plan.md", json=note)
    assert r.status_code in (200, 201), r.text
    seen = hub.contents(pair[1], f"{group}/plan.md")
    assert seen["content"] == "우리 팀 계획 / our plan"  # the other member sees it
    for user in pair:
        hub.stop_server(user)
    assert all(os.path.islink(hub.homes / hub.account(u) / group) for u in pair)
    assert not (hub.homes / hub.account("trainee001") / group).exists()  # not a member
