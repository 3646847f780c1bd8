"""Provisioning decisions: new material arrives, trainees' edits and deletions are never undone."""

from __future__ import annotations

from sadari.hub.core.provision import Action, Decision, decide, next_manifest


def test_each_rule() -> None:
    sources = {
        "new": "s1",
        "mine": "s2",
        "deleted": "s3",
        "same": "s4",
        "changed_src": "s5b",
        "edited": "s6b",
    }
    manifest = {"deleted": "s3", "same": "s4", "changed_src": "s5a", "edited": "s6a"}
    present = {"mine": "trainee", "same": "s4", "changed_src": "s5a", "edited": "trainee-edit"}
    got = {d.dest: d.action for d in decide(sources, manifest, present)}
    assert got == {
        "new": Action.COPY,
        "mine": Action.KEEP_TRAINEE_FILE,
        "deleted": Action.KEEP_DELETED,
        "same": Action.UNCHANGED,
        "changed_src": Action.UPDATE,
        "edited": Action.KEEP_EDITED,
    }


def test_manifest_records_only_what_was_written() -> None:
    decisions = [
        Decision("a", Action.COPY),
        Decision("b", Action.KEEP_EDITED),
        Decision("c", Action.UPDATE),
    ]
    new = next_manifest({"a": "1", "b": "2", "c": "3"}, {"b": "old", "c": "old"}, decisions)
    assert new == {"a": "1", "b": "old", "c": "3"}


def test_second_run_changes_nothing() -> None:
    sources = {"a": "1", "b": "2"}
    first = decide(sources, {}, {})
    manifest = next_manifest(sources, {}, first)
    again = decide(sources, manifest, {"a": "1", "b": "2"})
    assert {d.action for d in again} == {Action.UNCHANGED}
