"""Bounds on what callers send: JSON body size and nesting, lengths of text fields (reasons,
usernames), and short excerpts of user input for log lines.

Pure (no I/O): the service's base handler (hub/handlers/base.py) applies them to every JSON body
and the demo authenticator (hub/auth.py) to login names. Anything a trainee or a script sends is
hostile until bounded: a 2 MB "reason" must not reach the audit chain, a JSON array nested 1,000
deep must not reach the parser's recursion limit, and a 1 MB username must not reach a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_JSON_BYTES = 4 * 1024 * 1024
"""Largest JSON request body (uploads of zips and rosters have their own settings). Large enough
that a body holding one overlong field gets the 400 naming that field, rather than only 413."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects in a JSON request body."""

MAX_REASON_CHARS = 2000
"""Longest reason (stage moves, overrides, rollbacks, deadlines, extensions, team moves)."""

MAX_USERNAME_CHARS = 32
"""Longest username: the roster's limit (core/roster.py: 2-32 of a-z 0-9 . _ -)."""

MAX_FIELD_CHARS = 200
"""Longest value of any other text field of a JSON body (ids, actions, dates, file names)."""

FIELD_LIMITS: Mapping[str, int] = {
    "reason": MAX_REASON_CHARS,
    "username": MAX_USERNAME_CHARS,
}
"""Text fields with their own limit; these must be text (or absent, or null) when sent."""

LOG_CHARS = 40
"""How much of a piece of user input a log line shows."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


class TooDeep(ValueError):
    """A JSON text nested deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the JSON body is nested deeper than {limit} levels "
            f"/ JSON 중첩이 {limit}단계를 넘습니다"
        )
        self.limit = limit


class FieldProblem(ValueError):
    """A text field that is too long (`length` > `limit`) or not text at all (`length` None)."""

    def __init__(self, field: str, limit: int, length: int | None = None) -> None:
        if length is None:
            message = f"'{field}' must be text / '{field}' 값은 문자열이어야 합니다"
        else:
            message = (
                f"'{field}' is {length:,} characters; the limit is {limit:,} "
                f"/ '{field}' 값이 너무 깁니다 (최대 {limit:,}자)"
            )
        super().__init__(message)
        self.field, self.limit, self.length = field, limit, length


def json_depth(text: bytes | str, stop: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a JSON text, brackets inside strings not
    counted; counting ends as soon as it reaches `stop`. Not a validator: a text that is not
    JSON gets a number too (the parser refuses it afterwards)."""
    data = text.encode() if isinstance(text, str) else text
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop is not None and deepest >= stop:
                    break
        elif depth:
            depth -= 1
    return deepest


def check_json_depth(text: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when `text` nests arrays or objects more than `limit` levels deep."""
    if json_depth(text, stop=limit + 1) > limit:
        raise TooDeep(limit)


def field_limit(field: str, limits: Mapping[str, int] | None = None) -> int:
    """The longest value `field` may have: `limits`, else FIELD_LIMITS, else MAX_FIELD_CHARS."""
    if limits and field in limits:
        return limits[field]
    return FIELD_LIMITS.get(field, MAX_FIELD_CHARS)


def check_text(field: str, value: str, limit: int | None = None) -> str:
    """`value` when it is at most `limit` characters (default: field_limit(field)); else
    FieldProblem naming the field, its length and the limit."""
    most = field_limit(field) if limit is None else limit
    if len(value) > most:
        raise FieldProblem(field, most, len(value))
    return value


def check_fields(body: Mapping[str, object], limits: Mapping[str, int] | None = None) -> None:
    """Check the text fields of a JSON object (its top level): each string within its limit
    (`field_limit`), and the fields with a limit of their own (`FIELD_LIMITS`, `limits`) text or
    null when present. Raises the first FieldProblem."""
    named = {**FIELD_LIMITS, **(limits or {})}
    for field, value in body.items():
        if isinstance(value, str):
            check_text(field, value, field_limit(field, limits))
        elif field in named and value is not None:
            raise FieldProblem(field, named[field])


def excerpt(value: object, limit: int = LOG_CHARS, *, quote: bool = True) -> str:
    """A log-safe rendering of user input: its repr (`quote`; else the text itself), cut to
    `limit` characters, with the full length said when longer (`'zzzz'… (1,048,576 chars)`)."""
    text = value if isinstance(value, str) else str(value)
    shown = text[:limit]
    shown = repr(shown) if quote else shown
    return shown if len(text) <= limit else f"{shown}… ({len(text):,} chars)"
