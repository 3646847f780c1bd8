"""Bounds on what callers send (core/limits.py): JSON nesting counted without parsing, text fields
within their limits, log excerpts that never carry more than a prefix."""

from __future__ import annotations

import json

import pytest

from sadari.hub.core import limits
from sadari.hub.core.limits import (
    MAX_FIELD_CHARS,
    MAX_JSON_DEPTH,
    MAX_REASON_CHARS,
    MAX_USERNAME_CHARS,
    FieldProblem,
    TooDeep,
    check_fields,
    check_json_depth,
    check_text,
    excerpt,
    field_limit,
    json_depth,
)
from sadari.hub.core.roster import USERNAME


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ('"[[[["', 0),  # brackets inside strings do not count
        ('{"a": 1}', 1),
        ('{"a": [1, {"b": "]]}"}], "c": [[]]}', 3),
        (r'["\"[[", "\\", [["\\\"]"]]]', 3),  # escaped quotes and backslashes
        ("[[],[],[[]]]", 3),
        ("[]]]][[", 2),  # not JSON: a number all the same
        ('{"name": "김철수 [1기]"}', 1),  # UTF-8 never holds ASCII brackets or quotes
        (nested(1000), 1000),
    ],
)
def test_json_depth(text: str, depth: int) -> None:
    assert json_depth(text) == depth
    assert json_depth(text.encode()) == depth
    if text and text[0] in "[{":
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return
        assert _depth(value) == depth  # agrees with the parsed value


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def test_json_depth_stops_early() -> None:
    assert json_depth(nested(100_000), stop=33) == 33


def test_check_json_depth() -> None:
    check_json_depth(nested(MAX_JSON_DEPTH))
    with pytest.raises(TooDeep, match=f"deeper than {MAX_JSON_DEPTH} levels") as e:
        check_json_depth(nested(MAX_JSON_DEPTH + 1).encode())
    assert e.value.limit == MAX_JSON_DEPTH
    with pytest.raises(TooDeep):
        check_json_depth(nested(1000))
    check_json_depth('{"reason": "' + "[" * 5000 + '"}')  # text, however many brackets


def test_usernames_are_bounded_like_the_roster() -> None:
    longest = "a" * MAX_USERNAME_CHARS
    assert USERNAME.match(longest) and not USERNAME.match(longest + "a")
    assert field_limit("username") == MAX_USERNAME_CHARS


def test_field_limits() -> None:
    assert field_limit("reason") == MAX_REASON_CHARS == 2000
    assert field_limit("stage") == MAX_FIELD_CHARS
    assert field_limit("stage", {"stage": 10}) == 10
    assert field_limit("reason", {"note": 10}) == MAX_REASON_CHARS


def test_check_text() -> None:
    assert check_text("reason", "병가 / sick leave") == "병가 / sick leave"
    assert check_text("reason", "x" * MAX_REASON_CHARS) == "x" * MAX_REASON_CHARS
    with pytest.raises(FieldProblem) as e:
        check_text("reason", "x" * 2_000_000)
    assert (e.value.field, e.value.limit, e.value.length) == ("reason", 2000, 2_000_000)
    assert "'reason' is 2,000,000 characters; the limit is 2,000" in str(e.value)
    assert "x" * 100 not in str(e.value)  # the message never quotes the value
    with pytest.raises(FieldProblem, match="'filename' is 11 characters; the limit is 10"):
        check_text("filename", "a" * 11, 10)


def test_check_fields() -> None:
    check_fields({"stage": "advanced", "reason": "top", "seed": 3, "cohort": None})
    check_fields({"reason": None, "username": "trainee001", "nested": {"x": "y" * 5000}})
    with pytest.raises(FieldProblem, match="'reason' is 2,001 characters") as e:
        check_fields({"stage": "advanced", "reason": "x" * 2001})
    assert e.value.field == "reason"
    with pytest.raises(FieldProblem, match="'username' is 33 characters; the limit is 32"):
        check_fields({"username": "u" * 33})
    with pytest.raises(FieldProblem, match="'team' is 201 characters; the limit is 200"):
        check_fields({"team": "t" * 201})
    check_fields({"note": "n" * 5000}, {"note": 5000})
    # a reason must be text: str() of a list would otherwise smuggle a long one in
    with pytest.raises(FieldProblem, match="'reason' must be text") as e:
        check_fields({"reason": ["x" * 2_000_000]})
    assert e.value.length is None
    with pytest.raises(FieldProblem, match="'note' must be text"):
        check_fields({"note": 5}, {"note": 10})


def test_excerpt() -> None:
    assert excerpt("trainee001") == "'trainee001'"
    assert excerpt("a\nb") == "'a\\nb'"  # no forged log lines
    long = excerpt("z" * 1_048_576)
    assert long == f"{'z' * limits.LOG_CHARS!r}… (1,048,576 chars)"
    assert len(long) < 80
    assert excerpt("/a/" + "b" * 500, 10, quote=False) == "/a/bbbbbbb… (503 chars)"
    assert excerpt(ValueError("x" * 50), 5) == "'xxxxx'… (50 chars)"
