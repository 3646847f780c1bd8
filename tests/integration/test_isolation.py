"""Trainees are isolated from the platform and from each other on the embedded default.

A real hub, proxy, service and the real local spawner (run as root, as `sadari run` is): every person
gets a unix account of their own, and hostile code in a kernel of a trainee's real notebook server
tries to read the platform's secrets, both databases, the assessments' sources with their hidden
tests, the course folders and another trainee's home. Each must end in permission denied (never
"not found": the test checks from the outside that each one exists).
"""

from __future__ import annotations

import json
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sadari.hub.forkserver import startup_env
from tests.support.hub import ROOT, RunningHub, sadari
from tests.support.kernel import run_code

pytestmark = pytest.mark.hub

COHORT = "2026-seoul-1"
# roster names that a naive mapping ('.' and '_' to '-', as many do) would fold into one account
LOOKALIKES = ("kim.lee", "kim_lee", "kim-lee")

PROBE = """
import json, os
out = {}
for path in json.loads(PATHS):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(16)
        out[path] = "read"
    except PermissionError:
        out[path] = "denied"
    except FileNotFoundError:
        out[path] = "missing"
    except OSError as e:
        out[path] = type(e).__name__
out["uid"] = os.getuid()
out["groups"] = os.getgroups()
out["env"] = sorted(k for k, v in os.environ.items() if v in json.loads(SECRETS))
print(json.dumps(out))
"""


