"""The languages of the service's pages: message catalogs, the page language, times and numbers.

Pages are written with English messages (`{% trans %}`, `_()`) and translated through gettext
catalogs: `<lang>/LC_MESSAGES/sadari.po` beside this file (Korean today; English is the source
language and needs none). The `.po` files are the source of truth in the repository; they are
compiled in memory when the service starts (Babel), so there is no compiled `.mo` to forget.

One language per render: the Jinja environment's gettext functions read `lang` from the render
context (`install`), so one environment serves every request. The language of a request is
`?lang=` (remembered in the `sadari-lang` cookie), else that cookie, else Korean (`negotiate`).
Times are shown in the cohort's time zone (`when`), durations in words of the page's language.

Update the catalogs after changing a template (from the project folder), then translate the new
entries (tests/browser/test_catalog.py checks that none is missing):

    .venv/bin/pybabel extract -F hub/locale/babel.cfg -o /tmp/sadari.pot --no-location --sort-output .
    .venv/bin/pybabel update -i /tmp/sadari.pot -d hub/locale -D sadari -N --ignore-obsolete
"""

from __future__ import annotations

import gettext as gettext_module
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

HERE = Path(__file__).parent
DOMAIN = "sadari"
LANGUAGES = ("ko", "en")
DEFAULT = "ko"
NAMES = {"ko": "한국어", "en": "English"}
COOKIE = "sadari-lang"
COOKIE_DAYS = 365
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The catalog of `lang` (English and unknown languages: the messages as written)."""
    po = HERE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang not in LANGUAGES or not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext_module.GNUTranslations(mo)


def language(value: str | None) -> str | None:
    """`value` if it names a language the pages speak (`ko`, `en`, `en-US` …), else None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def negotiate(query: str | None, cookie: str | None) -> str:
    """The language of a page: the query's, else the remembered one, else Korean."""
    return language(query) or language(cookie) or DEFAULT


def gettext(lang: str, message: str) -> str:
    """`message` in `lang` (for Python code; templates use `{% trans %}` and `_()`)."""
    return translations(lang).gettext(message)


def pick(text: Mapping[str, Any] | None, lang: str) -> str:
    """The `lang` side of a bilingual text ({ko, en}); the other side when it is empty."""
    if not text:
        return ""
    other = "en" if lang == "ko" else "ko"
    return str(text.get(lang) or text.get(other) or "")


def one_language(message: str, lang: str) -> str:
    """The part of an `English / 한국어` message in `lang` (the service's error messages carry
    both); the message as it is when it is not made that way."""
    parts = [p.strip() for p in message.split(" / ")]
    if len(parts) != 2:
        return message
    korean = [bool(HANGUL.search(p)) for p in parts]
    if korean.count(True) != 1:
        return message
    return parts[korean.index(lang == "ko")]


def zone_of(name: str | None) -> ZoneInfo:
    """The time zone called `name` (a cohort's), else UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def when(at: datetime | None, zone: str | None, lang: str, seconds: bool = False) -> str:
    """`at` (aware, or naive UTC as the database keeps it) as a date and time in `zone`."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    pattern = "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm"
    return format_datetime(at, pattern, tzinfo=zone_of(zone), locale=lang)


def relative(at: datetime | None, now: datetime | None, lang: str) -> str:
    """How far `at` is from `now`, in words (`3일 후`, `in 3 days`, `2 hours ago`)."""
    if at is None or now is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return format_timedelta(at - now, add_direction=True, threshold=1.0, locale=lang)


def local_input(at: datetime | None, zone: str | None) -> str:
    """`at` as the value of an `<input type="datetime-local">` in `zone` (`2026-12-05T18:00`)."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone_of(zone)).strftime("%Y-%m-%dT%H:%M")


def zone_label(zone: str | None, lang: str) -> str:
    """A time zone as people read it: `Asia/Seoul (GMT+09:00)`."""
    z = zone_of(zone)
    offset = format_datetime(datetime.now(UTC), "ZZZZ", tzinfo=z, locale=lang)
    return f"{z.key} ({offset})"


def duration(seconds: float | None, lang: str) -> str:
    """A duration in days, hours and minutes (`1일 3시간`, `1 d 3 h`, `25 min`); empty for 0."""
    if not seconds or seconds <= 0:
        return ""
    minutes = int(round(seconds / 60)) or 1
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    _ = translations(lang).gettext
    parts = []
    if d:
        parts.append(_("%(n)d d") % {"n": d})
    if h:
        parts.append(_("%(n)d h") % {"n": h})
    if m and not d:
        parts.append(_("%(n)d min") % {"n": m})
    return " ".join(parts)


def number(value: float | None, lang: str, digits: int = 2) -> str:
    """A score or count as the language writes it, at most `digits` decimals."""
    if value is None:
        return ""
    return format_decimal(round(value, digits), format=f"#,##0.{'#' * digits}", locale=lang)


def _lang(ctx: Context) -> str:
    return str(ctx.get("lang") or DEFAULT)


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return translations(_lang(ctx)).gettext(message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return translations(_lang(ctx)).ngettext(singular, plural, n)


@pass_context
def _pick(ctx: Context, text: Mapping[str, Any] | None) -> str:
    return pick(text, _lang(ctx))


@pass_context
def _when(ctx: Context, at: datetime | None, zone: str | None = None, seconds: bool = False) -> str:
    return when(at, zone or ctx.get("zone"), _lang(ctx), seconds)


@pass_context
def _one_language(ctx: Context, message: str | None) -> str:
    return one_language(message or "", _lang(ctx))


@pass_context
def _relative(ctx: Context, at: datetime | None) -> str:
    return relative(at, ctx.get("now"), _lang(ctx))


@pass_context
def _zone_label(ctx: Context, zone: str | None = None) -> str:
    return zone_label(zone or ctx.get("zone"), _lang(ctx))


@pass_context
def _local_input(ctx: Context, at: datetime | None, zone: str | None = None) -> str:
    return local_input(at, zone or ctx.get("zone"))


@pass_context
def _duration(ctx: Context, seconds: float | None) -> str:
    return duration(seconds, _lang(ctx))


@pass_context
def _number(ctx: Context, value: float | None, digits: int = 2) -> str:
    return number(value, _lang(ctx), digits)


def install(env: Environment) -> Environment:
    """Give `env` Jinja's i18n extension with gettext in the render's `lang`, and the filters
    `pick` (a {ko, en} text), `when` (a time in the render's `zone` or the one given),
    `one_language` (a system message written `English / 한국어`), `relative` (from the render's
    `now`), `zone_label`, `local_input` (a datetime-local input's value in the zone), `duration`
    (seconds) and `number`."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters.update(
        pick=_pick,
        when=_when,
        zone_label=_zone_label,
        relative=_relative,
        one_language=_one_language,
        local_input=_local_input,
        duration=_duration,
        number=_number,
    )
    env.globals.update(languages=NAMES)
    return env
