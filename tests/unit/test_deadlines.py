"""Late penalties from server timestamps: none, zero, linear per started hour with a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sadari.hub.core.deadlines import LatePolicy, effective_due, final_score, lateness

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
LINEAR = LatePolicy("linear", per_hour=10, cap=50)


@pytest.mark.parametrize(
    ("after", "penalty"),
    [
        (timedelta(seconds=-1), 0.0),
        (timedelta(0), 0.0),
        (timedelta(seconds=1), 0.10),
        (timedelta(minutes=60), 0.10),
        (timedelta(minutes=61), 0.20),
        (timedelta(hours=4, seconds=1), 0.50),
        (timedelta(days=3), 0.50),  # the cap
    ],
)
def test_linear(after: timedelta, penalty: float) -> None:
    assert lateness(LINEAR, DUE, DUE + after).penalty == pytest.approx(penalty)


def test_zero_and_none() -> None:
    late = DUE + timedelta(seconds=1)
    assert lateness(LatePolicy("zero"), DUE, late).penalty == 1.0
    assert lateness(LatePolicy("zero"), DUE, DUE).penalty == 0.0
    none = lateness(LatePolicy(), DUE, late)
    assert (none.penalty, none.seconds, none.late) == (0.0, 1.0, True)


def test_extensions_only_move_later() -> None:
    assert effective_due(DUE, DUE + timedelta(days=1)) == DUE + timedelta(days=1)
    assert effective_due(DUE, DUE - timedelta(days=1)) == DUE
    assert effective_due(DUE, None) == DUE


def test_final_score_and_round_trip() -> None:
    assert final_score(8.0, lateness(LINEAR, DUE, DUE + timedelta(hours=2))) == pytest.approx(6.4)
    assert LatePolicy.from_dict(LINEAR.as_dict()) == LINEAR
    assert LatePolicy.from_dict(None) == LatePolicy()
    assert "10% per started hour" in LINEAR.describe()
