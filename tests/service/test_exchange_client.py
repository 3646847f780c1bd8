"""The nbgrader exchange client (sadari.graders.exchange): its pure parts and its offline refusals.

Zips leave out what nbgrader leaves out; extraction refuses members that could escape their
folder and writes nothing then; server timestamps are written in nbgrader's format; submissions
are grouped into nbgrader's list shape; nbgrader_config.py plugs every class into ExchangeFactory;
and the classes refuse bad requests before calling the service. The same flow against the real
service is in the `hub`-marked tests at the end.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.utils import parse_utc
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from sadari.graders import exchange as sx
from sadari.graders.exchange.archive import (
    ArchiveError,
    build_zip,
    check_member,
    safe_extract,
    zip_files,
)
from sadari.graders.exchange.client import MESSAGE_CHARS, WIDTH, ServiceClient
from sadari.graders.exchange.listing import (
    FEEDBACK_MARKER,
    format_timestamp,
    group_submissions,
    notebook_ids,
    parse_server_time,
    readable_timestamp,
    submission_info,
)
from tests.support.hub import BIN, ROOT, RunningHub, free_port, sadari

CONFIG_DIR = ROOT / "graders" / "exchange"


def make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A zip with exactly these member names (no sanitising: that is what is tested)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sorted(zf.namelist())


# --- building zips ----------------------------------------------------------------------------


def test_zip_leaves_out_feedback_checkpoints_caches_hidden_files_and_symlinks(
    tmp_path: Path,
) -> None:
    root = tmp_path / "da-basics-check"
    for rel in [
        "da-basics-check.ipynb",
        "data/x.csv",
        "feedback/2026-11-20 10:00:00.000000 UTC/da-basics-check.html",
        ".ipynb_checkpoints/da-basics-check-checkpoint.ipynb",
        "__pycache__/helper.cpython-311.pyc",
        "helper.py",
        "helper.pyc",
        ".env",
        ".git/config",
        "data/.hidden.csv",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "link.csv").symlink_to(tmp_path / "outside.csv")
    (tmp_path / "outside.csv").write_text("secret")

    data, files = build_zip(root)
    assert files == ["da-basics-check.ipynb", "data/x.csv", "helper.py"]
    assert names(data) == files
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("data/x.csv") == b"data/x.csv"


def test_zip_honours_include_and_size_limits(tmp_path: Path) -> None:
    root = tmp_path / "a"
    root.mkdir()
    (root / "a.ipynb").write_text("nb")
    (root / "big.csv").write_bytes(b"x" * 2000)
    (root / "notes.txt").write_text("n")
    _, files = build_zip(root, include=["*.ipynb", "*.csv"], max_file_size=1000)
    assert files == ["a.ipynb"]
    with pytest.raises(ArchiveError, match="more than the limit"):
        build_zip(root, max_total_size=100)
    with pytest.raises(ArchiveError, match="Not a folder"):
        build_zip(tmp_path / "missing")


def test_zip_files_names_members_as_given(tmp_path: Path) -> None:
    (tmp_path / "x.html").write_text("<p>x</p>")
    assert names(zip_files([(tmp_path / "x.html", "nb.html")])) == ["nb.html"]
    with pytest.raises(ArchiveError):
        zip_files([(tmp_path / "x.html", "../nb.html")])


# --- extracting zips safely -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "../evil.ipynb",
        "data/../../evil.ipynb",
        "/etc/evil",
        "C:/evil",
        "data\\..\\evil",
        "..",
        "./",
    ],
)
def test_extraction_refuses_paths_that_could_escape(tmp_path: Path, bad: str) -> None:
    dest = tmp_path / "dest"
    data = make_zip({"ok.ipynb": b"fine", bad: b"evil"})
    with pytest.raises(ArchiveError, match="Refusing"):
        safe_extract(data, dest)
    assert not dest.exists(), "nothing may be written when any member is refused"
    assert not (tmp_path / "evil.ipynb").exists()


def test_extraction_refuses_symlink_members_and_symlinked_folders(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError, match="symlink"):
        safe_extract(make_zip({}, symlinks={"data": "/etc"}), dest)

    outside = tmp_path / "outside"
    outside.mkdir()
    dest.mkdir()
    (dest / "data").symlink_to(outside)
    with pytest.raises(ArchiveError, match="outside"):
        safe_extract(make_zip({"data/x.csv": b"evil"}), dest)
    assert list(outside.iterdir()) == []


def test_extraction_writes_nested_files_and_can_keep_existing_ones(tmp_path: Path) -> None:
    dest = tmp_path / "a"
    data = make_zip({"a.ipynb": b"released", "data/x.csv": b"1,2", "./b.ipynb": b"B"})
    assert sorted(safe_extract(data, dest)) == ["a.ipynb", "b.ipynb", "data/x.csv"]
    assert (dest / "data" / "x.csv").read_bytes() == b"1,2"

    (dest / "a.ipynb").write_text("my work")
    (dest / "data" / "x.csv").unlink()
    assert safe_extract(data, dest, only_missing=True) == ["data/x.csv"]
    assert (dest / "a.ipynb").read_text() == "my work"
    assert (dest / "data" / "x.csv").read_bytes() == b"1,2"

    assert "a.ipynb" in safe_extract(data, dest)
    assert (dest / "a.ipynb").read_text() == "released"


def test_extraction_refuses_what_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="Not a zip"):
        safe_extract(b"<html>login</html>", tmp_path / "x")
    assert check_member("./data//x.csv") == "data/x.csv"


# --- timestamps -------------------------------------------------------------------------------


def test_server_times_are_written_in_nbgraders_format() -> None:
    for iso in ["2026-11-20T09:30:15.123456+00:00", "2026-11-20T09:30:15.123456Z"]:
        assert format_timestamp(iso) == "2026-11-20 09:30:15.123456 UTC"
    assert format_timestamp("2026-11-20T09:30:15.123456") == "2026-11-20 09:30:15.123456 UTC"
    assert format_timestamp("2026-11-20T18:30:15+09:00") == "2026-11-20 09:30:15.000000 UTC"
    seoul = format_timestamp("2026-11-20T09:30:15+00:00", "Asia/Seoul", "%Y-%m-%d %H:%M:%S %z")
    assert seoul == "2026-11-20 18:30:15 +0900"
    with pytest.raises(ValueError, match="timezone"):
        format_timestamp("2026-11-20T09:30:15+00:00", "Nowhere/Atlantis")


@pytest.mark.parametrize(
    "timezone, fmt, written",
    [
        ("UTC", "%Y-%m-%d %H:%M:%S.%f %Z", "2026-11-20 09:30:15.123456 UTC"),
        ("Asia/Seoul", "%Y-%m-%d %H:%M:%S.%f%z", "2026-11-20 18:30:15.123456+0900"),
        # nbgrader's parse_utc would read these as other instants: written in UTC instead
        ("Asia/Seoul", "%Y-%m-%d %H:%M:%S.%f %Z", "2026-11-20 09:30:15.123456 UTC"),
        ("Asia/Seoul", "%Y-%m-%d %H:%M:%S.%f %z", "2026-11-20 09:30:15.123456 UTC"),
    ],
)
def test_timestamp_txt_reads_back_in_nbgrader_as_the_same_instant(
    timezone: str, fmt: str, written: str
) -> None:
    iso = "2026-11-20T09:30:15.123456+00:00"
    text = readable_timestamp(iso, timezone, fmt)
    assert text == written
    assert parse_utc(text) == parse_server_time(iso).replace(tzinfo=None)


# --- nbgrader's list shapes -------------------------------------------------------------------


def sub(sid: int, aid: str, ts: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "assignment_id": aid,
        "timestamp": ts,
        "sha256": f"sha{sid}",
        "size": 10,
        "files": [f"{aid}.ipynb", "data/x.csv", "data/nested.ipynb"],
        "has_feedback": False,
        "feedback_sha256": None,
        **kw,
    }


def info_of(item: dict[str, Any], home: Path, student: str = "trainee001") -> dict[str, Any]:
    return submission_info(
        item,
        course_id="2026-seoul-1",
        student_id=student,
        assignment_root=home / item["assignment_id"],
        timestamp=format_timestamp(item["timestamp"]),
        path=f"https://example/submissions/{item['id']}",
    )


def test_notebook_ids_are_the_top_level_notebooks() -> None:
    assert notebook_ids(["b.ipynb", "a.ipynb", "data/c.ipynb", "x.csv"]) == ["a", "b"]


def test_submission_without_feedback(tmp_path: Path) -> None:
    info = info_of(sub(1, "da-basics-check", "2026-11-20T09:00:00+00:00"), tmp_path)
    assert info["status"] == "submitted"
    assert info["timestamp"] == "2026-11-20 09:00:00.000000 UTC"
    assert info["has_local_feedback"] is False
    assert info["has_exchange_feedback"] is False
    assert info["feedback_updated"] is False
    assert info["local_feedback_path"] is None
    assert [nb["notebook_id"] for nb in info["notebooks"]] == ["da-basics-check"]
    assert info["notebooks"][0]["path"] == str(tmp_path / "da-basics-check/da-basics-check.ipynb")


def test_submission_feedback_fetched_then_updated_on_the_service(tmp_path: Path) -> None:
    item = sub(
        2,
        "da-basics-check",
        "2026-11-20T09:00:00+00:00",
        has_feedback=True,
        feedback_sha256="f1",
    )
    assert info_of(item, tmp_path)["has_exchange_feedback"] is True

    fb = tmp_path / "da-basics-check" / "feedback" / "2026-11-20 09:00:00.000000 UTC"
    fb.mkdir(parents=True)
    (fb / "da-basics-check.html").write_text("<p>good</p>")
    (fb / FEEDBACK_MARKER).write_text("f1")
    info = info_of(item, tmp_path)
    assert info["has_local_feedback"] is True
    assert info["feedback_updated"] is False
    assert info["local_feedback_path"] == str(fb)
    assert info["notebooks"][0]["local_feedback_path"] == str(fb / "da-basics-check.html")

    info = info_of({**item, "feedback_sha256": "f2"}, tmp_path)
    assert info["feedback_updated"] is True
    assert info["notebooks"][0]["feedback_updated"] is True


def test_submissions_are_grouped_like_nbgraders_default_list(tmp_path: Path) -> None:
    infos = [
        info_of(sub(3, "da-basics-check", "2026-11-21T08:00:00+00:00"), tmp_path),
        info_of(sub(1, "da-basics-check", "2026-11-20T09:00:00+00:00"), tmp_path),
        info_of(sub(2, "pm-basics-check", "2026-11-20T10:00:00+00:00"), tmp_path),
        info_of(sub(4, "da-basics-check", "2026-11-20T23:00:00-02:00"), tmp_path),
    ]
    groups = group_submissions(infos)
    assert [(g["course_id"], g["student_id"], g["assignment_id"]) for g in groups] == [
        ("2026-seoul-1", "trainee001", "da-basics-check"),
        ("2026-seoul-1", "trainee001", "pm-basics-check"),
    ]
    assert set(groups[0]) == {"course_id", "student_id", "assignment_id", "status", "submissions"}
    assert groups[0]["status"] == "submitted"
    assert [s["submission_id"] for s in groups[0]["submissions"]] == [1, 4, 3]
    assert group_submissions([]) == []


# --- configuration ----------------------------------------------------------------------------


def test_nbgrader_config_plugs_every_class_into_the_exchange_factory() -> None:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(CONFIG_DIR)).load_config()
    factory = ExchangeFactory(config=config)
    assert factory.exchange is sx.SadariExchange
    assert factory.list is sx.SadariExchangeList
    assert factory.fetch_assignment is sx.SadariExchangeFetchAssignment
    assert factory.submit is sx.SadariExchangeSubmit
    assert factory.fetch_feedback is sx.SadariExchangeFetchFeedback
    assert factory.release_assignment is sx.SadariExchangeReleaseAssignment
    assert factory.release_feedback is sx.SadariExchangeReleaseFeedback
    assert factory.collect is sx.SadariExchangeCollect


def test_the_cohorts_time_zone_from_the_spawner_reaches_the_assignment_lists_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The spawner sets SADARI_TIMEZONE (core/policy.py); the config makes it nbgrader's
    Exchange.timezone, so the Assignment List and feedback folders show the cohort's time."""
    iso = "2026-11-20T09:30:15.123456+00:00"
    monkeypatch.delenv("SADARI_TIMEZONE", raising=False)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(CONFIG_DIR)).load_config()
    assert sx.SadariExchangeList(config=config).format_time(iso) == (
        "2026-11-20 09:30:15.123456 UTC"
    )
    monkeypatch.setenv("SADARI_TIMEZONE", "Asia/Seoul")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(CONFIG_DIR)).load_config()
    lister = sx.SadariExchangeList(config=config)
    assert lister.format_time(iso) == "2026-11-20 18:30:15.123456 KST"
    # timestamp.txt: nbgrader would read 'KST' as UTC, so it is written in UTC
    assert lister.timestamp_txt(iso) == "2026-11-20 09:30:15.123456 UTC"


