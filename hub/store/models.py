"""SQLAlchemy models of sadari's database of record.

program -> cohort -> track -> stage -> assessment (instantiated per cohort from the curriculum),
members (trainees and staff, with the roster's attributes) with their enrollment and current
stage, the roster mapping remembered for the next import, the append-only audit log,
the gradebook of record, and stage selections (with overrides, participation inputs and teams).
Times are naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of every sadari table."""


class Program(Base):
    """The program a curriculum describes (e.g. one city's AI academy)."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    cohorts: Mapped[list[Cohort]] = relationship(back_populates="program")


class Cohort(Base):
    """One intake of trainees."""

    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    program: Mapped[Program] = relationship(back_populates="cohorts")
    tracks: Mapped[list[Track]] = relationship(back_populates="cohort")


class Track(Base):
    """A track as run in one cohort."""

    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("cohort_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    cohort: Mapped[Cohort] = relationship(back_populates="tracks")
    stages: Mapped[list[Stage]] = relationship(back_populates="track", order_by="Stage.position")


class Stage(Base):
    """A stage of a track in a cohort."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("track_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    track: Mapped[Track] = relationship(back_populates="stages")
    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="stage", order_by="Assessment.due_at"
    )


class Assessment(Base):
    """A graded assessment of a stage, with its weight and due instant for this cohort."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("stage_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    slug: Mapped[str] = mapped_column(String(64))
    title_ko: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float)
    points: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    due_override_at: Mapped[datetime | None] = mapped_column(DateTime)  # set by instructors
    late_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stage: Mapped[Stage] = relationship(back_populates="assessments")

    @property
    def effective_due(self) -> datetime:
        """The due instant in force: an instructor's override, else the curriculum's."""
        return self.due_override_at or self.due_at


class Member(Base):
    """A person sadari knows: a trainee or staff (instructor, admin). `username` is the hub name."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    major: Mapped[str | None] = mapped_column(String(200))
    # the roster's other columns (campus, phone…): {name: value}, see core/roster_preview.py
    attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="member")


class RosterMappingRecord(Base):
    """A roster mapping remembered for the next import (core/roster_mapping.py `as_dict`: columns
    and value translations; `name` 'default' is the one imports use)."""

    __tablename__ = "roster_mappings"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Enrollment(Base):
    """A trainee in a cohort's track, with their current stage."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("member_id", "cohort_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    member: Mapped[Member] = relationship(back_populates="enrollments")
    cohort: Mapped[Cohort] = relationship()
    track: Mapped[Track] = relationship()
    stage: Mapped[Stage] = relationship()


class AuditEntry(Base):
    """One append-only audit record, hash-chained to the one before (see core/audit.py).

    `prev_hash` is unique, so two writers can never both extend the chain from the same entry;
    database triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)


class Release(Base):
    """One release of an assessment to a cohort (the newest is current); files in the blob store."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("assessment_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    notebooks: Mapped[list[str]] = mapped_column(JSON)
    released_at: Mapped[datetime] = mapped_column(DateTime)
    released_by: Mapped[str] = mapped_column(String(128))
    assessment: Mapped[Assessment] = relationship()


class Submission(Base):
    """One submission, kept forever (history); time and identity from the server."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    files: Mapped[list[str]] = mapped_column(JSON)
    assessment: Mapped[Assessment] = relationship()
    member: Mapped[Member] = relationship()
    feedback: Mapped[Feedback | None] = relationship(back_populates="submission")
    result: Mapped[Result | None] = relationship(back_populates="submission")


class Feedback(Base):
    """Feedback files released for one submission."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime] = mapped_column(DateTime)
    released_by: Mapped[str] = mapped_column(String(128))
    submission: Mapped[Submission] = relationship(back_populates="feedback")


class Extension(Base):
    """A later due instant for one trainee on one assessment."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assessment_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)


