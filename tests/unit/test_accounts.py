"""core/accounts: hub names to unix account and group names (safe, short, never colliding)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sadari.hub.core import accounts as acc

# Debian's useradd/groupadd: NAME_REGEX and 32 characters at most
VALID = re.compile(r"^[a-z][-a-z0-9_]*$")


@pytest.mark.parametrize(
    ("hub_name", "account"),
    [
        ("trainee001", "sadari-trainee001"),
        ("kim.minsu", "sadari-kim_2eminsu"),
        ("Kim.Minsu", "sadari-_4bim_2e_4dinsu"),
        ("lee_j", "sadari-lee_5fj"),
        ("a-b", "sadari-a-b"),
    ],
)
def test_names_that_fit_are_escaped(hub_name: str, account: str) -> None:
    assert acc.account_name(hub_name) == account


def test_korean_and_long_names_get_a_hash() -> None:
    korean = acc.account_name("김민수")
    assert len(korean) <= 32 and VALID.match(korean)
    assert "__" in korean  # too long to escape in full: 9 bytes -> 27 characters
    long = acc.account_name("a" * 40)
    assert long.startswith("sadari-aaaaaaaaaaaaa__") and len(long) == 32
    assert acc.account_name("a" * 40) != acc.account_name("a" * 41)


def test_case_dots_and_escapes_never_collide() -> None:
    names = ["kim", "Kim", "KIM", "k.im", "k_2eim", "k_im", "김", "김민수", "김민수1"]
    accounts = [acc.account_name(n) for n in names]
    assert len(set(accounts)) == len(names)


@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=30, unique=True))
def test_mapping_is_injective_and_valid(names: list[str]) -> None:
    accounts = [acc.account_name(n) for n in names]
    assert len(set(accounts)) == len(names)
    for name in accounts:
        assert len(name) <= acc.MAX_NAME and VALID.match(name), name


@given(st.text(min_size=1, max_size=60))
def test_hashed_names_are_not_escapes(name: str) -> None:
    """An escape never holds '__', a hashed name always does: the two forms cannot meet."""
    assert "__" not in acc.escape(name)
    account = acc.account_name(name)
    assert ("__" in account) == (len(acc.escape(name)) > acc.MAX_NAME - len(acc.ACCOUNT_PREFIX))


def test_team_groups_and_accounts_live_apart() -> None:
    """A hub user named like a team never gets the team's group name (prefixes differ)."""
    assert acc.team_group_name("team-c1-01") == "sadari_team-c1-01"
    assert acc.account_name("team-c1-01") == "sadari-team-c1-01"
    assert acc.teams_folder() == "sadari_teams"
    assert not acc.teams_folder().startswith(acc.ACCOUNT_PREFIX)


def test_prefixes_keep_two_platforms_apart() -> None:
    assert acc.account_name("kim", "demo2-") == "demo2-kim" != acc.account_name("kim")
    assert acc.team_group_name("team-c-01", "demo2-") == "demo2_team-c-01"
    assert len(acc.account_name("김민수" * 5, "abcdefghijkl-")) == 32
    for bad in ("Sadari-", "sadari", "1x-", "x_-", "abcdefghijklm-"):
        with pytest.raises(ValueError, match="account prefix"):
            acc.check_prefix(bad)


def test_owner_tag_is_ascii_and_distinguishes() -> None:
    tag = acc.owner_tag("김민수")
    assert tag.isascii() and "," not in tag and ":" not in tag
    assert tag != acc.owner_tag("김민수2")


def test_free_id_and_overlaps() -> None:
    assert acc.free_id({20000, 20001}, 20000, 20005) == 20002
    with pytest.raises(ValueError, match="no free id"):
        acc.free_id(range(10, 13), 10, 12)
    assert acc.overlaps((1, 5), (5, 9)) and not acc.overlaps((1, 4), (5, 9))


def test_sandbox_ids_agree_with_the_sandbox() -> None:
    from sadari.graders.sandbox import local

    assert acc.SANDBOX_IDS == (local.UID_BASE, local.UID_BASE + local.UID_COUNT - 1)