def test_service_url_and_token_come_from_the_environment_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SADARI_SERVICE_URL", "http://127.0.0.1:1/services/sadari")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "tok-env")
    ex = sx.SadariExchange()
    assert ex.service_url == "http://127.0.0.1:1/services/sadari"
    assert ex.api_token == "tok-env"
    cfg = Config()
    cfg.SadariExchange.service_url = "http://configured/services/sadari"
    # nbgrader's own section names apply too (the Assignment List sets ExchangeList.cached)
    cfg.ExchangeList.cached = True
    lister = sx.SadariExchangeList(config=cfg)
    assert lister.service_url == "http://configured/services/sadari"
    assert lister.api_token == "tok-env"
    assert lister.cached is True


# --- the service's problems in the message ----------------------------------------------------


def answer(status: int, body: Any) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode()
    r.headers["Content-Type"] = "application/json"
    return r


def test_a_refusal_names_each_file_and_stays_bounded() -> None:
    problems = [
        "submission da-basics-check:notes.exe: file type not accepted (not a file of the release,"
        " not a notebook, matches none of *.py *.csv) / 허용되지 않는 파일 형식",
        "submission da-basics-check:data/x.bin: file type not accepted / 허용되지 않는 파일 형식",
    ]
    body = {
        "status": 400,
        "message": "submission da-basics-check was refused",
        "problems": problems,
    }
    message = ServiceClient.error_message("POST", "/x", answer(400, body))
    lines = message.splitlines()
    assert lines[0] == "submission da-basics-check was refused"
    assert lines[1].startswith("  - submission da-basics-check:notes.exe: file type not accepted")
    assert lines[2].startswith("    ") and "matches none of *.py *.csv" in message
    assert lines[-2].startswith("  - submission da-basics-check:data/x.bin:")
    assert lines[-1] == "(HTTP 400)"
    assert all(len(line) <= WIDTH for line in lines)

    flood = {**body, "problems": [f"up:{i:04}.exe: " + "x" * 5000 for i in range(500)]}
    message = ServiceClient.error_message("POST", "/x", answer(400, flood))
    lines = message.splitlines()
    assert len(message) <= MESSAGE_CHARS and all(len(line) <= WIDTH for line in lines)
    assert "up:0000.exe" in message and "up:0019.exe" in message and "up:0020.exe" not in message
    assert message.endswith("… and 480 more / 외 더 있음\n(HTTP 400)")
    # a message that already quotes its problems (a release's leaks) keeps its own lines
    leaks = {
        "status": 422,
        "message": "refusing to release a:\n  - a.ipynb, cell 3 'x': holds a solution\n거부",
        "problems": ["a.ipynb, cell 3 'x': holds a solution"],
    }
    assert ServiceClient.error_message("POST", "/x", answer(422, leaks)) == (
        "refusing to release a:\n  - a.ipynb, cell 3 'x': holds a solution\n거부 (HTTP 422)"
    )
    # no problems: the one-line message as before
    plain = {"status": 409, "message": "held back / 보류"}
    assert (
        ServiceClient.error_message("POST", "/x", answer(409, plain))
        == "held back / 보류 (HTTP 409)"
    )


