"""Against a real JupyterHub + proxy + sadari service + single-user servers (SQLite and PostgreSQL).

The demo cohort has trainee001 (data-analysis), trainee002 (product-manager), trainee003 (azure-ai)
and trainee004 (vision-ai) — and 005..008 in the same order — all in stage 1, plus `instructor` and
`admin`. Tests use different
trainees so that they do not depend on each other's order.
"""

from __future__ import annotations

import json
import time

import pytest

from sadari.hub.service import load_curriculum_file
from tests.support.hub import ROOT, RunningHub

pytestmark = pytest.mark.hub

MARKER = "내가 고친 셀 / my own edit"


def names(listing: dict) -> set[str]:
    return {item["name"] for item in listing["content"]}


def test_login_page_is_marked_demo(hub: RunningHub) -> None:
    import requests

    page = requests.get(f"{hub.url}/hub/login", timeout=10).text
    assert 'id="sadari-demo-banner"' in page and "DEMO" in page


def stage_files(hub: RunningHub, track: str, stage: str) -> set[str]:
    """The practice notebooks the curriculum gives a track's trainees in a stage."""
    curriculum = load_curriculum_file(ROOT / "labs" / "curriculum.yaml")
    return {nb.rsplit("/", 1)[1] for nb in curriculum.track(track).stages[stage].notebooks}


def test_trainee_logs_in_starts_server_and_finds_stage1_labs(hub: RunningHub) -> None:
    s = hub.login("trainee002")  # product-manager
    r = s.get(f"{hub.url}/hub/spawn", timeout=30)  # the hub's own spawn flow
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        r = s.get(f"{hub.url}/user/trainee002/lab", timeout=30)
        if r.status_code == 200 and r.url.endswith("/user/trainee002/lab"):
            break
        time.sleep(0.5)
    assert r.url.endswith("/user/trainee002/lab"), (r.status_code, r.url)
    listing = s.get(f"{hub.url}/user/trainee002/api/contents/1-basics", timeout=30)
    assert listing.status_code == 200, listing.text[:300]
    assert names(listing.json()) == stage_files(hub, "product-manager", "basics")
    root = s.get(f"{hub.url}/user/trainee002/api/contents/", timeout=30).json()
    assert "2-advanced" not in names(root)  # nothing of the next stage yet
    hub.stop_server("trainee002")


