"""Unix accounts of the embedded default: hub names to safe, never-colliding system names.

Every hub user (trainees and staff alike) gets an account of their own on the machine, as The
Littlest JupyterHub does, so their server and kernels run under a uid nobody else has. Hub names may
hold anything (Korean, dots, capitals); system names may hold only `a-z 0-9 - _`, start with a
letter and be at most 32 characters long (Debian's useradd). The mapping here is injective:

- names that fit are *escaped*: `a-z 0-9 -` stay, every other UTF-8 byte becomes `_` and two hex
  digits (`kim.minsu` -> `sadari-kim_2eminsu`), so two different hub names never escape alike;
- names too long to escape in full keep a prefix of their escape and end in `__` and 10 hex digits
  of the name's SHA-256. An escape never holds `__` (every `_` is followed by a hex digit), so a
  hashed name never equals an escaped one.

Each account carries `owner_tag(hub name)` in its comment field: the adapter refuses to hand an
existing account to a hub name whose tag differs (a hash collision or someone else's account).
Team groups use the prefix `sadari_`, which no account name (`sadari-...`) starts with. The prefix
is a setting, so that two platforms on one machine (a demo beside a campus, parallel tests) never
share an account.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_NAME = 32  # Debian's useradd and groupadd
ACCOUNT_PREFIX = "sadari-"  # the default; two platforms on one machine use different ones
HASH_DIGITS = 10
_LITERAL = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-")


def escape(name: str) -> str:
    """`name` with every UTF-8 byte outside `a-z 0-9 -` written as `_xx` (injective)."""
    return "".join(chr(b) if b in _LITERAL else f"_{b:02x}" for b in name.encode("utf-8"))


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def system_name(name: str, prefix: str) -> str:
    """The system name of `name` under `prefix` (at most 32 characters, never colliding)."""
    if not name:
        raise ValueError("an empty name has no system account")
    escaped = escape(name)
    room = MAX_NAME - len(prefix)
    if len(escaped) <= room:
        return prefix + escaped
    keep = room - 2 - HASH_DIGITS
    return f"{prefix}{escaped[:keep]}__{_digest(name)[:HASH_DIGITS]}"


PREFIX = re.compile(r"^[a-z][a-z0-9]{0,11}-$")


def check_prefix(prefix: str) -> str:
    """`prefix` if it is a valid account prefix (a letter, up to 11 more of `a-z 0-9`, then
    `-`), else ValueError."""
    if not PREFIX.match(prefix):
        raise ValueError(
            f"account prefix {prefix!r}: a lowercase letter, at most 11 more of a-z 0-9, then '-'"
        )
    return prefix


def account_name(hub_name: str, prefix: str = ACCOUNT_PREFIX) -> str:
    """The unix account of a hub user."""
    return system_name(hub_name, prefix)


def team_group_name(team: str, prefix: str = ACCOUNT_PREFIX) -> str:
    """The unix group of a project team (the hub group `team-...`): the account prefix with `_`
    for its `-`, which no account name starts with."""
    return system_name(team, prefix[:-1] + "_")


def teams_folder(prefix: str = ACCOUNT_PREFIX) -> str:
    """The folder of the team folders, beside the homes (`sadari_teams`): no home has its name."""
    return prefix[:-1] + "_teams"


def owner_tag(hub_name: str) -> str:
    """What an account's comment field holds: whose account it is (ASCII, no commas)."""
    return f"sadari {_digest(hub_name)[:16]}"


def free_id(taken: Iterable[int], low: int, high: int) -> int:
    """The lowest id in [low, high] not in `taken` (ValueError when the range is full)."""
    used = set(taken)
    for candidate in range(low, high + 1):
        if candidate not in used:
            return candidate
    raise ValueError(f"no free id left between {low} and {high}")


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two inclusive id ranges share an id."""
    return a[0] <= b[1] and b[0] <= a[1]


SANDBOX_IDS = (61000, 61999)  # the grading sandbox's uids (graders/sandbox/local.py UID_BASE)
