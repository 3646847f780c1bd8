"""A real PostgreSQL for tests: find one, or install and start Debian's, then hand out fresh databases.

`ensure_server()` returns a superuser DSN or raises `Unavailable` with the real reason (no root to
install packages, apt failing, the cluster not starting). Each test gets its own database from
`fresh_database()`, dropped afterwards: empty, or a copy of a template (`CREATE DATABASE ...
TEMPLATE`, a file copy inside the server: milliseconds, where running the migrations takes seconds).
`template_database()` makes such a template once, e.g. migrated to head for a whole test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

USER = "sadari_test"
PASSWORD = "sadari_test"
HOST = "127.0.0.1"
PORT = int(os.environ.get("SADARI_TEST_PG_PORT", "5432"))


class Unavailable(RuntimeError):
    """PostgreSQL cannot be provided on this machine; the message says why."""


def _dsn(db: str = "postgres") -> str:
    return f"postgresql+psycopg://{USER}:{PASSWORD}@{HOST}:{PORT}/{db}"


def _can_connect() -> bool:
    import psycopg

    try:
        psycopg.connect(
            host=HOST, port=PORT, user=USER, password=PASSWORD, dbname="postgres", connect_timeout=3
        ).close()
        return True
    except psycopg.OperationalError:
        return False


def _run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _install() -> None:
    if shutil.which("pg_ctlcluster"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(
            "PostgreSQL is not installed and this user cannot install Debian "
            "packages (needs root and apt-get)"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {r.stderr.strip()[-400:]}")


def _start_cluster() -> None:
    listing = _run(["pg_lsclusters", "--no-header"]).stdout.split()
    if not listing:
        raise Unavailable("PostgreSQL is installed but has no cluster (pg_lsclusters is empty)")
    version, name = listing[0], listing[1]
    r = _run(["pg_ctlcluster", version, name, "start"])
    if r.returncode != 0 and "already running" not in r.stderr:
        raise Unavailable(f"pg_ctlcluster {version} {name} start failed: {r.stderr.strip()}")


def _create_role() -> None:
    sql = (
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') THEN "
        f"CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'; END IF; END$$;"
    )
    r = _run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql], timeout=60)
    if r.returncode != 0:
        raise Unavailable(f"creating the test role failed: {r.stderr.strip()}")


def ensure_server() -> str:
    """A superuser DSN of a running server, installing and starting Debian's if needed."""
    if _can_connect():
        return _dsn()
    _install()
    _start_cluster()
    for _ in range(30):
        try:
            _create_role()
            break
        except Unavailable:
            time.sleep(1)
    else:
        _create_role()
    if not _can_connect():
        raise Unavailable(f"PostgreSQL started but {USER}@{HOST}:{PORT} cannot connect")
    return _dsn()


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=HOST, port=PORT, user=USER, password=PASSWORD, dbname="postgres", autocommit=True
    )


def name_of(url: str) -> str:
    """The database name of a URL `fresh_database()` or `template_database()` handed out."""
    return url.rsplit("/", 1)[1]


@contextmanager
def fresh_database(template: str | None = None) -> Iterator[str]:
    """A new database (SQLAlchemy URL), dropped on exit: empty, or a copy of `template` (a URL or
    name of a database nobody is connected to, e.g. from `template_database()`)."""
    ensure_server()
    name = f"sadari_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{name_of(template)}"' if template else ""
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _dsn(name)
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def template_database(prepare: Callable[[str], None]) -> Iterator[str]:
    """A database made once by `prepare(url)` (e.g. migrated to head) and marked as a template,
    for `fresh_database(template=...)`; dropped on exit. `prepare` must close its connections
    (dispose its engine): a database is copied only while nobody is connected to it."""
    with fresh_database() as url:
        prepare(url)
        name = name_of(url)
        with _admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        try:
            yield url
        finally:
            with _admin() as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
