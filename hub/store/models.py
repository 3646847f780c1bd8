"""SQLAlchemy models of sadari's database of record.

program -> cohort -> track -> stage -> assessment (instantiated per cohort from the curriculum),
members (trainees and staff) with their enrollment and current stage, and the append-only audit log.
Times are naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
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
    stage: Mapped[Stage] = relationship(back_populates="assessments")


class Member(Base):
    """A person sadari knows: a trainee or staff (instructor, admin). `username` is the hub name."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    major: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="member")


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
