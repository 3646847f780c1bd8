"""Find instructor material where trainees could read it: nbgrader source notebooks (solution
regions, hidden tests, marking schemes, solution cells) and assessment sources.

Trainee images (the single-user image, the track images `lab-<track>`) and the grading image
(whose kernel runs trainees' code) must hold none of it: assessments reach trainees only through
the exchange, as nbgrader's student version. This file is used twice, so that a leak cannot be
built by accident:

- images/build.py imports it and checks each of those images' staged build context before
  `docker build` (`scan_context`): an early, clear error;
- the Dockerfiles copy it into the image and run it over the image's own file system as the last
  build step (`python3 instructor_material.py /`, `scan_image`): the build fails if the final
  image holds anything, whatever was installed or copied.

What counts (each finding names the file and why):
- in any notebook (`*.ipynb`) anywhere in the image: an nbgrader solution cell (cell metadata
  `"solution": true`), a graded test cell holding hidden tests, or nbgrader's delimiter lines
  (`### BEGIN` and `### END` of a SOLUTION, HIDDEN TESTS or MARK SCHEME region);
- under the folders labs and workspaces live in (/srv, /home, /root, /tmp, /etc/jupyter, the
  Jupyter config and data folders of the environment) and anywhere in a build context: those
  delimiter lines in any text file, an `assessments/` folder, a project rubric (`rubric.yaml`) or
  an nbgrader gradebook.

Standard library only: it runs on the images' system python3 as well as on the build host.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# nbgrader's delimiters (ClearSolutions, ClearHiddenTests, ClearMarkScheme). Written in parts so
# that this file does not hold the very lines it looks for.
_WHAT = ("SOLUTION", "HIDDEN TESTS", "MARK SCHEME")
DELIMITER = re.compile(r"\b(?:BEGIN|END) (?:" + "|".join(_WHAT) + r")\b")
HIDDEN_TESTS = re.compile(r"\bBEGIN " + _WHAT[1] + r"\b")
# path components that are assessment sources or grading state, whatever their content
ASSESSMENT_DIRS = frozenset({"assessments"})
INSTRUCTOR_FILES = frozenset({"rubric.yaml", "rubric.yml", "gradebook.db"})
# where labs, workspaces and Jupyter's settings live in the images: every file is read there
IMAGE_TEXT_ROOTS = (
    "srv",
    "home",
    "root",
    "tmp",
    "etc/jupyter",
    "opt/sadari/etc/jupyter",
    "opt/sadari/share/jupyter/lab/settings",
    "usr/local/etc/jupyter",
    "usr/local/share/jupyter/lab/settings",
)
# pseudo file systems of a running build step or container
IMAGE_SKIP = ("proc", "sys", "dev")
# build-context folders of archives (wheels), not of files an image serves as they are
CONTEXT_SKIP = ("wheelhouse", "project")
MAX_BYTES = 64 << 20  # larger files are data, not notebooks or sources


@dataclass(frozen=True)
class Finding:
    """One piece of instructor material: where (as shown to the reader) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _source(cell: dict[str, object]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def notebook_findings(data: bytes) -> list[str]:
    """Why a notebook's bytes are instructor material (nothing when they are not)."""
    try:
        nb = json.loads(data)
        cells = nb.get("cells", []) if isinstance(nb, dict) else []
    except (ValueError, UnicodeDecodeError):
        return text_findings(data)
    reasons: list[str] = []
    for i, cell in enumerate(c for c in cells if isinstance(c, dict)):
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        nbg = nbg if isinstance(nbg, dict) else {}
        where = f"cell {i}" + (f" ({nbg['grade_id']})" if nbg.get("grade_id") else "")
        source = _source(cell)
        hidden = HIDDEN_TESTS.search(source)
        if nbg.get("solution") is True:
            reasons.append(f"{where}: nbgrader solution cell")
        if nbg.get("grade") is True and hidden:
            reasons.append(f"{where}: graded test cell with hidden tests")
        marker = DELIMITER.search(source)
        if marker and not (nbg.get("grade") is True and hidden):
            reasons.append(f"{where}: nbgrader delimiter {marker.group(0)!r}")
    return reasons


def text_findings(data: bytes) -> list[str]:
    """nbgrader's delimiter lines in a text file (binary files hold none)."""
    if b"\0" in data[:8192]:
        return []
    text = data.decode("utf-8", errors="replace")
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        marker = DELIMITER.search(line)
        if marker:
            out.append(f"line {n}: nbgrader delimiter {marker.group(0)!r}")
            if len(out) == 3:
                break
    return out


def path_findings(parts: Iterable[str]) -> list[str]:
    """Why a path (its components) names instructor material."""
    parts = list(parts)
    out = []
    if ASSESSMENT_DIRS & set(parts[:-1]) or (parts and parts[-1] in ASSESSMENT_DIRS):
        out.append("an assessment source (under assessments/)")
    if parts and parts[-1] in INSTRUCTOR_FILES:
        out.append(f"instructor-only file ({parts[-1]})")
    return out


def _read(path: Path) -> bytes | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def check_file(path: Path, shown: str, *, read_text: bool) -> Iterator[Finding]:
    """Findings of one file: notebooks always, other text files when `read_text`."""
    if path.is_symlink() or not path.is_file():
        return
    if path.suffix == ".ipynb":
        data = _read(path)
        reasons = notebook_findings(data) if data is not None else []
    elif read_text:
        data = _read(path)
        reasons = text_findings(data) if data is not None else []
    else:
        return
    for reason in reasons:
        yield Finding(shown, reason)


def _walk(root: Path, skip: Iterable[str]) -> Iterator[tuple[Path, list[str], list[str]]]:
    skip = {root / s for s in skip}
    for dirpath, dirs, files in os.walk(root, onerror=None, followlinks=False):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if here / d not in skip)
        yield here, dirs, sorted(files)


