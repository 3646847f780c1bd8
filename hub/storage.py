"""Durable storage of exchange files (releases, submissions, feedback) behind one interface.

`BlobStore` is content-addressed: `put(data)` returns the SHA-256 it is stored under, so a stored
blob can never change under its key and storing the same bytes twice costs nothing. The sadari
database keeps which blob is what. `LocalBlobStore` (the default) writes atomically under a folder;
an object store (S3, Azure Blob) implements the same three methods.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Where exchange files live."""

    def put(self, data: bytes) -> str:
        """Store `data`; return its SHA-256 hex digest (its key)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under `sha256` (KeyError if none)."""
        ...

    def exists(self, sha256: str) -> bool:
        """True when `sha256` is stored."""
        ...


class LocalBlobStore:
    """Blobs as files `<root>/<aa>/<bb>/<sha256>`, written with a temporary file and a rename."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise KeyError(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` once; return its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return sha

    def get(self, sha256: str) -> bytes:
        """The stored bytes."""
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise KeyError(sha256) from None

    def exists(self, sha256: str) -> bool:
        """True when stored."""
        return self._path(sha256).exists()
