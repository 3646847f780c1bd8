"""Checking uploaded zip archives (releases, submissions, feedback) before anything is stored.

Pure: bytes and a `Rules` in, a list of safe entries out, or InputError naming every file that is
refused and why. Refuses what a hostile upload may carry: paths with `..`, absolute paths,
backslashes, links, too many files, too many bytes once unpacked (zip bombs), notebooks that are
not valid nbformat 4 JSON or not UTF-8, and files that do not belong in the upload.

What belongs in a submission (`file_refused`): a file of the assessment's current release (any
type: the release's data files go back unchanged), a notebook, or a file matching one of the
assessment's `extra_files` globs (`glob_match`). nbgrader's own clutter (`NBGRADER_IGNORE`:
checkpoints, byte code, the feedback folder) is dropped, never refused. The release's files do
not eat the trainee's allowance: a submission may hold the allowance plus the release's size and
file count (`Rules.total_bytes`, `Rules.total_files`).
"""

from __future__ import annotations

import fnmatch
import io
import json
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache

from .curriculum_schema import DEFAULT_EXTRA_FILES
from .yamlsrc import InputError, Problem

#: nbgrader's default `CourseDirectory.ignore`: dropped from any upload, at any depth.
NBGRADER_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
#: nbgrader's metadata files at the top of a submission: the server's clock and records count.
METADATA = ("timestamp.txt", "submission_secret.txt")


@dataclass(frozen=True)
class ReleaseFiles:
    """What a release holds: its file paths and their unpacked size in bytes."""

    files: frozenset[str] = frozenset()
    unpacked_bytes: int = 0


@dataclass(frozen=True)
class Rules:
    """What one archive may hold.

    `max_bytes`/`max_files`: the uploader's own allowance, to which the release's unpacked size
    and file count are added (`total_bytes`, `total_files`). A file is accepted when
    `any_type`, when it is one of `release.files`, when it is a notebook and `notebooks`, or when
    it matches one of `patterns` (`glob_match`). Paths matching `ignore` (per path component)
    and the top-level `metadata` files are dropped, not refused.
    """

    max_bytes: int = 20 * 1024 * 1024  # unpacked total (and the upload itself)
    max_files: int = 200
    release: ReleaseFiles = field(default_factory=ReleaseFiles)
    patterns: tuple[str, ...] = DEFAULT_EXTRA_FILES
    notebooks: bool = True
    any_type: bool = False
    require_notebook: bool = True
    ignore: tuple[str, ...] = NBGRADER_IGNORE
    metadata: tuple[str, ...] = METADATA

    @property
    def total_bytes(self) -> int:
        """Bytes the archive may unpack to: the allowance plus the release's own."""
        return self.max_bytes + self.release.unpacked_bytes

    @property
    def total_files(self) -> int:
        """Files the archive may hold: the allowance plus the release's own."""
        return self.max_files + len(self.release.files)

    def allowed(self) -> str:
        """What may be uploaded, in one line (English / Korean)."""
        if self.any_type:
            return "any file / 모든 파일"
        en, ko = [], []
        if self.release.files:
            en.append("the files of the release")
            ko.append("배포된 파일")
        if self.notebooks:
            en.append("notebooks (*.ipynb)")
            ko.append("노트북")
        if self.patterns:
            en.append("files matching " + " ".join(self.patterns))
            ko.append("패턴에 맞는 파일")
        return f"{', '.join(en) or 'nothing'} / {', '.join(ko) or '없음'}"


@dataclass(frozen=True)
class Entry:
    """One checked file of an archive."""

    path: str
    data: bytes


@dataclass(frozen=True)
class Checked:
    """An archive's accepted entries and the paths dropped as nbgrader's clutter or metadata."""

    entries: list[Entry]
    dropped: list[str]


def _problem(name: str, message: str) -> Problem:
    return Problem(name, None, "", message)


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of one `extra_files` glob (see `glob_match`)."""
    p = pattern.strip()
    while p.startswith("./"):
        p = p[2:]
    if p.endswith("/"):  # a folder: everything below it
        p += "**"
    if not p:
        return re.compile(r"(?!)")
    out = [] if "/" in p else ["(?:.*/)?"]  # no '/': the name, in any folder
    parts = p.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".+" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment(part))
        if not last:
            out.append("/")
    return re.compile("".join(out), re.IGNORECASE)


def _segment(part: str) -> str:
    """One path segment of a glob as a regular expression that never crosses a '/'."""
    out, j = [], 0
    while j < len(part):
        c = part[j]
        end = part.find("]", j + 2) if c == "[" else -1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif end > 0:
            inner = part[j + 1 : end]
            negate = inner.startswith("!")
            inner = re.sub(r"([\\^\]\[])", r"\\\1", inner[1:] if negate else inner)
            out.append(f"[^/{inner}]" if negate else f"[{inner}]")
            j = end
        else:
            out.append(re.escape(c))
        j += 1
    return "".join(out)


def glob_match(path: str, pattern: str) -> bool:
    """Whether the file `path` (relative to the assessment folder, POSIX) matches `pattern`.

    As .gitignore does: `*` matches any run of characters within one path segment, `?` one
    character, `[abc]`/`[!abc]` one of (not of) a set; `**/` matches zero or more folders and a
    trailing `/**` everything below a folder. A pattern without `/` matches the file's name in any
    folder (`*.npy` matches `data/x.npy`); a pattern with `/` is anchored at the assessment folder
    (`data/*.npy` matches `data/x.npy`, not `data/raw/x.npy`: write `data/**/*.npy` for that).
    Matching ignores case (`*.png` accepts `PHOTO.PNG`).
    """
    return _glob_regex(pattern).fullmatch(path) is not None


def is_ignored(path: str, rules: Rules) -> bool:
    """Whether the uploader's tools leave `path` out anyway (dropped, never refused): a path
    component matching one of nbgrader's ignore globs, or a top-level metadata file."""
    if path in rules.metadata:
        return True
    return any(fnmatch.fnmatchcase(part, p) for part in path.split("/") for p in rules.ignore)