def scan_context(context: Path) -> list[Finding]:
    """Instructor material in a staged build context (paths shown relative to it); its wheels
    (`wheelhouse/`, `project/`) are archives and are checked in the built image instead."""
    findings: list[Finding] = []
    for here, dirs, files in _walk(context, CONTEXT_SKIP):
        for name in [*dirs, *files]:
            rel = (here / name).relative_to(context)
            findings += [Finding(rel.as_posix(), r) for r in path_findings(rel.parts)]
        for name in files:
            rel = (here / name).relative_to(context)
            findings += check_file(here / name, rel.as_posix(), read_text=True)
    return findings


def scan_image(root: Path = Path("/")) -> list[Finding]:
    """Instructor material in an image's file system mounted at `root` (`/` in a build step or a
    container): notebooks everywhere, every file under `IMAGE_TEXT_ROOTS`."""
    findings: list[Finding] = []
    text_roots = [root / r for r in IMAGE_TEXT_ROOTS]
    for here, dirs, files in _walk(root, IMAGE_SKIP):
        in_text_root = any(here == t or here.is_relative_to(t) for t in text_roots)
        if in_text_root:
            for name in [*dirs, *files]:
                rel = (here / name).relative_to(root)
                shown = "/" + rel.as_posix()
                findings += [Finding(shown, r) for r in path_findings(rel.parts)]
        for name in files:
            shown = "/" + (here / name).relative_to(root).as_posix()
            findings += check_file(here / name, shown, read_text=in_text_root)
    return findings


def report(findings: list[Finding], limit: int = 40) -> str:
    """Findings grouped per file, one line each (at most `limit` files, then how many more)."""
    by_path: dict[str, list[str]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f.reason)
    lines = []
    for path, reasons in list(by_path.items())[:limit]:
        more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
        lines.append(f"  {path}: {'; '.join(reasons[:3])}{more}")
    if len(by_path) > limit:
        lines.append(f"  ... and {len(by_path) - limit} more files")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python3 instructor_material.py [ROOT]`: exit 1 naming each piece of instructor material
    in the image file system at ROOT (default `/`), 0 when there is none."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(main.__doc__, file=sys.stderr)
        return 2
    root = Path(args[0] if args else "/")
    findings = scan_image(root)
    if findings:
        print(
            "instructor material in an image trainees use (assessments reach trainees only "
            f"through the exchange, as nbgrader's student version):\n{report(findings)}",
            file=sys.stderr,
        )
        return 1
    print(f"no instructor material under {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
