"""Trainees as containers on a real Docker engine (SadariDockerSpawner, hub/core/containers.py).

Ten trainees of the four tracks start at once; each container runs their track's image with the
track's limits and finds the stage's labs in their own volume; from inside a container nothing but
the hub's API and the sadari service can be reached: not another trainee's server, not the
database or any other port of the host, not the outside world; and no assessment source (solutions,
hidden tests) or rubric of any track or stage is there to read.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
import requests

from sadari.hub.core.containers import HOME, IMAGE_LABS_DIR, gateway
from sadari.hub.service import load_curriculum_file
from tests.docker.conftest import NETWORK, SUBNET, TRAINEES
from tests.support.hub import ROOT, RunningHub, sadari

pytestmark = [pytest.mark.docker, pytest.mark.hub]

COHORT = "2026-seoul-1"
USERS = [f"trainee{i:03d}" for i in range(1, TRAINEES + 1)]
CURRICULUM = load_curriculum_file(ROOT / "labs" / "curriculum.yaml")


def track_of(hub: RunningHub, user: str) -> str:
    auth = {"Authorization": f"token {hub.env['SADARI_AUTOMATION_TOKEN']}"}
    r = requests.get(f"{hub.service}/trainees/{user}", headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    track: str = r.json()["enrollment"]["track"]["id"]
    return track


def inspect(user: str) -> dict:
    out = subprocess.run(
        ["docker", "inspect", f"{NETWORK}-{user}"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)[0]


def in_container(user: str, code: str, *args: str) -> str:
    """Run Python in the trainee's container, as the trainee (the container's own user)."""
    r = subprocess.run(
        ["docker", "exec", f"{NETWORK}-{user}", "python", "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


PROBE = """
import json, socket, sys
out = {}
for name, host, port in json.loads(sys.argv[1]):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        out[name] = "open"
    except OSError as e:
        out[name] = type(e).__name__
    finally:
        s.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def started(docker_hub: RunningHub) -> Iterator[dict[str, float]]:
    """All ten servers, started at the same time; user -> seconds to ready."""
    times: dict[str, float] = {}
    errors: list[BaseException] = []

    def start(user: str) -> None:
        try:
            times[user] = docker_hub.start_server(user, timeout=240)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    for user in USERS:
        docker_hub.token(user)  # log in first: the starts below then race only each other
    threads = [threading.Thread(target=start, args=(u,)) for u in USERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"{len(errors)} of {len(USERS)} failed; the first: {errors[0]}"
    yield times


def test_ten_trainees_start_at_once_each_with_their_track(
    docker_hub: RunningHub, started: dict[str, float]
) -> None:
    assert set(started) == set(USERS)
    tracks = {u: track_of(docker_hub, u) for u in USERS}
    assert len(set(tracks.values())) == 4  # the demo cohort takes the tracks in turn
    for user, track in tracks.items():
        info = inspect(user)
        t = CURRICULUM.track(track)
        plan = t.stages["basics"]
        resources = plan.resources or t.resources
        assert info["Config"]["Image"] == t.image
        assert info["Config"]["User"] == "1000:1000"
        assert info["HostConfig"]["Memory"] == resources.memory_bytes
        # DockerSpawner's cpu_limit: a CFS quota over a 100 ms period
        assert info["HostConfig"]["CpuQuota"] == int(resources.cpu * 100_000)
        assert list(info["NetworkSettings"]["Networks"]) == [NETWORK]
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert mounts["/home/jovyan"]["Type"] == "volume"
        assert mounts["/home/jovyan"]["Name"] == f"{NETWORK}-home-{user}"
        listing = docker_hub.contents(user, "1-basics")
        got = {item["name"] for item in listing["content"]}
        assert got == {nb.rsplit("/", 1)[1] for nb in plan.notebooks}, (user, track)
        root = {item["name"] for item in docker_hub.contents(user)["content"]}
        assert "2-advanced" not in root


def test_a_trainees_edits_survive_a_restart(docker_hub: RunningHub, started: dict) -> None:
    user = USERS[0]
    name = sorted(i["name"] for i in docker_hub.contents(user, "1-basics")["content"])[0]
    nb = docker_hub.contents(user, f"1-basics/{name}")["content"]
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "내 메모 / my note"})
    docker_hub.put_notebook(user, f"1-basics/{name}", nb)
    docker_hub.stop_server(user)
    docker_hub.start_server(user, timeout=120)
    again = docker_hub.contents(user, f"1-basics/{name}")["content"]
    assert again["cells"][0]["source"] == "내 메모 / my note"