# --- refusals before any call -----------------------------------------------------------------


def course(tmp_path: Path, assignment_id: str = "da-basics-check") -> CourseDirectory:
    return CourseDirectory(root=str(tmp_path / "course"), assignment_id=assignment_id)


def offline(cls: type, tmp_path: Path, **kw: Any) -> Any:
    """An exchange object pointed at a port nobody listens on."""
    return cls(
        coursedir=kw.pop("coursedir", None) or course(tmp_path),
        service_url=f"http://127.0.0.1:{free_port()}/services/sadari",
        api_token="not-used",
        assignment_dir=str(tmp_path / "home"),
        **kw,
    )


def test_an_unreachable_service_is_a_clear_exchange_error(tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match="Cannot reach the sadari service"):
        offline(sx.SadariExchangeList, tmp_path).start()


def test_missing_url_or_token_is_a_clear_exchange_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SADARI_SERVICE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(ExchangeError, match="SADARI_SERVICE_URL"):
        sx.SadariExchangeList(coursedir=course(tmp_path)).start()
    with pytest.raises(ExchangeError, match="JUPYTERHUB_API_TOKEN"):
        sx.SadariExchangeList(coursedir=course(tmp_path), service_url="http://x").start()


def test_list_remove_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match="not supported"):
        offline(sx.SadariExchangeList, tmp_path, remove=True).start()


