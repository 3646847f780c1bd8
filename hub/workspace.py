"""Filesystem side of lab provisioning: checksums, copies and the workspace manifest.

Carries out the decisions of core/provision.py in one trainee's workspace. Writes are atomic
(temporary file + rename) so a crash never leaves half a notebook; destinations outside the
workspace are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from .core.policy import LabFile
from .core.provision import WRITES, Decision, decide, next_manifest

MANIFEST = Path(".sadari") / "provisioned.json"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _inside(root: Path, rel: str) -> Path:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"{rel!r} is outside {root}")
    return target


def _atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sadari-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; trainees' files are ordinary files
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def provision(workspace: Path, labs_root: Path, labs: Iterable[LabFile]) -> list[Decision]:
    """Bring a stage's labs into `workspace` without touching the trainee's edits."""
    labs = list(labs)
    workspace.mkdir(parents=True, exist_ok=True)
    by_dest = {lab.dest: _inside(labs_root, lab.source) for lab in labs}
    sources = {dest: sha256_file(src) for dest, src in by_dest.items()}
    manifest_path = workspace / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    present = {}
    for dest in by_dest:
        target = _inside(workspace, dest)
        present[dest] = sha256_file(target) if target.is_file() else None
    decisions = decide(sources, manifest, present)
    for d in decisions:
        if d.action in WRITES:
            with by_dest[d.dest].open("rb") as src:
                _atomic_write(_inside(workspace, d.dest), lambda f, s=src: shutil.copyfileobj(s, f))
    new = next_manifest(sources, manifest, decisions)
    if new != manifest:
        body = json.dumps(new, indent=1, sort_keys=True).encode()
        _atomic_write(manifest_path, lambda f: f.write(body))
    return decisions


def main(argv: list[str] | None = None) -> int:
    """`python -m sadari.hub.workspace --labs DIR --home DIR SRC=DEST ...`: provision labs into a
    workspace with the same rules as the hub does for local servers (used by the init container
    of a trainee's pod and before the server of a trainee's container, where the labs come from the
    image and the workspace is the trainee's volume); `--then CMD...` execs CMD afterwards."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--labs", type=Path, required=True, help="the labs folder")
    parser.add_argument("--home", type=Path, required=True, help="the trainee's workspace")
    parser.add_argument("pairs", nargs="*", metavar="SRC=DEST")
    parser.add_argument(
        "--then",
        nargs=argparse.REMAINDER,
        default=[],
        metavar="CMD",
        help="a command to exec once the labs are in place (a container's server)",
    )
    args = parser.parse_args(argv)
    labs = []
    for pair in args.pairs:
        source, sep, dest = pair.partition("=")
        if not sep or not source or not dest:
            parser.error(f"{pair!r} is not SRC=DEST")
        labs.append(LabFile(source, dest))
    for d in provision(args.home, args.labs, labs):
        print(f"{d.action:>8}  {d.dest}", flush=True)
    if args.then:
        os.execvp(args.then[0], args.then)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
