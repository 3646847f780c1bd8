"""What the teams page shows (templates/teams.html), from hub/selection.py's own records; a move
is shown first as a dry run of the workflow's own step (selection_pages.dry_run), with the team
rules it would break."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from . import selection as workflow
from .core.curriculum import Curriculum
from .selection_pages import PLAN_REASON, dry_run, named, names_of
from .store import repo
from .store import selection as db


def teams_page(
    s: Session, curriculum: Curriculum, cohort: str, stage: str | None = None
) -> dict[str, Any]:
    """The teams of a cohort's team stage: the policy, each team with its members (skill, track,
    major, name), the trainees of the stage in no team, where the skills come from."""
    stage_id, policy = workflow.team_stage(curriculum, stage)
    co = db.cohort_row(s, cohort)
    rows = db.teams(s, co.id, stage_id)
    enrolled = repo.trainees(s, cohort=cohort, stage=stage_id)
    names = {e.member.username: e.member.name for e in enrolled}
    names |= names_of(
        s, (m["username"] for t in rows for m in t.members if m["username"] not in names)
    )
    placed = {m["username"] for t in rows for m in t.members}
    applied = db.latest_for(s, co.id, ["applied"], stage_id)
    teams = []
    for t in rows:
        members = [{**m, "name": names.get(m["username"])} for m in t.members]
        mean = sum(float(m["skill"]) for m in members) / len(members) if members else 0.0
        teams.append(
            {
                "name": t.name,
                "number": t.number,
                "members": members,
                "mean": round(mean, 6),
                "explanation": t.explanation,
                "seed": t.seed,
                "by": t.created_by,
                "at": t.created_at,
            }
        )
    return {
        "cohort": {"id": co.slug, "name": {"ko": co.name_ko, "en": co.name_en}},
        "zone": co.timezone,
        "stage": named(curriculum.stage(stage_id)),
        "stages": [named(st) for st in curriculum.stages if st.teams is not None],
        "policy": {
            "size": policy.size,
            "skill": policy.skill,
            "max_same": list(policy.max_same),
            "seed": policy.seed,
        },
        "teams": teams,
        "in_stage": len(enrolled),
        "unplaced": sorted(
            (
                {"username": e.member.username, "name": e.member.name, "track": e.track.slug}
                for e in enrolled
                if e.member.username not in placed
            ),
            key=lambda m: m["username"],
        ),
        "skills_from": {"id": applied.id} if applied else None,
    }


def _team_warning(text: str, teams: tuple[str, ...]) -> dict[str, str | None]:
    """A rule warning (`TEAM: 한국어 / English`) as {team, text}: the team named once, so each
    language's half of the text can be shown with it."""
    for name in teams:
        if text.startswith(f"{name}: "):
            return {"team": name, "text": text.removeprefix(f"{name}: ")}
    return {"team": None, "text": text}


def move_plan(
    sessions: sessionmaker[Session],
    curriculum: Curriculum,
    cohort: str,
    username: str,
    team: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """What moving `username` into `team` would do, from a dry run of workflow.move_to_team:
    {ok, problem} or the teams it leaves and joins with their members after the move and the
    team rules the move would break (warnings, Korean / English). Nothing is changed."""

    def work(s: Session) -> dict[str, Any]:
        e = repo.active_enrollment(repo.member(s, username))
        if e is None or e.cohort.slug != cohort:
            return {"ok": False, "problem": f"{username} is not a trainee of {cohort!r}"}
        try:
            old, new, warnings = workflow.move_to_team(
                s, curriculum, username, team, reason=PLAN_REASON, actor=actor, now=now
            )
        except (repo.Invalid, repo.NotFound) as err:
            return {"ok": False, "problem": str(err)}
        return {
            "ok": True,
            "username": username,
            "from": {"name": old.name, "number": old.number, "size": len(old.members)},
            "to": {"name": new.name, "number": new.number, "size": len(new.members)},
            "to_members": [dict(m) for m in new.members],
            "warnings": [_team_warning(w, (old.name, new.name)) for w in warnings],
        }

    try:
        return dry_run(sessions, work)
    except repo.NotFound as err:
        return {"ok": False, "problem": str(err)}
