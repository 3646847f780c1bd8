"""Shared fixtures, the test tiers and the check that a run leaves no process behind.

- `curriculum_text`, `curriculum`: the project's labs/curriculum.yaml, as text and parsed.
- `db_url`: a fresh, empty database URL, once on SQLite and once on PostgreSQL (the PostgreSQL
  run installs/starts Debian's server when none runs; it is skipped only with the real reason).
  For the tests of the migrations themselves and of what runs them.
- `migrated_url`: a fresh database already at the head revision, on both backends: a copy of a
  template migrated once per session (SQLite: a copy of the file; PostgreSQL: `CREATE DATABASE
  ... TEMPLATE`), the same schema the migrations make, without running them for every test.
- `engine`: an engine on `migrated_url`.
- `sqlite_template`, `postgresql_template` (session): the migrated templates themselves.
- `hub` (module scope): a real JupyterHub with the sadari service and the demo cohort (8 trainees:
  trainee001..008, tracks in turn), on SQLite and on PostgreSQL (see tests/support/hub.py).

`--tier=NAME` runs one tier of the suite (see TIERS; every test is in exactly one, so the tiers
together are the whole suite): `make test` runs them side by side (tests/support/tiers.py).

Every process the tests start is marked (tests/support/procs.py); when the session ends, any that
is still running is an error of the run (listed, then killed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.store.db import make_engine, upgrade
from tests.support import postgres, procs
from tests.support.hub import ROOT, RunningHub
from tests.support.tiers import TIERS, tier_of

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


# --- tiers and the process check ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=sorted(TIERS),
        help="run only the tests of this tier (tests/support/tiers.py says which are in which)",
    )


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path plugin
def pytest_configure(config: pytest.Config) -> None:
    procs.mark_run(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tier = config.getoption("--tier")
    if not tier:
        return
    keep, drop = [], []
    for item in items:
        (keep if tier_of(item) == tier else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def _no_process_left() -> Iterator[None]:
    """Fails the session (an error of its last test) when a process a test started still runs."""
    yield
    left = procs.survivors(wait=15)
    if left:
        procs.kill(left)
        listing = "\n".join(f"  {p}" for p in left)
        pytest.fail(
            f"{len(left)} process(es) started by the tests still ran at the end (killed now):\n"
            f"{listing}",
            pytrace=False,
        )


# --- curriculum -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def curriculum_text() -> str:
    return (ROOT / "labs" / "curriculum.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def curriculum(curriculum_text: str) -> Curriculum:
    return parse_curriculum(curriculum_text, "labs/curriculum.yaml")


# --- databases --------------------------------------------------------------------------------


def _require_postgresql() -> None:
    try:
        postgres.ensure_server()
    except postgres.Unavailable as e:
        pytest.skip(f"PostgreSQL unavailable here: {e}")


def _migrate(url: str) -> None:
    eng = make_engine(url)
    try:
        upgrade(eng)
    finally:
        eng.dispose()


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/sadari.sqlite"
        return
    _require_postgresql()
    with postgres.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "sadari.sqlite"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgresql_template() -> Iterator[str]:
    _require_postgresql()
    with postgres.template_database(_migrate) as url:
        yield url


def _migrated(request: pytest.FixtureRequest, backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        tmp.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal"):  # the template's connections are closed: no -wal is expected
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", tmp / f"sadari.sqlite{suffix}")
        yield f"sqlite:///{tmp}/sadari.sqlite"
        return
    with postgres.fresh_database(template=request.getfixturevalue("postgresql_template")) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request.param, tmp_path)


@pytest.fixture(params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _migrated(request, request.param, tmp_path)


@pytest.fixture
def engine(migrated_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(migrated_url)
    yield eng
    eng.dispose()


# --- a real hub -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    data_dir = tmp_path_factory.mktemp(f"hub-{request.param}")
    for url in _migrated(request, request.param, data_dir):
        running = RunningHub.start(data_dir, url, trainees=8)
        try:
            yield running
        finally:
            running.stop()