class Grade(Base):
    """The score of one graded cell of one submission (autograded or manual)."""

    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("submission_id", "notebook", "cell"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    notebook: Mapped[str] = mapped_column(String(200))
    cell: Mapped[str] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)  # None: waits for a manual grade
    max_score: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))  # auto | manual
    graded_at: Mapped[datetime] = mapped_column(DateTime)
    graded_by: Mapped[str] = mapped_column(String(128))
    log: Mapped[str | None] = mapped_column(Text)  # the test's output and error, truncated
    # who set the score: a grading run (grader), formgrader read back (formgrader), a person in
    # sadari's pages (sadari: never overwritten by an import or a later grading of a manual cell)
    origin: Mapped[str] = mapped_column(String(16), default="grader", server_default="grader")
    comment: Mapped[str | None] = mapped_column(Text)  # the grader's words to the trainee
    reason: Mapped[str | None] = mapped_column(Text)  # why an autograded cell's points changed
    # bumped by every change; a write from a page that saw another version is refused
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Result(Base):
    """A submission's total: raw score, lateness, penalty and final score, with how it came about."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # graded | needs-manual | failed
    raw_score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    late_seconds: Mapped[float] = mapped_column(Float)
    penalty: Mapped[float] = mapped_column(Float)
    final_score: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    submission: Mapped[Submission] = relationship(back_populates="result")


class Scorecard(Base):
    """A trainee's latest submission of every assessment with its result, packed as fixed-size
    cells for bulk reads (store/scorecards.py). Derived from submissions and results, rewritten
    with them in the same transaction."""

    __tablename__ = "scorecards"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    cells: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class GradingJob(Base):
    """One grading of one submission against one release (assessment version): queued, leased to
    a worker, done or failed. A worker that dies loses its lease; the job is retried at most
    `max_attempts` times and its result is only ever recorded by the worker holding the lease."""

    __tablename__ = "grading_jobs"
    __table_args__ = (UniqueConstraint("submission_id", "release_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # the grader's status of a done job (graded, timed out, crashed, rejected, failed)
    outcome: Mapped[str | None] = mapped_column(String(16))
    submission: Mapped[Submission] = relationship()


class GradingWorker(Base):
    """A grading worker's heartbeat (the service's own, `sadari grading work`): refreshed while it
    runs, removed when it stops cleanly. Live: seen within a few heartbeats (store/grading.py)."""

    __tablename__ = "grading_workers"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid:random
    who: Mapped[str] = mapped_column(String(128))  # sadari-service, cli:<user>, ...
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime)


class Selection(Base):
    """One stage selection of a cohort: a ranked decision (preview), confirmed by an admin, applied
    (trainees moved into `stage`) and perhaps rolled back. `rows` are selection.decision_rows of
    the decision, `policy` its SelectionPolicy.as_dict(), `moved` the [{username, from, to}] that
    applying it changed (what a rollback undoes)."""

    __tablename__ = "selections"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    stage: Mapped[str] = mapped_column(String(64))  # the target stage's slug
    source: Mapped[str] = mapped_column(String(64))  # the stage candidates come from
    status: Mapped[str] = mapped_column(String(16))  # preview | confirmed | applied | rolled-back
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    pools: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    applied_by: Mapped[str | None] = mapped_column(String(128))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    rolled_back_by: Mapped[str | None] = mapped_column(String(128))
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime)
    rollback_reason: Mapped[str | None] = mapped_column(Text)
    moved: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cohort: Mapped[Cohort] = relationship()
    overrides: Mapped[list[SelectionOverride]] = relationship(
        back_populates="selection", order_by="SelectionOverride.id"
    )


class SelectionOverride(Base):
    """An instructor's or admin's change to one trainee's outcome (the latest per trainee counts):
    advance a trainee the ranking did not select, or hold one it did; always with a reason."""

    __tablename__ = "selection_overrides"
    __table_args__ = (
        CheckConstraint("action IN ('advance', 'hold')", name="ck_override_action"),
        CheckConstraint("length(trim(reason)) > 0", name="ck_override_reason"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    selection_id: Mapped[int] = mapped_column(ForeignKey("selections.id"))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))  # advance | hold
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime)
    selection: Mapped[Selection] = relationship(back_populates="overrides")


class ParticipationInput(Base):
    """A named value selection can weigh (e.g. attendance in percent), imported from a CSV."""

    __tablename__ = "participation_inputs"
    __table_args__ = (UniqueConstraint("member_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(256))  # the file it came from
    imported_by: Mapped[str] = mapped_column(String(128))
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    member: Mapped[Member] = relationship()


class Team(Base):
    """One project team of a cohort's stage; `members` are [{username, skill, track, major}]."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("cohort_id", "stage", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    stage: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))  # the hub group, team-<cohort>-<NN>
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    cohort: Mapped[Cohort] = relationship()
