"""The trainee's own page data (hub/trainee_home.py) against a real database, the clock fixed: the
due instant that applies to the trainee (deadline change, then extension), open while it is, their
submissions with results, and feedback files only for their own submissions; their standing names
the stage it is about, and a decision rolled back since is explained until a new one is confirmed
(the cohort and curriculum of test_selection_workflow.py)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from sadari.hub import selection as workflow
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.handlers.views import member_view
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from sadari.hub.trainee_home import feedback_of, my_page
from tests.service.test_selection_workflow import COHORT, NOW, basics_cohort, cur  # noqa: F401

ROSTER = (
    "username,name,cohort,track\n"
    "han01,한지민,2026-seoul-1,vision-ai\n"
    "kim02,<script>김</script>,2026-seoul-1,vision-ai\n"
).encode()
AID = "va-basics-check"  # due 2026-11-29 18:00 KST = 09:00 UTC
SEEDED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def page(s, who: str, now: datetime) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return my_page(s, who, now, leaderboard_cohorts=set(), pseudonym_key=b"k" * 32)


def test_the_due_instant_and_submissions_are_the_trainees_own(  # type: ignore[no-untyped-def]
    engine, curriculum: Curriculum, tmp_path
) -> None:
    sessions = session_factory(engine)
    blobs = LocalBlobStore(tmp_path / "blobs")
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, SEEDED)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=SEEDED)
        (a,) = ex.cohort_assessments(s, AID, "2026-seoul-1")
        release = ex.record_release(
            s, a, sha256="0" * 64, size=1, notebooks=[f"{AID}.ipynb"], actor="ins", now=SEEDED
        )
        mine = ex.record_submission(
            s,
            repo.member(s, "han01"),
            a,
            release,
            sha256="1" * 64,
            size=1,
            files=[f"{AID}.ipynb"],
            now=SEEDED + timedelta(hours=1),
        )
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr("sadari-summary.html", "<p>잘했어요</p>")
        ex.record_feedback(s, mine, sha256=blobs.put(zipped.getvalue()), actor="ins", now=SEEDED)
        mine_id = mine.id

    before = datetime(2026, 11, 25, tzinfo=UTC)
    with sessions() as s:
        (item,) = page(s, "han01", before)["assessments"]
    assert item["id"] == AID and item["released"] and item["open"]
    assert item["due_at"] == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert item["seconds_left"] == (item["due_at"] - before).total_seconds()
    assert [sub["id"] for sub in item["submissions"]] == [mine_id]
    assert item["latest"]["feedback"] and item["extension"] is None

    # past the curriculum's due: closed, and nothing is "next" — until the instructor moves the
    # deadline for the cohort, then gives han01 an extension beyond it
    after = datetime(2026, 12, 1, tzinfo=UTC)
    with sessions() as s:
        assert not page(s, "han01", after)["assessments"][0]["open"]
        assert member_view(s, curriculum, "han01", after, "trainee")["next"] == []
    moved = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    extended = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    with sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, AID, "2026-seoul-1")
        ex.set_due(s, a, moved, actor="ins", reason="snow day", now=after)
        ex.grant_extension(s, a, "han01", extended, actor="ins", reason="병가", now=after)
    with sessions() as s:
        (item,) = page(s, "han01", after)["assessments"]
        (other,) = page(s, "kim02", after)["assessments"]
        (nxt,) = member_view(s, curriculum, "han01", after, "trainee")["next"]
    assert item["open"] and item["due_at"] == extended
    assert item["extension"] == {"due_at": extended, "reason": "병가"}
    assert nxt["due_at"] == extended
    assert other["open"] and other["due_at"] == moved and other["extension"] is None
    assert other["submissions"] == []

    # feedback: only the trainee's own
    with sessions() as s:
        assert feedback_of(s, blobs, "han01", mine_id) == {
            "sadari-summary.html": "<p>잘했어요</p>".encode()
        }
        assert feedback_of(s, blobs, "kim02", mine_id) is None
        assert feedback_of(s, blobs, "han01", mine_id + 999) is None


def test_someone_not_enrolled_sees_an_empty_page(engine) -> None:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as s:
        assert page(s, "ghost", SEEDED) == {
            "assessments": [],
            "standing": None,
            "withdrawn": None,
            "leaderboard": None,
        }


def test_the_standing_names_the_stage_and_a_rolled_back_decision_is_explained(  # type: ignore[no-untyped-def]
    engine,
    cur: Curriculum,  # noqa: F811 (the fixture of test_selection_workflow, imported above)
) -> None:
    # a01, a02 and a07 advance into advanced; a06 does not (test_selection_workflow's cohort)
    sessions = basics_cohort(engine, cur)
    with sessions.begin() as s:
        sid = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=NOW).id
        workflow.confirm(s, cur, sid, actor="boss", now=NOW)
    with sessions() as s:
        home = page(s, "a02", NOW)
    assert home["standing"]["selection"]["stage_name"] == {"ko": "심화", "en": "Advanced"}
    assert home["standing"]["advances"] is True and home["withdrawn"] is None

    later = NOW + timedelta(hours=1)
    with sessions.begin() as s:
        workflow.apply(s, cur, sid, actor="boss", now=NOW)
        workflow.rollback(s, sid, reason="입력 오류 / wrong inputs", actor="boss", now=later)
    with sessions() as s:
        mine, other = page(s, "a02", later), page(s, "a06", later)
    assert mine["standing"] is None  # a withdrawn decision is no standing
    assert mine["withdrawn"] == {
        "id": sid,
        "stage": "advanced",
        "stage_name": {"ko": "심화", "en": "Advanced"},
        "at": later,
        "reason": "입력 오류 / wrong inputs",
        "advanced": True,
        "moved_back": True,
    }
    assert other["withdrawn"] is not None
    assert (other["withdrawn"]["advanced"], other["withdrawn"]["moved_back"]) == (False, False)

    # a new preview changes nothing for trainees; once it is confirmed it is the newest word
    with sessions.begin() as s:
        again = workflow.preview(s, cur, COHORT, "advanced", actor="inst", now=later).id
    with sessions() as s:
        assert page(s, "a02", later)["withdrawn"]["id"] == sid
    with sessions.begin() as s:
        workflow.confirm(s, cur, again, actor="boss", now=later)
    with sessions() as s:
        home = page(s, "a02", later)
    assert home["withdrawn"] is None and home["standing"]["selection"]["id"] == again
