"""Roster parsing: Excel's CP949, UTF-8 with and without BOM, Korean headers; every bad row named.

Mappings, attributes, XLSX and the preview: test_roster_mapping.py."""

from __future__ import annotations

import pytest

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import RosterRow, parse_roster
from sadari.hub.core.yamlsrc import InputError

CSV = (
    "username,name,email,cohort,track,stage,major\n"
    "kimminjun,김민준,minjun@example.kr,2026-seoul-1,data-analysis,,경영학\n"
    "LeeSeoyeon,이서연,,2026-seoul-1,vision-ai,advanced,\n"
    "teacher1,박강사,t1@example.kr,,,,\n"
)


def bad(data: bytes, curriculum: Curriculum, file: str = "r.csv") -> list[str]:
    with pytest.raises(InputError) as e:
        parse_roster(data, file, curriculum)
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_encodings_give_the_same_rows(curriculum: Curriculum, encoding: str) -> None:
    text = CSV.replace("teacher1,박강사,t1@example.kr,,,,", "")
    rows = parse_roster(text.encode(encoding), "r.csv", curriculum)
    assert rows == [
        RosterRow(
            2,
            "kimminjun",
            "김민준",
            "trainee",
            "minjun@example.kr",
            "2026-seoul-1",
            "data-analysis",
            "basics",
            "경영학",
        ),
        RosterRow(
            3,
            "leeseoyeon",
            "이서연",
            "trainee",
            None,
            "2026-seoul-1",
            "vision-ai",
            "advanced",
            None,
        ),
    ]


def test_korean_headers_and_staff(curriculum: Curriculum) -> None:
    data = (
        "아이디,이름,역할,기수,트랙\n"
        "teacher1,박강사,instructor,,\n"
        "trainee9,최하은,,2026-seoul-1,azure-ai\n"
    ).encode("cp949")
    staff, trainee = parse_roster(data, "명단.csv", curriculum)
    assert (staff.role, staff.cohort, staff.stage) == ("instructor", None, None)
    assert (trainee.role, trainee.track, trainee.stage) == ("trainee", "azure-ai", "basics")


def test_every_bad_row_is_reported_with_its_line(curriculum: Curriculum) -> None:
    data = (
        "username,name,email,cohort,track,stage\n"
        "ok1,정상,,2026-seoul-1,data-analysis,\n"
        ",이름만,,2026-seoul-1,data-analysis,\n"
        "noname,,,2026-seoul-1,data-analysis,\n"
        "ok1,중복,,2026-seoul-1,data-analysis,\n"
        "wrongtrack,트랙,,2026-seoul-1,vision,\n"
        "nocohort,기수,bad-mail,,azure-ai,expert\n"
        "한글아이디,한글,,2026-seoul-1,azure-ai,\n"
    ).encode()
    assert bad(data, curriculum) == [
        "r.csv:3: username: missing / 비어 있습니다",
        "r.csv:4: name: missing / 비어 있습니다",
        "r.csv:5: username: duplicate 'ok1' (also line 2)",
        "r.csv:6: track: unknown track 'vision' (known: azure-ai, data-analysis, product-manager, "
        "vision-ai)",
        "r.csv:7: email: 'bad-mail' is not an e-mail address",
        "r.csv:7: cohort: missing for a trainee / 교육생은 필수입니다",
        "r.csv:7: stage: unknown stage 'expert' (known: basics, advanced, project)",
        "r.csv:8: username: '한글아이디': use 2-32 of a-z 0-9 . _ - (영문 소문자, 숫자, . _ -)",
    ]


def test_overlong_values_are_refused_per_row_without_quoting_them(curriculum: Curriculum) -> None:
    """Longer than the database's columns: a row problem (a 500 on PostgreSQL before)."""
    data = (
        "username,name,email,cohort,track\n"
        f"long1,{'김' * 201},,2026-seoul-1,data-analysis\n"
        f"long2,이름,{'a' * 320}@x.kr,2026-seoul-1,data-analysis\n"
        f"{'u' * 65},이름,,2026-seoul-1,data-analysis\n"
    ).encode()
    assert bad(data, curriculum) == [
        "r.csv:2: name: 201 characters; at most 200 / 최대 200자",
        "r.csv:3: email: 325 characters; at most 320 / 최대 320자",
        "r.csv:4: username: 65 characters; at most 64 / 최대 64자",
    ]


def test_line_numbers_count_quoted_newlines(curriculum: Curriculum) -> None:
    data = (
        "username,name,cohort,track\n"
        'a1,"두 줄\n이름",2026-seoul-1,data-analysis\n'
        "a2,,2026-seoul-1,data-analysis\n"
    ).encode()
    assert bad(data, curriculum) == ["r.csv:4: name: missing / 비어 있습니다"]


def test_broken_encoding_says_where(curriculum: Curriculum) -> None:
    data = (
        "username,name,cohort,track\nok,김,2026-seoul-1,data-analysis\n".encode()
        + b"x1,\xff\xfe\xfa,2026-seoul-1,data-analysis\n"
    )
    (p,) = bad(data, curriculum)
    assert p.startswith("r.csv:3: not UTF-8 or CP949 text: undecodable byte 0xff at byte 4")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "r.csv:1: empty file / \ube48 \ud30c\uc77c\uc785\ub2c8\ub2e4"),
        (b"username,name\n", "r.csv: no rows / \ud589\uc774 \uc5c6\uc2b5\ub2c8\ub2e4"),
        (
            b"username,nickname\n",
            "r.csv:1: name: required column missing: map a column to it (--map COLUMN=name) "
            "/ \ud544\uc218 \uc5f4\uc774 \uc5c6\uc2b5\ub2c8\ub2e4: \uc5f4\uc744 "
            "\uc9c0\uc815\ud558\uc138\uc694",
        ),
        (b"username,name\nab,cd,ef\n", "r.csv:2: 3 cells but 2 columns"),
    ],
)
def test_structural_problems(curriculum: Curriculum, data: bytes, expected: str) -> None:
    assert expected in bad(data, curriculum)


def test_missing_required_column(curriculum: Curriculum) -> None:
    assert bad(b"username,email\nx1,a@b.kr\n", curriculum) == [
        "r.csv:1: name: required column missing: map a column to it (--map COLUMN=name) / "
        "필수 열이 없습니다: 열을 지정하세요"
    ]