def test_fetch_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "home" / "da-basics-check").mkdir(parents=True)
    with pytest.raises(ExchangeError, match="already have a copy"):
        offline(sx.SadariExchangeFetchAssignment, tmp_path).start()


def test_submit_needs_the_local_folder_and_a_safe_assignment_id(tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match="Assignment not found"):
        offline(sx.SadariExchangeSubmit, tmp_path).start()
    with pytest.raises(ExchangeError, match="Not a valid assignment id"):
        offline(sx.SadariExchangeSubmit, tmp_path, coursedir=course(tmp_path, "..")).start()
    with pytest.raises(ExchangeError, match="No assignment id"):
        offline(sx.SadariExchangeSubmit, tmp_path, coursedir=course(tmp_path, "")).start()


def test_release_says_to_generate_the_assignment_first(tmp_path: Path) -> None:
    (tmp_path / "course" / "source" / "da-basics-check").mkdir(parents=True)
    with pytest.raises(ExchangeError, match="generate_assignment"):
        offline(sx.SadariExchangeReleaseAssignment, tmp_path).start()
    os.rename(tmp_path / "course" / "source", tmp_path / "course" / "elsewhere")
    with pytest.raises(ExchangeError, match="Assignment not found"):
        offline(sx.SadariExchangeReleaseAssignment, tmp_path).start()


