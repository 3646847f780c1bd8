"""Deadlines and late penalties, computed from server timestamps only.

Pure: the due instant (the assessment's, or a trainee's extension), the submission's server time and
the assessment's policy give how late it was and what share of the score it loses:
- none:   lateness is recorded, nothing is lost;
- zero:   a late submission scores 0;
- linear: `per_hour` percent lost for every started hour late, at most `cap` percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["none", "zero", "linear"]


@dataclass(frozen=True)
class LatePolicy:
    """How an assessment treats late submissions."""

    kind: Kind = "none"
    per_hour: float = 0.0  # percent per started hour (linear)
    cap: float = 100.0  # percent at most (linear)

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> LatePolicy:
        """From the manifest's `late_penalty` mapping (absent: none)."""
        if not value:
            return cls()
        return cls(value["policy"], float(value.get("per_hour", 0)), float(value.get("cap", 100)))

    def as_dict(self) -> dict[str, Any]:
        """The manifest's form (what from_dict reads)."""
        return {"policy": self.kind, "per_hour": self.per_hour, "cap": self.cap}

    def describe(self) -> str:
        """The policy in words (Korean / English)."""
        if self.kind == "none":
            return "지각 감점 없음 / no late penalty"
        if self.kind == "zero":
            return "마감 후 제출은 0점 / late submissions score 0"
        return (
            f"시작된 1시간마다 {self.per_hour:g}% 감점, 최대 {self.cap:g}% / "
            f"{self.per_hour:g}% per started hour late, at most {self.cap:g}%"
        )


@dataclass(frozen=True)
class Lateness:
    """How late one submission was and what it costs."""

    seconds: float  # 0 when on time
    penalty: float  # share of the score lost, 0..1

    @property
    def late(self) -> bool:
        """True when submitted after the due instant."""
        return self.seconds > 0


def effective_due(due: datetime, extension: datetime | None) -> datetime:
    """The due instant for one trainee: an extension only ever moves it later."""
    return max(due, extension) if extension else due


def lateness(policy: LatePolicy, due: datetime, submitted_at: datetime) -> Lateness:
    """Lateness of a submission made at `submitted_at` (server time) against `due`."""
    seconds = max(0.0, (submitted_at - due).total_seconds())
    if seconds == 0 or policy.kind == "none":
        return Lateness(seconds, 0.0)
    if policy.kind == "zero":
        return Lateness(seconds, 1.0)
    hours = math.ceil(seconds / 3600)
    return Lateness(seconds, min(policy.cap, policy.per_hour * hours) / 100)


def final_score(raw: float, late: Lateness) -> float:
    """The score after the late penalty."""
    return round(raw * (1 - late.penalty), 6)
