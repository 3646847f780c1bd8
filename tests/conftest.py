"""Shared fixtures.

- `curriculum_text`, `curriculum`: the project's labs/curriculum.yaml, as text and parsed.
- `db_url`: a fresh, empty database URL, once on SQLite and once on PostgreSQL (the PostgreSQL
  run installs/starts Debian's server when none runs; it is skipped only with the real reason).
- `engine`: an engine on `db_url`, migrated to head.
- `hub` (module scope): a real JupyterHub with the sadari service and the demo cohort (8 trainees:
  trainee001..008, tracks in turn), on SQLite and on PostgreSQL (see tests/support/hub.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.store.db import make_engine, upgrade
from tests.support import postgres
from tests.support.hub import ROOT, RunningHub

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(scope="session")
def curriculum_text() -> str:
    return (ROOT / "labs" / "curriculum.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def curriculum(curriculum_text: str) -> Curriculum:
    return parse_curriculum(curriculum_text, "labs/curriculum.yaml")


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/sadari.sqlite"
        return
    try:
        postgres.ensure_server()
    except postgres.Unavailable as e:
        pytest.skip(f"PostgreSQL unavailable here: {e}")
    with postgres.fresh_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request.param, tmp_path)


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    data_dir = tmp_path_factory.mktemp(f"hub-{request.param}")
    for url in _database(request.param, data_dir):
        running = RunningHub.start(data_dir, url, trainees=8)
        try:
            yield running
        finally:
            running.stop()
