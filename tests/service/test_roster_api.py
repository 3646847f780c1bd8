"""The roster API against a running service (a real hub, proxy and sadari service, SQLite and
PostgreSQL): the preview writes nothing and says new / updated / unchanged / problem; the confirm
step imports all or nothing, audited with its mapping, which is remembered; every problem of a
bad file (several bad rows and an undecodable line) is named with its line and column; admins
only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.hub import RunningHub

pytestmark = pytest.mark.hub

API = "/services/sadari/api/v1"
ISSUE = (
    "id,name,email,track,major,campus\r\n"
    "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
    "leeseoyeon,이서연,,vision-ai,N,부산\r\n"
    "parkjiho,박지호,jiho@example.kr,azure-ai,N,서울\r\n"
).encode("cp949")
OPTIONS = (
    "filename=명단.csv&map=id%3Dusername&cohort=2026-seoul-1"
    "&value=major%3AY%3Dmajor&value=major%3AN%3Dnon-major"
)
BAD = (
    "id,name,email,track,major,campus\r\n".encode("cp949")
    + "ok01,정상,,data-analysis,Y,서울\r\n".encode("cp949")
    + ",이름만,,data-analysis,N,서울\r\n".encode("cp949")
    + b"broken1,\xff\xfe,,data-analysis,Y,\xbc\xad\xbf\xef\r\n"
    + "Bad User,김,,vision,Y,부산\r\n".encode("cp949")
    + "noname,,bad-mail,azure-ai,N,\r\n".encode("cp949")
)


def post(hub: RunningHub, path: str, data: bytes, who: str = "admin") -> dict[str, Any]:
    r = hub.call(who, "POST", f"{API}/{path}", data=data)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def trainees(hub: RunningHub) -> set[str]:
    r = hub.call("admin", "GET", f"{API}/trainees")
    return {t["username"] for t in r.json()["trainees"]}


def test_preview_confirm_and_a_second_preview(hub: RunningHub) -> None:
    before = trainees(hub)
    p = post(hub, f"roster/preview?{OPTIONS}", ISSUE)
    assert p["ok"] and p["counts"] == {"new": 3, "updated": 0, "unchanged": 0, "problem": 0}
    assert (p["format"], p["encoding"]) == ("csv", "cp949")
    assert [(c["header"], c["target"], c["how"]) for c in p["columns"]][::5] == [
        ("id", "username", "mapped"),
        ("campus", "attr:campus", "attribute"),
    ]
    assert p["columns"][4]["samples"] == ["Y", "N"]
    assert [c["field"] for c in p["rows"][0]["changes"]][-2:] == ["campus", "enrollment"]
    assert trainees(hub) == before  # the preview wrote nothing

    done = post(hub, f"roster?{OPTIONS}", ISSUE)
    assert done["created"] == ["kimminjun", "leeseoyeon", "parkjiho"]
    assert trainees(hub) == before | {"kimminjun", "leeseoyeon", "parkjiho"}
    me = hub.call("admin", "GET", f"{API}/trainees/leeseoyeon").json()
    assert me["enrollment"]["cohort"]["id"] == "2026-seoul-1"
    (entry,) = hub.call("admin", "GET", f"{API}/audit?limit=1").json()["entries"]
    assert entry["action"] == "roster.import" and entry["actor"] == "admin"
    assert entry["details"]["mapping"]["values"]["major"] == {"y": "major", "n": "non-major"}

    # next time: only the cohort; the remembered mapping reads `id` and the Y/N majors
    again = post(hub, "roster/preview?filename=명단.csv&cohort=2026-seoul-1", ISSUE)
    assert again["counts"] == {"new": 0, "updated": 0, "unchanged": 3, "problem": 0}
    assert again["columns"][0]["how"] == "remembered"
    assert again["remembered"]["columns"] == {"id": "username"}


def test_every_problem_is_named_and_nothing_is_written(hub: RunningHub) -> None:
    before = trainees(hub)
    p = post(hub, f"roster/preview?{OPTIONS.replace('명단', 'bad')}", BAD)
    assert not p["ok"]
    assert [(r["line"], r["status"]) for r in p["rows"]] == [
        (2, "new"),
        (3, "problem"),
        (4, "problem"),
        (5, "problem"),
        (6, "problem"),
    ]
    found = [(x["line"], x["column"], x["value"]) for x in p["problems"]]
    assert found[0] == (3, "id (username)", "")
    assert found[1][0] == 4 and found[1][2].startswith("broken1,")
    assert found[2:] == [
        (5, "id (username)", "Bad User"),
        (5, "track", "vision"),
        (6, "name", ""),
        (6, "email", "bad-mail"),
    ]
    r = hub.call("admin", "POST", f"{API}/roster?{OPTIONS.replace('명단', 'bad')}", data=BAD)
    assert r.status_code == 400, r.text
    problems = r.json()["problems"]
    assert [x.split(":")[1] for x in problems] == ["3", "4", "5", "5", "6", "6"]
    assert problems[1].startswith("bad.csv:4: not UTF-8 or CP949 text: undecodable byte 0xff")
    assert trainees(hub) == before and "ok01" not in trainees(hub)


def test_bad_options_and_who_may(hub: RunningHub) -> None:
    r = hub.call("admin", "POST", f"{API}/roster/preview?map=id&value=major", data=ISSUE)
    assert r.status_code == 400
    assert r.json()["problems"] == [
        "mapping: --map id: write HEADER=FIELD, e.g. id=username",
        "mapping: --value major: write FIELD:RAW=VALUE, e.g. major:Y=major",
    ]
    for who in ("instructor", "trainee001"):
        for path in ("roster/preview", "roster"):
            assert hub.call(who, "POST", f"{API}/{path}?{OPTIONS}", data=ISSUE).status_code == 403
