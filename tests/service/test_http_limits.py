"""Hostile input against the running service (a real hub, proxy and sadari service, SQLite and
PostgreSQL): security headers on every kind of response; JSON bodies bounded in size and nesting;
reasons and names bounded in length with a 400 naming the field and nothing audited; a 1 MB
username refused at the demo login; log lines quoting no more than a short prefix of any of it.

Also, without a hub: the demo authenticator refuses a long username before logging it, and the
HTTP server reads bodies up to the largest upload limit.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import requests

from sadari.hub.auth import DemoAuthenticator
from sadari.hub.core.limits import (
    LOG_CHARS,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_REASON_CHARS,
    MAX_USERNAME_CHARS,
)
from sadari.hub.handlers.base import CSP, MESSAGE_LOG_CHARS, URI_LOG_CHARS
from sadari.hub.service import max_body_size
from sadari.hub.settings import SadariSettings
from tests.support.hub import PASSWORD, RunningHub

SERVICE = "/services/sadari"
API = f"{SERVICE}/api/v1"
COHORT = "2026-seoul-1"
DEEP = "[" * 1000 + "]" * 1000
# one letter per kind of hostile input, so the log can be searched for a run of each
LONG_REASON = "r" * 2_000_000
LONG_USERNAME = "z" * 1_048_576
LONG_PATH = "q" * 5000


def assert_secure(r: requests.Response, *, api: bool | None = None) -> None:
    """The security headers (and on API answers no caching) on one response of the service."""
    where = f"{r.request.method} {r.url[:120]} -> {r.status_code}"
    assert r.headers.get("Content-Security-Policy") == CSP, where
    assert "script-src 'self'" in CSP and "frame-ancestors 'self'" in CSP
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Referrer-Policy") == "same-origin", where
    if api is True:
        assert r.headers.get("Cache-Control") == "no-store", where
    elif api is False:
        assert r.headers.get("Cache-Control") != "no-store", where


def api_error(r: requests.Response, status: int) -> dict[str, Any]:
    """The JSON error body of `r`, checked to be `status`."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["message"], body
    return body


def audit_ids(hub: RunningHub) -> list[int]:
    r = hub.call("admin", "GET", f"{API}/audit?limit=1000")
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["entries"]]


def stage_of(hub: RunningHub, username: str) -> str:
    r = hub.call("admin", "GET", f"{API}/trainees/{username}")
    assert r.status_code == 200, r.text
    return str(r.json()["enrollment"]["stage"]["id"])


def post_json(hub: RunningHub, who: str, path: str, data: str | bytes) -> requests.Response:
    return hub.call(
        who, "POST", API + path, data=data, headers={"Content-Type": "application/json"}
    )


# --- security headers -----------------------------------------------------------------------------


