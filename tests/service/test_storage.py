"""The local blob store: content-addressed, atomic, refuses keys that are not SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sadari.hub.storage import LocalBlobStore


def test_put_get_exists(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"notebook bytes")
    assert sha == hashlib.sha256(b"notebook bytes").hexdigest()
    assert store.exists(sha) and store.get(sha) == b"notebook bytes"
    assert store.put(b"notebook bytes") == sha  # stored once
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [sha]


@pytest.mark.parametrize("key", ["../../etc/passwd", "0" * 63, "g" * 64, ""])
def test_bad_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(KeyError):
        LocalBlobStore(tmp_path).get(key)


def test_missing_key(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        LocalBlobStore(tmp_path).get("a" * 64)
