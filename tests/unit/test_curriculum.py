"""The curriculum manifest: the project's own file parses; bad manifests fail with file:line:field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sadari.hub.core.curriculum import Curriculum, check_files, parse_curriculum, parse_due
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
