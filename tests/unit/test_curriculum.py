"""The curriculum manifest: the project's own file parses; bad manifests fail with file:line:field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sadari.hub.core.curriculum import Curriculum, check_files, parse_curriculum, parse_due
from sadari.hub.core.selection import TIE_FINAL_SUBMISSION, TIE_TRAINEE, Capacity, Reservation
from sadari.hub.core.teams import TeamPolicy
from sadari.hub.core.yamlsrc import InputError

F = "labs/curriculum.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as e:
        parse_curriculum(text, F)
    return [str(p) for p in e.value.problems]


def test_project_manifest(curriculum: Curriculum) -> None:
    assert [t.id for t in curriculum.tracks] == [
        "data-analysis",
        "product-manager",
        "azure-ai",
        "vision-ai",
    ]
    assert [s.id for s in curriculum.stages] == ["basics", "advanced", "project"]
    vision = curriculum.track("vision-ai")
    assert vision.resources.gpu == 1
    assert vision.stages["basics"].resources is not None
    assert vision.stages["basics"].resources.gpu == 0
    for track in curriculum.tracks:
        basics = track.stages["basics"]
        assert basics.notebooks and basics.assessments
        assert sum(a.weight for a in basics.assessments) == pytest.approx(1.0)


def test_relative_due_is_resolved_in_the_cohort_time_zone(curriculum: Curriculum) -> None:
    cohort = curriculum.cohort("2026-seoul-1")  # starts 2026-11-16, Asia/Seoul (UTC+9)
    due = curriculum.track("data-analysis").stages["basics"].assessments[0].due
    assert due.resolve(cohort) == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["+3d", "+3d 09:30", "+3 d 09:30", "2026-12-05T18:00:00+09:00"])
def test_due_forms(text: str) -> None:
    parse_due(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("next friday", "neither"),
        ("2026-12-05T18:00:00", "no UTC offset"),
    ],
)
def test_bad_due(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_due(text)


def test_yaml_syntax_error_has_the_line(curriculum_text: str) -> None:
    broken = curriculum_text.replace("  - id: advanced", "  - id: [advanced", 1)
    (p,) = problems(broken)
    line = curriculum_text.splitlines().index("  - id: advanced") + 1
    assert p.startswith(f"{F}:") and "YAML syntax error" in p
    assert int(p.split(":")[1]) >= line


def test_missing_field_names_file_line_and_field(curriculum_text: str) -> None:
    broken = curriculum_text.replace("    image: sadari/lab-product-manager:0.1.0\n", "", 1)
    (p,) = problems(broken)
    line = broken.splitlines().index("  - id: product-manager") + 1
    assert p == f"{F}:{line}: tracks[1]: 'image' is a required property"


def test_wrong_type_points_at_the_value(curriculum_text: str) -> None:
    broken = curriculum_text.replace(
        "resources: {memory: 2G, cpu: 1}", "resources: {memory: lots, cpu: 1}", 1
    )
    (p,) = problems(broken)
    line = next(i for i, t in enumerate(broken.splitlines(), 1) if "memory: lots" in t)
    assert p.startswith(f"{F}:{line}: tracks[0].resources.memory: 'lots' does not match")


def test_every_problem_is_reported_at_once(curriculum_text: str) -> None:
    broken = (
        curriculum_text.replace("  - id: azure-ai", "  - id: data-analysis", 1)
        .replace("weight: 1.0", "weight: 0.5", 1)
        .replace("due: +13d 18:00", "due: someday", 1)
    )
    found = problems(broken)
    assert any("weights add up to 0.5, not 1" in p for p in found)
    assert any(".assessments[0].due: 'someday' is neither" in p for p in found)
    assert any("tracks[2].id: duplicate track id 'data-analysis'" in p for p in found)


def test_duplicate_yaml_key(curriculum_text: str) -> None:
    broken = curriculum_text.replace("version: 1\n", "version: 1\nversion: 1\n", 1)
    (p,) = problems(broken)
    assert p.endswith("version: duplicate key")


def test_unknown_stage_in_a_track(curriculum_text: str) -> None:
    broken = curriculum_text.replace(
        "      advanced:\n        notebooks:\n          - data-analysis/advanced",
        "      expert:\n        notebooks:\n          - data-analysis/advanced",
        1,
    )
    (p,) = problems(broken)
    line = broken.splitlines().index("      expert:") + 1
    assert p == (
        f"{F}:{line}: tracks[0].stages.expert: unknown stage 'expert' "
        "(stages: basics, advanced, project)"
    )


def test_check_files_reports_missing_notebooks_with_their_line(curriculum: Curriculum) -> None:
    existing = set(curriculum.referenced_files()) - {"vision-ai/advanced/01-digits-features.ipynb"}
    (p,) = check_files(curriculum, existing)
    text = curriculum.source.file
    assert str(p).startswith(f"{text}:")
    assert "tracks[3].stages.advanced.notebooks[0]" in str(p) and "not found" in str(p)


# --- selection and team policies (stages[].selection, stages[].teams) --------------------------


def line_of(text: str, fragment: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if fragment in t)


def test_selection_policies_of_the_project_manifest(curriculum: Curriculum) -> None:
    assert curriculum.stage("basics").selection is None
    advanced = curriculum.stage("advanced").selection
    assert advanced is not None and (advanced.source, advanced.stage) == ("basics", "advanced")
    # "assessments: curriculum": each track's basics assessments, with their weights and points
    assert {c.id: (c.tracks, c.weight, c.points) for c in advanced.components} == {
        a.id: (frozenset({t.id}), a.weight, a.points)
        for t in curriculum.tracks
        for a in t.stages["basics"].assessments
    }
    assert all(c.required and c.minimum == 40 for c in advanced.components)
    assert advanced.reserved == (Reservation("major", "non-major", 3),)
    assert advanced.capacity == Capacity(top_percent=40)
    project = curriculum.stage("project")
    assert project.selection is not None and project.selection.source == "advanced"
    assert sum(project.selection.capacity.seats(t.id, 0) for t in curriculum.tracks) == 23
    attendance = project.selection.components[-1]
    assert (attendance.kind, attendance.weight, attendance.minimum) == ("input", 0.1, 80)
    assert project.selection.ties == ("input:attendance", TIE_FINAL_SUBMISSION, TIE_TRAINEE)
    assert project.teams == TeamPolicy(4, "assessments", (("track", 2),), 2026)


def test_selection_on_the_first_stage_and_teams_without_selection(curriculum_text: str) -> None:
    basics = "    name: {ko: 기초, en: Basics}\n"
    broken = curriculum_text.replace(basics, basics + "    selection: {capacity: {top_n: 3}}\n", 1)
    assert problems(broken) == [
        f"{F}:{line_of(broken, 'selection: {capacity')}: stages[0].selection: "
        "the first stage has no stage before it to select from"
    ]
    broken = curriculum_text.replace(basics, basics + "    teams: {size: 3}\n", 1)
    assert problems(broken) == [
        f"{F}:{line_of(broken, 'teams: {size: 3}')}: stages[0].teams: teams are formed from "
        "the trainees selected into the stage: add a selection block"
    ]


def test_unknown_assessment_in_a_policy(curriculum_text: str, curriculum: Curriculum) -> None:
    broken = curriculum_text.replace(
        "      score: {normalise: percent, assessments: curriculum}\n"
        "      eligibility: {submitted: all, min_percent: 40}\n",
        "      score:\n        assessments:\n          - {id: da-basics-check, weight: 1}\n"
        "          - {id: nope, weight: 1}\n"
        "      eligibility: {submitted: [nope], min_percent: {nada: 10}}\n",
        1,
    )
    known = sorted(a.id for t in curriculum.tracks for a in t.stages["basics"].assessments)
    elig = line_of(broken, "submitted: [nope]")
    assert problems(broken) == [
        f"{F}:{line_of(broken, '{id: nope')}: stages[1].selection.score.assessments[1].id: "
        f"unknown assessment 'nope' (assessments of the stages before 'advanced': "
        f"{', '.join(known)})",
        f"{F}:{elig}: stages[1].selection.eligibility.submitted[0]: "
        "'nope' is not scored by this policy",
        f"{F}:{elig}: stages[1].selection.eligibility.min_percent.nada: "
        "'nada' is not scored by this policy",
    ]


@pytest.mark.parametrize(
    ("old", "new", "fragment", "message"),
    [
        (
            "capacity: {top_percent: 40}",
            "capacity: {top_percent: 40, top_n: 3}",
            "top_n: 3",
            "stages[1].selection.capacity: give exactly one of top_n and top_percent",
        ),
        (
            "capacity: {top_percent: 40}",
            "capacity: {top_percent: 140}",
            "top_percent: 140",
            "stages[1].selection.capacity.top_percent: 140 is greater than the maximum of 100",
        ),
        (
            "overrides: {vision-ai: 5}",
            "overrides: {robotics: 5}",
            "robotics",
            "stages[2].selection.capacity.overrides.robotics: unknown track 'robotics' (known: "
            "data-analysis, product-manager, azure-ai, vision-ai)",
        ),
        (
            "ties: [input:attendance,",
            "ties: [input:attend,",
            "input:attend,",
            "stages[2].selection.ties[0]: 'attend' is not an input of this policy",
        ),
        (
            "      ties: [input:attendance,",
            "      reserved: [{attribute: major, value: non-major, seats: 6}]\n"
            "      ties: [input:attendance,",
            "reserved: [{",
            "stages[2].selection.reserved: 6 seats reserved by major but fewer seats in "
            "vision-ai (5)",
        ),
        (
            "      reserved:\n        - {attribute: major, value: non-major, seats: 3}\n",
            "      reserved:\n        - {attribute: major, value: non-major, seats: 3}\n"
            "        - {attribute: major, value: non-major, seats: 1}\n",
            "seats: 1}",
            "stages[1].selection.reserved[1]: duplicate group id 'major=non-major' (first at "
            "line {first})",
        ),
        (
            "score: {normalise: percent, assessments: curriculum}\n"
            "      eligibility: {submitted: all, min_percent: 40}",
            "score: {assessments: [{id: da-basics-check, weight: 0}]}",
            "id: da-basics-check, weight: 0",
            "stages[1].selection: nothing to rank on: no assessment of 'basics' or input "
            "weighs more than 0",
        ),
        (
            "teams: {size: 4,",
            "teams: {size: 1,",
            "teams: {size: 1,",
            "stages[2].teams.size: 1 is less than the minimum of 2",
        ),
    ],
)
def test_bad_selection_policies(
    curriculum_text: str, old: str, new: str, fragment: str, message: str
) -> None:
    assert old in curriculum_text
    broken = curriculum_text.replace(old, new, 1)
    first = line_of(broken, "{attribute: major, value: non-major, seats: 3}")
    where = line_of(broken, fragment)
    if message.startswith("stages[1].selection: nothing"):
        where = line_of(broken, "    selection:  # basics -> advanced")
    assert problems(broken) == [f"{F}:{where}: {message.format(first=first)}"]