def file_refused(path: str, rules: Rules) -> str | None:
    """Why a file may not be in the upload (English and Korean, naming the allowed patterns), or
    None when it may: any type (`any_type`), a file of the release, a notebook, or a pattern
    match."""
    if rules.any_type or path in rules.release.files:
        return None
    if rules.notebooks and path.lower().endswith(".ipynb"):
        return None
    if any(glob_match(path, p) for p in rules.patterns):
        return None
    why = ["not a file of the release"] if rules.release.files else []
    why += ["not a notebook"] if rules.notebooks else []
    why.append(f"matches none of {' '.join(rules.patterns)}" if rules.patterns else "no pattern")
    return f"file type not accepted ({', '.join(why)}) / 허용되지 않는 파일 형식"


def check_notebook(path: str, data: bytes) -> str | None:
    """Why `data` is not a usable notebook, or None when it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 (byte {e.start}) / UTF-8이 아닙니다"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as e:
        return f"not valid JSON: line {e.lineno} column {e.colno}: {e.msg} / JSON 형식 오류"
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        return "not a Jupyter notebook (nbformat 4) / 주피터 노트북(nbformat 4)이 아닙니다"
    return None


def _unsafe(path: str) -> bool:
    normal = posixpath.normpath(path)
    return (
        "\\" in path
        or path.startswith("/")
        or normal.startswith("..")
        or normal != path.rstrip("/")
        or ":" in path
    )


def check_archive(data: bytes, name: str, rules: Rules) -> Checked:
    """The entries of a zip upload, all checked, and the paths dropped; InputError lists every
    problem (each refused file with its reason), nothing half-read."""
    if len(data) > rules.total_bytes:
        raise InputError(
            [
                _problem(
                    name,
                    f"{len(data)} bytes is over the limit of "
                    f"{rules.total_bytes} / 용량 제한을 넘었습니다",
                )
            ]
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError([_problem(name, "not a zip archive / zip 파일이 아닙니다")]) from None
    infos = [i for i in zf.infolist() if not i.is_dir()]
    problems: list[Problem] = []
    release = (
        f" ({rules.max_files} of your own plus the release's {len(rules.release.files)})"
        if rules.release.files
        else ""
    )
    if len(infos) > rules.total_files:
        problems.append(
            _problem(
                name,
                f"{len(infos)} files; at most {rules.total_files}{release} / 파일이 너무 많습니다",
            )
        )
    if sum(i.file_size for i in infos) > rules.total_bytes:
        extra = (
            f" ({rules.max_bytes} of your own plus the release's {rules.release.unpacked_bytes})"
            if rules.release.files
            else ""
        )
        problems.append(
            _problem(
                name,
                f"unpacks to more than {rules.total_bytes} bytes{extra} / 용량 제한을 넘었습니다",
            )
        )
    if problems:
        raise InputError(problems)
    entries, dropped = [], []
    for info in infos:
        path = info.filename
        where = f"{name}:{path}"
        if _unsafe(path):
            problems.append(
                _problem(where, "unsafe path (.., absolute, or odd) / 허용되지 않는 경로")
            )
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(_problem(where, "links are not accepted / 링크는 허용되지 않습니다"))
            continue
        if is_ignored(path, rules):
            dropped.append(path)
            continue
        if why := file_refused(path, rules):
            problems.append(_problem(where, why))
            continue
        content = zf.read(info)
        if path.endswith(".ipynb") and (why := check_notebook(path, content)):
            problems.append(_problem(where, why))
            continue
        entries.append(Entry(path, content))
    if (
        rules.require_notebook
        and not problems
        and not any(e.path.endswith(".ipynb") for e in entries)
    ):
        problems.append(_problem(name, "no notebook (.ipynb) in it / 노트북이 없습니다"))
    if problems:
        raise InputError(problems)
    return Checked(entries, dropped)


def read_archive(data: bytes, name: str, rules: Rules) -> list[Entry]:
    """The accepted entries of a zip upload (see `check_archive`)."""
    return check_archive(data, name, rules).entries


def release_files(data: bytes) -> ReleaseFiles:
    """The files of a stored release archive and their unpacked size (the release was checked
    when it was stored: this only reads its directory)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    return ReleaseFiles(frozenset(i.filename for i in infos), sum(i.file_size for i in infos))


def make_archive(entries: list[Entry]) -> bytes:
    """A zip of `entries` (deterministic: sorted, fixed timestamps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for e in sorted(entries, key=lambda e: e.path):
            info = zipfile.ZipInfo(e.path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, e.data)
    return out.getvalue()