@pytest.mark.hub
def test_pages_and_their_oauth_round_trip_carry_the_headers(hub: RunningHub) -> None:
    s = hub.login("trainee002")
    page = s.get(f"{hub.url}{SERVICE}/trainee", timeout=30)
    assert page.status_code == 200 and page.url.endswith(f"{SERVICE}/trainee"), page.url
    assert_secure(page, api=False)
    # the redirect to the hub's OAuth and the callback (HubOAuthCallbackHandler) too
    ours = [r for r in page.history if r.url.startswith(hub.url + SERVICE)]
    assert any("/oauth_callback" in r.url for r in ours), [r.url for r in page.history]
    for r in ours:
        assert_secure(r)
    # a strict CSP holds: nothing inline (scripts only as files of the service, no inline code,
    # no <style> or style attributes), the look comes from the service's own static files
    html = page.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == html.count("<script")
    for attributes, body in scripts:
        assert f'src="{SERVICE}/' in attributes and not body.strip(), attributes
    assert "<style" not in html and "style=" not in html
    assert 'rel="stylesheet"' in html and f'href="{SERVICE}/static/sadari.css?v=' in html
    css = s.get(f"{hub.url}{SERVICE}/static/sadari.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "sadari" in css.text and "{" in css.text  # the service's own stylesheet
    assert_secure(css, api=False)
    missing = s.get(f"{hub.url}{SERVICE}/static/nothing.js", timeout=10)
    assert missing.status_code == 404
    assert_secure(missing)


@pytest.mark.hub
def test_api_answers_and_errors_carry_the_headers(hub: RunningHub) -> None:
    me = hub.call("trainee003", "GET", f"{API}/me")
    assert me.status_code == 200 and me.json()["username"] == "trainee003"
    assert_secure(me, api=True)
    health = requests.get(f"{hub.url}{API}/health", timeout=10)
    assert health.status_code == 200
    assert_secure(health, api=True)
    anonymous = requests.get(f"{hub.url}{API}/me", timeout=10)
    api_error(anonymous, 401)
    assert_secure(anonymous, api=True)
    forbidden = hub.call("trainee003", "GET", f"{API}/audit")
    api_error(forbidden, 403)
    assert_secure(forbidden, api=True)
    unknown = hub.call("trainee003", "GET", f"{API}/no-such-thing")
    api_error(unknown, 404)
    assert_secure(unknown, api=True)
    wrong_method = hub.call("trainee003", "DELETE", f"{API}/me")
    api_error(wrong_method, 405)
    assert_secure(wrong_method, api=True)


@pytest.mark.hub
def test_404s_and_error_pages_carry_the_headers(hub: RunningHub) -> None:
    s = hub.login("trainee004")
    # no route at all: the application's default handler, a page (or JSON under api/)
    page = s.get(f"{hub.url}{SERVICE}/no/such/page", timeout=10)
    assert page.status_code == 404 and 'id="message"' in page.text
    assert_secure(page, api=False)
    other_api = requests.get(f"{hub.url}{SERVICE}/api/v2/anything", timeout=10)
    assert "no such page" in api_error(other_api, 404)["message"]
    assert_secure(other_api, api=True)
    # an error page of a handler (a trainee on the admin page)
    forbidden = s.get(f"{hub.url}{SERVICE}/admin", timeout=30)
    assert forbidden.status_code == 403 and 'id="message"' in forbidden.text
    assert_secure(forbidden, api=False)
    # tornado's own error page, from the OAuth callback handler of jupyterhub
    callback = requests.get(
        f"{hub.url}{SERVICE}/oauth_callback?error=x&error_description=" + "e" * 3000, timeout=10
    )
    assert callback.status_code == 400
    assert_secure(callback)


# --- JSON bodies ----------------------------------------------------------------------------------


@pytest.mark.hub
def test_json_nested_too_deep_is_a_400_not_a_500(hub: RunningHub) -> None:
    before = audit_ids(hub)
    inside = json.dumps({"stage": "advanced", "reason": "x"})[:-1] + ', "extra": ' + DEEP + "}"
    cases = [
        ("admin", "/trainees/trainee001/stage", DEEP),
        ("admin", "/trainees/trainee001/stage", inside),
        ("instructor", "/selections", DEEP),
        ("instructor", "/selections/1/overrides", DEEP),
        ("admin", "/selections/1/rollback", DEEP),
        ("admin", f"/cohorts/{COHORT}/teams/moves", DEEP),
        ("instructor", "/assessments/da-basics-check/due", DEEP),
    ]
    for who, path, body in cases:
        err = api_error(post_json(hub, who, path, body), 400)
        assert f"nested deeper than {MAX_JSON_DEPTH} levels" in err["message"], (path, err)
        assert err["limit"] == MAX_JSON_DEPTH
    # as deep as allowed: parsed, and refused only for what it says
    ok_depth = '{"stage": "advanced", "reason": "x", "extra": ' + "[" * 31 + "]" * 31 + "}"
    r = post_json(hub, "admin", "/trainees/nobody00/stage", ok_depth)
    assert r.status_code == 404, r.text
    assert stage_of(hub, "trainee001") == "basics"
    assert audit_ids(hub) == before


@pytest.mark.hub
def test_oversized_and_malformed_json_bodies(hub: RunningHub) -> None:
    big = json.dumps({"stage": "advanced", "reason": "x", "pad": "p" * MAX_JSON_BYTES})
    err = api_error(post_json(hub, "admin", "/trainees/trainee001/stage", big), 413)
    assert f"the limit for JSON is {MAX_JSON_BYTES:,}" in err["message"]
    assert err["limit"] == MAX_JSON_BYTES
    err = api_error(post_json(hub, "admin", "/selections", b"\xff{not json"), 400)
    assert "not JSON" in err["message"]
    err = api_error(post_json(hub, "admin", "/selections", "[1, 2]"), 400)
    assert "must be a JSON object" in err["message"]


@pytest.mark.hub
def test_uploads_keep_their_own_larger_limits(hub: RunningHub) -> None:
    """A roster over the JSON limit but under max_roster_bytes (5 MiB) is read; over it, 413;
    its file name (written to the audit) is bounded like any other name."""
    # blank lines (CSV skips them) make it larger than any JSON body may be
    roster = "username,name,role\nnewstaff01,새 강사,instructor\n".encode() + b"\r\n" * 2_300_000
    assert MAX_JSON_BYTES < len(roster) < 5 * 1024 * 1024
    r = hub.call("admin", "POST", f"{API}/roster?dry_run=1&filename=staff.csv", data=roster)
    assert r.status_code == 200 and r.json()["dry_run"] is True, r.text[:300]
    huge = b"username,name\n" + b"#" * (5 * 1024 * 1024)
    err = api_error(hub.call("admin", "POST", f"{API}/roster?dry_run=1", data=huge), 413)
    assert "the limit is 5242880" in err["message"]
    err = api_error(
        hub.call("admin", "POST", f"{API}/roster?dry_run=1&filename={'f' * 300}", data=roster),
        400,
    )
    assert (err["field"], err["limit"]) == ("filename", 200)


# --- reasons and names ----------------------------------------------------------------------------


@pytest.mark.hub
def test_long_reasons_and_names_are_refused_and_not_audited(hub: RunningHub) -> None:
    before = audit_ids(hub)
    stage = {"stage": "advanced", "reason": LONG_REASON}
    err = api_error(post_json(hub, "admin", "/trainees/trainee001/stage", json.dumps(stage)), 400)
    assert (err["field"], err["limit"]) == ("reason", MAX_REASON_CHARS)
    assert "'reason' is 2,000,000 characters; the limit is 2,000" in err["message"]
    assert stage_of(hub, "trainee001") == "basics"

    just_over = "사유" * (MAX_REASON_CHARS // 2) + "!"
    due = {"due_at": "2026-12-24T18:00:00+09:00", "reason": just_over}
    ext = {**due, "username": "trainee001"}
    cases: list[tuple[str, str, dict[str, Any], str, int]] = [
        ("admin", "/trainees/trainee001/stage", {**stage, "reason": just_over}, "reason", 2000),
        ("instructor", "/assessments/da-basics-check/due", due, "reason", 2000),
        ("instructor", "/assessments/da-basics-check/extensions", ext, "reason", 2000),
        ("admin", "/selections/1/rollback", {"reason": LONG_REASON}, "reason", 2000),
        (
            "instructor",
            "/selections/1/overrides",
            {"username": "u" * 1000, "action": "advance", "reason": "ok"},
            "username",
            MAX_USERNAME_CHARS,
        ),
        (
            "admin",
            f"/cohorts/{COHORT}/teams/moves",
            {"username": "trainee001", "team": "1", "reason": [LONG_REASON]},
            "reason",
            2000,
        ),
        ("instructor", "/selections", {"cohort": "c" * 5000, "stage": "advanced"}, "cohort", 200),
    ]
    for who, path, body, field, limit in cases:
        err = api_error(post_json(hub, who, path, json.dumps(body)), 400)
        assert (err["field"], err["limit"]) == (field, limit), (path, err)
        assert f"'{field}'" in err["message"]
    assert audit_ids(hub) == before
    # at the limit it goes through (and is audited)
    ok = {"stage": "advanced", "reason": "사" * MAX_REASON_CHARS}
    r = post_json(hub, "admin", "/trainees/trainee005/stage", json.dumps(ok))
    assert r.status_code == 200, r.text[:300]
    audit = hub.call("admin", "GET", f"{API}/audit?limit=1&target=user:trainee005").json()
    assert audit["entries"][0]["reason"] == ok["reason"] and audit["chain_ok"]
    back = {"stage": "basics", "reason": "test done"}
    r = post_json(hub, "admin", "/trainees/trainee005/stage", json.dumps(back))
    assert r.status_code == 200


# --- logins and logs ------------------------------------------------------------------------------


@pytest.mark.hub
def test_a_1mb_username_is_refused_at_login_and_never_logged(hub: RunningHub) -> None:
    for password in (PASSWORD, "wrong"):
        s = requests.Session()
        s.get(f"{hub.url}/hub/login", timeout=10)
        r = s.post(
            f"{hub.url}/hub/login?next=%2Fhub%2Fhome",
            data={
                "username": LONG_USERNAME,
                "password": password,
                "_xsrf": s.cookies.get("_xsrf", path="/hub/"),
            },
            allow_redirects=False,
            timeout=60,
        )
        assert r.status_code != 302, r.headers.get("Location")
        assert "z" * 100 not in r.text
        assert not s.cookies.get("jupyterhub-session-id", path="/hub/")


@pytest.mark.hub
def test_logs_hold_only_prefixes_of_hostile_input(hub: RunningHub) -> None:
    """Runs after the tests above in this module (their hostile input is in the same log)."""
    r = hub.call("trainee006", "GET", f"{API}/trainees/{LONG_PATH}")
    assert r.status_code == 404
    r = hub.call("trainee006", "GET", f"{API}/me?junk={LONG_PATH}")
    assert r.status_code == 200
    log = hub.log()
    assert "Refused a login: the username 'zzzz" in log  # the authenticator said why, briefly
    most = max(URI_LOG_CHARS, MESSAGE_LOG_CHARS)  # of a URL, of an error message
    for letter in "rzqep":
        longest = max((len(run) for run in re.findall(f"{letter}+", log)), default=0)
        lines = [line[:300] for line in log.splitlines() if letter * (most + 1) in line]
        assert longest <= most, (letter, longest, lines)
    assert "z" * (LOG_CHARS + 1) not in log and "r" * (LOG_CHARS + 1) not in log


# --- without a hub --------------------------------------------------------------------------------


async def test_the_demo_authenticator_refuses_long_usernames_early(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = DemoAuthenticator(password="pw", allow_all=True)
    caplog.set_level(logging.DEBUG)
    assert (
        await auth.get_authenticated_user(None, {"username": LONG_USERNAME, "password": "pw"})
        is None
    )
    assert await auth.get_authenticated_user(None, {"username": "z" * 33, "password": "pw"}) is None
    ok = await auth.get_authenticated_user(None, {"username": "z" * 32, "password": "pw"})
    assert ok is not None and ok["name"] == "z" * 32
    assert await auth.get_authenticated_user(None, {"username": "z" * 32, "password": "x"}) is None
    assert not auth.validate_username("z" * 33) and auth.validate_username("trainee001")
    lines = [r.getMessage() for r in caplog.records]
    assert any("Refused a login" in line and "1,048,576 chars" in line for line in lines), lines
    assert all(len(line) < 300 for line in lines), [len(line) for line in lines]


def test_the_server_reads_bodies_up_to_the_largest_limit() -> None:
    settings = SadariSettings()
    size = max_body_size(settings)
    assert size > max(settings.max_submission_bytes, settings.max_roster_bytes, MAX_JSON_BYTES)
    bigger = SadariSettings(max_submission_bytes=200 * 1024 * 1024)
    assert max_body_size(bigger) > 200 * 1024 * 1024