def test_a_container_reaches_the_hub_and_the_service_only(
    docker_hub: RunningHub, started: dict
) -> None:
    a, b = USERS[1], USERS[2]
    host = gateway(SUBNET)
    b_ip = inspect(b)["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    # a server of the host listening on every interface: what a database or any other service
    # of the host looks like from a container
    other = socket.socket()
    other.bind(("0.0.0.0", 0))
    other.listen(8)
    targets = [
        ["hub API", host, int(docker_hub.env["SADARI_HUB_PORT"])],
        ["sadari service", host, int(docker_hub.env["SADARI_SERVICE_PORT"])],
        ["trainee B's server", b_ip, 8888],
        ["host port on all interfaces", host, other.getsockname()[1]],
        ["PostgreSQL port of the host", host, 5432],
        ["proxy", host, int(docker_hub.url.rsplit(":", 1)[1])],
        ["outside world", "1.1.1.1", 80],
    ]
    try:
        result = json.loads(in_container(a, PROBE, json.dumps(targets)))
    finally:
        other.close()
    assert result["hub API"] == "open" and result["sadari service"] == "open"
    for name in targets[2:]:
        assert result[name[0]] != "open", (name, result)
    # the database file of the hub side is not in the container either
    code = "import os, sys; print(os.path.exists(sys.argv[1]))"
    assert in_container(a, code, str(docker_hub.data_dir)).strip() == "False"


# Run as the trainee in their container: the assessment sources (labs/<path> of every track and
# stage) are nowhere to be read: not at their place under the image's labs, not anywhere else
# under a name of theirs (outside the home, where nbgrader puts a fetched student version), no
# `assessments/` folder, no rubric, no notebook anywhere holding nbgrader's solution or hidden-test
# delimiters. Also lists the practice labs it did find, so an empty result means something.
NO_SOURCES = r"""
import json, os, re, sys
labs, home, sources = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
names = {s.rsplit("/", 1)[1] for s in sources}
mark = re.compile(rb"(?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS|MARK SCHEME)")
found, practice = [], []
for rel in sources:
    path = os.path.join(labs, rel)
    if os.path.lexists(path) or os.access(path, os.R_OK):
        found.append(path)
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    if os.path.basename(top) == "assessments":
        found.append(top + "/")
    for f in files:
        path = os.path.join(top, f)
        if f.startswith("rubric.") or (f in names and not path.startswith(home + "/")):
            found.append(path)
        if f.endswith(".ipynb") and not os.path.islink(path):
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if mark.search(data):
                found.append(path)
            elif path.startswith(labs + "/"):
                practice.append(os.path.relpath(path, labs))
print(json.dumps({"found": sorted(set(found)), "practice": sorted(practice)}))
"""


def test_no_assessment_source_can_be_read_in_a_trainee_container(
    docker_hub: RunningHub, started: dict
) -> None:
    sources = sorted(
        nb
        for t in CURRICULUM.tracks
        for plan in t.stages.values()
        for a in plan.assessments
        for nb in a.notebooks
    )
    assert sources
    tracks = {u: track_of(docker_hub, u) for u in USERS}
    one_per_track = {track: user for user, track in sorted(tracks.items(), reverse=True)}
    assert len(one_per_track) == 4
    for track, user in one_per_track.items():
        out = json.loads(in_container(user, NO_SOURCES, IMAGE_LABS_DIR, HOME, json.dumps(sources)))
        assert out["found"] == [], (user, track, out["found"])
        t = CURRICULUM.track(track)
        practice = {nb for plan in t.stages.values() for nb in plan.notebooks}
        assert set(out["practice"]) == practice, (user, track)


def test_a_trainees_jupyterlab_in_a_container(docker_hub: RunningHub, started: dict) -> None:
    """The JupyterLab page a trainee's container serves through the hub (jupyterhub-singleuser):
    no nbgrader formgrader or create-assignment, no news prompt, Korean by default."""
    user = USERS[5]
    r = docker_hub.call(user, "GET", f"/user/{user}/lab")
    assert r.status_code == 200, r.status_code
    found = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', r.text, re.S
    )
    assert found, r.text[:500]
    config = json.loads(found.group(1))
    for plugin in (
        "@jupyter/nbgrader:formgrader",
        "@jupyter/nbgrader:create-assignment",
        "@jupyterlab/apputils-extension:announcements",
    ):
        assert plugin in config["disabledExtensions"], config["disabledExtensions"]
    assert config["news"] == {"disabled": True}
    assert docker_hub.call(user, "GET", f"/user/{user}/formgrader").status_code == 404
    plugin = "@jupyterlab/translation-extension:plugin"
    r = docker_hub.call(user, "GET", f"/user/{user}/lab/api/settings/{plugin}")
    assert r.status_code == 200, r.text[:300]
    assert r.json()["schema"]["properties"]["locale"]["default"] == "ko_KR"


def test_a_trainee_cannot_use_another_trainees_server(
    docker_hub: RunningHub, started: dict
) -> None:
    a, b = USERS[3], USERS[4]
    r = docker_hub.call(a, "GET", f"/user/{b}/api/contents/", allow_redirects=False)
    assert r.status_code == 403, r.status_code  # B's server refuses A's token
    assert docker_hub.call(b, "GET", f"/user/{b}/api/contents/").status_code == 200


def test_the_exchange_works_from_a_container(docker_hub: RunningHub, started: dict) -> None:
    """nbgrader in a trainee's container lists and fetches their track's released assessment
    through the sadari service (the image's nbgrader config, the server's own token)."""
    user = USERS[4]  # trainee005: data-analysis
    assert track_of(docker_hub, user) == "data-analysis"
    sadari(docker_hub.env, "assessment", "release", "da-basics-check", "--cohort", COHORT)

    def nbgrader(*args: str) -> str:
        out = subprocess.run(
            ["docker", "exec", "-w", "/home/jovyan", f"{NETWORK}-{user}", "nbgrader", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout + out.stderr

    assert "da-basics-check" in nbgrader("list")
    nbgrader("fetch_assignment", "da-basics-check")
    listing = docker_hub.contents(user, "da-basics-check")
    assert any(i["name"].endswith(".ipynb") for i in listing["content"])
