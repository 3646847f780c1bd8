"""Upload checks: hostile archives are refused with the file and the reason; good ones pass."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from sadari.hub.core.archive import Entry, Limits, make_archive, read_archive
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


DEFAULT = Limits()


def problems(data: bytes, limits: Limits = DEFAULT) -> list[str]:
    with pytest.raises(InputError) as e:
        read_archive(data, "up", limits)
    return [str(p) for p in e.value.problems]


def test_a_good_archive() -> None:
    entries = read_archive(zipped(("a.ipynb", NB), ("data/x.csv", b"1,2\n")), "up", Limits())
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
    small = Limits(max_bytes=1000, max_files=2)
    assert problems(b"x" * 1001, small) == [
        "up: 1001 bytes is over the limit of 1000 / 용량 제한을 넘었습니다"
    ]
    bomb = zipped(("a.ipynb", NB), ("z.txt", b"0" * 5000))
    assert problems(bomb, small) == ["up: unpacks to more than 1000 bytes"]
    many = zipped(*[(f"{i}.ipynb", NB) for i in range(3)])
    assert problems(many, small) == ["up: 3 files; at most 2"]


def test_not_a_zip_and_no_notebook() -> None:
    assert problems(b"hello") == ["up: not a zip archive / zip 파일이 아닙니다"]
    assert problems(zipped(("a.txt", b"x"))) == [
        "up: no notebook (.ipynb) in it / 노트북이 없습니다"
    ]
    assert read_archive(zipped(("a.html", b"x")), "up", Limits(require_notebook=False))


def test_non_utf8_notebook() -> None:
    (p,) = problems(zipped(("a.ipynb", b'{"cells": [], "x": "\xff"}')))
    assert p.startswith("up:a.ipynb: not UTF-8")


def test_make_archive_is_deterministic_and_readable() -> None:
    entries = [Entry("b.ipynb", NB), Entry("a.ipynb", NB)]
    one, two = make_archive(entries), make_archive(list(reversed(entries)))
    assert one == two
    assert [e.path for e in read_archive(one, "x", Limits())] == ["a.ipynb", "b.ipynb"]