def test_stage_move_adds_stage2_labs_and_keeps_edits(hub: RunningHub) -> None:
    user = "trainee001"  # data-analysis
    hub.start_server(user)
    nb_path = "1-basics/01-pandas-first-steps.ipynb"
    notebook = hub.contents(user, nb_path)["content"]
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": MARKER})
    hub.put_notebook(user, nb_path, notebook)
    assert "2-advanced" not in names(hub.contents(user))
    hub.stop_server(user)

    r = hub.call(
        "admin",
        "POST",
        f"/services/sadari/api/v1/trainees/{user}/stage",
        json={"stage": "advanced", "reason": "기초 평가 상위 / top of basics"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and body["trainee"]["stage"] == "advanced"
    assert body["hub_sync"]["added"] == {"stage:advanced": [user]}
    assert body["hub_sync"]["removed"] == {"stage:basics": [user]}

    hub.start_server(user)
    assert names(hub.contents(user, "2-advanced")) == stage_files(hub, "data-analysis", "advanced")
    assert "01-groupby-and-joins.ipynb" in names(hub.contents(user, "2-advanced"))
    kept = hub.contents(user, nb_path)["content"]
    assert kept["cells"][-1]["source"] == MARKER  # the trainee's edit survived
    me = hub.call(user, "GET", "/services/sadari/api/v1/me").json()
    assert me["enrollment"]["stage"]["id"] == "advanced"
    assert "2-advanced/01-groupby-and-joins.ipynb" in me["labs"]
    hub.stop_server(user)

    audit = hub.call("admin", "GET", f"/services/sadari/api/v1/audit?target=user:{user}").json()
    assert audit["chain_ok"] is True
    entry = audit["entries"][0]
    assert (entry["actor"], entry["action"]) == ("admin", "trainee.move_stage")
    assert entry["details"] == {"from": "basics", "to": "advanced", "cohort": "2026-seoul-1"}
    assert entry["reason"] == "기초 평가 상위 / top of basics"

    again = hub.call(
        "admin",
        "POST",
        f"/services/sadari/api/v1/trainees/{user}/stage",
        json={"stage": "advanced", "reason": "again"},
    )
    assert again.json()["changed"] is False


INSTRUCTOR_CALLS = [("GET", "/trainees"), ("GET", "/trainees/trainee004")]
ADMIN_CALLS = [
    ("POST", "/trainees/trainee004/stage"),
    ("POST", "/roster"),
    ("POST", "/sync"),
    ("GET", "/audit"),
]


@pytest.mark.parametrize(("method", "path"), INSTRUCTOR_CALLS + ADMIN_CALLS)
def test_trainee_gets_403_on_instructor_and_admin_endpoints(
    hub: RunningHub, method: str, path: str
) -> None:
    r = hub.call(
        "trainee003",
        method,
        f"/services/sadari/api/v1{path}",
        data=json.dumps({"stage": "advanced", "reason": "x"}),
    )
    assert r.status_code == 403
    assert r.json()["status"] == 403 and "permission" in r.json()["message"]


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
def test_instructor_cannot_act_as_admin(hub: RunningHub, method: str, path: str) -> None:
    r = hub.call(
        "instructor",
        method,
        f"/services/sadari/api/v1{path}",
        data=json.dumps({"stage": "advanced", "reason": "x"}),
    )
    assert r.status_code == 403, r.text
    assert r.json() == {"status": 403, "message": r.json()["message"]}
    me = hub.call("trainee004", "GET", "/services/sadari/api/v1/me").json()
    assert me["enrollment"]["stage"]["id"] == "basics"


def test_instructor_reads_trainees_and_trainee_reads_only_self(hub: RunningHub) -> None:
    r = hub.call("instructor", "GET", "/services/sadari/api/v1/trainees?track=vision-ai")
    assert r.status_code == 200
    assert [t["username"] for t in r.json()["trainees"]] == ["trainee004", "trainee008"]
    own = hub.call("trainee003", "GET", "/services/sadari/api/v1/trainees/trainee003")
    assert own.status_code == 200 and own.json()["enrollment"]["track"]["id"] == "azure-ai"


def test_api_errors_are_json(hub: RunningHub) -> None:
    import requests

    anon = requests.get(f"{hub.service}/me", timeout=10)
    assert anon.status_code == 401 and anon.json()["status"] == 401
    missing = hub.call("admin", "GET", "/services/sadari/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    bad = hub.call(
        "admin", "POST", "/services/sadari/api/v1/trainees/trainee004/stage", data="not json"
    )
    assert bad.status_code == 400 and "JSON" in bad.json()["message"]
    no_reason = hub.call(
        "admin",
        "POST",
        "/services/sadari/api/v1/trainees/trainee004/stage",
        json={"stage": "advanced"},
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["message"]
    health = requests.get(f"{hub.service}/health", timeout=10).json()
    assert health["status"] == "ok" and health["schema"]["current"] == health["schema"]["head"]


def test_roster_import_api_cp949_creates_hub_users(hub: RunningHub) -> None:
    csv_text = (
        "아이디,이름,이메일,기수,트랙,단계\n"
        "kimjiwoo,김지우,jiwoo@example.kr,2026-seoul-1,vision-ai,basics\n"
        "parkseoyeon,박서연,,2026-seoul-1,azure-ai,\n"
    )
    data = csv_text.encode("cp949")
    r = hub.call("admin", "POST", "/services/sadari/api/v1/roster?filename=명단.csv", data=data)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["created"]) == ["kimjiwoo", "parkseoyeon"]
    assert r.json()["hub_sync"]["created_users"] == ["kimjiwoo", "parkseoyeon"]
    me = hub.call("kimjiwoo", "GET", "/services/sadari/api/v1/me").json()  # logs in: hub user
    assert me["name"] == "김지우" and me["enrollment"]["track"]["id"] == "vision-ai"

    entries_before = len(
        hub.call("admin", "GET", "/services/sadari/api/v1/audit").json()["entries"]
    )
    again = hub.call("admin", "POST", "/services/sadari/api/v1/roster?filename=명단.csv", data=data)
    assert again.json()["created"] == [] and again.json()["updated"] == []
    entries_after = len(hub.call("admin", "GET", "/services/sadari/api/v1/audit").json()["entries"])
    assert entries_after == entries_before  # re-import wrote nothing, not even an audit entry

    bad = (
        "username,name,cohort,track\n"
        "leeminjun,이민준,2026-seoul-1,data-analysis\n"
        "choi,,2026-seoul-1,data-analysis\n"
    ).encode("utf-8-sig")
    r = hub.call("admin", "POST", "/services/sadari/api/v1/roster", data=bad)
    assert r.status_code == 400
    assert r.json()["problems"] == ["roster.csv:3: name: missing / 비어 있습니다"]
    who = hub.call("instructor", "GET", "/services/sadari/api/v1/trainees").json()["trainees"]
    assert "leeminjun" not in {t["username"] for t in who}  # all or nothing


def test_a_page_per_role(hub: RunningHub) -> None:
    trainee = hub.login("trainee004")
    page = trainee.get(f"{hub.url}/services/sadari/", timeout=30)
    assert page.status_code == 200 and page.url.endswith("/services/sadari/trainee")
    assert 'id="track" data-id="vision-ai"' in page.text and 'data-id="basics"' in page.text
    assert "1-basics/01-images-as-arrays.ipynb" in page.text
    assert trainee.get(f"{hub.url}/services/sadari/admin", timeout=30).status_code == 403
    assert trainee.get(f"{hub.url}/services/sadari/instructor", timeout=30).status_code == 403

    instructor = hub.login("instructor")
    page = instructor.get(f"{hub.url}/services/sadari/", timeout=30)
    assert page.url.endswith("/services/sadari/instructor") and 'id="counts"' in page.text
    assert instructor.get(f"{hub.url}/services/sadari/admin", timeout=30).status_code == 403

    admin = hub.login("admin")
    page = admin.get(f"{hub.url}/services/sadari/", timeout=30)
    assert page.url.endswith("/services/sadari/admin") and 'id="audit"' in page.text
    assert 'data-chain="verified"' in page.text  # the chain check, whatever the language
