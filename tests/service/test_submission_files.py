"""What a trainee may submit, against a real hub and service with a test curriculum (the project's
labs with `extra_files: ["*.bin"]` on pm-basics-check), through sadari's nbgrader exchange classes:

- a release carrying data files (`data/values.npy`, `data/arrays.npz`) goes back unchanged;
- a file type nobody allowed (`notes.exe`, `x.bin` where it is not declared) is refused, every
  such file named with its reason in the service's `problems` and in the ExchangeError the client
  raises, and nothing is stored;
- a declared extra file (`x.bin` for pm-basics-check) passes;
- JupyterLab's Assignment List, with sadari's manager (hub/singleuser/assignment_list.py), answers
  a refused submission with that message and no traceback.

SQLite only: the rules are the service's, the database only records what passed (the exchange
records on both backends are tests/service/test_exchange_store.py's).
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nbgrader.exchange import ExchangeError

from sadari.hub.singleuser.assignment_list import SadariAssignmentList
from tests.service.test_exchange_client import CONFIG_DIR, exchange_of, release_folder
from tests.support.hub import ROOT, RunningHub

pytestmark = pytest.mark.hub

COHORT = "2026-seoul-1"
EX = "/services/sadari/api/v1/exchange"
DECLARED = '            extra_files: ["*.bin"]\n'


def labs_with_extra_files(dest: Path) -> Path:
    """A copy of labs/ whose pm-basics-check declares `extra_files: ["*.bin"]`."""
    shutil.copytree(ROOT / "labs", dest)
    manifest = dest / "curriculum.yaml"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "pm-basics-check/pm-basics-check.ipynb" in line)
    manifest.write_text("".join(lines[: at + 1] + [DECLARED] + lines[at + 1 :]), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data_dir = tmp_path_factory.mktemp("hub-extra-files")
    labs = labs_with_extra_files(tmp_path_factory.mktemp("labs") / "labs")
    running = RunningHub.start(
        data_dir, f"sqlite:///{data_dir}/sadari.sqlite", trainees=4, SADARI_LABS_DIR=str(labs)
    )
    try:
        yield running
    finally:
        running.stop()


def npy(values: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(values))
    return buf.getvalue()


def npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def release_with_data(hub: RunningHub, tmp_path: Path, aid: str) -> Path:
    """The instructor releases `aid` (a notebook, data/x.csv and two numpy files) over the
    exchange; the course folder."""
    course_root = tmp_path / "course"
    folder = release_folder(course_root, aid)
    (folder / "data" / "values.npy").write_bytes(npy([1.5, 2.5, 3.5]))
    (folder / "data" / "arrays.npz").write_bytes(npz(x=np.arange(4), y=np.eye(2)))
    exchange_of(
        hub,
        "instructor",
        "ReleaseAssignment",
        home=tmp_path / "instructor",
        course_root=course_root,
        assignment_id=aid,
    ).start()
    return course_root


def fetched(hub: RunningHub, tmp_path: Path, who: str, aid: str) -> Path:
    """`who` fetches `aid` into a home of their own; the assignment folder."""
    home = tmp_path / who
    home.mkdir(exist_ok=True)
    exchange_of(hub, who, "FetchAssignment", home=home, assignment_id=aid).start()
    return home / aid


def submit(hub: RunningHub, tmp_path: Path, who: str, aid: str) -> dict[str, Any]:
    step = exchange_of(hub, who, "Submit", home=tmp_path / who, assignment_id=aid)
    step.start()
    return dict(step.submission)


def count(hub: RunningHub, who: str) -> int:
    return len(hub.call(who, "GET", f"{EX}/submissions").json()["submissions"])


def test_released_data_files_go_back_unchanged_and_strangers_are_named(
    hub: RunningHub, tmp_path: Path
) -> None:
    aid = "da-basics-check"  # trainee001's; no extra_files: the default globs
    release_with_data(hub, tmp_path, aid)
    folder = fetched(hub, tmp_path, "trainee001", aid)
    assert np.load(folder / "data" / "values.npy").tolist() == [1.5, 2.5, 3.5]

    sub = submit(hub, tmp_path, "trainee001", aid)
    assert sub["files"] == sorted(
        [f"{aid}.ipynb", "data/arrays.npz", "data/values.npy", "data/x.csv"]
    )
    stored = hub.call("instructor", "GET", f"{EX}/submissions/{sub['id']}/files").content
    with zipfile.ZipFile(io.BytesIO(stored)) as zf:
        assert zf.read("data/values.npy") == (folder / "data" / "values.npy").read_bytes()

    # files nobody allowed: every one named, with the reason and what is allowed; nothing stored
    (folder / "notes.exe").write_bytes(b"MZ")
    (folder / "data" / "x.bin").write_bytes(b"\0")
    (folder / "data" / "other.npy").write_bytes(npy([0]))  # a .npy, but not a released file
    before = count(hub, "trainee001")
    with pytest.raises(ExchangeError) as refused:
        submit(hub, tmp_path, "trainee001", aid)
    message = str(refused.value)
    assert "(HTTP 400)" in message and "Traceback" not in message
    for name in ("notes.exe", "data/x.bin", "data/other.npy"):
        assert f"submission {aid}:{name}: file type not accepted" in message, message
    assert "data/values.npy" in message and "*.csv" in message  # what is allowed
    assert "허용되지 않는 파일 형식" in message
    assert count(hub, "trainee001") == before

    # the same answer over the API: one problem per refused file
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    r = hub.call("trainee001", "POST", f"{EX}/assignments/{aid}/submissions", data=buf.getvalue())
    assert r.status_code == 400, r.text
    body = r.json()
    assert [p.split(": ", 1)[0] for p in body["problems"]] == [
        f"submission {aid}:{name}" for name in ("data/other.npy", "data/x.bin", "notes.exe")
    ]
    assert (
        "Allowed: the files of the release, notebooks (*.ipynb), files matching"
        in (body["message"])
    )


def test_a_declared_extra_file_passes(hub: RunningHub, tmp_path: Path) -> None:
    aid = "pm-basics-check"  # trainee002's; declares extra_files: ["*.bin"] in this curriculum
    release_with_data(hub, tmp_path, aid)
    folder = fetched(hub, tmp_path, "trainee002", aid)
    (folder / "model").mkdir()
    (folder / "model" / "weights.bin").write_bytes(b"\1\2\3")
    (folder / "__pycache__").mkdir()  # nbgrader's clutter: left out by the client
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    sub = submit(hub, tmp_path, "trainee002", aid)
    assert "model/weights.bin" in sub["files"] and "data/arrays.npz" in sub["files"]
    # the declared globs replace the defaults: a .csv of one's own is refused here
    (folder / "mine.csv").write_text("a\n1\n")
    with pytest.raises(ExchangeError, match=rf"submission {aid}:mine.csv: file type not accepted"):
        submit(hub, tmp_path, "trainee002", aid)


def test_the_assignment_list_shows_the_message_not_a_traceback(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sadari's Assignment List manager with the real exchange classes and the real service, as
    the panel's server extension calls it (no JupyterLab runs: the manager's methods are what
    its handlers call; hub/singleuser/assignment_list.py's tests check that it is installed)."""
    aid = "az-basics-check"  # trainee003's
    release_with_data(hub, tmp_path, aid)
    home = tmp_path / "trainee003"
    home.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(CONFIG_DIR))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("SADARI_SERVICE_URL", f"{hub.url}/services/sadari")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.token("trainee003"))
    monkeypatch.setenv("JUPYTERHUB_USER", "trainee003")
    monkeypatch.chdir(home)  # a single-user server runs in its root_dir
    panel = SadariAssignmentList()
    panel.root_dir = str(home)

    assert panel.fetch_assignment(COHORT, aid) == {"success": True}
    (home / aid / "notes.exe").write_bytes(b"MZ")
    answer = panel.submit_assignment(COHORT, aid)
    assert answer["success"] is False
    value = answer["value"]
    assert "Traceback" not in value and "ExchangeError" not in value, value
    assert value.startswith(f"submission {aid} was refused"), value
    assert f"  - submission {aid}:notes.exe: file type not accepted" in value
    assert max(len(line) for line in value.splitlines()) <= 110  # readable in the dialog's <pre>

    (home / aid / "notes.exe").unlink()
    assert panel.submit_assignment(COHORT, aid) == {"success": True}
    missing = panel.fetch_assignment(COHORT, "no-such-check")
    assert missing["success"] is False and "Traceback" not in missing["value"]
    assert "404" in missing["value"]
