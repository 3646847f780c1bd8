"""The pages' message catalog is complete: every message the templates and hub/locale/ say has
a Korean translation, with the same placeholders, and the catalog holds nothing else. (How to
update it: hub/locale/__init__.py.)"""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.support.hub import ROOT

pytestmark = pytest.mark.browser

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}|<[^>]+>")


def extracted() -> set[str]:
    """The messages of the templates and of hub/locale/__init__.py (their singular forms)."""
    method_map = [("hub/locale/__init__.py", "python"), ("hub/templates/*.html", "jinja2")]
    options = {"hub/templates/*.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def korean() -> dict[str, str]:
    with (ROOT / "hub/locale/ko/LC_MESSAGES/sadari.po").open("rb") as f:
        po = read_po(f)
    return {
        (m.id[0] if isinstance(m.id, tuple) else m.id): (
            m.string[0] if isinstance(m.string, tuple) else m.string
        )
        for m in po
        if m.id and not m.fuzzy
    }


def test_every_message_has_a_korean_translation_with_its_placeholders() -> None:
    messages, ko = extracted(), korean()
    assert sorted(messages - set(ko)) == [], "run pybabel extract/update (hub/locale)"
    assert sorted(set(ko) - messages) == [], "messages no page says any more"
    for english in messages:
        assert ko[english], english
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(ko[english])), (
            english,
            ko[english],
        )


def test_a_literal_percent_sign_is_written_twice() -> None:
    # the pages' gettext is Jinja's newstyle one: every message, with or without values, goes
    # through `%`-formatting, so a lone `%` in a translation is a 500 on the Korean page
    for english, text in korean().items():
        assert "%" not in re.sub(r"%%|%\(\w+\)[sd]", "", text), (english, text)