def probe(hub: RunningHub, user: str, paths: list[str], secrets: list[str]) -> dict:
    code = f"PATHS = {json.dumps(json.dumps(paths))}\nSECRETS = {json.dumps(json.dumps(secrets))}"
    return json.loads(run_code(hub, user, code + PROBE).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    if os.geteuid() != 0:
        pytest.skip("per-person unix accounts need root (the CI and `sadari run` run as root)")
    data = tmp_path_factory.mktemp("isolation")
    # non-default grading settings, read back from the running service by the last test
    running = RunningHub.start(
        data,
        f"sqlite:///{data}/sadari.sqlite",
        trainees=8,
        SADARI_GRADER="nbgrader",
        SADARI_GRADING_WORKERS="3",
        SADARI_GRADING_POLL_SECONDS="3600",
    )
    try:
        roster = data / "lookalikes.csv"
        roster.write_text(
            "username,name,cohort,track\n"
            + "".join(
                f"{u},닮은 이름 {i},{COHORT},data-analysis\n" for i, u in enumerate(LOOKALIKES)
            ),
            encoding="utf-8",
        )
        sadari(running.env, "roster", "import", str(roster))
        # what `make run` leaves in the data folder, and a course folder with instructor files
        (data / "automation-token").write_text(running.env["SADARI_AUTOMATION_TOKEN"])
        sadari(running.env, "assessment", "release", "da-basics-check")
        running.wait_ready()  # syncs the new people to the hub
        yield running
    finally:
        running.stop()


def test_hostile_cell_reads_nothing_of_the_platform_or_others(hub: RunningHub) -> None:
    """A trainee, and staff too: an instructor's server gets no more than a trainee's."""
    data = hub.data_dir
    for user in ("trainee001", "trainee005", "instructor"):  # trainee005 is data-analysis too
        hub.start_server(user)
    other_home = hub.homes / hub.account("trainee005")
    (other_home / "1-basics").is_dir() or pytest.fail(f"{other_home} was not provisioned")
    sources = sorted(str(p) for p in (ROOT / "labs").rglob("assessments/*/*.ipynb"))
    courses = data / "courses" / COHORT
    targets = [
        data / "automation-token",
        data / "sadari.sqlite",
        data / "jupyterhub.sqlite",
        data / "jupyterhub_cookie_secret",
        data / "exchange",
        courses,
        *sorted(courses.rglob("*.ipynb"))[:3],
        ROOT / "labs",
        ROOT / "labs" / "curriculum.yaml",
        Path(sources[0]),
        other_home,
        other_home / "1-basics",
        Path(f"/proc/{hub.proc.pid}/environ"),  # the hub's environment holds its secrets
    ]
    for path in targets:
        assert path.exists(), f"{path} should exist for this check to mean anything"
    secrets = [hub.env["SADARI_AUTOMATION_TOKEN"], (data / "jupyterhub_cookie_secret").read_text()]
    for user in ("trainee001", "instructor"):
        seen = probe(hub, user, [str(p) for p in targets], secrets)
        account = pwd.getpwnam(hub.account(user))
        assert seen.pop("uid") == account.pw_uid != 0
        assert seen.pop("groups") == [account.pw_gid]  # no team, no other group
        assert seen.pop("env") == []  # no secret handed down in the environment
        assert seen == {str(p): "denied" for p in targets}, user

    own_labs = str(hub.homes / hub.account("trainee001") / "1-basics")
    assert probe(hub, "trainee001", [own_labs], [])[own_labs] == "read"
    for user in ("trainee001", "trainee005", "instructor"):
        hub.stop_server(user)


def _stat(pid: int) -> tuple[int, int, int]:
    """(parent pid, session id, uid) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[3]), os.stat(f"/proc/{pid}").st_uid


def _forked_servers(uid: int) -> list[int]:
    """The pids of the servers running as `uid` (forked: their command line is the fork
    server's; their kernels are started from scratch and have their own)."""
    found = []
    for e in Path("/proc").iterdir():
        try:
            if (
                e.name.isdigit()
                and e.stat().st_uid == uid
                and b"sadari.hub.forkserver" in (e / "cmdline").read_bytes()
            ):
                found.append(int(e.name))
        except OSError:  # ended meanwhile
            continue
    return found


def _memory(pid: int) -> bytes:
    """The writable memory of a process (its heap and anonymous mappings), read as root."""
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5].startswith("/")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except (OSError, ValueError):  # a guard page, [vvar]
                continue
    return b"".join(chunks)


def test_servers_are_forked_from_a_parent_out_of_their_reach(hub: RunningHub) -> None:
    """hub/forkserver.py: servers forked from one warmed parent (root, holding no secret) each
    run as their own account in a session of their own; a trainee's kernel can read neither the
    parent nor another trainee's server; neither the parent's environment nor its memory, nor
    that of a server forked later, holds a server's hub token."""
    users = ("trainee001", "trainee005")
    for user in users:
        hub.start_server(user)
    uids = [pwd.getpwnam(hub.account(u)).pw_uid for u in users]
    servers = []
    for uid in uids:
        found = _forked_servers(uid)
        assert len(found) == 1, f"uid {uid}: {found}"
        servers.append(found[0])
    parents = set()
    for pid, uid in zip(servers, uids, strict=True):
        parent, session, owner = _stat(pid)
        assert owner == uid and session == pid
        parents.add(parent)
    assert len(parents) == 1, "every server is forked by the same parent"
    zygote = parents.pop()
    assert _stat(zygote)[2] == 0
    raw = Path(f"/proc/{zygote}/environ").read_bytes().decode()
    environ = dict(v.split("=", 1) for v in raw.split("\0") if v)
    assert environ == startup_env(environ), "only what a Python start and its imports read"
    for secret in (hub.env["SADARI_AUTOMATION_TOKEN"], hub.data_dir / "jupyterhub_cookie_secret"):
        value = secret.read_text().strip() if isinstance(secret, Path) else secret
        assert value and value not in raw
    # a server's hub token never passes through the parent, whose memory each later fork copies
    token = run_code(hub, users[0], "import os; print(os.environ['JUPYTERHUB_API_TOKEN'])")
    token = token.strip()
    assert len(token) >= 32, token
    in_parent = token.encode() in _memory(zygote)
    assert not in_parent, "a server's hub token is in the fork server's memory"
    in_later = token.encode() in _memory(servers[1])  # forked after the first
    assert not in_later, "a server's hub token is in the memory of a server forked after it"
    targets = [f"/proc/{zygote}/environ", f"/proc/{zygote}/mem", f"/proc/{servers[1]}/environ"]
    seen = probe(hub, users[0], targets, [])
    assert {t: seen[t] for t in targets} == {t: "denied" for t in targets}
    own = f"/proc/{servers[0]}/environ"  # dumpable again, as after exec: its own kernel may look
    assert probe(hub, users[0], [own], [])[own] == "read"
    for user in users:
        hub.stop_server(user)
    assert [_forked_servers(uid) for uid in uids] == [[], []]


def test_homes_are_private_and_platform_folders_closed(hub: RunningHub) -> None:
    for path in (hub.data_dir, ROOT / "labs"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
        assert path.stat().st_uid == 0
    home = hub.homes / hub.account("trainee001")
    info = home.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == pwd.getpwnam(hub.account("trainee001")).pw_uid
    for lab in (home / "1-basics").iterdir():  # provisioned by the hub, owned by the trainee
        assert lab.stat().st_uid == info.st_uid, lab


def test_lookalike_names_get_different_accounts_and_homes(hub: RunningHub) -> None:
    accounts = set()
    for user in LOOKALIKES:
        hub.start_server(user)
        out = run_code(hub, user, "import os; print(os.getuid(), os.environ['HOME'])")
        uid, home = out.split()
        accounts.add((int(uid), home))
        hub.stop_server(user)
    assert len(accounts) == len(LOOKALIKES)
    assert len({uid for uid, _ in accounts}) == len(LOOKALIKES)
    prefix = hub.env["SADARI_ACCOUNT_PREFIX"]
    expected = {f"{prefix}kim_2elee", f"{prefix}kim_5flee", f"{prefix}kim-lee"}
    assert {Path(home).name for _, home in accounts} == expected


def test_only_team_members_enter_the_team_folder(hub: RunningHub) -> None:
    pair = ("trainee002", "trainee006")  # both product-manager
    for user in pair:
        r = hub.call(
            "admin",
            "POST",
            f"/services/sadari/api/v1/trainees/{user}/stage",
            json={"stage": "project", "reason": "팀 프로젝트 / team project"},
        )
        assert r.status_code == 200, r.text
    r = hub.call(
        "admin", "POST", f"/services/sadari/api/v1/cohorts/{COHORT}/teams", json={"seed": 3}
    )
    assert r.status_code == 201, r.text
    group = f"team-{COHORT}-01"
    assert set(r.json()["hub_sync"]["added"][group]) == set(pair), r.text
    for user in (*pair, "trainee003"):
        hub.start_server(user)
    folder = hub.homes / (hub.env["SADARI_ACCOUNT_PREFIX"][:-1] + "_teams") / group
    written = run_code(
        hub, pair[0], f"open('{group}/plan.md', 'w').write('우리 팀 / our plan'); print('ok')"
    )
    assert written.strip() == "ok"
    read = run_code(hub, pair[1], f"print(open('{group}/plan.md').read())")
    assert read.strip() == "우리 팀 / our plan"
    edited = run_code(hub, pair[1], f"open('{group}/plan.md', 'a').write('!'); print('ok')")
    assert edited.strip() == "ok"  # members edit each other's files
    outsider = probe(hub, "trainee003", [str(folder), str(folder / "plan.md")], [])
    assert outsider[str(folder)] == outsider[str(folder / "plan.md")] == "denied"
    for user in (*pair, "trainee003"):
        hub.stop_server(user)


def test_trainee_server_hides_staff_tools_and_opens_in_korean(hub: RunningHub) -> None:
    user = "trainee007"
    hub.start_server(user)
    base = f"/user/{user}"
    assert hub.call(user, "GET", f"{base}/formgrader").status_code == 404
    page = hub.call(user, "GET", f"{base}/lab").text
    config = json.loads(
        page.split('id="jupyter-config-data" type="application/json">')[1].split("<")[0]
    )
    disabled = config["disabledExtensions"]
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled
    settings = f"{base}/lab/api/settings"
    locale = hub.call(user, "GET", f"{settings}/@jupyterlab/translation-extension:plugin").json()
    assert locale["schema"]["properties"]["locale"]["default"] == "ko_KR"
    news = hub.call(user, "GET", f"{settings}/@jupyterlab/apputils-extension:notification").json()
    assert news["schema"]["properties"]["fetchNews"]["default"] == "false"
    packs = hub.call(user, "GET", f"{base}/lab/api/translations").json()["data"]
    assert "ko_KR" in packs
    hub.stop_server(user)


def test_the_service_runs_with_the_hubs_settings(hub: RunningHub) -> None:
    """Settings given to the hub (here through its environment) reach the service it starts:
    the environment handed to the service derives from the settings' traits."""
    health = requests.get(f"{hub.service}/health", timeout=10).json()
    assert health["grading"] == {"engine": "nbgrader", "workers": 3, "service_grading": True}
