"""Checking uploaded zip archives (releases, submissions, feedback) before anything is stored.

Pure: bytes in, a list of safe entries out, or InputError naming the file and the problem. Refuses
what a hostile upload may carry: paths with `..`, absolute paths, backslashes, links, too many
files, too many bytes once unpacked (zip bombs), notebooks that are not valid nbformat 4 JSON or not
UTF-8, and files of kinds that do not belong in an assessment.
"""

from __future__ import annotations

import io
import json
import posixpath
import stat
import zipfile
from dataclasses import dataclass

from .yamlsrc import InputError, Problem

ALLOWED_SUFFIXES = (".ipynb", ".py", ".csv", ".txt", ".md", ".json", ".png", ".jpg", ".html")


@dataclass(frozen=True)
class Limits:
    """What one archive may hold."""

    max_bytes: int = 20 * 1024 * 1024  # unpacked total (and the upload itself)
    max_files: int = 200
    suffixes: tuple[str, ...] = ALLOWED_SUFFIXES
    require_notebook: bool = True


@dataclass(frozen=True)
class Entry:
    """One checked file of an archive."""

    path: str
    data: bytes


def _problem(name: str, message: str) -> Problem:
    return Problem(name, None, "", message)


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


def read_archive(data: bytes, name: str, limits: Limits) -> list[Entry]:
    """The entries of a zip upload, all checked; InputError lists every problem."""
    if len(data) > limits.max_bytes:
        raise InputError(
            [
                _problem(
                    name,
                    f"{len(data)} bytes is over the limit of "
                    f"{limits.max_bytes} / 용량 제한을 넘었습니다",
                )
            ]
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError([_problem(name, "not a zip archive / zip 파일이 아닙니다")]) from None
    infos = [i for i in zf.infolist() if not i.is_dir()]
    problems: list[Problem] = []
    if len(infos) > limits.max_files:
        problems.append(_problem(name, f"{len(infos)} files; at most {limits.max_files}"))
    if sum(i.file_size for i in infos) > limits.max_bytes:
        problems.append(_problem(name, f"unpacks to more than {limits.max_bytes} bytes"))
    if problems:
        raise InputError(problems)
    entries = []
    for info in infos:
        path = info.filename
        where = f"{name}:{path}"
        normal = posixpath.normpath(path)
        if (
            "\\" in path
            or path.startswith("/")
            or normal.startswith("..")
            or normal != path.rstrip("/")
            or ":" in path
        ):
            problems.append(
                _problem(where, "unsafe path (.., absolute, or odd) / 허용되지 않는 경로")
            )
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(_problem(where, "links are not accepted / 링크는 허용되지 않습니다"))
            continue
        if not path.lower().endswith(limits.suffixes):
            problems.append(
                _problem(where, f"file type not accepted (allowed: {' '.join(limits.suffixes)})")
            )
            continue
        content = zf.read(info)
        if path.endswith(".ipynb") and (why := check_notebook(path, content)):
            problems.append(_problem(where, why))
            continue
        entries.append(Entry(path, content))
    if (
        limits.require_notebook
        and not problems
        and not any(e.path.endswith(".ipynb") for e in entries)
    ):
        problems.append(_problem(name, "no notebook (.ipynb) in it / 노트북이 없습니다"))
    if problems:
        raise InputError(problems)
    return entries


def make_archive(entries: list[Entry]) -> bytes:
    """A zip of `entries` (deterministic: sorted, fixed timestamps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for e in sorted(entries, key=lambda e: e.path):
            info = zipfile.ZipInfo(e.path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, e.data)
    return out.getvalue()
