"""Provisioning on a real filesystem: copies, never clobbers, refuses paths outside the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from sadari.hub.core.policy import LabFile
from sadari.hub.core.provision import Action
from sadari.hub.workspace import provision


@pytest.fixture
def labs(tmp_path: Path) -> Path:
    root = tmp_path / "labs"
    (root / "t" / "basics").mkdir(parents=True)
    (root / "t" / "basics" / "a.ipynb").write_text("A1")
    (root / "t" / "basics" / "b.ipynb").write_text("B1")
    return root


FILES = [
    LabFile("t/basics/a.ipynb", "1-basics/a.ipynb"),
    LabFile("t/basics/b.ipynb", "1-basics/b.ipynb"),
]


def actions(decisions) -> dict[str, Action]:  # type: ignore[no-untyped-def]
    return {d.dest: d.action for d in decisions}


def test_first_start_copies_later_starts_respect_the_trainee(labs: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert set(actions(provision(home, labs, FILES)).values()) == {Action.COPY}
    assert (home / "1-basics" / "a.ipynb").read_text() == "A1"
    assert oct((home / "1-basics" / "a.ipynb").stat().st_mode & 0o777) == "0o644"

    (home / "1-basics" / "a.ipynb").write_text("my work")
    (home / "1-basics" / "b.ipynb").unlink()
    (labs / "t" / "basics" / "a.ipynb").write_text("A2")
    assert actions(provision(home, labs, FILES)) == {
        "1-basics/a.ipynb": Action.KEEP_EDITED,
        "1-basics/b.ipynb": Action.KEEP_DELETED,
    }
    assert (home / "1-basics" / "a.ipynb").read_text() == "my work"
    assert not (home / "1-basics" / "b.ipynb").exists()


def test_unedited_files_get_the_instructors_fix(labs: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    provision(home, labs, FILES)
    (labs / "t" / "basics" / "b.ipynb").write_text("B2 (typo fixed)")
    assert actions(provision(home, labs, FILES))["1-basics/b.ipynb"] == Action.UPDATE
    assert (home / "1-basics" / "b.ipynb").read_text() == "B2 (typo fixed)"


def test_a_trainee_file_with_the_same_name_is_kept(labs: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "1-basics").mkdir(parents=True)
    (home / "1-basics" / "a.ipynb").write_text("mine")
    assert actions(provision(home, labs, FILES))["1-basics/a.ipynb"] == Action.KEEP_TRAINEE_FILE
    assert (home / "1-basics" / "a.ipynb").read_text() == "mine"


@pytest.mark.parametrize(
    "lab", [LabFile("t/basics/a.ipynb", "../escape.ipynb"), LabFile("../../etc/passwd", "x.ipynb")]
)
def test_paths_outside_are_refused(labs: Path, tmp_path: Path, lab: LabFile) -> None:
    with pytest.raises(ValueError, match="outside"):
        provision(tmp_path / "home", labs, [lab])
    assert not (tmp_path / "escape.ipynb").exists()


def test_team_folder_links_follow_the_teams(tmp_path: Path) -> None:
    """The local spawner links each team folder into the home, and removes the link (never the
    folder, never the trainee's own files) once the trainee has left that team."""
    from types import SimpleNamespace

    from sadari.hub.spawner import SadariLocalSpawner

    home, teams = tmp_path / "home", tmp_path / "teams"
    sp = SadariLocalSpawner(teams_dir=str(teams))
    sp.home_dir = str(home)

    def member_of(*groups: str) -> None:
        sp.user = SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups], name="t1")

    member_of("track:data-analysis", "team-c-01")
    sp.link_team_folders()
    (home / "team-c-01" / "plan.md").write_text("우리 팀 계획")
    (home / "team-notes").mkdir()  # the trainee's own folder, named like a team
    member_of("track:data-analysis", "team-c-02")
    sp.link_team_folders()
    assert not (home / "team-c-01").exists()  # the link is gone ...
    assert (teams / "team-c-01" / "plan.md").read_text() == "우리 팀 계획"  # ... the work is not
    assert (home / "team-c-02").resolve() == (teams / "team-c-02").resolve()
    assert (home / "team-notes").is_dir()
