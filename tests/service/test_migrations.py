"""Schema migrations on SQLite and PostgreSQL: empty -> head; refusal on an old schema."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from sadari.hub.store.db import (
    SchemaOutOfDate,
    make_engine,
    require_current,
    schema_status,
    upgrade,
)
from tests.support.hub import hub_env

TABLES = {
    "programs",
    "cohorts",
    "tracks",
    "stages",
    "assessments",
    "members",
    "enrollments",
    "audit_log",
    "alembic_version",
    "roster_mappings",
    "releases",
    "submissions",
    "feedback",
    "extensions",
    "grades",
    "results",
    "grading_jobs",
    "selections",
    "selection_overrides",
    "participation_inputs",
    "teams",
    "scorecards",
    "audit_checkpoint",
    "grading_workers",
}


def test_upgrade_from_empty_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    before = schema_status(engine)
    assert before.current is None and not before.up_to_date
    after = upgrade(engine)
    assert after.up_to_date and after.current == after.head == "0011"
    assert set(inspect(engine).get_table_names()) == TABLES
    assert upgrade(engine).current == "0011"  # upgrading again is harmless


def test_old_schema_is_refused_unless_told_to_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    with pytest.raises(SchemaOutOfDate) as e:
        require_current(engine)
    assert "is at revision 0001" in str(e.value) and "sadari db upgrade" in str(e.value)
    assert require_current(engine, upgrade_db=True).current == "0011"


def test_service_and_cli_refuse_an_old_schema(tmp_path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    upgrade(make_engine(db_url), "0001")
    env = hub_env(tmp_path, db_url)
    service = subprocess.run(
        [sys.executable, "-m", "sadari.hub.service"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert service.returncode == 3
    assert "revision 0001" in service.stderr and "sadari db upgrade" in service.stderr
    sadari = [sys.executable, "-m", "sadari.hub.cli"]
    run = subprocess.run([*sadari, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and "sadari db upgrade" in run.stderr
    up = subprocess.run(
        [*sadari, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert up.returncode == 0 and "up to date" in up.stdout
