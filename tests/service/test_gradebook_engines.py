"""nbgrader's Gradebook with engines shared per database URL (graders/record.py
`share_gradebook_engines`), on real SQLite gradebooks: what one Gradebook writes and closes, the
next reads; each course file keeps its own engine; statements are compiled once per engine. The
sandbox tiers' parity tests grade whole courses against stock nbgrader with it on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbgrader.api
import pytest
from nbgrader.api import Gradebook

from sadari.graders import record


def test_gradebooks_of_one_course_share_an_engine_and_see_each_others_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a new gradebook asks this environment's `alembic` command for its schema version
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    monkeypatch.setenv("PATH", path)
    record.share_gradebook_engines()
    shared = nbgrader.api.create_engine
    record.share_gradebook_engines()
    assert nbgrader.api.create_engine is shared  # the second call wraps nothing again
    one, two = (f"sqlite:///{tmp_path / name / 'gradebook.db'}" for name in ("a", "b"))
    for url in (one, two):
        Path(url.removeprefix("sqlite:///")).parent.mkdir()
    with Gradebook(one) as gb:
        gb.add_student("학생01", first_name="민준", last_name="김")
        engine = gb.engine
        compiled = len(engine._compiled_cache)
    with Gradebook(one) as gb:
        assert gb.engine is engine
        assert gb.find_student("학생01").first_name == "민준"
        assert len(engine._compiled_cache) == compiled + 1  # only the lookup not made before
        gb.find_student("학생01")
        assert len(engine._compiled_cache) == compiled + 1
    with Gradebook(two) as gb:
        assert gb.engine is not engine
        assert [s.id for s in gb.students] == []