# --- against the real service -----------------------------------------------------------------

NOTEBOOK = {
    "cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "id": "c1"}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def release_folder(course_root: Path, aid: str) -> Path:
    """nbgrader's release/<aid>/ with one notebook and a data file."""
    folder = course_root / "release" / aid
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / f"{aid}.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    (folder / "data" / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return folder


def exchange_of(
    hub: RunningHub,
    who: str,
    kind: str,
    *,
    home: Path,
    course_root: Path | None = None,
    assignment_id: str = "",
    course_id: str = "",
    **traits: Any,
) -> Any:
    """An exchange object built as nbgrader's apps and the Assignment List build it: from
    nbgrader_config.py through ExchangeFactory, with `who`'s own hub token."""
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(CONFIG_DIR)).load_config()
    cfg.SadariExchange.service_url = f"{hub.url}/services/sadari"
    cfg.SadariExchange.api_token = hub.token(who)
    cfg.SadariExchangeList.display_user = who  # $JUPYTERHUB_USER in a real server
    cfg.Exchange.assignment_dir = str(home)
    cfg.CourseDirectory.root = str(course_root or home / "course")
    cfg.CourseDirectory.assignment_id = assignment_id
    cfg.CourseDirectory.course_id = course_id
    coursedir = CourseDirectory(config=cfg)
    factory = ExchangeFactory(config=cfg)
    obj = getattr(factory, kind)(
        coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg
    )
    for name, value in traits.items():
        setattr(obj, name, value)
    return obj


