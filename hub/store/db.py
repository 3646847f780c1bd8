"""Database connection and schema version: engines, sessions, `upgrade` and the start-up check.

SQLite (the embedded default) gets foreign keys, WAL and a busy timeout so the service and the CLI
can share it; PostgreSQL is used as is. The service refuses to run on a schema that is not at the
head revision unless told to upgrade (`sadari db upgrade`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this code expects."""

    def __init__(self, url: str, current: str | None, head: str):
        self.current, self.head = current, head
        shown = make_url(url).render_as_string(hide_password=True)
        state = "is empty (no schema)" if current is None else f"is at revision {current}"
        super().__init__(
            f"The sadari database {shown} {state}; this version of sadari needs revision {head}.\n"
            f"Back it up, then run `sadari db upgrade` (or start with --upgrade-db).\n"
            f"데이터베이스 스키마가 최신이 아닙니다. 백업 후 `sadari db upgrade`를 실행하세요."
        )


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, with SQLite tuned for a service and a CLI sharing one file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (handlers serialise after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at sadari's migrations, bound to `engine`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def head_revision(engine: Engine) -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it has no schema."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database is and where the code wants it."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when no migration is pending."""
        return self.current == self.head


def schema_status(engine: Engine) -> SchemaStatus:
    """The current and head revisions."""
    return SchemaStatus(current_revision(engine), head_revision(engine))


def upgrade(engine: Engine, revision: str = "head") -> SchemaStatus:
    """Migrate the database to `revision` (head by default) and return the new status."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return schema_status(engine)


def require_current(engine: Engine, upgrade_db: bool = False) -> SchemaStatus:
    """Upgrade when asked, else raise SchemaOutOfDate unless the schema is at head."""
    status = schema_status(engine)
    if status.up_to_date:
        return status
    if upgrade_db:
        return upgrade(engine)
    raise SchemaOutOfDate(
        engine.url.render_as_string(hide_password=False), status.current, status.head
    )
