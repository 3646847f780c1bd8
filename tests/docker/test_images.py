"""The project's images, built on a real engine from a local Debian base (no registry): what each
one must hold, checked by running it; what the images trainees use must not hold (instructor
material: assessment sources, solutions, hidden tests, rubrics), looked for as a trainee and as
root, and the build step that refuses it; the JupyterLab trainees get (no formgrader or
create-assignment, no news prompt, Korean by default and their own choice after that)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sadari.hub.service import load_curriculum_file
from tests.support.hub import ROOT

pytestmark = pytest.mark.docker

CURRICULUM = load_curriculum_file(ROOT / "labs" / "curriculum.yaml")
TRACKS = [t.id for t in CURRICULUM.tracks]
# the images trainees use: their servers, and the grading kernel that runs their code
LAB_UI = ["singleuser", *(f"lab-{t}" for t in TRACKS)]
TRAINEE_FACING = [*LAB_UI, "grader"]
# the assessment sources of every track and stage (labs/<track>/<stage>/assessments/...)
SOURCES = sorted(
    nb
    for t in CURRICULUM.tracks
    for plan in t.stages.values()
    for a in plan.assessments
    for nb in a.notebooks
)
RUBRICS = sorted(p.relative_to(ROOT / "labs").as_posix() for p in ROOT.glob("labs/*/*/rubric.yaml"))
CHECK = "/usr/local/lib/sadari/instructor_material.py"
# a library each track's labs import that the others' images need not have
TRACK_LIBRARIES = {
    "data-analysis": ["pandas", "sklearn", "matplotlib"],
    "product-manager": ["pandas", "scipy.stats", "matplotlib"],
    "azure-ai": ["onnxruntime", "skl2onnx", "azure.ai.textanalytics", "sklearn"],
    "vision-ai": ["cv2", "skimage", "onnxruntime", "sklearn"],
}


def run(image: str, *cmd: str, user: str | None = None) -> str:
    r = run_status(image, *cmd, user=user)
    assert r.returncode == 0, f"{cmd}: {r.stderr[-2000:]}"
    return r.stdout


def run_status(
    image: str, *cmd: str, user: str | None = None, mounts: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    args = ["docker", "run", "--rm", "--network", "none"]
    if user:
        args += ["--user", user]
    for mount in mounts:
        args += ["-v", mount]
    return subprocess.run([*args, image, *cmd], capture_output=True, text=True, timeout=300)


def server_extensions(image: str) -> dict[str, str]:
    """nbgrader's server extensions in the image: name -> enabled | disabled."""
    listing = run(image, "sh", "-c", "jupyter server extension list 2>&1")
    states = {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", listing).splitlines():
        words = line.split()
        if (
            len(words) == 2
            and words[0].startswith("nbgrader.server_extensions.")
            and words[1] in ("enabled", "disabled")
        ):
            states[words[0].rsplit(".", 1)[1]] = words[1]
    return states


def test_singleuser_image(images: dict[str, str]) -> None:
    image = images["singleuser"]
    assert run(image, "id", "-u").strip() == "1000"
    assert run(image, "jupyterhub-singleuser", "--version").strip() == "6.1.1"
    # nbgrader talks to the sadari exchange; trainees get the assignment list, not formgrader
    config = run(image, "cat", "/etc/jupyter/nbgrader_config.py")
    assert "sadari.graders.exchange" in config and "SadariExchangeSubmit" in config
    states = server_extensions(image)
    assert states["assignment_list"] == "enabled", states
    assert states["formgrader"] == "disabled", states
    # the Korean language pack, JupyterLab's default language here
    langs = run(
        image,
        "python",
        "-c",
        "from jupyterlab_server.translation_utils import get_language_packs as g;"
        "print(sorted(g()[0]))",
    )
    assert "ko_KR" in langs
    assert '"locale": "ko_KR"' in run(
        image, "cat", "/opt/sadari/share/jupyter/lab/settings/overrides.json"
    )
    # tini is the entrypoint (signals reach the server, zombies are reaped)
    entry = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .Config.Entrypoint}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tini" in entry
    # without jsonschema's IRI-format checker, whose grammar cost each server start ~1 s of CPU
    gone = "import importlib.util as u; print(u.find_spec('rfc3987_syntax') is None)"
    assert run(image, "python", "-c", gone).strip() == "True"