@pytest.mark.hub
def test_release_fetch_submit_collect_feedback_round_trip(hub: RunningHub, tmp_path: Path) -> None:
    aid = "da-basics-check"  # trainee001's track (data-analysis), stage 1
    course_root = tmp_path / "course"
    home = tmp_path / "trainee001"
    home.mkdir()
    release_folder(course_root, aid)

    def ex(who: str, kind: str, **kw: Any) -> Any:
        return exchange_of(
            hub,
            who,
            kind,
            home=home if who != "instructor" else tmp_path / "instructor",
            course_root=course_root,
            assignment_id=kw.pop("assignment_id", aid),
            **kw,
        )

    ex("instructor", "ReleaseAssignment").start()
    # the demo cohort's due dates are fixed dates: give this one a deadline a week from now, so
    # the submissions below are on time whatever day the test runs
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat(timespec="seconds")
    sadari(hub.env, "deadline", "set", aid, due, "--cohort", "2026-seoul-1", "--reason", "test")

    # list and fetch
    [info] = [a for a in ex("trainee001", "List").start() if a["assignment_id"] == aid]
    assert info["course_id"] == "2026-seoul-1"
    assert info["status"] == "released"
    assert [nb["notebook_id"] for nb in info["notebooks"]] == [aid]
    ex("trainee001", "FetchAssignment").start()
    folder = home / aid
    assert json.loads((folder / f"{aid}.ipynb").read_text()) == NOTEBOOK
    assert (folder / "data" / "x.csv").read_text() == "a,b\n1,2\n"
    [info] = ex("trainee001", "List").start()
    assert info["status"] == "fetched" and info["path"] == str(folder)
    assert info["notebooks"] == [{"notebook_id": aid, "path": str(folder / f"{aid}.ipynb")}]

    with pytest.raises(ExchangeError, match="already have a copy"):
        ex("trainee001", "FetchAssignment").start()
    (folder / f"{aid}.ipynb").write_text("my work", encoding="utf-8")
    (folder / "data" / "x.csv").unlink()
    ex("trainee001", "FetchAssignment", replace_missing_files=True).start()
    assert (folder / f"{aid}.ipynb").read_text() == "my work"
    assert (folder / "data" / "x.csv").exists()

    # submit (twice); strict refuses a missing notebook
    edited = {**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": "x = 42"}]}
    (folder / f"{aid}.ipynb").write_text(json.dumps(edited), encoding="utf-8")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / f"{aid}-checkpoint.ipynb").write_text("old")
    (folder / "timestamp.txt").write_text("1999-01-01 00:00:00.000000 UTC")  # ignored
    first = ex("trainee001", "Submit")
    first.start()
    os.rename(folder / f"{aid}.ipynb", folder / "renamed.ipynb")
    with pytest.raises(ExchangeError, match="missing notebooks"):
        ex("trainee001", "Submit", strict=True).start()
    os.rename(folder / "renamed.ipynb", folder / f"{aid}.ipynb")
    second = ex("trainee001", "Submit")
    second.start()
    assert second.submission["late_seconds"] == 0
    assert sorted(second.submission["files"]) == sorted(["data/x.csv", f"{aid}.ipynb"])
    assert parse_server_time(second.submission["timestamp"]) > parse_server_time(
        first.submission["timestamp"]
    )

    [group] = ex("trainee001", "List", cached=True).start()
    assert (group["course_id"], group["student_id"], group["assignment_id"]) == (
        "2026-seoul-1",
        "trainee001",
        aid,
    )
    assert [s["timestamp"] for s in group["submissions"]] == [first.timestamp, second.timestamp]
    assert not any(s["has_exchange_feedback"] for s in group["submissions"])

    # a trainee cannot act as instructor, nor see someone else's work
    with pytest.raises(ExchangeError, match="403"):
        ex("trainee001", "Collect").start()
    other = ex("trainee002", "FetchFeedback")
    with pytest.raises(ExchangeError, match="404"):
        other.client.feedback_zip(second.submission["id"])
    with pytest.raises(ExchangeError, match="403"):
        other.client.submission_files(second.submission["id"])
    assert aid not in {a["assignment_id"] for a in ex("trainee002", "List").start()}
    with pytest.raises(ExchangeError, match="404"):
        exchange_of(
            hub, "trainee002", "FetchAssignment", home=tmp_path / "t2", assignment_id=aid
        ).start()

    # collect: the latest submission with the service's time in timestamp.txt
    ex("instructor", "Collect").start()
    submitted = course_root / "submitted" / "trainee001" / aid
    assert json.loads((submitted / f"{aid}.ipynb").read_text()) == edited
    assert (submitted / "timestamp.txt").read_text() == second.timestamp
    assert not (submitted / ".ipynb_checkpoints").exists()
    (submitted / "mine.txt").write_text("instructor's note")
    ex("instructor", "Collect").start()  # already there, no --update: untouched
    ex("instructor", "Collect", update=True).start()  # not newer: untouched
    assert (submitted / "mine.txt").exists()

    # feedback through nbgrader's own release_feedback: this assessment's feedback shows its
    # hidden tests and trainee001 could still gain by resubmitting (deadline a week away, then
    # late submissions accepted under a capped linear penalty), so it is held back and nothing
    # is stored (tests/service/test_feedback_release.py releases it once nobody can gain)
    fb_src = course_root / "feedback" / "trainee001" / aid
    fb_src.mkdir(parents=True)
    (fb_src / f"{aid}.html").write_text("<p>잘했어요 / well done</p>", encoding="utf-8")
    (fb_src / "timestamp.txt").write_text((submitted / "timestamp.txt").read_text())
    with pytest.raises(ExchangeError, match="held back.*409|409.*held back|HTTP 409"):
        ex("instructor", "ReleaseFeedback").start()
    [group] = ex("trainee001", "List", cached=True).start()
    assert not any(sub["has_exchange_feedback"] for sub in group["submissions"])


