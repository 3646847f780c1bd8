"""Rosters as campuses export them: column and value mappings, a default cohort, unknown columns
kept as attributes, undecodable lines reported one by one among every other bad row, XLSX read
like CSV, and the preview (new / updated / unchanged / problem) against plain current members."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import cell_text, decode_lines, parse_roster, read_roster
from sadari.hub.core.roster_mapping import MappingError, RosterMapping, resolve
from sadari.hub.core.roster_preview import Current, compare, merged_attributes, preview
from sadari.hub.core.yamlsrc import InputError

# the issue's file: CP949 from Excel, `id` for the username, no cohort, Y/N majors, a campus
ISSUE = (
    "id,name,email,track,major,campus\r\n"
    "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
    "leeseoyeon,이서연,,vision-ai,N,부산\r\n"
    "parkjiho,박지호,jiho@example.kr,azure-ai,n,서울\r\n"
).encode("cp949")
MAPPING = RosterMapping.from_options(
    ["id=username"], ["major:Y=major", "major:N=non-major"], "2026-seoul-1"
)
# several bad rows, and line 4 with a byte sequence that is no CP949 (nor UTF-8)
BAD = (
    "id,name,email,track,major,campus\r\n".encode("cp949")
    + "ok01,정상,,data-analysis,Y,서울\r\n".encode("cp949")
    + ",이름만,,data-analysis,N,서울\r\n".encode("cp949")
    + b"broken1,\xff\xfe,,data-analysis,Y,\xbc\xad\xbf\xef\r\n"
    + "Bad User,김,,vision,Y,부산\r\n".encode("cp949")
    + "noname,,bad-mail,azure-ai,N,\r\n".encode("cp949")
)


def test_the_issues_file_imports_with_a_mapping(curriculum: Curriculum) -> None:
    rows = parse_roster(ISSUE, "명단.csv", curriculum, MAPPING)
    assert [(r.username, r.cohort, r.track, r.stage, r.major) for r in rows] == [
        ("kimminjun", "2026-seoul-1", "data-analysis", "basics", "major"),
        ("leeseoyeon", "2026-seoul-1", "vision-ai", "basics", "non-major"),
        ("parkjiho", "2026-seoul-1", "azure-ai", "basics", "non-major"),  # `n`: case ignored
    ]
    assert [dict(r.attributes) for r in rows] == [
        {"campus": "서울"},
        {"campus": "부산"},
        {"campus": "서울"},
    ]


def test_without_a_default_cohort_one_problem_says_what_to_do(curriculum: Curriculum) -> None:
    with pytest.raises(InputError) as e:
        parse_roster(ISSUE, "명단.csv", curriculum)
    (problem,) = e.value.problems
    assert str(problem).startswith(
        "명단.csv: cohort: no cohort column and no default cohort: 3 trainee rows have no cohort"
    )


def test_the_columns_of_the_issues_file(curriculum: Curriculum) -> None:
    parsed = read_roster(ISSUE, "명단.csv", curriculum, MAPPING)
    assert (parsed.format, parsed.encoding) == ("csv", "cp949")
    assert [(c.header, c.target, c.how) for c in parsed.columns] == [
        ("id", "username", "mapped"),
        ("name", "name", "known"),
        ("email", "email", "known"),
        ("track", "track", "known"),
        ("major", "major", "known"),
        ("campus", "attr:campus", "attribute"),
    ]
    assert parsed.samples["major"] == ("Y", "N", "n")  # what the value mapping is offered
    assert parsed.samples["campus"] == ("서울", "부산")


def test_every_bad_row_and_the_undecodable_line(curriculum: Curriculum) -> None:
    with pytest.raises(InputError) as e:
        parse_roster(BAD, "bad.csv", curriculum, MAPPING)
    problems = [str(p) for p in e.value.problems]
    assert problems[0] == "bad.csv:3: id (username): missing / 비어 있습니다"
    assert problems[1].startswith(
        "bad.csv:4: not UTF-8 or CP949 text: undecodable byte 0xff at byte 9 of the line "
        "(the rest of the file reads as CP949"
    )
    assert problems[2:] == [
        "bad.csv:5: id (username): 'Bad User': use 2-32 of a-z 0-9 . _ - (영문 소문자, 숫자, . _ -)",
        "bad.csv:5: track: unknown track 'vision' (known: azure-ai, data-analysis, "
        "product-manager, vision-ai)",
        "bad.csv:6: name: missing / 비어 있습니다",
        "bad.csv:6: email: 'bad-mail' is not an e-mail address",
    ]
    parsed = read_roster(BAD, "bad.csv", curriculum, MAPPING)
    found = [(p.line, p.column, p.value) for p in parsed.problems]
    assert found[1][2].startswith("broken1,")  # the line as read, shortened
    assert found[2] == (5, "id (username)", "Bad User")
    assert [r.username for r in parsed.rows] == ["ok01"]


def test_each_undecodable_line_is_its_own_problem() -> None:
    data = "a,b\n가,나\n".encode() + b"\xff,1\n" + "다,라\n".encode() + b"x,\xfe\xfe\n"
    text, encoding, bad = decode_lines(data)
    assert encoding == "utf-8" and sorted(bad) == [3, 5]
    assert text.splitlines()[3] == "다,라"  # the lines after a broken one read on
    cp949 = "a,b\n가,나\n".encode("cp949") + b"\x80,1\n"
    assert decode_lines(cp949)[1:] == ("cp949", {3: decode_lines(cp949)[2][3]})
    assert decode_lines(b"\xef\xbb\xbfa,b\n")[:2] == ("a,b\n", "utf-8-sig")


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("다른 시트").append(["ignored"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_gives_the_same_rows_as_the_csv(curriculum: Curriculum) -> None:
    table = [line.split(",") for line in ISSUE.decode("cp949").splitlines()]
    data = xlsx(table)
    from_csv = parse_roster(ISSUE, "명단.csv", curriculum, MAPPING)
    from_xlsx = parse_roster(data, "명단.xlsx", curriculum, MAPPING)
    assert from_xlsx == from_csv
    assert read_roster(data, "명단.xlsx", curriculum, MAPPING).format == "xlsx"


def test_xlsx_problems_have_excel_row_numbers(curriculum: Curriculum) -> None:
    data = xlsx(
        [
            ["아이디", "이름", "기수", "트랙", "학번"],
            ["ok01", "정상", "2026-seoul-1", "data-analysis", 20261234],
            [None, None, None, None, None],
            ["bad", None, "2026-seoul-1", "data-analysis", 20261235.0],
        ]
    )
    parsed = read_roster(data, "r.xlsx", curriculum)
    assert [str(p) for p in parsed.errors()] == ["r.xlsx:4: 이름 (name): missing / 비어 있습니다"]
    assert parsed.rows[0].attributes == {"학번": "20261234"}  # a number without `.0`
    broken = read_roster(b"PK\x03\x04 not really a zip", "r.xlsx", curriculum)
    assert str(broken.errors()[0]).startswith("r.xlsx: not an Excel workbook (.xlsx)")


def test_cell_text() -> None:
    assert [cell_text(v) for v in (None, 3.0, 3.5, True, datetime(2026, 1, 2))] == [
        "",
        "3",
        "3.5",
        "TRUE",
        "2026-01-02",
    ]


def test_a_column_mapped_by_the_admin_wins(curriculum: Curriculum) -> None:
    data = "학번,성명,기수,트랙,아이디\n20261234,김,2026-seoul-1,azure-ai,old-id\n".encode()
    mapping = RosterMapping.from_options(["학번=username", "아이디=ignore"])
    (row,) = parse_roster(data, "r.csv", curriculum, mapping)
    assert (row.username, row.name, row.attributes) == ("20261234", "김", {})
    mapping = RosterMapping.from_options(["학번=username"])  # 아이디 is a username too
    with pytest.raises(InputError, match="'username' is also column 1"):
        parse_roster(data, "r.csv", curriculum, mapping)


def test_a_remembered_mapping_gives_way_instead_of_failing() -> None:
    remembered = RosterMapping.from_options(["id=username", "전공=major"])
    columns, problems = resolve(["username", "id", "전공"], RosterMapping(), remembered)
    assert problems == []
    assert [(c.target, c.how) for c in columns] == [
        ("username", "known"),
        ("attr:id", "attribute"),  # the remembered id=username would make two usernames
        ("major", "remembered"),
    ]
    _, problems = resolve(["username"], RosterMapping.from_options(["id=username"]))
    assert problems == [("id", "mapped, but the file has no such column / 파일에 없는 열")]


def test_mapping_options_are_checked() -> None:
    with pytest.raises(MappingError) as e:
        RosterMapping.from_options(["id"], ["major=Y"], None)
    assert [w for w, _ in e.value.problems] == ["--map id", "--value major=Y"]
    with pytest.raises(MappingError, match="not one of username"):
        RosterMapping.from_options(["id=user"])
    with pytest.raises(MappingError, match="not an attribute name"):
        RosterMapping.from_options(["x=attr:a:b"])
    m = RosterMapping.from_options(["ID = username", "캠퍼스=attr:campus"], ["major:Y=major"])
    assert m.as_dict() == {
        "columns": {"id": "username", "캠퍼스": "attr:campus"},
        "cohort": None,
        "values": {"major": {"y": "major"}},
    }
    assert RosterMapping.from_dict(m.as_dict()) == m


def test_a_mapping_laid_over_the_remembered_one() -> None:
    remembered = RosterMapping.from_options(["id=username"], ["major:Y=major"], "2026-seoul-1")
    mine = RosterMapping.from_options(["전공=major"], ["major:N=non-major"])
    both = mine.over(remembered)
    assert both.columns == {"id": "username", "전공": "major"}
    assert both.values == {"major": {"y": "major", "n": "non-major"}}
    assert both.cohort is None  # never remembered: each intake picks its own


def test_unknown_and_bad_default_cohort(curriculum: Curriculum) -> None:
    mapping = RosterMapping.from_options(cohort="2027-nowhere")
    with pytest.raises(InputError, match="unknown default cohort '2027-nowhere'"):
        parse_roster(ISSUE, "r.csv", curriculum, mapping)


def test_staff_need_no_cohort_and_attribute_limits(curriculum: Curriculum) -> None:
    data = f"username,name,role,phone\nt1,강사,instructor,010\nt2,강사2,admin,{'9' * 201}\n"
    with pytest.raises(InputError) as e:
        parse_roster(data.encode(), "r.csv", curriculum)
    assert [str(p) for p in e.value.problems] == [
        "r.csv:3: phone: 201 characters; at most 200 / 최대 200자"
    ]


def member(username: str, **kw: object) -> Current:
    base: dict[str, object] = {
        "name": "김민준",
        "email": "minjun@example.kr",
        "major": "major",
        "attributes": {"campus": "서울"},
        "enrollments": {"2026-seoul-1": ("data-analysis", "advanced")},
    }
    return Current(username, **{**base, **kw})  # type: ignore[arg-type]


def test_preview_new_updated_unchanged_and_problems(curriculum: Curriculum) -> None:
    parsed = read_roster(ISSUE, "r.csv", curriculum, MAPPING)
    current = {
        "kimminjun": member("kimminjun"),  # the same, at a later stage: unchanged
        "leeseoyeon": member(
            "leeseoyeon",
            name="이서연",
            email=None,
            major="non-major",
            attributes={"campus": "서울", "phone": "010"},
            enrollments={"2026-seoul-1": ("vision-ai", "basics")},
        ),
        "parkjiho": member("parkjiho", name="박지호", email="jiho@example.kr"),
    }
    p = preview(parsed, current)
    assert [(r.username, r.status) for r in p.rows] == [
        ("kimminjun", "unchanged"),
        ("leeseoyeon", "updated"),
        ("parkjiho", "problem"),  # enrolled in data-analysis, the file says azure-ai
    ]
    assert [c.as_dict() for c in p.rows[1].changes] == [
        {"field": "campus", "old": "서울", "new": "부산"}  # phone is kept: not in the file
    ]
    assert str(p.errors()[0]) == (
        "r.csv:4: parkjiho is enrolled in track 'data-analysis' of this cohort, not 'azure-ai'; "
        "move them explicitly / 다른 트랙에 등록되어 있습니다"
    )
    assert p.counts == {"new": 0, "updated": 1, "unchanged": 1, "problem": 1} and not p.ok
    first = preview(parsed, {})
    assert first.ok and first.counts["new"] == 3
    assert [c.field for c in first.rows[0].changes] == [
        "name",
        "email",
        "role",
        "major",
        "campus",
        "enrollment",
    ]


def test_preview_of_a_bad_file_lists_every_line(curriculum: Curriculum) -> None:
    p = preview(read_roster(BAD, "bad.csv", curriculum, MAPPING), {})
    assert [(r.line, r.status) for r in p.rows] == [
        (2, "new"),
        (3, "problem"),
        (4, "problem"),
        (5, "problem"),
        (6, "problem"),
    ]
    assert [len(r.problems) for r in p.rows] == [0, 1, 1, 2, 2] and len(p.problems) == 6


def test_attributes_merge(curriculum: Curriculum) -> None:
    assert merged_attributes({"a": "1", "b": "2"}, {"b": "", "c": "3"}) == {"a": "1", "c": "3"}
    (row,) = parse_roster(
        "username,name,role,campus\ns1,강사,admin,\n".encode(), "r.csv", curriculum
    )
    after = compare(row, Current("s1", "강사", role="admin", attributes={"campus": "서울"}))
    assert after.status == "updated" and after.changes[0].as_dict() == {
        "field": "campus",
        "old": "서울",
        "new": None,
    }
