"""Upload checks: hostile archives are refused with the file and the reason; good ones pass; what
a submission may hold (the release's files, notebooks, the assessment's globs) and how large."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from sadari.hub.core.archive import (
    NBGRADER_IGNORE,
    Entry,
    ReleaseFiles,
    Rules,
    check_archive,
    file_refused,
    glob_match,
    is_ignored,
    make_archive,
    read_archive,
    release_files,
)
from sadari.hub.core.curriculum_schema import DEFAULT_EXTRA_FILES
from sadari.hub.core.yamlsrc import InputError

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def zipped(*items: tuple[str, bytes], link: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return out.getvalue()


DEFAULT = Rules()


def problems(data: bytes, rules: Rules = DEFAULT) -> list[str]:
    with pytest.raises(InputError) as e:
        read_archive(data, "up", rules)
    return [str(p) for p in e.value.problems]


def test_a_good_archive() -> None:
    entries = read_archive(zipped(("a.ipynb", NB), ("data/x.csv", b"1,2\n")), "up", Rules())
    assert [e.path for e in entries] == ["a.ipynb", "data/x.csv"]


def test_every_problem_is_named() -> None:
    found = problems(
        zipped(
            ("../x.ipynb", NB),
            ("/abs.ipynb", NB),
            ("a\\b.ipynb", NB),
            ("bad.ipynb", b"{"),
            ("tool.exe", b"MZ"),
            ("ok.ipynb", NB),
            link="l.ipynb",
        )
    )
    assert "up:../x.ipynb: unsafe path (.., absolute, or odd) / 허용되지 않는 경로" in found
    assert any(p.startswith("up:/abs.ipynb: unsafe path") for p in found)
    assert any(p.startswith("up:a\\b.ipynb: unsafe path") for p in found)
    assert any(p.startswith("up:bad.ipynb: not valid JSON: line 1 column 2") for p in found)
    assert any(p.startswith("up:tool.exe: file type not accepted") for p in found)
    assert any(p.startswith("up:l.ipynb: links are not accepted") for p in found)
    assert len(found) == 6


def test_sizes_and_counts() -> None:
    small = Rules(max_bytes=1000, max_files=2)
    assert problems(b"x" * 1001, small) == [
        "up: 1001 bytes is over the limit of 1000 / 용량 제한을 넘었습니다"
    ]
    bomb = zipped(("a.ipynb", NB), ("z.txt", b"0" * 5000))
    assert problems(bomb, small) == ["up: unpacks to more than 1000 bytes / 용량 제한을 넘었습니다"]
    many = zipped(*[(f"{i}.ipynb", NB) for i in range(3)])
    assert problems(many, small) == ["up: 3 files; at most 2 / 파일이 너무 많습니다"]


def test_not_a_zip_and_no_notebook() -> None:
    assert problems(b"hello") == ["up: not a zip archive / zip 파일이 아닙니다"]
    assert problems(zipped(("a.txt", b"x"))) == [
        "up: no notebook (.ipynb) in it / 노트북이 없습니다"
    ]
    assert read_archive(zipped(("a.html", b"x")), "up", Rules(require_notebook=False))


def test_non_utf8_notebook() -> None:
    (p,) = problems(zipped(("a.ipynb", b'{"cells": [], "x": "\xff"}')))
    assert p.startswith("up:a.ipynb: not UTF-8")


def test_make_archive_is_deterministic_and_readable() -> None:
    entries = [Entry("b.ipynb", NB), Entry("a.ipynb", NB)]
    one, two = make_archive(entries), make_archive(list(reversed(entries)))
    assert one == two
    assert [e.path for e in read_archive(one, "x", Rules())] == ["a.ipynb", "b.ipynb"]


# --- what a submission may hold --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("x.bin", "*.bin", True),
        ("data/deep/x.bin", "*.bin", True),  # no '/': the name, in any folder
        ("x.bin.txt", "*.bin", False),
        ("data/x.npy", "data/*.npy", True),
        ("data/raw/x.npy", "data/*.npy", False),  # '*' stays within a folder
        ("other/data/x.npy", "data/*.npy", False),  # a '/' anchors at the assessment folder
        ("data/raw/x.npy", "data/**/*.npy", True),
        ("data/x.npy", "data/**/*.npy", True),  # '**/' is zero or more folders
        ("x.npy", "**/*.npy", True),
        ("data/a/b.dat", "data/", True),  # a folder: everything below it
        ("data/a/b.dat", "data/**", True),
        ("data", "data/**", False),
        ("results.csv", "./*.csv", True),
        ("PHOTO.PNG", "*.png", True),  # case does not matter
        ("run1.log", "run[0-9].log", True),
        ("runx.log", "run[!0-9].log", True),
        ("run1.log", "run[!0-9].log", False),
        ("a/b", "a?b", False),
        ("a+b(1).txt", "a+b(1).txt", True),  # regex characters are literal
        ("anything/at/all", "**", True),
        ("x.py", "", False),
    ],
)
def test_glob_semantics(path: str, pattern: str, matches: bool) -> None:
    assert glob_match(path, pattern) is matches


RELEASE = ReleaseFiles(frozenset({"a.ipynb", "data/values.npy", "data/arrays.npz"}), 3000)


def test_a_file_is_accepted_when_released_a_notebook_or_declared() -> None:
    rules = Rules(release=RELEASE)
    for path in ("data/values.npy", "data/arrays.npz", "new.ipynb", "data/x.csv", "helper.py"):
        assert file_refused(path, rules) is None, path
    why = file_refused("x.bin", rules)
    assert why == (
        "file type not accepted (not a file of the release, not a notebook, matches none of "
        + " ".join(DEFAULT_EXTRA_FILES)
        + ") / 허용되지 않는 파일 형식"
    )
    assert rules.allowed() == (
        "the files of the release, notebooks (*.ipynb), files matching "
        + " ".join(DEFAULT_EXTRA_FILES)
        + " / 배포된 파일, 노트북, 패턴에 맞는 파일"
    )
    assert file_refused("data/other.npy", rules)  # released: that path, not the type
    assert file_refused("x.bin", Rules(patterns=("*.bin",))) is None
    assert file_refused("x.bin", Rules(any_type=True, patterns=())) is None
    html_only = Rules(patterns=("*.html",), notebooks=False)
    assert file_refused("a.html", html_only) is None
    assert file_refused("a.ipynb", html_only) == (
        "file type not accepted (matches none of *.html) / 허용되지 않는 파일 형식"
    )


def test_nbgraders_clutter_and_metadata_are_dropped_not_refused() -> None:
    rules = Rules(patterns=())  # not even *.txt
    assert rules.ignore == NBGRADER_IGNORE
    for path in (
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "data/__pycache__/h.cpython-311.pyc",
        "h.pyc",
        "feedback/2026-11-20 10:00:00.000000 UTC/a.html",
        "timestamp.txt",
    ):
        assert is_ignored(path, rules), path
    assert not is_ignored("data/timestamp.txt", rules)  # metadata only at the top
    checked = check_archive(
        zipped(
            ("a.ipynb", NB), ("timestamp.txt", b"x"), ("h.pyc", b"\0"), ("feedback/a.html", b"")
        ),
        "up",
        rules,
    )
    assert [e.path for e in checked.entries] == ["a.ipynb"]
    assert sorted(checked.dropped) == ["feedback/a.html", "h.pyc", "timestamp.txt"]
    # dropped, yet still checked for what could escape
    assert problems(zipped(("a.ipynb", NB), ("../x.pyc", b"")), rules) == [
        "up:../x.pyc: unsafe path (.., absolute, or odd) / 허용되지 않는 경로"
    ]


def test_every_refused_file_is_named() -> None:
    found = problems(
        zipped(("a.ipynb", NB), ("notes.exe", b"MZ"), ("data/x.bin", b"1"), ("y.bin", b"2")),
        Rules(release=RELEASE),
    )
    assert [p.split(": ", 1)[0] for p in found] == ["up:notes.exe", "up:data/x.bin", "up:y.bin"]


def test_the_release_does_not_eat_the_allowance() -> None:
    release = ReleaseFiles(frozenset({"data/big.npy", "data/b.npy"}), 5000)
    rules = Rules(max_bytes=1000, max_files=2, release=release)
    assert (rules.total_bytes, rules.total_files) == (6000, 4)
    ok = zipped(
        ("a.ipynb", NB), ("data/big.npy", b"0" * 4900), ("data/b.npy", b"1"), ("n.txt", b"n")
    )
    assert len(read_archive(ok, "up", rules)) == 4
    too_big = zipped(("a.ipynb", NB), ("data/big.npy", b"0" * 6000))
    assert problems(too_big, rules) == [
        "up: unpacks to more than 6000 bytes (1000 of your own plus the release's 5000)"
        " / 용량 제한을 넘었습니다"
    ]
    too_many = zipped(*[(f"{i}.ipynb", NB) for i in range(5)])
    assert problems(too_many, rules) == [
        "up: 5 files; at most 4 (2 of your own plus the release's 2) / 파일이 너무 많습니다"
    ]


def test_release_files_reads_the_archive_directory() -> None:
    data = make_archive([Entry("a.ipynb", NB), Entry("data/values.npy", b"0" * 100)])
    assert release_files(data) == ReleaseFiles(
        frozenset({"a.ipynb", "data/values.npy"}), len(NB) + 100
    )