@pytest.mark.hub
def test_nbgrader_cli_uses_the_sadari_exchange(hub: RunningHub, tmp_path: Path) -> None:
    aid = "pm-basics-check"  # trainee002's track (product-manager), stage 1
    course_root = tmp_path / "course"
    release_folder(course_root, aid)
    exchange_of(
        hub,
        "instructor",
        "ReleaseAssignment",
        home=tmp_path,
        course_root=course_root,
        assignment_id=aid,
    ).start()

    home = tmp_path / "trainee002"
    home.mkdir()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(CONFIG_DIR),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "SADARI_SERVICE_URL": f"{hub.url}/services/sadari",
        "JUPYTERHUB_API_TOKEN": hub.token("trainee002"),
        "JUPYTERHUB_USER": "trainee002",
    }

    def nbgrader(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "nbgrader"), *args],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = nbgrader("list")
    assert r.returncode == 0, r.stderr
    assert f"2026-seoul-1 {aid}" in r.stderr
    r = nbgrader("fetch_assignment", aid)
    assert r.returncode == 0, r.stderr
    assert (home / aid / f"{aid}.ipynb").exists()
    r = nbgrader("submit", aid)
    assert r.returncode == 0, r.stderr
    assert f"Submitted as: 2026-seoul-1 {aid} " in r.stderr
    r = nbgrader("list", "--cached")
    assert r.returncode == 0, r.stderr
    assert f"2026-seoul-1 trainee002 {aid} " in r.stderr
    assert "(no feedback available)" in r.stderr
    r = nbgrader("list", "--remove")
    assert r.returncode != 0 and "not supported" in r.stderr


