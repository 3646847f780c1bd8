"""Lab provisioning decisions: what to copy into a trainee's workspace, never clobbering their work.

Pure: given the checksums of the curriculum files, of what we provisioned last time (the workspace
manifest) and of what is in the workspace now, decide one action per file. The filesystem adapter
(workspace.py) computes the checksums and carries the actions out.

Rules, per destination file:
- never provisioned and absent            -> copy (new material)
- never provisioned but present           -> keep (a file of the trainee's own with that name)
- provisioned, then deleted by the trainee -> keep deleted
- provisioned and unchanged since         -> update if the curriculum changed it, else nothing
- provisioned and edited by the trainee   -> keep (never overwrite a trainee's edits)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What happens to one destination file."""

    COPY = "copy"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    KEEP_EDITED = "keep-edited"
    KEEP_DELETED = "keep-deleted"
    KEEP_TRAINEE_FILE = "keep-trainee-file"


WRITES = (Action.COPY, Action.UPDATE)


@dataclass(frozen=True)
class Decision:
    """The action for one destination path."""

    dest: str
    action: Action


def decide(
    sources: Mapping[str, str],
    manifest: Mapping[str, str],
    present: Mapping[str, str | None],
) -> list[Decision]:
    """One Decision per destination in `sources` (dest -> checksum of the curriculum file).

    `manifest`: dest -> checksum we wrote last time; `present`: dest -> checksum in the workspace now
    (None or missing when absent).
    """
    out = []
    for dest in sorted(sources):
        src_sum, last, now = sources[dest], manifest.get(dest), present.get(dest)
        if last is None:
            action = Action.COPY if now is None else Action.KEEP_TRAINEE_FILE
        elif now is None:
            action = Action.KEEP_DELETED
        elif now != last:
            action = Action.KEEP_EDITED
        elif src_sum != last:
            action = Action.UPDATE
        else:
            action = Action.UNCHANGED
        out.append(Decision(dest, action))
    return out


def next_manifest(
    sources: Mapping[str, str], manifest: Mapping[str, str], decisions: list[Decision]
) -> dict[str, str]:
    """The manifest after carrying out `decisions`: written files record the new checksum."""
    new = dict(manifest)
    for d in decisions:
        if d.action in WRITES:
            new[d.dest] = sources[d.dest]
    return new
