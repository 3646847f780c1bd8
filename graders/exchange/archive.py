"""Zip archives of the exchange: building one from a folder and extracting one safely.

Everything the exchange sends or receives is a zip with paths relative to one folder (an
assignment, a release, a submission, a feedback set). `build_zip` packs a folder leaving out what
nbgrader leaves out (its `CourseDirectory.ignore` globs), hidden files and symlinks; `safe_extract`
checks every member before writing anything and refuses absolute paths, `..`, backslashes,
symlink members and anything that would land outside the destination.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

#: nbgrader's default `CourseDirectory.ignore`: never part of a submission or a release.
DEFAULT_IGNORE: tuple[str, ...] = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")

_DRIVE = re.compile(r"^[A-Za-z]:")
_log = logging.getLogger(__name__)


class ArchiveError(Exception):
    """An archive that must not be built or extracted (unsafe member, too big, not a zip)."""


def _ignored(name: str, patterns: Iterable[str]) -> bool:
    return name.startswith(".") or any(fnmatch.fnmatch(name, p) for p in patterns)


def collect_files(
    root: str | os.PathLike[str],
    *,
    ignore: Iterable[str] = DEFAULT_IGNORE,
    include: Iterable[str] = ("*",),
    max_file_size: int | None = None,
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
) -> list[str]:
    """The files under `root` that go into an archive, as sorted POSIX paths relative to it.

    A file or folder is left out when its name is hidden (starts with '.') or matches one of the
    `ignore` globs, at any depth (as nbgrader's copy does); a file is also left out when its name
    matches none of the `include` globs, when it is larger than `max_file_size` bytes (with a
    warning), or when it is a symlink (with a warning: only real files are sent).
    """
    log = log or _log
    base = Path(root)
    ignore = tuple(ignore)
    include = tuple(include)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            if _ignored(d, ignore):
                log.debug("Ignoring folder %s", here / d)
            elif (here / d).is_symlink():
                log.warning("Not including symlinked folder %s", here / d)
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            path = here / f
            rel = path.relative_to(base).as_posix()
            if _ignored(f, ignore) or not any(fnmatch.fnmatch(f, p) for p in include):
                log.debug("Ignoring file %s", rel)
            elif path.is_symlink() or not path.is_file():
                log.warning("Not including %s: not a regular file", rel)
            elif max_file_size is not None and path.stat().st_size > max_file_size:
                log.warning(
                    "Not including %s: %d bytes is more than the limit of %d bytes",
                    rel,
                    path.stat().st_size,
                    max_file_size,
                )
            else:
                found.append(rel)
    return sorted(found)


def build_zip(
    root: str | os.PathLike[str],
    *,
    ignore: Iterable[str] = DEFAULT_IGNORE,
    include: Iterable[str] = ("*",),
    max_file_size: int | None = None,
    max_total_size: int | None = None,
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
) -> tuple[bytes, list[str]]:
    """Zip the folder `root` (see `collect_files` for what is left out); return (zip, paths).

    Raises `ArchiveError` when `root` is not a folder or the files add up to more than
    `max_total_size` bytes.
    """
    base = Path(root)
    if not base.is_dir():
        raise ArchiveError(f"Not a folder: {base}")
    files = collect_files(
        base, ignore=ignore, include=include, max_file_size=max_file_size, log=log
    )
    total = sum((base / f).stat().st_size for f in files)
    if max_total_size is not None and total > max_total_size:
        raise ArchiveError(
            f"{base} holds {total} bytes, more than the limit of {max_total_size} bytes"
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for rel in files:
            zf.write(base / rel, rel)
    return buf.getvalue(), files


def zip_files(files: Iterable[tuple[str | os.PathLike[str], str]]) -> bytes:
    """Zip the given (file on disk, name in the archive) pairs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for path, name in files:
            zf.write(path, check_member(name))
    return buf.getvalue()


def check_member(name: str) -> str:
    """`name` as a safe relative POSIX path, or `ArchiveError` when it could escape its folder."""
    if not name or "\x00" in name or "\\" in name:
        raise ArchiveError(f"Refusing archive member {name!r}: empty, NUL or backslash in path")
    if name.startswith("/") or _DRIVE.match(name):
        raise ArchiveError(f"Refusing archive member {name!r}: absolute path")
    parts = PurePosixPath(name).parts
    if any(p == ".." for p in parts):
        raise ArchiveError(f"Refusing archive member {name!r}: '..' in path")
    clean = [p for p in parts if p != "."]
    if not clean:
        raise ArchiveError(f"Refusing archive member {name!r}: no file name")
    return "/".join(clean)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def safe_extract(
    data: bytes,
    dest: str | os.PathLike[str],
    *,
    only_missing: bool = False,
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
) -> list[str]:
    """Extract the zip `data` into the folder `dest` (created if needed); return the paths written.

    Every member is checked before anything is written: an absolute path, a '..' component, a
    backslash, a symlink member, or a path that resolves outside `dest` (through a symlink already
    there) raises `ArchiveError` and leaves `dest` untouched. With `only_missing`, files that
    already exist are kept and only the missing ones are written (each logged as a warning, as
    nbgrader's `fetch_assignment --replace` does); otherwise existing files are overwritten.
    File modes in the archive are ignored: files get the usual umask modes.
    """
    log = log or _log
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"Not a zip archive: {e}") from e
    root = Path(dest)
    with zf:
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        resolved_root = root.resolve()
        for info in zf.infolist():
            name = check_member(info.filename)
            if _is_symlink(info):
                raise ArchiveError(f"Refusing archive member {info.filename!r}: a symlink")
            target = (root / name).resolve()
            if target != resolved_root and resolved_root not in target.parents:
                raise ArchiveError(
                    f"Refusing archive member {info.filename!r}: it lands outside {root}"
                )
            plan.append((info, name))
        written: list[str] = []
        root.mkdir(parents=True, exist_ok=True)
        for info, name in plan:
            target = root / name
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.exists() and only_missing:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if only_missing:
                log.warning("Replacing missing file '%s'", name)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            written.append(name)
    return written