@pytest.mark.parametrize("track", sorted(TRACK_LIBRARIES))
def test_track_image(images: dict[str, str], track: str) -> None:
    image = images[f"lab-{track}"]
    assert image == CURRICULUM.track(track).image  # the name the curriculum gives the track
    assert run(image, "id", "-u").strip() == "1000"
    imports = "; ".join(f"import {m}" for m in TRACK_LIBRARIES[track])
    run(image, "python", "-c", imports)
    # the track's practice labs (and only those) are in the image, where provisioning reads
    # them: no other track's, no assessment source, no rubric, not the curriculum
    listed = run(image, "ls", "/srv/sadari/labs").split()
    assert set(listed) == {track}
    t = CURRICULUM.track(track)
    wanted = [nb for plan in t.stages.values() for nb in plan.notebooks]
    present = run(image, "sh", "-c", "cd /srv/sadari/labs && find . -type f")
    assert set(present.split()) == {f"./{nb}" for nb in wanted}
    # the same pins as the local default (labs/requirements/<track>.txt)
    pins = {}
    for line in (ROOT / "labs" / "requirements" / "common.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    shown = run(image, "pip", "list", "--format=freeze")
    for name, version in pins.items():
        assert f"{name}=={version}".lower() in shown.lower(), (name, version)


def test_track_image_provisions_a_stage(images: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The provisioning step the docker and Kubernetes spawners run, run in the image itself."""
    plan = CURRICULUM.track("vision-ai").stages["basics"]
    pairs = [f"{nb}=1-basics/{nb.rsplit('/', 1)[1]}" for nb in plan.notebooks]
    out = run(
        images["lab-vision-ai"],
        "python",
        "-m",
        "sadari.hub.workspace",
        "--labs",
        "/srv/sadari/labs",
        "--home",
        "/home/jovyan",
        *pairs,
        "--then",
        "ls",
        "/home/jovyan/1-basics",
    )
    assert set(out.split()) >= {nb.rsplit("/", 1)[1] for nb in plan.notebooks}


def test_hub_image(images: dict[str, str]) -> None:
    image = images["hub"]
    assert run(image, "id", "-u").strip() == "1000"
    assert run(image, "jupyterhub", "--version").strip() == "6.1.1"
    run(
        image,
        "python",
        "-c",
        "from sadari.hub.spawner import SadariKubeSpawner; "
        "from sadari.hub.dockerspawner import SadariDockerSpawner; "
        "import psycopg, oauthenticator, nativeauthenticator, kubespawner",
    )
    # the curriculum in the image is the repository's, and it checks out against its files
    out = run(image, "sh", "-c", "cd /tmp && SADARI_DATA_DIR=/tmp/d sadari curriculum check")
    assert "OK" in out


def test_hub_image_holds_the_assessment_sources(images: dict[str, str]) -> None:
    """The service and the grading workers run from the hub image: it keeps every source."""
    out = run(
        images["hub"], "sh", "-c", "cd /srv/sadari/labs && find . -type f -path '*/assessments/*'"
    )
    assert set(out.split()) == {f"./{nb}" for nb in SOURCES}
    assert set(
        run(images["hub"], "sh", "-c", "cd /srv/sadari/labs && ls */*/rubric.yaml").split()
    ) == set(RUBRICS)
    # the very files of the repository, solutions and hidden tests included
    source = SOURCES[0]
    assert run(images["hub"], "cat", f"/srv/sadari/labs/{source}") == (
        ROOT / "labs" / source
    ).read_text(encoding="utf-8")


# Looks for instructor material in a running container, on its own (not with the image's check):
# nbgrader's delimiters or solution cells in any notebook, and in any file of the folders labs,
# workspaces and Jupyter settings live in; assessment folders there; files named as an assessment
# source or a rubric anywhere. Also counts the files it could not read, and the notebooks it read.
SCAN = r"""
import json, os, re, sys
names = set(json.loads(sys.argv[1]))
labs = ("/srv/", "/home/", "/root/", "/tmp/", "/etc/jupyter/", "/opt/sadari/etc/jupyter/",
        "/opt/sadari/share/jupyter/lab/settings/", "/usr/local/etc/jupyter/")
mark = re.compile(rb'(?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS|MARK SCHEME)|"solution": *true')
found, unreadable, notebooks = [], [], 0
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    in_labs = (top + "/").startswith(labs)
    if in_labs and os.path.basename(top) == "assessments":
        found.append(top + "/")
    for f in files:
        path = os.path.join(top, f)
        if f in names or (in_labs and f.startswith("rubric.")):
            found.append(path)
        if os.path.islink(path) or not (in_labs or f.endswith(".ipynb")):
            continue
        try:
            with open(path, "rb") as fh:
                data = fh.read(64 << 20)
        except OSError:
            unreadable.append(path)
            continue
        notebooks += f.endswith(".ipynb")
        if mark.search(data):
            found.append(path)
print(json.dumps({"found": sorted(set(found)), "unreadable": unreadable, "notebooks": notebooks}))
"""


@pytest.mark.parametrize("user", ["1000:1000", "0:0"], ids=["trainee", "root"])
@pytest.mark.parametrize("target", TRAINEE_FACING)
def test_trainee_facing_images_hold_no_instructor_material(
    images: dict[str, str], target: str, user: str
) -> None:
    names = [nb.rsplit("/", 1)[1] for nb in SOURCES]
    out = json.loads(run(images[target], "python3", "-c", SCAN, json.dumps(names), user=user))
    assert out["found"] == [], out["found"]
    if user == "0:0":
        assert out["unreadable"] == []
    if target.startswith("lab-"):  # it did read the practice labs there
        t = CURRICULUM.track(target.removeprefix("lab-"))
        assert out["notebooks"] >= sum(len(p.notebooks) for p in t.stages.values())
    # and the image's own check (its last build step) passes on it as built
    assert "no instructor material" in run(images[target], "python3", "-I", CHECK, "/", user=user)


def test_the_image_check_names_an_assessment_source(images: dict[str, str]) -> None:
    """What the last build step of a trainee-facing image does when a source is in it."""
    source, rubric = SOURCES[0], RUBRICS[0]
    r = run_status(
        images["singleuser"],
        "python3",
        "-I",
        CHECK,
        "/",
        user="0:0",
        mounts=(
            f"{ROOT / 'labs' / source}:/srv/sadari/labs/{source}:ro",
            f"{ROOT / 'labs' / source}:/srv/sadari/labs/renamed.ipynb:ro",
            f"{ROOT / 'labs' / rubric}:/srv/sadari/labs/{rubric}:ro",
        ),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    for path in (source, "renamed.ipynb", rubric):
        assert f"/srv/sadari/labs/{path}:" in r.stderr, r.stderr
    assert "nbgrader solution cell" in r.stderr


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "sadari_images_build", ROOT / "images" / "build.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_track_image_holding_an_assessment_does_not_build(
    images: dict[str, str], tmp_path: Path
) -> None:
    """A context that got past images/build.py's own check (staged here by hand, with an
    assessment source among the labs) fails at the image's last build step."""
    build = _build_module()
    target, track = "lab-product-manager", "product-manager"
    context = tmp_path / "context"
    build.stage_files(target, context)
    source = next(nb for nb in SOURCES if nb.startswith(f"{track}/"))
    (context / "labs" / source).parent.mkdir(parents=True)
    shutil.copy(ROOT / "labs" / source, context / "labs" / source)
    assert build.check_context(target, context)  # what build.py would have refused
    wheelhouse = Path(
        os.environ.get("SADARI_WHEELHOUSE", Path.home() / ".cache" / "sadari" / "wheelhouse")
    )
    build.stage_project(context)  # sadari's wheel and the wheelhouse, as build.py stages them
    build.stage_wheels(context, wheelhouse)
    tag = f"sadari-test/leak:{uuid.uuid4().hex[:8]}"
    flags = [
        a
        for k, v in build.build_args(target, "sadari/base:bookworm").items()
        for a in ("--build-arg", f"{k}={v}")
    ]
    r = subprocess.run(
        ["docker", "build", "--force-rm", *flags, "--tag", tag, str(context)],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    built = subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0
    if built:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
    assert r.returncode != 0 and not built, r.stdout[-3000:]
    out = r.stdout + r.stderr
    assert "instructor material" in out and f"/srv/sadari/labs/{source}:" in out, out[-3000:]


# Starts nothing: asks a running JupyterLab (token `sadari-test` on 127.0.0.1:8888) what it gives
# a trainee, then chooses English the way the Settings menu does.
UI_PROBE = r"""
import json, re, time, urllib.error, urllib.request
def call(path, method="GET", body=None):
    req = urllib.request.Request("http://127.0.0.1:8888" + path, method=method, data=body,
        headers={"Authorization": "token sadari-test", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
deadline = time.time() + 90
while True:
    try:
        if call("/api/status")[0] == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        raise SystemExit("the server did not answer")
    time.sleep(0.5)
def settings(plugin):
    status, body = call("/lab/api/settings/" + plugin)
    assert status == 200, (plugin, status, body)
    return json.loads(body)
page = call("/lab")[1]
config = json.loads(re.search(
    r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
).group(1))
language = "@jupyterlab/translation-extension:plugin"
news = settings("@jupyterlab/apputils-extension:notification")["schema"]["properties"]
out = {
    "disabled": config.get("disabledExtensions"),
    "news": config.get("news"),
    "locale": settings(language)["schema"]["properties"]["locale"]["default"],
    "fetchNews": news["fetchNews"]["default"],
    "checkForUpdates": news["checkForUpdates"]["default"],
    "languages": sorted(json.loads(call("/lab/api/translations/")[1])["data"]),
    "formgrader": call("/formgrader")[0],
}
raw = json.dumps({"raw": json.dumps({"locale": "en"})}).encode()
out["choose"] = call("/lab/api/settings/" + language, "PUT", raw)[0]
out["chosen"] = settings(language)["settings"].get("locale")
out["default_after"] = settings(language)["schema"]["properties"]["locale"]["default"]
print(json.dumps(out))
"""


@pytest.fixture(params=LAB_UI)
def lab_server(request: pytest.FixtureRequest, images: dict[str, str]) -> Iterator[str]:
    """A JupyterLab of the image as a trainee runs it (uid 1000, the image's config); its name."""
    name = f"sadari-test-ui-{request.param}-{uuid.uuid4().hex[:6]}"
    server = "jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=8888"
    subprocess.run(
        ["docker", "run", "-d", "--network", "none", "--name", name, images[request.param]]
        + [*server.split(), "--IdentityProvider.token=sadari-test"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_trainees_jupyterlab(lab_server: str) -> None:
    image = subprocess.run(
        ["docker", "inspect", "-f", "{{.Config.Image}}", lab_server],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    r = subprocess.run(
        ["docker", "exec", lab_server, "python3", "-c", UI_PROBE],
        capture_output=True,
        text=True,
        timeout=180,
    )
    logs = subprocess.run(["docker", "logs", lab_server], capture_output=True, text=True).stderr
    assert r.returncode == 0, r.stderr[-2000:] + logs[-2000:]
    ui = json.loads(r.stdout)
    # nbgrader: the assignment list only, no formgrader or create-assignment for trainees
    states = server_extensions(image)
    assert states["assignment_list"] == "enabled", states
    assert states["formgrader"] == "disabled" and states["course_list"] == "disabled", states
    assert ui["formgrader"] == 404
    listing = re.sub(
        r"\x1b\[[0-9;]*m", "", run(image, "sh", "-c", "jupyter labextension list 2>&1")
    )
    disabled = listing.split("Disabled extensions:", 1)[1].split()
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled, listing
        assert f"@jupyter/nbgrader:{plugin}" in ui["disabled"], ui
    # no news prompt, no request for news or updates
    assert "@jupyterlab/apputils-extension:announcements" in ui["disabled"], ui
    assert ui["news"] == {"disabled": True}, ui
    assert ui["fetchNews"] == "false" and ui["checkForUpdates"] is False, ui
    # Korean unless the person chooses otherwise; their choice is theirs (their settings)
    assert "ko_KR" in ui["languages"] and ui["locale"] == "ko_KR", ui
    assert ui["choose"] == 204 and ui["chosen"] == "en" and ui["default_after"] == "ko_KR", ui