@pytest.mark.hub
def test_jupyterlab_assignment_list_works_unchanged(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Assignment List panel's server extension does, with this folder's config."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

    aid = "az-basics-check"  # trainee003's track (azure-ai), stage 1
    course_root = tmp_path / "course"
    release_folder(course_root, aid)
    exchange_of(
        hub,
        "instructor",
        "ReleaseAssignment",
        home=tmp_path,
        course_root=course_root,
        assignment_id=aid,
    ).start()

    home = tmp_path / "trainee003"
    home.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(CONFIG_DIR))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("SADARI_SERVICE_URL", f"{hub.url}/services/sadari")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.token("trainee003"))
    monkeypatch.setenv("JUPYTERHUB_USER", "trainee003")
    monkeypatch.chdir(home)  # a single-user server runs in its root_dir
    panel = AssignmentList()
    panel.root_dir = str(home)

    assert panel.list_courses() == {"success": True, "value": ["2026-seoul-1"]}
    listed = panel.list_assignments(course_id="2026-seoul-1")
    assert listed["success"], listed
    assert [(a["assignment_id"], a["status"]) for a in listed["value"]] == [(aid, "released")]

    assert panel.fetch_assignment("2026-seoul-1", aid) == {"success": True}
    [fetched] = panel.list_assignments(course_id="2026-seoul-1")["value"]
    assert fetched["status"] == "fetched" and fetched["path"] == aid
    assert fetched["notebooks"][0]["path"] == f"{aid}/{aid}.ipynb"

    assert panel.submit_assignment("2026-seoul-1", aid) == {"success": True}
    released, submitted = panel.list_assignments(course_id="2026-seoul-1")["value"]
    assert submitted["status"] == "submitted" and submitted["student_id"] == "trainee003"
    [sub] = submitted["submissions"]
    assert sub["has_exchange_feedback"] is False and sub["local_feedback_path"] is None
    assert panel.fetch_feedback("2026-seoul-1", aid) == {"success": True}
    assert panel.list_assignments(course_id="other-course")["value"] == []


@pytest.mark.hub
def test_an_instructors_course_id_is_the_cohort_released_to(
    hub: RunningHub, tmp_path: Path
) -> None:
    aid = "va-basics-check"
    release_folder(tmp_path / "course", aid)

    def instructor(kind: str, course_id: str) -> Any:
        return exchange_of(
            hub,
            "instructor",
            kind,
            home=tmp_path,
            course_root=tmp_path / "course",
            assignment_id=aid,
            course_id=course_id,
        )

    release = instructor("ReleaseAssignment", "2026-seoul-1")
    release.start()
    assert [r["cohort"] for r in release.release] == ["2026-seoul-1"]
    with pytest.raises(ExchangeError, match="404"):
        instructor("ReleaseAssignment", "no-such-cohort").start()
    instructor("Collect", "2026-seoul-1").start()  # nothing submitted yet: a warning only
    assert not (tmp_path / "course" / "submitted").exists()
